/**
 * Crash kernels on a real kernel: after `kexec-ts -p` and a panic the capture kernel boots, /proc/vmcore has a
 * PRSTATUS note per CPU, a VMCOREINFO note and PT_LOADs covering the first kernel's RAM, and makedumpfile writes
 * a dump; kexec-tools -c -p in the same VM covers the same RAM; a bad -p never costs the loaded crash kernel.
 */

import assert from "node:assert/strict";
import { STAGE2_MARKER } from "../../scripts/vm/images.ts";
import { block, boot, check, expectRc, hasMarker, marker, numberMarker, type Run } from "./harness.ts";
import { expectedDumpRam, summarizeVmcore, uncovered } from "./vmcore.ts";
import { parseCpuList } from "../../lib/crash/elfcorehdr.ts";
import { mergeRanges, subtractRanges } from "../../lib/memory/ranges.ts";

/** The capture kernel booted and its vmcore describes the first kernel: checks shared by ours and the peer. */
function checkCapture(run: Run, cmdlineMarker: string) {
  check(run, hasMarker(run, "capture.vmcore-size"), "the capture kernel did not boot or has no /proc/vmcore");
  assert.equal(marker(run, "stage2.marker"), STAGE2_MARKER);
  assert.match(marker(run, "stage2.cmdline"), new RegExp(`kts\\.marker=${cmdlineMarker}`));
  const vmcore = summarizeVmcore(block(run, "capture.vmcore-head"));
  const want = expectedDumpRam(block(run, "first-iomem"));
  return { vmcore, want, missing: uncovered(want, vmcore.loads) };
}

Deno.test("kexec-ts -p: the capture kernel boots and /proc/vmcore is a correct dump that makedumpfile accepts", async () => {
  const run = await boot("crash-basic", { append: "crashkernel=256M" });
  expectRc(run, "load", 0);
  assert.equal(marker(run, "sys.kexec_crash_loaded"), "1");
  const status = JSON.parse(block(run, "status-json"));
  assert.equal(status.verdict.reason, "loaded-with-flag");
  const { vmcore, want, missing } = checkCapture(run, "ours-crash");
  // --reuse-cmdline: the first kernel's parameters minus crashkernel= and BOOT_IMAGE=, then --append.
  const cmdline = marker(run, "stage2.cmdline");
  assert.match(cmdline, /^elfcorehdr=0x[0-9a-f]+ memhp_default_state=offline console=ttyS0 /);
  check(run, !/crashkernel=/.test(cmdline), `crashkernel= leaked into the capture command line: ${cmdline}`);
  assert.match(cmdline, / irqpoll nr_cpus=1 reset_devices kts\.marker=ours-crash$/);
  // One NT_PRSTATUS per CPU of the first kernel, and the VMCOREINFO note.
  assert.equal(vmcore.prstatus, parseCpuList(marker(run, "first-cpus")).length);
  check(run, /^OSRELEASE=6\.12\./m.test(vmcore.vmcoreinfo ?? ""), "no VMCOREINFO note with OSRELEASE");
  // PT_LOADs cover all System RAM outside the low 1 MiB and the crash region, and nothing of the crash region.
  assert.equal(missing, 0n, `vmcore misses ${missing} bytes of the first kernel's RAM`);
  const extra = subtractRanges(mergeRanges(vmcore.loads), mergeRanges(want));
  assert.deepEqual(extra, [], "vmcore covers memory outside the first kernel's dumpable RAM");
  assert.equal(numberMarker(run, "capture.makedumpfile-rc"), 0);
  check(run, numberMarker(run, "capture.dump-size") > 1_000_000, "makedumpfile wrote an empty dump");
  // The first kernel's log, read back from the dump, has the token it logged before the panic.
  assert.equal(marker(run, "capture.dmesg-marker"), marker(run, "first-kernel-token"));
  check(
    run,
    run.result.console.includes("kexec-ts purgatory: SHA-256 ok"),
    "purgatory did not verify the crash segments",
  );
});

Deno.test("peer: kexec-tools -c -p in the same VM gives a vmcore with the same RAM coverage", async () => {
  const run = await boot("peer-crash", { append: "crashkernel=256M" });
  expectRc(run, "load", 0);
  const { vmcore, want, missing } = checkCapture(run, "peer-crash");
  assert.equal(missing, 0n, `the peer's vmcore misses ${missing} bytes`);
  // kexec-tools still dumps the low 640 KiB (its backup region); above 1 MiB the coverage must be identical.
  const above1M = subtractRanges(mergeRanges(vmcore.loads), [{ start: 0n, end: 0x100000n }]);
  assert.deepEqual(mergeRanges(above1M), mergeRanges(want));
  assert.equal(numberMarker(run, "capture.makedumpfile-rc"), 0);
});

Deno.test("a bad -p (bad image, missing file, too big, bad window, overlap, ELF-magic initrd, lockdown) keeps the loaded crash kernel", async () => {
  const run = await boot("crash-refusals", { append: "crashkernel=256M" });
  expectRc(run, "load", 0);
  assert.equal(marker(run, "loaded.kexec_crash_loaded"), "1");
  const expectations: [string, RegExp][] = [
    ["bad-truncated", /^kexec-ts: \/tmp\/truncated: syssize at 0x1f4 says .* \(truncated file\?\)\n$/],
    ["bad-missing-initrd", /^kexec-ts: cannot read initrd \/nonexistent: no such file\n$/],
    ["bad-too-big", /^kexec-ts: no room for the initrd \(0xc800000 bytes.*reserve more memory with crashkernel=/],
    ["bad-mem-window", /^kexec-ts: --mem-min\/--mem-max exclude the whole crash region\n$/],
    [
      "bad-elf-initrd",
      /^kexec-ts: segment \d \(initrd, .*\) starts with the ELF magic; with hotplug the kernel would take it for the elfcorehdr\n$/,
    ],
    [
      "bad-lockdown",
      /^kexec-ts: kexec_load is blocked by lockdown \(integrity\); use -s \(kexec_file_load\) with a signed kernel \(the previously loaded crash kernel is still loaded\)\n$/,
    ],
  ];
  for (const [name, re] of expectations) {
    expectRc(run, name, 1);
    assert.match(block(run, name), re, name);
  }
  assert.match(marker(run, "tamper.overlap"), /^refused invalid-plan: .* overlaps /);
  for (
    const k of [
      "after-truncated",
      "after-missing-initrd",
      "after-too-big",
      "after-mem-window",
      "after-overlap",
      "after-elf-initrd",
      "after-lockdown",
    ]
  ) {
    assert.equal(marker(run, k), "1", `${k}: the crash kernel was lost`);
  }
  // The panic boots the crash kernel loaded first, untouched.
  check(run, hasMarker(run, "capture.vmcore-size"), "the original crash kernel did not capture the panic");
  assert.match(marker(run, "stage2.cmdline"), /kts\.marker=first-good/);
});
