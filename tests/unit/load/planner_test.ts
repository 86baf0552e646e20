/**
 * lib/load/planner.ts + lib/load/build.ts over the saved guests with the real Debian 6.12 bzImage: where segments go, the
 * crash rules (everything in the main "Crash kernel" range, elfcorehdr at the top and named first on the command
 * line, slack for the kernel's pages), and the purgatory digest, recomputed here from the segments.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildLoadPlan } from "../../../lib/load/build.ts";
import { type LoadRequest, loadRequest } from "../../../lib/load/request.ts";
import { captureParams, planLoad } from "../../../lib/load/planner.ts";
import { type LoadPlan, validatePlan } from "../../../lib/load/plan.ts";
import { crashSlackBytes, x86_64 } from "../../../lib/arch/x86_64/mod.ts";
import { bzImageLoader } from "../../../lib/arch/x86_64/bzimage_loader.ts";
import { readIomem } from "../../../lib/memory/iomem.ts";
import { requireCrashRegions } from "../../../lib/crash/region.ts";
import { readCoreInputs } from "../../../lib/crash/elfcorehdr.ts";
import { fsSystemView, recordSystemView, type SystemView } from "../../../lib/system.ts";
import { syntheticBzImage } from "./golden_fixtures.ts";
import { le, machineDir, requireVmlinuz, throwsKexec, VMLINUZ_PATH } from "../test_helpers.ts";

const SEED = new Uint8Array(32).fill(0x5a);
const NOCRASH = fsSystemView(machineDir("qemu-q35-2g-nocrash"));
const CRASH = fsSystemView(machineDir("qemu-q35-2g-crash256m"));
const INITRD_LEN = 0x100000 + 123;

const tmp = Deno.makeTempDirSync({ prefix: "kexec-ts-layout-" });
const INITRD = `${tmp}/initrd.img`;
Deno.writeFileSync(INITRD, Uint8Array.from({ length: INITRD_LEN }, (_, i) => (i * 7 + 1) & 0xff));
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));

function request(over: Partial<LoadRequest> = {}): LoadRequest {
  requireVmlinuz();
  return loadRequest({ kernel: VMLINUZ_PATH, initrds: [INITRD], append: "console=ttyS0", ...over });
}

/** RAM and the crash range, read from the fixture text independently of lib/memory/iomem.ts. */
function fixtureRanges(dir: string) {
  const ram: { start: bigint; end: bigint }[] = [];
  for (const d of Deno.readDirSync(`${dir}/sys/firmware/memmap`)) {
    const f = (n: string) => Deno.readTextFileSync(`${dir}/sys/firmware/memmap/${d.name}/${n}`).trim();
    if (f("type") === "System RAM") ram.push({ start: BigInt(f("start")), end: BigInt(f("end")) + 1n });
  }
  const m = /^\s*([0-9a-f]+)-([0-9a-f]+) : Crash kernel$/m.exec(Deno.readTextFileSync(`${dir}/proc/iomem`));
  const crash = m ? { start: BigInt("0x" + m[1]), end: BigInt("0x" + m[2]) + 1n } : undefined;
  return { ram, crash };
}

const byRole = (plan: LoadPlan, role: string) => {
  const s = plan.segments.find((x) => x.role === role);
  assert.ok(s, `no ${role} segment`);
  return s;
};
const inside = (s: { mem: bigint; memsz: bigint }, r: { start: bigint; end: bigint }) =>
  s.mem >= r.start && s.mem + s.memsz <= r.end;

/** SHA-256 over the shaRegions, each the segment's bytes followed by zeros to its length (kexec_file's rule). */
function recomputeDigest(plan: LoadPlan, segments = plan.segments): Uint8Array {
  const h = createHash("sha256");
  for (const r of plan.shaRegions) {
    // Purgatory hashes the bytes kexec-ts supplied for each segment (bufsz); the kernel's zero fill up to memsz
    // is not image content (lib/load/planner.ts).
    const s = segments.find((x) => x.mem === r.start && BigInt(x.buf.length) === r.len);
    assert.ok(s, `sha region ${r.start.toString(16)} is not a segment's supplied bytes`);
    h.update(s.buf);
  }
  return new Uint8Array(h.digest());
}

function indexOfBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("normal plan: kernel at pref_address, boot data below 640 KiB, initrd top-down, all in RAM", () => {
  const { plan, limits } = buildLoadPlan(request(), NOCRASH, SEED);
  const file = requireVmlinuz();
  const { ram } = fixtureRanges(machineDir("qemu-q35-2g-nocrash"));
  assert.equal(plan.kind, "reboot");
  assert.equal(plan.flags, 0x3e0000n, "KEXEC_ARCH_X86_64, no other flag");
  assert.deepEqual(plan.segments.map((s) => s.role).sort(), ["boot-params", "initrd", "kernel", "purgatory"]);
  for (let i = 1; i < plan.segments.length; i++) assert.ok(plan.segments[i - 1].mem < plan.segments[i].mem, "sorted");
  for (const s of plan.segments) assert.ok(ram.some((r) => inside(s, r)), `${s.role} in firmware-memmap RAM`);

  const kernel = byRole(plan, "kernel");
  assert.equal(kernel.mem, le(file).u64(0x258), "pref_address");
  assert.equal(kernel.memsz, (BigInt(le(file).u32(0x260)) + 4095n) & ~4095n, "init_size, page-aligned");
  assert.equal(plan.kernelEntry, kernel.mem + 0x200n, "startup_64");
  for (const role of ["boot-params", "purgatory"]) {
    const s = byRole(plan, role);
    assert.ok(s.mem + s.memsz <= 0xa0000n, `${role} below 640 KiB`);
  }
  assert.equal(plan.bootParams, byRole(plan, "boot-params").mem);

  // Top-down: the highest page-aligned start at which the initrd still ends inside RAM below initrd_addr_max.
  const initrd = byRole(plan, "initrd");
  const initrdMax = BigInt(le(file).u32(0x22c)) + 1n;
  const top = ram.map((r) => (r.end < initrdMax ? r.end : initrdMax)).reduce((a, b) => (a > b ? a : b));
  assert.equal(initrd.mem, (top - initrd.memsz) & ~0xfffn);
  assert.equal(initrd.buf.length, INITRD_LEN);
  assert.equal(initrd.memsz, (BigInt(INITRD_LEN) + 4095n) & ~4095n);

  const purgatory = byRole(plan, "purgatory");
  assert.ok(inside({ mem: plan.entry, memsz: 1n }, { start: purgatory.mem, end: purgatory.mem + purgatory.memsz }));
  assert.equal(plan.cmdline, "console=ttyS0");
  validatePlan(plan, limits);
});

Deno.test("normal plan: boot_params points at the command line, the initrd and the RNG seed", () => {
  const { plan } = buildLoadPlan(request(), NOCRASH, SEED);
  const bp = byRole(plan, "boot-params");
  const r = le(bp.buf);
  const cmdlineAddr = BigInt(r.u32(0x228)) | (BigInt(r.u32(0x0c8)) << 32n);
  const off = Number(cmdlineAddr - bp.mem);
  assert.equal(new TextDecoder().decode(bp.buf.subarray(off, off + plan.cmdline.length + 1)), "console=ttyS0\0");
  const initrd = byRole(plan, "initrd");
  assert.equal(BigInt(r.u32(0x218)) | (BigInt(r.u32(0x0c0)) << 32n), initrd.mem);
  assert.equal(r.u32(0x21c), INITRD_LEN);
  assert.equal(r.u8(0x210), 0xd0, "type_of_loader");
  const sd = Number(r.u64(0x250) - bp.mem);
  assert.equal(r.u32(sd + 8), 9, "SETUP_RNG_SEED");
  assert.equal(r.u32(sd + 12), 32);
  assert.deepEqual(bp.buf.subarray(sd + 16, sd + 48), SEED);
});

