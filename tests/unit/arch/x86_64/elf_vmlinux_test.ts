/**
 * lib/arch/x86_64/elf_vmlinux.ts: PT_LOADs laid out from their p_paddr, the physical e_entry, a setup header made
 * up for boot_params, placement at the link address or moved by a multiple of 2 MiB, and one-line refusals.
 */

import assert from "node:assert/strict";
import {
  elfVmlinuxLoader,
  parseElfVmlinux,
  syntheticSetupHeader,
  VMLINUX_LA57_WARNING,
} from "../../../../lib/arch/x86_64/elf_vmlinux.ts";
import { renderPlan } from "../../../../lib/cli/output.ts";
import { buildLoadPlan } from "../../../../lib/load/build.ts";
import { loadRequest } from "../../../../lib/load/request.ts";
import { validatePlan } from "../../../../lib/load/plan.ts";
import { performLoad } from "../../../../lib/load/load.ts";
import { DRY_RUN_KERNEL, type KernelOps } from "../../../../lib/runtime.ts";
import { fsSystemView } from "../../../../lib/system.ts";
import { le, machineDir, overlayView, throwsKexec } from "../../test_helpers.ts";

interface Seg {
  type?: number;
  paddr: bigint;
  vaddr?: bigint;
  data: Uint8Array;
  memsz?: bigint;
  align?: bigint;
}

const MiB = 0x100000n;
const KMAP = 0xffffffff80000000n;

/** An ELF64 x86_64 ET_EXEC with the given segments (file data at 4 KiB-aligned offsets), no section headers. */
function buildElf(segs: Seg[], opts: { entry?: bigint; machine?: number; type?: number } = {}): Uint8Array {
  const phoff = 64;
  let off = 0x1000;
  const offsets = segs.map((s) => {
    const o = off;
    off += Math.ceil(Math.max(s.data.length, 1) / 0x1000) * 0x1000;
    return o;
  });
  const file = new Uint8Array(off);
  const dv = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  dv.setUint16(0x10, opts.type ?? 2, true);
  dv.setUint16(0x12, opts.machine ?? 62, true);
  dv.setUint32(0x14, 1, true);
  dv.setBigUint64(0x18, opts.entry ?? segs[0].paddr + 0xb53n, true);
  dv.setBigUint64(0x20, BigInt(phoff), true);
  dv.setUint16(0x34, 64, true);
  dv.setUint16(0x36, 56, true);
  dv.setUint16(0x38, segs.length, true);
  dv.setUint16(0x3a, 64, true);
  segs.forEach((s, i) => {
    const p = phoff + i * 56;
    dv.setUint32(p, s.type ?? 1, true);
    dv.setUint32(p + 4, 5, true);
    dv.setBigUint64(p + 8, BigInt(offsets[i]), true);
    dv.setBigUint64(p + 16, s.vaddr ?? s.paddr + KMAP, true);
    dv.setBigUint64(p + 24, s.paddr, true);
    dv.setBigUint64(p + 32, BigInt(s.data.length), true);
    dv.setBigUint64(p + 40, s.memsz ?? BigInt(s.data.length), true);
    dv.setBigUint64(p + 48, s.align ?? 2n * MiB, true);
    file.set(s.data, offsets[i]);
  });
  return file;
}

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);
/** Like Debian's: text at 16 MiB, data at 18 MiB, percpu with vaddr 0, init+bss with memsz > filesz. */
const kernelSegs = (): Seg[] => [
  { paddr: 16n * MiB, data: fill(0x3000, 0xaa) },
  { paddr: 18n * MiB, data: fill(0x2000, 0xbb) },
  { paddr: 18n * MiB + 0x5000n, vaddr: 0n, data: fill(0x1000, 0xcc) },
  { paddr: 20n * MiB, data: fill(0x1000, 0xdd), memsz: 0x400000n },
];

