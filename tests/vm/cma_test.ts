/**
 * crashkernel=SIZE,cma (6.17+) on the newest kernel: `crashkernel=256M crashkernel=256M,cma` reserves the usual
 * region and a 256 MiB CMA range the first kernel keeps using for movable pages. The kernel's own loader
 * (kexec_file_load) gives the CMA range to the capture kernel as usable memory and leaves it out of the dump;
 * kexec-ts must do the same through kexec_load. Three boots of the same machine: kexec-ts -p, the kernel's loader
 * (kexec-tools -s -p), and Debian's kexec-tools 2.0.25 -c -p, which knows nothing of CMA.
 */

import assert from "node:assert/strict";
import { kernelConfig, matrixKernels } from "../../scripts/vm/kernels.ts";
import { block, boot, check, expectRc, marker, type Run } from "./harness.ts";
import { checkDump, panicToCaptureMs } from "./matrix.ts";
import { parseCmaRanges } from "../../lib/crash/sysfs.ts";
import { isSystemRam, parseIomem, walkIomem } from "../../lib/memory/iomem.ts";
import { mergeRanges, type Range, subtractRanges } from "../../lib/memory/ranges.ts";

const KERNEL = "newest";
const MiB = 1024n * 1024n;

function cmaRun(loader: "kexec-ts" | "file" | "old"): Promise<Run> {
  return boot("cma", {
    kernel: KERNEL,
    append: `crashkernel=256M crashkernel=256M,cma kts.loader=${loader}`,
    timeoutMs: 300_000,
  });
}

/** The CMA ranges the first kernel reported, and what the capture kernel had as System RAM. */
function facts(run: Run) {
  expectRc(run, "load", 0);
  assert.equal(marker(run, "after.kexec_crash_loaded"), "1");
  const cma = parseCmaRanges(block(run, "cma-ranges"));
  assert.ok(
    cma && cma.length === 1 && cma[0].end - cma[0].start === 256n * MiB,
    `CMA ranges: ${block(run, "cma-ranges")}`,
  );
  const captureRam = mergeRanges(
    walkIomem(parseIomem(block(run, "capture.iomem")), isSystemRam).map((e) => ({ start: e.start, end: e.end })),
  );
  console.log(
    `cma ${marker(run, "loader")}: capture kernel MemTotal ${
      Math.round(Number(marker(run, "stage2.memtotal")) / 1024)
    } MiB, panic to capture init ${(panicToCaptureMs(run) / 1000).toFixed(1)} s`,
  );
  return { cma, captureRam };
}

/** Whether `inner` is wholly inside the union of `outer`. */
const within = (inner: Range, outer: Range[]) => subtractRanges([inner], outer).length === 0;
const touches = (a: Range, list: Range[]) => list.some((r) => r.start < a.end && a.start < r.end);

if (matrixKernels().includes(KERNEL)) {
  Deno.test("newest kernel config has CMA (crashkernel=,cma needs it)", () => {
    assert.equal(kernelConfig(KERNEL, "CONFIG_CMA"), "y");
  });

  Deno.test("crashkernel=,cma: kexec-ts shows the ranges, gives them to the capture kernel, leaves them out of the dump", async () => {
    const run = await cmaRun("kexec-ts");
    const { cma, captureRam } = facts(run);
    const status = JSON.parse(block(run, "status-before"));
    assert.deepEqual(status.crashCmaRanges, [{
      start: "0x" + cma[0].start.toString(16),
      end: "0x" + cma[0].end.toString(16),
    }]);
    assert.match(
      block(run, "status-text"),
      /^crash CMA ranges +0*[0-9a-f]+-[0-9a-f]+ \(256 MiB\) \(capture kernel memory, left out of the dump\)$/m,
    );
    const plan = JSON.parse(block(run, "plan"));
    check(
      run,
      plan.notes.some((n: string) => n.startsWith("crashkernel=,cma ranges ")),
      "the plan does not mention CMA",
    );
    check(run, within(cma[0], captureRam), "the capture kernel did not get the CMA range as RAM");
    const { vmcore, missing } = checkDump(run, { exact: true, excludeFromDump: cma });
    assert.equal(missing, 0n);
    check(run, !touches(cma[0], vmcore.loads), "the dump covers the CMA range");
    check(run, run.result.console.includes("kexec-ts purgatory: SHA-256 ok"), "purgatory did not accept the image");
  });

  Deno.test("crashkernel=,cma: the kernel's own loader (kexec-tools -s) does the same", async () => {
    const run = await cmaRun("file");
    const { cma, captureRam } = facts(run);
    check(run, within(cma[0], captureRam), "kexec_file_load did not give the CMA range to the capture kernel");
    const { vmcore, missing } = checkDump(run, { exact: true, excludeFromDump: cma });
    assert.equal(missing, 0n);
    check(run, !touches(cma[0], vmcore.loads), "kexec_file_load's dump covers the CMA range");
  });

  Deno.test("crashkernel=,cma: kexec-tools 2.0.25 -c, which knows nothing of CMA, dumps the range and keeps it from the capture kernel", async () => {
    const run = await cmaRun("old");
    const { cma, captureRam } = facts(run);
    check(run, !touches(cma[0], captureRam), "kexec-tools 2.0.25 gave the CMA range to the capture kernel");
    const { vmcore, missing } = checkDump(run, { exact: false });
    assert.equal(missing, 0n);
    check(run, within(cma[0], mergeRanges(vmcore.loads)), "kexec-tools 2.0.25's dump lacks the CMA range");
  });
}
