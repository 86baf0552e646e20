/**
 * kexec_file_load pre-checks equal to the kernel's: a table test over every check of the kernel's kexec_file_load
 * path (lib/load/file_load.ts KEXEC_FILE_CHECKS: kernel/kexec_file.c, fs/kernel_read_file.c, kernel/kexec_core.c;
 * lib/arch/x86_64/bzimage_file_load.ts BZIMAGE64_FILE_CHECKS: bzImage64_probe, bzImage64_load), each with its line in
 * Linux 6.12.117. Every check kexec-ts makes has a case here that makes it refuse (and the boundary case that
 * passes, where there is one); every check it cannot make is in the note said before a crash kexec_file_load.
 */

import assert from "node:assert/strict";
import {
  checkFileLoad,
  type FileLoadFacts,
  FileOnlyRefusal,
  KEXEC_FILE_CHECKS,
  uncheckedNote,
} from "../../../lib/load/file_load.ts";
import { BZIMAGE64_FILE_CHECKS } from "../../../lib/arch/x86_64/bzimage_file_load.ts";
import { HDR } from "../../../lib/arch/x86_64/bzimage.ts";
import { x86_64 } from "../../../lib/arch/x86_64/mod.ts";
import { loadRequest } from "../../../lib/load/request.ts";
import { pickLoader } from "../../../lib/load/loaders.ts";
import { hex, KexecError } from "../../../lib/errors.ts";
import { performLoad } from "../../../lib/load/load.ts";
import { renderOutcome } from "../../../lib/cli/output.ts";
import type { RunEnv } from "../../../lib/runtime.ts";
import { fsSystemView, type SystemView } from "../../../lib/system.ts";
import { machineDir, overlayView } from "../test_helpers.ts";
import { syntheticBzImage } from "./golden_fixtures.ts";

const CRASH = fsSystemView(machineDir("qemu-q35-2g-crash256m"));
const IOMEM = new TextDecoder().decode(Deno.readFileSync(`${machineDir("qemu-q35-2g-crash256m")}/proc/iomem`));
const MiB = 1n << 20n;
const GiB = 1n << 30n;

/** The fixture's /proc/iomem with its crash region (0x68000000-0x77ffffff) replaced. */
function crashRegion(start: bigint, end: bigint): Record<string, string> {
  const line = `  ${start.toString(16).padStart(8, "0")}-${(end - 1n).toString(16).padStart(8, "0")} : Crash kernel`;
  return {
    "/proc/iomem": IOMEM.replace("  68000000-77ffffff : Crash kernel", line),
    "/sys/kernel/kexec_crash_size": `${end - start}\n`,
  };
}

/** A minimal PE32+ header at 0x40 with an Authenticode certificate table of `certBytes` (0: none). */
function withPeSignature(image: Uint8Array, certBytes: number): Uint8Array {
  const out = image.slice();
  const dv = new DataView(out.buffer);
  out.set([0x4d, 0x5a], 0); // "MZ"
  dv.setUint32(0x3c, 0x40, true); // e_lfanew
  dv.setUint32(0x40, 0x00004550, true); // "PE\0\0"
  const opt = 0x40 + 24;
  dv.setUint16(opt, 0x20b, true); // PE32+
  dv.setUint32(opt + 108, 16, true); // NumberOfRvaAndSizes
  dv.setUint32(opt + 144, out.length - certBytes, true); // security directory: file offset
  dv.setUint32(opt + 148, certBytes, true); // and size
  return out;
}

interface Case {
  image?: Uint8Array;
  kernelFile?: Partial<FileLoadFacts["kernel"]>;
  initrdBytes?: bigint;
  cmdline?: string;
  sys?: Record<string, string | null>;
  kind?: "crash" | "reboot";
  totalRamBytes?: bigint;
}