Deno.test("crash plan: everything in the Crash kernel range, elfcorehdr at the top and first on the command line", () => {
  const { plan, limits } = buildLoadPlan(request({ kind: "crash" }), CRASH, SEED);
  const { crash } = fixtureRanges(machineDir("qemu-q35-2g-crash256m"));
  assert.ok(crash);
  assert.equal(plan.kind, "crash");
  // The fixture machine runs 6.12: KEXEC_CRASH_HOTPLUG_SUPPORT (0x8), which x86 accepts since 6.10.
  assert.equal(plan.flags, 0x3e0009n, "KEXEC_ARCH_X86_64 | KEXEC_CRASH_HOTPLUG_SUPPORT | KEXEC_ON_CRASH");
  assert.ok(
    plan.notes.includes(
      "crash hotplug flag KEXEC_CRASH_HOTPLUG_SUPPORT (0x8) for kernel 6.12.117+deb12-amd64: 6.10+ defines it for " +
        "every architecture and x86 accepts it",
    ),
    plan.notes.join("\n"),
  );
  assert.equal(plan.hotplug, true);
  for (const s of plan.segments) assert.ok(inside(s, crash), `${s.role} inside the crash range`);
  assert.ok(plan.entry >= crash.start && plan.entry < crash.end);
  const hdr = byRole(plan, "elfcorehdr");
  assert.equal(hdr.mem + hdr.memsz, crash.end, "elfcorehdr at the very top");
  assert.deepEqual([...hdr.buf.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  // With hotplug memsz covers the kernel's bound: crash_elfcorehdr_size + the 64-byte Ehdr, page-aligned.
  assert.ok(hdr.memsz >= ((917616n + 64n + 4095n) & ~4095n));
  assert.ok(plan.cmdline.startsWith(`elfcorehdr=0x${hdr.mem.toString(16)} memhp_default_state=offline `), plan.cmdline);
  assert.ok(plan.cmdline.endsWith(" console=ttyS0"));
  assert.equal(byRole(plan, "kernel").mem, crash.start, "kernel bottom-up at the (2 MiB-aligned) start");
  validatePlan(plan, limits);

  // The capture kernel's e820 (boot_params 0x1e8 / 0x2d0) gives it the crash range minus the elfcorehdr as RAM.
  const bp = le(byRole(plan, "boot-params").buf);
  const e820 = Array.from({ length: bp.u8(0x1e8) }, (_, i) => {
    const o = 0x2d0 + i * 20;
    return { start: bp.u64(o), end: bp.u64(o) + bp.u64(o + 8), type: bp.u32(o + 16) };
  });
  assert.ok(e820.some((e) => e.type === 1 && e.start === crash.start && e.end === hdr.mem));
  assert.ok(!e820.some((e) => e.type === 1 && e.start < hdr.mem + hdr.memsz && hdr.mem < e.end), "hdr not RAM");
});

Deno.test("crash plan with --no-hotplug: flags 0x3e0001 and a header-sized elfcorehdr", () => {
  const { plan, limits } = buildLoadPlan(request({ kind: "crash", hotplug: "off" }), CRASH, SEED);
  assert.equal(plan.flags, 0x3e0001n);
  assert.equal(plan.hotplug, false);
  const hdr = byRole(plan, "elfcorehdr");
  assert.equal(hdr.memsz, BigInt(hdr.buf.length));
  assert.equal(hdr.mem + hdr.memsz, 0x78000000n);
  validatePlan(plan, limits);
});

Deno.test("digest: SHA-256 over every segment but purgatory and, with hotplug, the elfcorehdr", () => {
  for (const hotplug of ["auto", "off"] as const) {
    const { plan } = buildLoadPlan(request({ kind: "crash", hotplug }), CRASH, SEED);
    const hashed = new Set(plan.shaRegions.map((r) => r.start));
    const expected = plan.segments.filter((s) =>
      s.role !== "purgatory" && (hotplug === "off" || s.role !== "elfcorehdr")
    );
    assert.deepEqual([...hashed].sort(), expected.map((s) => s.mem).sort(), `regions (${hotplug})`);
    assert.deepEqual(recomputeDigest(plan), plan.digest);
    assert.ok(indexOfBytes(byRole(plan, "purgatory").buf, plan.digest) >= 0, "digest patched into purgatory");

    const tamper = (role: string) =>
      plan.segments.map((s) => {
        if (s.role !== role) return s;
        const buf = s.buf.slice();
        buf[buf.length - 1] ^= 0xff;
        return { ...s, buf };
      });
    const hdrChanged = recomputeDigest(plan, tamper("elfcorehdr"));
    if (hotplug === "auto") assert.deepEqual(hdrChanged, plan.digest, "the kernel may rewrite the elfcorehdr");
    else assert.notDeepEqual(hdrChanged, plan.digest);
    for (const role of ["kernel", "initrd", "boot-params"]) {
      assert.notDeepEqual(recomputeDigest(plan, tamper(role)), plan.digest, `${role} is verified`);
    }
  }
  const normal = buildLoadPlan(request(), NOCRASH, SEED).plan;
  assert.deepEqual(recomputeDigest(normal), normal.digest);
  assert.equal(normal.shaRegions.length, 3);
});

Deno.test("determinism: same inputs give the same bytes; the seed only changes boot_params and the digest", () => {
  const a = buildLoadPlan(request({ kind: "crash" }), CRASH, SEED).plan;
  const b = buildLoadPlan(request({ kind: "crash" }), CRASH, SEED).plan;
  assert.deepEqual(a, b);
  const c = buildLoadPlan(request({ kind: "crash" }), CRASH, new Uint8Array(32).fill(1)).plan;
  assert.deepEqual(c.segments.map((s) => [s.role, s.mem, s.memsz]), a.segments.map((s) => [s.role, s.mem, s.memsz]));
  assert.notDeepEqual(byRole(c, "boot-params").buf, byRole(a, "boot-params").buf);
  assert.deepEqual(byRole(c, "initrd").buf, byRole(a, "initrd").buf);
  assert.notDeepEqual(c.digest, a.digest);
});

Deno.test("--mem-min / --mem-max bound every segment (mem-max inclusive, as in kexec-tools)", () => {
  const memMin = 0x20000000n, memMax = 0x3fffffffn;
  const { plan, limits } = buildLoadPlan(request({ memMin, memMax }), NOCRASH, SEED);
  for (const s of plan.segments) assert.ok(s.mem >= memMin && s.mem + s.memsz - 1n <= memMax, s.role);
  validatePlan(plan, limits);
  const crash = buildLoadPlan(request({ kind: "crash", memMax: 0x6fffffffn }), CRASH, SEED).plan;
  for (const s of crash.segments) assert.ok(s.mem + s.memsz <= 0x70000000n, s.role);
  assert.match(crash.cmdline, new RegExp(`^elfcorehdr=0x${byRole(crash, "elfcorehdr").mem.toString(16)} `));
  throwsKexec(
    () => buildLoadPlan(request({ memMin: 0x100000000n }), NOCRASH, SEED),
    "layout",
    /no RAM inside --mem-min\/--mem-max/,
  );
  throwsKexec(
    () => buildLoadPlan(request({ kind: "crash", memMin: 0x78000000n }), CRASH, SEED),
    "layout",
    /--mem-min\/--mem-max exclude the whole crash region/,
  );
});

Deno.test("crash slack: an initrd that fits but leaves too little, or does not fit, asks for more crashkernel=", () => {
  const image = bzImageLoader.parse(requireVmlinuz(), "vmlinuz");
  const iomem = readIomem(CRASH);
  const regions = requireCrashRegions(CRASH, iomem);
  const core = readCoreInputs(CRASH, iomem, regions, x86_64.core);
  const plan = (initrdBytes: number) =>
    planLoad({
      kind: "crash",
      arch: x86_64,
      loader: bzImageLoader,
      image,
      kernelName: "vmlinuz",
      initrd: new Uint8Array(initrdBytes),
      cmdline: "",
      machine: x86_64.readMachine(CRASH, iomem, "crash"),
      crash: { regions, iomem, core, hotplugBytes: 917616n },
      skipChecks: false,
      serialPort: 0,
      rngSeed: SEED,
    });
  assert.equal(crashSlackBytes(0x80000000n), 0x100000n, "at least 1 MiB");
  assert.ok(crashSlackBytes(1n << 40n) > crashSlackBytes(1n << 31n), "more RAM, more page tables");
  // Free after the kernel and the elfcorehdr, minus what boot_params and purgatory take, minus half the slack.
  const ok = plan(0x1000);
  const used = ok.segments.reduce((n, s) => n + (s.role === "initrd" ? 0n : s.memsz), 0n);
  const tight = Number(0x10000000n - used - 0x80000n);
  throwsKexec(
    () => plan(tight),
    "layout",
    /^the crash region 0x68000000-0x77ffffff would keep 0x80000 free bytes; the kernel needs 0x100000 for its control and page-table pages: reserve more with crashkernel= or use a smaller initrd$/,
  );
  throwsKexec(
    () => plan(Number(0x10000000n - byRole(ok, "kernel").memsz - byRole(ok, "elfcorehdr").memsz) + 1),
    "layout",
    /^no room for the initrd \(.*\) in \[0x68000000, 0x78000000\): .*reserve more memory with crashkernel= or use a smaller initrd$/,
  );
});

Deno.test("captureParams: elfcorehdr= first; memhp_default_state=offline unless the user chose a state", () => {
  assert.equal(captureParams(0x77f1f000n, "console=ttyS0"), "elfcorehdr=0x77f1f000 memhp_default_state=offline");
  assert.equal(captureParams(0x1000n, "memhp_default_state=online_movable quiet"), "elfcorehdr=0x1000");
  assert.equal(captureParams(0x1000n, "quiet memhp_default_state=online"), "elfcorehdr=0x1000");
  // A parameter that merely ends in the same text is not the user's choice.
  assert.equal(captureParams(0x1000n, "xmemhp_default_state=1"), "elfcorehdr=0x1000 memhp_default_state=offline");
});

/** The crash fixture with its "Crash kernel" line moved to `range` (inclusive hex, as /proc/iomem prints it). */
function movedCrashRegion(range: string, size: bigint, extraRam = ""): SystemView {
  const dir = machineDir("qemu-q35-2g-crash256m");
  const iomem = Deno.readTextFileSync(`${dir}/proc/iomem`).replace(
    "68000000-77ffffff : Crash kernel",
    `${range} : Crash kernel`,
  )
    .replace("100000000-8ffffffff : PCI Bus 0000:00\n", extraRam);
  return overlayView(CRASH, { "/proc/iomem": iomem, "/sys/kernel/kexec_crash_size": `${size}\n` });
}

function overlayView(base: SystemView, files: Record<string, string>): SystemView {
  const top = recordSystemView(files);
  return { origin: base.origin, read: (p, m) => (p in files ? top.read(p, m) : base.read(p, m)), list: base.list };
}

Deno.test("placement as bzImage64_load: a relocatable kernel never goes below pref_address, even in the crash region", () => {
  const kernel = `${tmp}/synthetic-bzImage`;
  Deno.writeFileSync(kernel, syntheticBzImage());
  // A crash region starting at 8 MiB: the kernel goes to pref_address (16 MiB), not to the region's start.
  const low = movedCrashRegion("00800000-107fffff", 0x10000000n);
  const { plan } = buildLoadPlan(loadRequest({ kind: "crash", kernel }), low, SEED);
  assert.equal(byRole(plan, "kernel").mem, 0x1000000n);
  // A region wholly below pref_address: refused, naming the window and why, not "reserve more memory".
  const below = movedCrashRegion("00800000-00ffffff", 0x800000n);
  throwsKexec(
    () => buildLoadPlan(loadRequest({ kind: "crash", kernel }), below, SEED),
    "layout",
    /^no room for the kernel \(0x1800000 bytes\) in \[0x1000000, the top of memory\) \(at or above pref_address 0x1000000, where its decompressor runs\): the crash region 0x800000-0xffffff does not reach into that window; reserve the crash region inside it/,
  );
});

Deno.test("placement: a crash region above 4 GiB with a kernel that cannot go there names that cause", () => {
  const kernel = `${tmp}/synthetic-below4g`;
  Deno.writeFileSync(kernel, syntheticBzImage({ xloadflags: 0x01 })); // XLF_KERNEL_64 only
  const high = movedCrashRegion(
    "100000000-10fffffff",
    0x10000000n,
    "100000000-17fffffff : System RAM\n  100000000-10fffffff : Crash kernel\n",
  );
  throwsKexec(
    () => buildLoadPlan(loadRequest({ kind: "crash", kernel }), high, SEED),
    "layout",
    /in \[0x1000000, 0x100000000\) \(.*below 4 GiB: the kernel lacks XLF_CAN_BE_LOADED_ABOVE_4G\): the crash region 0x100000000-0x10fffffff does not reach into that window/,
  );
});

Deno.test("the destination limit follows the paging mode: MAXMEM - 1 for 4-level, the 5-level MAXMEM - 1 with la57", () => {
  const kernel = `${tmp}/synthetic-bzImage`;
  Deno.writeFileSync(kernel, syntheticBzImage());
  const four = buildLoadPlan(loadRequest({ kernel }), NOCRASH, SEED).limits.maxAddress;
  assert.equal(four, (1n << 46n) - 1n);
  const la57 = overlayView(NOCRASH, { "/proc/cpuinfo": "processor\t: 0\nflags\t\t: fpu pae la57\n" });
  assert.equal(buildLoadPlan(loadRequest({ kernel }), la57, SEED).limits.maxAddress, (1n << 52n) - 1n);
});

Deno.test("crash plan: the hotplug flag follows the running kernel's version; --no-hotplug sets none", () => {
  const on = (release: string) =>
    buildLoadPlan(request({ kind: "crash" }), overlayView(CRASH, { "/proc/sys/kernel/osrelease": release }), SEED)
      .plan;
  assert.equal(on("6.9.12\n").flags, 0x3e0005n, "6.6-6.9: KEXEC_UPDATE_ELFCOREHDR");
  assert.ok(
    on("6.9.12\n").notes.some((n) =>
      n.startsWith("crash hotplug flag KEXEC_UPDATE_ELFCOREHDR (0x4) for kernel 6.9.12")
    ),
  );
  assert.equal(on("7.3.4+deb13-amd64\n").flags, 0x3e0009n);
  const off = buildLoadPlan(request({ kind: "crash", hotplug: "off" }), CRASH, SEED).plan;
  assert.equal(off.flags, 0x3e0001n);
  assert.ok(!off.notes.some((n) => n.startsWith("crash hotplug flag")));
});

Deno.test("crash plan on 6.17/6.18 with crashkernel=,cma: the kernel does not say where the ranges are; the plan warns", () => {
  const cmdline = "BOOT_IMAGE=/vmlinuz root=/dev/vda crashkernel=256M crashkernel=512M,cma\n";
  const unpublished = overlayView(CRASH, { "/proc/cmdline": cmdline });
  const { plan } = buildLoadPlan(request({ kind: "crash" }), unpublished, SEED);
  assert.equal(plan.warnings?.length, 1);
  assert.match(
    plan.warnings![0],
    /booted with crashkernel=\.\.\.,cma but does not publish where its CMA ranges are.*use -s/,
  );
  // 6.19+: published (here none reserved) and used; no ,cma on the command line: no warning either.
  const published = overlayView(CRASH, { "/proc/cmdline": cmdline, "/sys/kernel/kexec/crash_cma_ranges": "" });
  assert.equal(buildLoadPlan(request({ kind: "crash" }), published, SEED).plan.warnings, undefined);
  assert.equal(buildLoadPlan(request({ kind: "crash" }), CRASH, SEED).plan.warnings, undefined);
});

Deno.test("crash plan with crashkernel=,cma: the CMA range is capture-kernel RAM and not in the elfcorehdr", () => {
  const sys = overlayView(CRASH, { "/sys/kernel/kexec/crash_cma_ranges": "57000000-66ffffff\n" });
  const { plan } = buildLoadPlan(request({ kind: "crash" }), sys, SEED);
  const plain = buildLoadPlan(request({ kind: "crash" }), CRASH, SEED).plan;
  assert.ok(
    plan.notes.includes(
      "crashkernel=,cma ranges 0x57000000-0x66ffffff go to the capture kernel as usable memory and stay out of the " +
        "dump, as the kernel's own loader does",
    ),
  );
  // The elfcorehdr's PT_LOADs: the range at 0x100000-0x68000000 splits around the CMA range.
  const loads = (p: typeof plan) => {
    const hdr = byRole(p, "elfcorehdr").buf;
    const dv = new DataView(hdr.buffer, hdr.byteOffset);
    const out: [bigint, bigint][] = [];
    for (let i = 0; i < dv.getUint16(56, true); i++) {
      const o = 64 + i * 56;
      if (dv.getUint32(o, true) === 1) out.push([dv.getBigUint64(o + 24, true), dv.getBigUint64(o + 40, true)]);
    }
    return out;
  };
  const withCma = loads(plan).filter(([p]) => p < 0x80000000n && p >= 0x100000n);
  const without = loads(plain).filter(([p]) => p < 0x80000000n && p >= 0x100000n);
  const covers = (l: [bigint, bigint][], a: bigint) => l.some(([p, n]) => a >= p && a < p + n);
  assert.ok(covers(without, 0x60000000n) && !covers(withCma, 0x60000000n), "CMA memory is not dumped");
  assert.ok(covers(withCma, 0x56fff000n) && covers(withCma, 0x67000000n), "its neighbours are");
  // boot_params' e820 table lists the CMA range as RAM (type 1) for the capture kernel.
  const bp = byRole(plan, "boot-params").buf;
  const bdv = new DataView(bp.buffer, bp.byteOffset);
  const e820: [bigint, bigint, number][] = [];
  for (let i = 0; i < bp[0x1e8]; i++) {
    const o = 0x2d0 + i * 20;
    e820.push([bdv.getBigUint64(o, true), bdv.getBigUint64(o + 8, true), bdv.getUint32(o + 16, true)]);
  }
  assert.ok(
    e820.some(([a, n, t]) => a === 0x57000000n && n === 0x10000000n && t === 1),
    JSON.stringify(e820, (_, v) => typeof v === "bigint" ? v.toString(16) : v),
  );
});

Deno.test("buffers given as pieces: one segment per piece, each to the next; a piece that does not fit is refused", () => {
  const iomem = readIomem(NOCRASH);
  const machine = x86_64.readMachine(NOCRASH, iomem, "reboot");
  const run = (pieces: { offset: bigint; bytes: Uint8Array }[]) =>
    planLoad({
      kind: "reboot",
      arch: x86_64,
      loader: {
        name: "pieces",
        aliases: [],
        probe: () => true,
        parse: () => undefined,
        load: (_image, ctx) => {
          const at = ctx.addBuffer({
            role: "kernel",
            bytes: pieces,
            memsz: 0x10000n,
            align: 0x200000n,
            min: 0x1000000n,
            max: 1n << 32n,
            topDown: false,
          });
          return { kernelEntry: at, bootParams: at };
        },
      },
      image: undefined,
      kernelName: "k",
      cmdline: "",
      machine,
      skipChecks: false,
      serialPort: 0,
      rngSeed: SEED,
    });
  const plan = run([{ offset: 0n, bytes: new Uint8Array(0x1800) }, { offset: 0x3000n, bytes: new Uint8Array(5) }]);
  assert.deepEqual(
    plan.segments.filter((s) => s.role === "kernel").map((s) => [s.mem, s.memsz, s.buf.length]),
    [[0x1000000n, 0x3000n, 0x1800], [0x1003000n, 0xd000n, 5]],
  );
  throwsKexec(
    () => run([{ offset: 0n, bytes: new Uint8Array(0x2001) }, { offset: 0x2000n, bytes: new Uint8Array(1) }]),
    "layout",
    /^kernel piece 0 at offset 0x0 \(0x2001 bytes\) does not fit before 0x2000$/,
  );
  throwsKexec(() => run([{ offset: 0x800n, bytes: new Uint8Array(1) }]), "layout", /piece 0 at offset 0x800/);
});
