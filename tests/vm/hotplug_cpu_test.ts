/**
 * Crash hotplug for CPUs on a real kernel. QEMU's CPU hot-add needs the ACPI table upgrade described in
 * scripts/vm/acpi.ts under TCG (the 6.12 guest otherwise reserves no hot-pluggable CPUs). After the crash load
 * CPUs are hot-added through QMP and onlined, then the guest panics; /proc/vmcore must hold one NT_PRSTATUS
 * note per CPU that was online, which it only does if the elfcorehdr lists the new CPUs' crash notes.
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
import { summarizeVmcore } from "./vmcore.ts";
import { parseCpuList } from "../../lib/crash/elfcorehdr.ts";

function cpuRun(mode: string, maxCpus: number): Promise<Run> {
  return boot("hotplug-cpu", { append: `crashkernel=256M kts.mode=${mode}`, maxCpus, timeoutMs: 300_000 });
}

/** CPUs online at the panic, and NT_PRSTATUS notes in the capture kernel's /proc/vmcore. */
function cpuCounts(run: Run) {
  expectRc(run, "load", 0);
  check(run, run.result.console.includes("kexec-ts purgatory: SHA-256 ok"), "purgatory did not accept the crash image");
  assert.equal(numberMarker(run, "capture.makedumpfile-rc"), 0);
  return {
    online: parseCpuList(marker(run, "first-cpus")).length,
    prstatus: summarizeVmcore(block(run, "capture.vmcore-head")).prstatus,
  };
}

Deno.test("CPU hot-add, hotplug on: the kernel updates the elfcorehdr, no reload, a PRSTATUS note per CPU", async () => {
  const run = await cpuRun("on", 4);
  assert.equal(marker(run, "before.cpu_crash_hotplug"), "1");
  assert.equal(marker(run, "after.cpu_crash_hotplug"), "1");
  assert.equal(marker(run, "after.present"), "0-2");
  assert.equal(marker(run, "reloads"), "0");
  kernelWindowOnly(run, 1);
  const { online, prstatus } = cpuCounts(run);
  assert.equal(online, 3);
  assert.equal(prstatus, 3, "the dump lacks the hot-added CPU's registers");
});

Deno.test("CPU hot-add, --no-hotplug: without a reload the dump lacks the new CPU", async () => {
  const run = await cpuRun("off", 4);
  assert.equal(marker(run, "after.cpu_crash_hotplug"), "0");
  assert.equal(marker(run, "reloads"), "0");
  const { online, prstatus } = cpuCounts(run);
  assert.equal(online, 3);
  assert.equal(prstatus, 2, "a stale elfcorehdr lists only the CPUs present at load time");
});

Deno.test("CPU hot-add, --no-hotplug with the udev rule: kexec-ts reload adds the new CPU's notes", async () => {
  const run = await cpuRun("reload", 4);
  assert.equal(marker(run, "after.cpu_crash_hotplug"), "0");
  const reloads = numberMarker(run, "reloads");
  check(run, reloads >= 1 && reloads <= 2, `${reloads} reloads for one CPU`);
  reloadsOk(run);
  const { online, prstatus } = cpuCounts(run);
  assert.equal(online, 3);
  assert.equal(prstatus, 3);
});

Deno.test("storm of 6 CPU hot-adds with hotplug on: 0 reloads and every CPU in the dump", async () => {
  const run = await cpuRun("storm-on", 8);
  assert.equal(marker(run, "after.present"), "0-7");
  assert.equal(marker(run, "after.cpu_crash_hotplug"), "1");
  assert.equal(marker(run, "reloads"), "0");
  kernelWindowOnly(run, 6);
  const { online, prstatus } = cpuCounts(run);
  assert.equal(online, 8);
  assert.equal(prstatus, 8);
});