/** Runs the checks for the baseline (a synthetic bzImage, a 5 MiB initrd, crash256m) changed by `c`. */
function attempt(c: Case = {}): { error?: KexecError; unchecked?: string[] } {
  const image = c.image ?? syntheticBzImage();
  const sys: SystemView = overlayView(CRASH, c.sys ?? {});
  let loader, parsed;
  try {
    loader = pickLoader(x86_64, image, undefined, "/boot/k");
    parsed = loader.parse(image, "/boot/k");
  } catch (e) {
    if (!(e instanceof KexecError)) throw e;
    return { error: e };
  }
  const facts: FileLoadFacts = {
    req: loadRequest({ kind: c.kind ?? "crash", kernel: "/boot/k", initrds: c.initrdBytes === 0n ? [] : ["/boot/i"] }),
    loader: loader as FileLoadFacts["loader"],
    image: parsed,
    cmdline: c.cmdline ?? "console=ttyS0 irqpoll",
    kernel: { path: "/boot/k", isFile: true, sizeBytes: BigInt(image.length), ...c.kernelFile },
    kernelBytes: image,
    initrd: c.initrdBytes === 0n ? undefined : { path: "/boot/i", isFile: true, sizeBytes: c.initrdBytes ?? 5n * MiB },
    totalRamBytes: c.totalRamBytes ?? 2n * GiB,
  };
  try {
    return { unchecked: checkFileLoad(facts, sys, x86_64) };
  } catch (e) {
    if (!(e instanceof KexecError)) throw e;
    return { error: e };
  }
}

/** The image with `edit` applied to its setup header. */
function edited(edit: (dv: DataView) => void, base = syntheticBzImage()): Uint8Array {
  const out = base.slice();
  edit(new DataView(out.buffer));
  return out;
}