Deno.test("parseElfVmlinux: segments at their p_paddr distances, gaps zero, physical entry, span to the last memsz", () => {
  const v = parseElfVmlinux(buildElf(kernelSegs()), "vmlinux");
  assert.equal(v.linkBase, 16n * MiB);
  assert.equal(v.entryOffset, 0xb53n);
  assert.equal(v.alignment, 2n * MiB);
  assert.equal(v.memsz, 4n * MiB + 0x400000n);
  assert.equal(v.segmentCount, 4);
  assert.deepEqual(v.pieces.map((p) => [p.offset, p.bytes.length, p.bytes[0]]), [
    [0n, 0x3000, 0xaa],
    [2n * MiB, 0x2000, 0xbb],
    [2n * MiB + 0x5000n, 0x1000, 0xcc], // placed by p_paddr although p_vaddr is 0
    [4n * MiB, 0x1000, 0xdd], // file bytes only: bss is the kernel's zero fill
  ]);
  const virt = parseElfVmlinux(buildElf(kernelSegs(), { entry: KMAP + 16n * MiB + 0x100n }), "v");
  assert.equal(virt.entryOffset, 0x100n, "a virtual e_entry is translated through its segment");
  assert.ok(elfVmlinuxLoader.probe(buildElf(kernelSegs())));
});

Deno.test("parseElfVmlinux: segments sharing a page become one piece, copied; the others stay views", () => {
  const file = buildElf([
    { paddr: 16n * MiB, data: fill(0x1800, 1) },
    { paddr: 16n * MiB + 0x1800n, data: fill(0x100, 2) }, // starts inside the first segment's last page
    { paddr: 18n * MiB, data: fill(0x10, 3) },
  ]);
  const v = parseElfVmlinux(file, "v");
  assert.deepEqual(v.pieces.map((p) => [p.offset, p.bytes.length]), [[0n, 0x1900], [2n * MiB, 0x10]]);
  assert.deepEqual([v.pieces[0].bytes[0x17ff], v.pieces[0].bytes[0x1800]], [1, 2]);
  assert.equal(v.pieces[1].bytes.buffer, file.buffer, "a segment on its own pages is not copied");
});

Deno.test("parseElfVmlinux: refusals name the field or program header", () => {
  const segs = kernelSegs();
  const cases: [Uint8Array, RegExp][] = [
    [buildElf(segs, { machine: 3 }), /^v: e_machine at 0x12 is 3, expected 62 \(x86_64\): not an x86_64 kernel$/],
    [
      buildElf(segs, { type: 1 }),
      /^v: e_type at 0x10 is 1, expected ET_EXEC \(2\): an object file, not a linked vmlinux$/,
    ],
    [
      buildElf([...segs, { type: 3, paddr: 0n, data: fill(8, 1) }]),
      /^v: program header 4 is PT_INTERP: a user-space program/,
    ],
    [buildElf([{ type: 4, paddr: 0n, data: fill(8, 1) }], { entry: 0n }), /^v: no PT_LOAD program header with memory/],
    [
      buildElf([{ ...segs[0], align: 0x1000n }]),
      /^v: program header 0 \(PT_LOAD, p_paddr 0x1000000\): p_align 0x1000 is not a multiple of 2 MiB/,
    ],
    [
      buildElf([segs[0], { paddr: 16n * MiB + 0x2000n, data: fill(0x1000, 1) }]),
      /^v: program headers 0 and 1 \(PT_LOAD\) overlap in physical memory \(0x1000000 \+ 0x3000 > 0x1002000\)$/,
    ],
    [
      buildElf([{ paddr: 16n * MiB + 0x1000n, data: fill(16, 1) }]),
      /lowest PT_LOAD p_paddr 0x1001000 is not 2 MiB-aligned/,
    ],
    [buildElf(segs, { entry: 0x1234n }), /^v: e_entry at 0x18 \(0x1234\) is in no PT_LOAD segment$/],
    [
      buildElf(segs).subarray(0, 0x1800),
      /^v: ELF: program header 0 \(at 0x40\): 0x1000 \(p_offset\) \+ 0x3000 bytes \(p_filesz\) runs past end of file/,
    ],
    [buildElf(segs).fill(0, 4, 5), /^v: ELF: EI_CLASS at 0x4 is 0, expected ELFCLASS64/],
  ];
  for (const [file, re] of cases) throwsKexec(() => parseElfVmlinux(file, "v"), "bad-image", re);
});

