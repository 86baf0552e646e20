/**
 * The purgatory's SHA-256 with the CPU's SHA extensions: under QEMU 10 (bookworm-backports, unpacked into
 * .cache/qemu10 by scripts/setup --vm) with `-cpu max`, whose TCG emulates them, purgatory finds them through
 * CPUID, enables SSE itself (the old kernel leaves CR4 = PAE only), verifies the segments with them and says so on
 * the serial console, and the new kernel boots; a corrupted segment still halts it. The system's QEMU 7.2 has no
 * SHA extensions: tests/vm/load_test.ts checks that purgatory takes the portable path there.
 */

import assert from "node:assert/strict";
import { STAGE2_MARKER } from "../../scripts/vm/images.ts";
import { boot, check, expectRc, hasMarker, marker } from "./harness.ts";

const SHA_NI = { qemu: "10", cpu: "max" } as const;

Deno.test("QEMU 10 -cpu max: purgatory verifies with the SHA extensions and the new kernel boots", async () => {
  const run = await boot("load-exec", SHA_NI);
  expectRc(run, "load", 0);
  check(run, run.result.console.includes("kexec-ts purgatory: SHA-256 ok (sha-ni)"), "purgatory did not use SHA-NI");
  check(run, hasMarker(run, "stage2.boot"), "the kexec'd kernel never reached its init");
  assert.equal(marker(run, "stage2.marker"), STAGE2_MARKER);
  assert.equal(marker(run, "stage2.cmdline"), "console=ttyS0 panic=-1 kts.marker=ours-load-exec");
});

Deno.test("QEMU 10 -cpu max: a corrupted segment still halts purgatory, on the SHA-NI path", async () => {
  const run = await boot("corrupt-loaded", {
    ...SHA_NI,
    stopOnConsole: {
      pattern: /kexec-ts purgatory: SHA-256 mismatch \(sha-ni\), expected [0-9a-f]{64} got [0-9a-f]{64}; halting/,
      graceMs: 5000,
    },
    timeoutMs: 180_000,
  });
  assert.match(marker(run, "tamper.corrupt-loaded"), /^loaded /);
  check(run, run.result.stoppedOnConsole, "purgatory did not report the mismatch");
  check(run, !hasMarker(run, "stage2.boot"), "the corrupted image was booted");
});