/** For each check kexec-ts makes (by the kernel source line): an input that must be refused, and how. */
const REFUSED: Record<string, { c: Case; message: RegExp }> = {
  "kernel/kexec_core.c:1023": {
    c: { sys: { "/proc/sys/kernel/kexec_load_disabled": "1\n" } },
    message: /^kexec is disabled \(kernel\.kexec_load_disabled=1/,
  },
  "kernel/kexec_core.c:1030": {
    c: { sys: { "/proc/sys/kernel/kexec_load_limit_panic": "0\n" } },
    message: /^kernel\.kexec_load_limit_panic is 0/,
  },
  "fs/kernel_read_file.c:48": {
    c: { kernelFile: { isFile: false } },
    message: /^kexec_file_load cannot take kernel \/boot\/k: it is not a regular file; use -c \(kexec_load\)$/,
  },
  "fs/kernel_read_file.c:51": {
    c: { kernelFile: { openForWriting: true } },
    message:
      /^kexec_file_load cannot take kernel \/boot\/k: another process has it open for writing \(ETXTBSY\); use -c \(kexec_load\)$/,
  },
  "fs/kernel_read_file.c:56": {
    c: { kernelFile: { sizeBytes: 0n } },
    message: /^kexec_file_load cannot take kernel \/boot\/k: it is empty$/,
  },
  "fs/kernel_read_file.c:66": {
    c: { kernelFile: { sizeBytes: 4n * GiB + 1n } },
    message: /it is 4294967297 bytes, more than the kernel's 4 GiB limit$/,
  },
  "kernel/kexec_file.c:193": {
    c: { sys: { "/sys/kernel/security/lockdown": "none [integrity] confidentiality\n" } },
    message: /^kexec_file_load under lockdown \(integrity\) needs a signed kernel, and \/boot\/k carries no signature/,
  },
  "kernel/kexec_file.c:268": {
    c: { cmdline: "console=ttyS0\0init=/bin/sh" },
    message: /^the command line contains a NUL byte$/,
  },
  "kernel/kexec_file.c:330": {
    // Room for everything but the kernel's control and page-table pages (the 1 MiB slack).
    c: { sys: crashRegion(0x1000000n, 0x1000000n + 24n * MiB + 5n * MiB + 1n * MiB), initrdBytes: 5n * MiB },
    message: /no room in the crash region .* control and page-table pages 0x100000 = /,
  },
  "arch/x86/kernel/kexec-bzimage64.c:342": {
    c: { image: syntheticBzImage().subarray(0, 1000) },
    message: /too short|past the end/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:348": {
    c: { image: edited((dv) => dv.setUint32(HDR.header, 0, true)) },
    message: /^\/boot\/k is not a kernel image kexec-ts can load \(no bzImage "HdrS" header\)$/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:353": {
    c: { image: edited((dv) => dv.setUint16(HDR.boot_flag, 0, true)) },
    message: /^\/boot\/k is not a kernel image kexec-ts can load \(no bzImage "HdrS" header\)$/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:358": {
    c: { image: edited((dv) => dv.setUint16(HDR.version, 0x020b, true)) },
    message: /boot protocol 2\.11 .* older than 2\.12/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:363": {
    c: { image: edited((dv) => dv.setUint8(HDR.loadflags, 0)) },
    message: /lack LOADED_HIGH/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:368": {
    c: { image: syntheticBzImage({ xloadflags: 0x02 }) },
    message: /lack XLF_KERNEL_64/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:373": {
    c: { image: syntheticBzImage({ xloadflags: 0x01 | 0x20 }) },
    message: /^kexec_file_load would refuse this kernel: its xloadflags lack XLF_CAN_BE_LOADED_ABOVE_4G, .*use -c$/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:382": {
    c: { sys: { "/sys/firmware/efi/fw_platform_size": "32\n" } },
    message: /32-bit EFI firmware with runtime services; use -c/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:387": {
    c: { image: syntheticBzImage({ xloadflags: 0x03 }), sys: { "/proc/cpuinfo": "flags\t\t: fpu pae la57\n" } },
    message: /5-level paging is on and its xloadflags lack XLF_5LEVEL$/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:426": {
    c: { image: edited((dv) => dv.setUint8(HDR.setup_sects, 200)) },
    message: /setup_sects at 0x1f1 \(200\) puts the kernel at .* past the end/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:431": {
    c: { cmdline: "x".repeat(2048) },
    message: /the command line is 2048 bytes; .* cmdline_size 2047, so at most 2016 bytes$/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:440": {
    c: { cmdline: "x".repeat(2017), kind: "reboot" },
    message: /the command line is 2017 bytes; with its NUL and the 30 bytes the kernel keeps for elfcorehdr=/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:448": {
    // The kernel window fits; the hotplug elfcorehdr (917616 + 64 bytes) does not fit beside it.
    c: { sys: crashRegion(0x1000000n, 0x1000000n + 24n * MiB + 1n * MiB), initrdBytes: 0n },
    message: /elfcorehdr 0xe1000 .* = 0x[0-9a-f]+ bytes; reserve more with crashkernel=$/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:458": {
    c: { sys: crashRegion(0x1000000n, 0x1000000n + 24n * MiB + 0xe1000n + 2n * 0x1000n + MiB), initrdBytes: 0n },
    message: /purgatory 0x1000 \+ control and page-table pages 0x100000 = 0x[0-9a-f]+ bytes/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:505": {
    c: { sys: crashRegion(0x1000000n, 0x1000000n + 24n * MiB + 0xe1000n + 0x1000n + MiB), initrdBytes: 0n },
    message: /boot data 0x2000 \+ purgatory 0x1000/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:522": {
    c: { sys: crashRegion(0x1000000n, 0x1000000n + 20n * MiB) },
    message: /for the kernel's init_size \(0x1800000 bytes\) at or above pref_address 0x1000000, aligned to 0x200000/,
  },
  "arch/x86/kernel/kexec-bzimage64.c:537": {
    c: {
      image: syntheticBzImage({ initSize: 0x100000 }),
      sys: crashRegion(0x800000n, 0x1800000n),
      initrdBytes: 10n * MiB,
    },
    message: /for the 0xa00000-byte initrd at or above 16 MiB; reserve more with crashkernel=$/,
  },
  "kernel/kexec_core.c:169": {
    c: { image: syntheticBzImage({ initSize: 0x1000 }) },
    message: /init_size at 0x260 \(0x1000\) is smaller than the 0xf000-byte kernel/,
  },
  "kernel/kexec_core.c:179": {
    c: { totalRamBytes: 40n * MiB, kind: "reboot" },
    message: /the kernel's init_size \(0x1800000 bytes\) is more than half of this machine's RAM \(0x1400000 bytes\)$/,
  },
  "kernel/kexec_core.c:185": {
    c: { totalRamBytes: 56n * MiB, kind: "reboot" },
    message: /the kernel's init_size and the initrd together \(0x1d00000 bytes\) is more than half/,
  },
};

const ROWS = [...KEXEC_FILE_CHECKS, ...BZIMAGE64_FILE_CHECKS];

Deno.test("kexec_file_load pre-checks: the baseline passes and returns the unchecked items", () => {
  const { error, unchecked } = attempt();
  assert.equal(error, undefined, error?.message);
  assert.deepEqual(unchecked, ROWS.filter((r) => r.afterFree && r.unchecked).map((r) => r.unchecked));
  assert.ok(unchecked!.length >= 5);
});

Deno.test("kexec_file_load pre-checks: every row names a kernel line and either our check or why not", () => {
  for (const r of ROWS) {
    assert.match(r.source, /^(kernel|fs|arch\/x86\/kernel)\/[a-z_0-9-]+\.c:\d+( \(placement\))?$/, r.source);
    assert.ok((r.ours === undefined) !== (r.unchecked === undefined), `${r.source}: exactly one of ours/unchecked`);
    assert.match(r.errno, /^E[A-Z]+(\/E[A-Z]+)*$/, r.source);
  }
});

for (const row of ROWS.filter((r) => r.ours !== undefined && !r.ours.startsWith("by construction"))) {
  Deno.test(`kexec_file_load pre-check ${row.source} (${row.errno}): ${row.kernel}`, () => {
    const want = REFUSED[row.source];
    assert.ok(want, `no refusal case for ${row.source}: add one to REFUSED`);
    const { error } = attempt(want.c);
    assert.ok(error, `${row.source}: not refused`);
    assert.match(error.message, want.message);
    // What only kexec_file_load refuses is "bad-image", "layout" or a FileOnlyRefusal (so -a falls back); what
    // kexec_load would meet as well is another code.
    const fileOnly = row.source.startsWith("arch/") || /:(169|179|185|330)$/.test(row.source) ||
      /kernel_read_file\.c:(48|51)$/.test(row.source);
    const fallsBack = error instanceof FileOnlyRefusal || error.code === "bad-image" || error.code === "layout";
    assert.equal(fallsBack, fileOnly, `${row.source}: code ${error.code}`);
  });
}

Deno.test("kexec_file_load pre-checks: the boundaries pass (command line 2016 bytes, IMA appraisal, a signature)", () => {
  assert.equal(attempt({ cmdline: "x".repeat(2016), kind: "reboot" }).error, undefined);
  assert.equal(attempt({ sys: { "/sys/firmware/efi/fw_platform_size": "64\n" } }).error, undefined);
  assert.equal(
    attempt({ sys: { "/sys/firmware/efi/fw_platform_size": "32\n", "/proc/cmdline": "noefi ro" } }).error,
    undefined,
  );
  const lockdown = { "/sys/kernel/security/lockdown": "none [integrity] confidentiality\n" };
  assert.equal(attempt({ sys: lockdown, image: withPeSignature(syntheticBzImage(), 0x800) }).error, undefined);
  assert.match(
    attempt({ sys: lockdown, image: withPeSignature(syntheticBzImage(), 0) }).error!.message,
    /no signature/,
  );
  const ima = "measure func=KEXEC_KERNEL_CHECK\nappraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n";
  assert.equal(attempt({ sys: { ...lockdown, "/sys/kernel/security/ima/policy": ima } }).error, undefined);
  const measureOnly = "measure func=KEXEC_KERNEL_CHECK\n";
  assert.match(
    attempt({ sys: { ...lockdown, "/sys/kernel/security/ima/policy": measureOnly } }).error!.message,
    /no signature/,
  );
  // Debian's kernel: no CONFIG_IMA_READ_POLICY, so the policy file is there but unreadable until a policy is loaded.
  const unreadable = { ...lockdown, "/sys/kernel/security/ima/policy": "<denied>" };
  assert.match(attempt({ sys: unreadable }).error!.message, /no signature/);
  assert.equal(attempt({ sys: { ...unreadable, "/proc/cmdline": "ro ima_policy=secure_boot" } }).error, undefined);
  assert.equal(attempt({ sys: { ...unreadable, "/proc/cmdline": "ro ima_appraise_tcb" } }).error, undefined);
  const secureBoot = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";
  assert.equal(attempt({ sys: { ...unreadable, [secureBoot]: "\x06\0\0\0\x01" } }).error, undefined);
  assert.match(attempt({ sys: { ...unreadable, [secureBoot]: "\x06\0\0\0\0" } }).error!.message, /no signature/);
  // A custom policy was loaded (the file is gone): unknown, so the kernel decides.
  assert.equal(
    attempt({ sys: { ...lockdown, "/sys/kernel/security/ima/ascii_runtime_measurements": "" } }).error,
    undefined,
  );
  // Without a crash region, a normal load has no region to fit; half of RAM still applies.
  assert.equal(attempt({ kind: "reboot", sys: crashRegion(0x1000000n, 0x1100000n) }).error, undefined);
});

Deno.test("kexec_file_load pre-checks: a file without a read lease adds ETXTBSY to the unchecked items", () => {
  const base = attempt().unchecked!;
  assert.ok(!base.some((u) => u.includes("ETXTBSY")), "a leased file is checked");
  const { error, unchecked } = attempt({ kernelFile: { leased: false } });
  assert.equal(error, undefined);
  assert.deepEqual(unchecked, [
    ...base,
    "whether another process opens /boot/k for writing first (ETXTBSY; no read lease could be taken)",
  ]);
});

Deno.test("kexec_file_load pre-checks: the note before a crash load names every unchecked item", () => {
  const note = uncheckedNote(attempt().unchecked!);
  assert.match(note, /^kexec_file_load frees the loaded crash kernel before it checks what kexec-ts cannot: /);
  for (const r of ROWS.filter((r) => r.afterFree && r.unchecked)) assert.ok(note.includes(r.unchecked!), r.source);
  assert.match(note, /if it refuses, no crash kernel stays loaded \(with -c kexec-ts checks everything first\)$/);
});

// ---------------------------------------------------------------------------------------------------------------
// Through performLoad: the note before the syscall, the flags, and -a's early fallback.

const tmp = Deno.makeTempDirSync({ prefix: "kts-fileload-" });
Deno.env.set("KEXEC_TS_RUN_DIR", `${tmp}/run`);
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));
Deno.writeFileSync(`${tmp}/bzImage`, syntheticBzImage());
Deno.writeFileSync(`${tmp}/below4g`, syntheticBzImage({ xloadflags: 0x01 | 0x20 }));
Deno.writeFileSync(`${tmp}/initrd`, new Uint8Array(8192).fill(7));

