/**
 * Crash hotplug for kexec_load on a real kernel, with memory hot-added through QMP after the crash load: storms of
 * 8 hot-adds, no reload at all with hotplug on, a handful (coalesced) with it off. The single hot-add (default
 * load, --no-hotplug, --no-hotplug with the udev rule) is a row of the crash-hotplug table on every kernel of the
 * matrix: tests/vm/matrix.ts.
 */

import assert from "node:assert/strict";
import {
  block,
  boot,
  check,
  expectRc,
  kernelWindowOnly,
  marker,
  numberMarker,
  reloadsOk,
  type Run,
} from "./harness.ts";
import { expectedDumpRam, summarizeVmcore, uncovered } from "./vmcore.ts";
import { isSystemRam, parseIomem, walkIomem } from "../../lib/memory/iomem.ts";

/** Boots the hotplug-mem scenario in `mode` on a 2 GiB guest with 8 DIMM slots. */
export function hotplugRun(mode: string): Promise<Run> {
  return boot("hotplug-mem", {
    append: `crashkernel=256M kts.mode=${mode}`,
    slots: 8,
    maxmem: "8G",
    timeoutMs: 300_000,
  });
}

/** System RAM above 4 GiB in the first kernel at panic time: the hot-added DIMMs on this machine type. */
function hotAdded(run: Run) {
  return walkIomem(parseIomem(block(run, "first-iomem")), isSystemRam).filter((e) => e.start >= 0x100000000n);
}

/** The capture kernel booted (purgatory accepted the image) and reported its vmcore; coverage of the RAM. */
function capture(run: Run) {
  expectRc(run, "load", 0);
  check(run, run.result.console.includes("kexec-ts purgatory: SHA-256 ok"), "purgatory did not accept the crash image");
  const vmcore = summarizeVmcore(block(run, "capture.vmcore-head"));
  const missing = uncovered(expectedDumpRam(block(run, "first-iomem")), vmcore.loads);
  // The capture kernel must not online the hot-pluggable memory it finds (it belongs to the dump).
  check(
    run,
    numberMarker(run, "stage2.memtotal") < 256 * 1024,
    `capture kernel MemTotal ${marker(run, "stage2.memtotal")} KiB`,
  );
  assert.equal(numberMarker(run, "capture.makedumpfile-rc"), 0);
  return { vmcore, missing };
}

Deno.test("storm of 8 hot-adds with hotplug on: 0 reloads, never without a crash kernel, vmcore covers all", async () => {
  const run = await hotplugRun("storm-on");
  assert.equal(marker(run, "after.memory_crash_hotplug"), "1");
  assert.equal(marker(run, "reloads"), "0");
  kernelWindowOnly(run, 16);
  assert.equal(hotAdded(run).length, 8);
  const { vmcore, missing } = capture(run);
  assert.equal(missing, 0n, `vmcore misses ${missing} bytes`);
  assert.equal(vmcore.loads.filter((r) => r.start >= 0x100000000n).length, 8);
});

Deno.test("storm of 8 hot-adds with hotplug off: the udev-driven reloads coalesce to a handful and catch up", async () => {
  const run = await hotplugRun("storm-reload");
  const reloads = numberMarker(run, "reloads");
  check(run, reloads >= 1 && reloads <= 4, `${reloads} reloads for 16 memory-block events`);
  reloadsOk(run);
  assert.equal(marker(run, "after.kexec_crash_loaded"), "1");
  const { missing } = capture(run);
  assert.equal(missing, 0n, `vmcore misses ${missing} bytes after the reloads`);
});