Deno.test("syntheticSetupHeader: HdrS, protocol 2.15, loaded high, 64-bit, 2047-byte command line", () => {
  const v = parseElfVmlinux(buildElf(kernelSegs()), "v");
  const hdr = syntheticSetupHeader(v);
  const file = new Uint8Array(0x26c);
  file.set(hdr, 0x1f1);
  const r = le(file);
  assert.equal(r.u16(0x1fe), 0xaa55);
  assert.equal(r.u32(0x202), 0x53726448);
  assert.equal(r.u16(0x206), 0x020f);
  assert.equal(r.u8(0x211), 1);
  assert.equal(r.u32(0x230), 0x200000);
  assert.equal(r.u16(0x236), 3);
  assert.equal(r.u32(0x238), 2047);
  assert.equal(r.u64(0x258), 16n * MiB);
  assert.equal(r.u16(0x1f2), 1);
});

Deno.test("plans: at the link address when free; moved by a multiple of 2 MiB inside --mem-min and crash regions", () => {
  const dir = Deno.makeTempDirSync({ prefix: "kts-elf-" });
  const path = `${dir}/vmlinux`;
  Deno.writeFileSync(path, buildElf(kernelSegs()));
  const nocrash = fsSystemView(machineDir("qemu-q35-2g-nocrash"));
  const plan = (init: Parameters<typeof loadRequest>[0], sys = nocrash) => {
    const built = buildLoadPlan(loadRequest(init), sys, new Uint8Array(32));
    validatePlan(built.plan, built.limits);
    return built.plan;
  };
  const p = plan({ kernel: path, append: "console=ttyS0" });
  assert.equal(p.loader, "elf-x86_64");
  const k = p.segments.filter((s) => s.role === "kernel");
  assert.deepEqual(k.map((s) => [s.mem, s.memsz, s.buf.length]), [
    [16n * MiB, 2n * MiB, 0x3000],
    [18n * MiB, 0x5000n, 0x2000],
    [18n * MiB + 0x5000n, 2n * MiB - 0x5000n, 0x1000],
    [20n * MiB, 0x400000n, 0x1000],
  ], "a segment per PT_LOAD, each reaching to the next");
  assert.equal(p.kernelEntry, 16n * MiB + 0xb53n);
  const bp = le(p.segments.find((s) => s.role === "boot-params")!.buf);
  assert.equal(bp.u32(0x202), 0x53726448, "boot_params carries the made-up header");
  assert.equal(bp.u8(0x210), 0xd0, "type_of_loader: kexec");
  assert.equal(BigInt(bp.u32(0x228)), p.bootParams + 0x1000n, "cmd_line_ptr after boot_params");
  const moved = plan({ kernel: path, memMin: 0x5100000n });
  const mk = moved.segments.find((s) => s.role === "kernel")!;
  assert.equal(mk.mem, 0x5200000n);
  assert.equal(moved.kernelEntry, 0x5200000n + 0xb53n);
  assert.match(moved.notes.join("\n"), /vmlinux moved from its link address 0x1000000 to 0x5200000 \(by 0x4200000/);
  const crash = plan({ kind: "crash", kernel: path }, fsSystemView(machineDir("qemu-q35-2g-crash256m")));
  const ck = crash.segments.find((s) => s.role === "kernel")!;
  assert.equal(ck.mem % (2n * MiB), 0n);
  assert.equal(crash.kernelEntry - ck.mem, 0xb53n);
  // On a UEFI machine a vmlinux gets no EFI (no setup header says it takes it), and the plan says what would.
  const ovmf = plan({ kernel: path, append: "console=ttyS0" }, fsSystemView(machineDir("qemu-q35-2g-ovmf-crash256m")));
  assert.equal(ovmf.firmware?.handover, "bios");
  assert.deepEqual(ovmf.firmware?.withheld && [ovmf.firmware.withheld.reason, ovmf.firmware.withheld.hint], [
    "an ELF vmlinux has no setup header to say it takes EFI (XLF_EFI_KEXEC)",
    "load its bzImage to keep EFI",
  ]);
  const env = { sys: nocrash, kernel: DRY_RUN_KERNEL, out() {}, err() {}, shutdown() {}, uid: 0 };
  throwsKexec(
    () => performLoad(loadRequest({ kernel: path, syscall: "kexec_file_load" }), env, { dryRun: true }),
    "unsupported",
    /^kexec_file_load cannot load elf-x86_64 images; use -c \(kexec_load\)$/,
  );
});

Deno.test("-a with an ELF vmlinux: kexec_file_load is never called (it would free the loaded crash kernel first)", () => {
  const dir = Deno.makeTempDirSync({ prefix: "kts-elf-a-" });
  const path = `${dir}/vmlinux`;
  Deno.writeFileSync(path, buildElf(kernelSegs()));
  const runDir = Deno.env.get("KEXEC_TS_RUN_DIR");
  Deno.env.set("KEXEC_TS_RUN_DIR", dir);
  try {
    const calls: string[] = [];
    const kernel: KernelOps = {
      kexecLoad: () => void calls.push("kexec_load"),
      kexecFileLoad: () => void calls.push("kexec_file_load"),
      rebootIntoKexec: () => assert.fail("reboot"),
      sync() {},
    };
    const env = {
      sys: fsSystemView(machineDir("qemu-q35-2g-crash256m")),
      kernel,
      out() {},
      err() {},
      shutdown() {},
      uid: 0,
    };
    const note = "kexec_file_load has no elf-x86_64 loader; kexec_load used";
    for (const kind of ["crash", "reboot"] as const) {
      const req = loadRequest({ kind, kernel: path, syscall: "auto", append: "console=ttyS0" });
      const dry = performLoad(req, env, { dryRun: true });
      assert.equal(dry.syscall, "kexec_load", "plan -a shows the kexec_load plan");
      assert.equal(dry.filePlan, undefined);
      assert.ok(dry.plan!.notes.includes(note), dry.plan!.notes.join("; "));
      const done = performLoad(req, env);
      assert.equal(done.syscall, "kexec_load");
      assert.ok(done.plan!.notes.includes(note));
      assert.deepEqual(done.warnings.filter((w) => /kexec_file_load/.test(w)), [], "no fallback warning");
    }
    assert.deepEqual(calls, ["kexec_load", "kexec_load"], "kexec_file_load never called");
  } finally {
    if (runDir === undefined) Deno.env.delete("KEXEC_TS_RUN_DIR");
    else Deno.env.set("KEXEC_TS_RUN_DIR", runDir);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("5-level paging on: a vmlinux cannot say it runs with it, so the plan warns (a bzImage is checked instead)", () => {
  const dir = Deno.makeTempDirSync({ prefix: "kts-elf-la57-" });
  try {
    const path = `${dir}/vmlinux`;
    Deno.writeFileSync(path, buildElf(kernelSegs()));
    const nocrash = fsSystemView(machineDir("qemu-q35-2g-nocrash"));
    const la57 = overlayView(nocrash, { "/proc/cpuinfo": "processor\t: 0\nflags\t\t: fpu pae la57 sse\n" });
    const env = { sys: la57, kernel: DRY_RUN_KERNEL, out() {}, err() {}, shutdown() {}, uid: 0 };
    const outcome = performLoad(loadRequest({ kernel: path, append: "console=ttyS0" }), env, { dryRun: true });
    assert.deepEqual(outcome.plan!.warnings, [VMLINUX_LA57_WARNING]);
    assert.ok(outcome.warnings.includes(VMLINUX_LA57_WARNING), "printed for real loads too");
    assert.match(renderPlan(outcome.plan!), /^warning: 5-level paging is on and an ELF vmlinux cannot say/m);
    const off = buildLoadPlan(loadRequest({ kernel: path }), nocrash, new Uint8Array(32)).plan;
    assert.equal(off.warnings, undefined, "4-level paging: nothing to warn about");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