function fakeEnv() {
  const events: string[] = [];
  const env: RunEnv = {
    sys: CRASH,
    kernel: {
      kexecLoad: (_e, _s, flags) => void events.push(`kexec_load ${hex(flags)}`),
      kexecFileLoad: (_k, initrd, _c, flags) =>
        void events.push(
          `kexec_file_load ${hex(flags)} ${
            initrd === undefined ? "-" : typeof initrd === "number" ? "fd" : initrd.name
          }`,
        ),
      rebootIntoKexec: () => assert.fail("no reboot"),
      sync: () => {},
    },
    out: () => {},
    err: (t) => void events.push(`err ${t}`),
    shutdown: () => {},
    uid: 0,
  };
  return { env, events };
}

Deno.test("-p -s: the unchecked items are said before kexec_file_load; flags are KEXEC_FILE_ON_CRASH only", () => {
  const { env, events } = fakeEnv();
  const out = performLoad(
    loadRequest({ kind: "crash", kernel: `${tmp}/bzImage`, initrds: [`${tmp}/initrd`], syscall: "kexec_file_load" }),
    env,
  );
  assert.equal(out.syscall, "kexec_file_load");
  assert.equal(events.length, 2);
  assert.match(events[0], /^err kexec-ts: note: kexec_file_load frees the loaded crash kernel before it checks /);
  assert.equal(events[1], `kexec_file_load 0x2 fd`); // the descriptor kexec-ts opened and checked
  // -l -s: no note (a normal image is only replaced when the new one loads); no flags.
  const normal = fakeEnv();
  performLoad(loadRequest({ kernel: `${tmp}/bzImage`, syscall: "kexec_file_load" }), normal.env);
  assert.deepEqual(normal.events, ["kexec_file_load 0x0 -"]);
  // The dry-run plan lists them too.
  const dry = performLoad(
    loadRequest({ kind: "crash", kernel: `${tmp}/bzImage`, syscall: "kexec_file_load" }),
    fakeEnv().env,
    { dryRun: true },
  );
  assert.ok(dry.filePlan!.unchecked.length >= 5);
  assert.match(
    renderOutcome(dry, false),
    /^not checked before the syscall: what IMA, LoadPin or SELinux let the kernel read$/m,
  );
});

