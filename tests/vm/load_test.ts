/**
 * kexec_load of a bzImage on a real kernel: the second kernel boots with our command line and initrd, purgatory
 * verifies (or, with -i, skips) the SHA-256, catches corruption, bad plans never reach the kernel, and
 * Debian's kexec-tools (-c) boots the same files in the same VM.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BIG_PAYLOAD_BYTES, pseudoRandom, STAGE2_MARKER } from "../../scripts/vm/images.ts";
import { block, boot, check, expectRc, hasMarker, marker, type Run } from "./harness.ts";

function checkSecondKernel(run: Run, cmdlineMarker: string) {
  check(run, hasMarker(run, "stage2.boot"), "the kexec'd kernel never reached its init");
  const cmdline = marker(run, "stage2.cmdline");
  assert.equal(cmdline, `console=ttyS0 panic=-1 kts.marker=${cmdlineMarker}`);
  assert.equal(marker(run, "stage2.marker"), STAGE2_MARKER);
  check(run, !hasMarker(run, "exec-returned"), "kexec -e returned to the first kernel");
}

Deno.test("kexec-ts -l then -e boots the new kernel with our command line and initrd", async () => {
  const run = await boot("load-exec");
  expectRc(run, "plan", 0);
  expectRc(run, "load", 0);
  assert.equal(marker(run, "sys.kexec_loaded"), "1");
  expectRc(run, "status-exit", 1); // kexec-tools -l -S: 1 when a kernel is loaded
  assert.match(block(run, "load"), /^kexec_load: entry = 0x[0-9a-f]+ flags = 0x3e0000\nnr_segments = 4\n/);
  checkSecondKernel(run, "ours-load-exec");
  // QEMU 7.2's TCG has no SHA extensions: the portable path (tests/vm/shani_test.ts covers the other one).
  check(
    run,
    run.result.console.includes("kexec-ts purgatory: SHA-256 ok (portable)"),
    "purgatory did not report its check",
  );
});

Deno.test("-s: kexec_file_load on the descriptors kexec-ts checked boots the new kernel; a pipe initrd goes by -c", async () => {
  const run = await boot("load-exec-file");
  expectRc(run, "fifo-s", 1);
  assert.equal(
    block(run, "fifo-s"),
    "kexec-ts: kexec_file_load cannot take initrd /tmp/initrd.fifo: it is not a regular file; use -c (kexec_load)\n",
  );
  assert.equal(marker(run, "after-fifo-s.kexec_loaded"), "0");
  expectRc(run, "fifo-c", 0);
  assert.equal(marker(run, "after-fifo-c.kexec_loaded"), "1");
  expectRc(run, "load", 0);
  checkSecondKernel(run, "ours-load-file");
});

Deno.test("a 64 MiB initrd arrives intact (purgatory-verified) in the new kernel", async () => {
  const run = await boot("load-exec-big", { big: true });
  expectRc(run, "load", 0);
  checkSecondKernel(run, "ours-big");
  const want = createHash("sha256").update(pseudoRandom(BIG_PAYLOAD_BYTES)).digest("hex");
  assert.equal(marker(run, "stage2.payload-sha256"), want);
  check(run, run.result.console.includes("kexec-ts purgatory: SHA-256 ok"), "purgatory did not verify the big initrd");
});

Deno.test("-i: purgatory skips its check and the kernel still boots", async () => {
  const run = await boot("load-exec-nochecks");
  expectRc(run, "load", 0);
  checkSecondKernel(run, "ours-nochecks");
  check(run, run.result.console.includes("kexec-ts purgatory: SHA-256 check skipped"), "purgatory did not skip");
  check(run, !run.result.console.includes("SHA-256 ok"), "purgatory checked despite -i");
});

Deno.test("purgatory halts, and never enters the kernel, when a loaded segment was corrupted", async () => {
  const run = await boot("corrupt-loaded", {
    stopOnConsole: {
      pattern: /kexec-ts purgatory: SHA-256 mismatch \(portable\), expected [0-9a-f]{64} got [0-9a-f]{64}; halting/,
      graceMs: 5000,
    },
    timeoutMs: 180_000,
  });
  assert.match(marker(run, "tamper.corrupt-loaded"), /^loaded /);
  assert.equal(marker(run, "sys.kexec_loaded"), "1");
  check(run, run.result.stoppedOnConsole, "purgatory did not report the mismatch");
  check(run, !hasMarker(run, "stage2.boot"), "the corrupted image was booted");
});

Deno.test("bad plans and bad inputs are refused before the syscall, with nothing loaded", async () => {
  const run = await boot("refusals");
  assert.match(
    marker(run, "tamper.overlap"),
    /^refused invalid-plan: segment \d \(initrd, .*\) overlaps segment \d \(kernel, /,
  );
  assert.match(
    marker(run, "tamper.too-many"),
    /^refused invalid-plan: the plan has 17 segments; the kernel accepts at most 16/,
  );
  assert.equal(marker(run, "after-plans.kexec_loaded"), "0");
  expectRc(run, "truncated", 1);
  assert.match(
    block(run, "truncated"),
    /^kexec-ts: \/tmp\/truncated: syssize at 0x1f4 says 0x[0-9a-f]+ bytes of kernel but the file holds 0x[0-9a-f]+ \(truncated file\?\)\n$/,
  );
  expectRc(run, "missing-initrd", 1);
  assert.equal(block(run, "missing-initrd"), "kexec-ts: cannot read initrd /nonexistent: no such file\n");
  expectRc(run, "not-a-kernel", 1);
  assert.match(block(run, "not-a-kernel"), /not a kernel image kexec-ts can load/);
  expectRc(run, "mem-window", 1);
  assert.match(block(run, "mem-window"), /^kexec-ts: no room for the kernel .*widen --mem-min\/--mem-max/);
  assert.equal(marker(run, "after-cli.kexec_loaded"), "0");
});

Deno.test("no mode option: kexec-ts KERNEL loads, then runs shutdown -r now (which boots it here)", async () => {
  const run = await boot("no-mode");
  assert.equal(marker(run, "shutdown-called"), "-r now");
  check(run, !hasMarker(run, "no-mode-returned"), "kexec-ts returned instead of handing over to shutdown");
  checkSecondKernel(run, "ours-no-mode");
});

Deno.test("-f loads and executes at once", async () => {
  const run = await boot("force");
  check(run, !hasMarker(run, "force-returned"), "kexec-ts -f returned");
  checkSecondKernel(run, "ours-force");
});

Deno.test("peer: Debian's kexec-tools -c boots the same kernel and initrd in the same VM", async () => {
  const run = await boot("peer-load-exec");
  expectRc(run, "load", 0);
  checkSecondKernel(run, "peer-load-exec");
});