Deno.test("-a -p: what only kexec_file_load refuses goes straight to kexec_load, with a plan note said", () => {
  const { env, events } = fakeEnv();
  const out = performLoad(loadRequest({ kind: "crash", kernel: `${tmp}/below4g`, syscall: "auto" }), env);
  assert.equal(out.syscall, "kexec_load");
  assert.equal(events.length, 2);
  assert.match(
    events[0],
    /^err kexec-ts: note: kexec_file_load skipped \(.*XLF_CAN_BE_LOADED_ABOVE_4G.*\); kexec_load used$/,
  );
  assert.equal(events[1], "kexec_load 0x3e0009"); // 6.12: KEXEC_CRASH_HOTPLUG_SUPPORT
  assert.match(
    out.plan!.notes.at(-1)!,
    /^kexec_file_load skipped \(kexec_file_load would refuse this kernel: .*XLF_CAN_BE_LOADED_ABOVE_4G.*\); kexec_load used$/,
  );
  // -s has no fallback: refused before the syscall.
  const s = fakeEnv();
  assert.throws(
    () => performLoad(loadRequest({ kind: "crash", kernel: `${tmp}/below4g`, syscall: "kexec_file_load" }), s.env),
    /XLF_CAN_BE_LOADED_ABOVE_4G/,
  );
  assert.deepEqual(s.events, []);
  // What kexec_load meets as well is not a reason to fall back.
  const disabled = fakeEnv();
  disabled.env.sys = overlayView(CRASH, { "/proc/sys/kernel/kexec_load_disabled": "1\n" });
  assert.throws(
    () => performLoad(loadRequest({ kind: "crash", kernel: `${tmp}/bzImage`, syscall: "auto" }), disabled.env),
    /kexec is disabled/,
  );
  assert.deepEqual(disabled.events, []);
});
