/**
 * Host side of the VM tests: boot a guest scenario, then read what it reported. Every accessor fails the test
 * with the tails of the data channel and the console, so a hung or broken guest explains itself.
 *
 * QEMU and the guest ingredients are required: when they are missing the tests fail (they never skip).
 *
 * @module
 */

import { buildImages, type GuestImages } from "../../scripts/vm/images.ts";
import { DEFAULT_KERNEL, type KernelId } from "../../scripts/vm/kernels.ts";
import { cpuHotplugTables, prefixedInitrd } from "../../scripts/vm/acpi.ts";
import { type Marker, runVm, tail, type Vm, type VmOptions, type VmResult } from "../../scripts/vm/qemu.ts";

/** One finished guest run. */
export interface Run {
  name: string;
  result: VmResult;
  /** Every value of each marker key, in order. */
  markers: Map<string, Marker[]>;
  /** `@@KTS-BEGIN name` ... `@@KTS-END-BLOCK name` bodies. */
  blocks: Map<string, string>;
}

const images = new Map<string, GuestImages>();

/** The guest images for a kernel (built, or found in the cache, once per test process). */
export function guestImages(
  big = false,
  kernel: KernelId = DEFAULT_KERNEL,
  extra?: { name: string; files: Record<string, string> },
  bundle?: string,
  capture = false,
): GuestImages {
  const key = `${kernel}${big ? "-big" : ""}${extra ? `-${extra.name}` : ""}${bundle ? `-${bundle}` : ""}${
    capture ? "-capture" : ""
  }`;
  let img = images.get(key);
  if (!img) images.set(key, img = buildImages({ big, kernel, extra, bundle, capture }));
  return img;
}

/** Options for {@link boot}. */
export interface BootOptions extends Partial<Omit<VmOptions, "initrd" | "scenario">> {
  /** Use the image with the 64 MiB stage-2 initrd. */
  big?: boolean;
  /** A variant of the main image with more host files (guest path -> host path). */
  extra?: { name: string; files: Record<string, string> };
  /** Run kexec-ts from this bundle instead of the source tree (see ImageOptions.bundle). */
  bundle?: string;
  /** Use the image with the capture stage-2 initrd (Deno, the kexec-ts bundle, kexec-tools' vmcore-dmesg). */
  capture?: boolean;
  /** Make CPUs hot-pluggable up to this many (ACPI table upgrade, scripts/vm/acpi.ts); sets -smp. */
  maxCpus?: number;
  onRequest?: (verb: string, args: string[], vm: Vm) => Promise<string>;
}

/** Boots `scenario` and waits for QEMU to exit (guest poweroff, or reboot after a panic with -no-reboot). */
export async function boot(scenario: string, opts: BootOptions = {}): Promise<Run> {
  const img = guestImages(opts.big, opts.kernel, opts.extra, opts.bundle, opts.capture);
  let initrd = img.main;
  let smp = opts.smp;
  if (opts.maxCpus) {
    smp = `2,maxcpus=${opts.maxCpus},sockets=${opts.maxCpus},cores=1,threads=1`;
    initrd = prefixedInitrd(await cpuHotplugTables(img.main, opts.machine ?? "q35", smp), img.main);
  }
  const result = await runVm({
    initrd,
    scenario,
    timeoutMs: opts.timeoutMs ?? 240_000,
    memory: opts.memory,
    slots: opts.slots,
    maxmem: opts.maxmem,
    smp,
    machine: opts.machine,
    tcg: opts.tcg,
    append: opts.append,
    kernel: opts.kernel,
    firmware: opts.firmware,
    qemu: opts.qemu,
    cpu: opts.cpu,
    onRequest: opts.onRequest,
    stopOnConsole: opts.stopOnConsole,
    drives: opts.drives,
  });
  const run = toRun(scenario, result);
  if (result.timedOut) failRun(run, `timed out after ${opts.timeoutMs ?? 240_000} ms`);
  return run;
}

/** A finished VM run with its markers and blocks sorted out. */
function toRun(name: string, result: VmResult): Run {
  const markers = new Map<string, Marker[]>();
  for (const m of result.markers) {
    const list = markers.get(m.key) ?? [];
    list.push(m);
    markers.set(m.key, list);
  }
  const blocks = new Map<string, string>();
  for (const m of result.data.matchAll(/@@KTS-BEGIN (\S+)\n([\s\S]*?)@@KTS-END-BLOCK \1\n/g)) blocks.set(m[1], m[2]);
  return { name, result, markers, blocks };
}

/**
 * Boots an image the harness did not build (a distribution's initramfs, with `cmdline`, `drives` and a
 * `consoleScript` to drive its shell); the data channel still collects markers (a stage-2 initrd booted from it).
 */
export async function bootImage(name: string, opts: VmOptions): Promise<Run> {
  const run = toRun(name, await runVm(opts));
  if (run.result.timedOut) failRun(run, `timed out after ${opts.timeoutMs} ms`);
  return run;
}

/** The console lines that say a kernel died or complained (an oops' first line scrolls out of a 40-line tail). */
export function kernelTrouble(console: string): string[] {
  return console.split("\n").filter((l) => /Oops: |BUG: |WARNING: |Kernel panic - |general protection|RIP: /.test(l))
    .slice(0, 12);
}

/** Fails the test with the run's data and console tails, and any oops, BUG, WARNING or panic lines. */
export function failRun(run: Run, message: string): never {
  const trouble = kernelTrouble(run.result.console);
  throw new Error(
    `${run.name}: ${message}\n--- data channel (tail) ---\n${tail(run.result.data, 60)}\n` +
      (trouble.length ? `--- kernel trouble (first ${trouble.length}) ---\n${trouble.join("\n")}\n` : "") +
      `--- console (tail) ---\n${tail(run.result.console, 40)}`,
  );
}

/** The last value of a marker; fails if the guest never printed it. */
export function marker(run: Run, key: string): string {
  const list = run.markers.get(key);
  if (!list?.length) failRun(run, `the guest printed no "${key}" marker`);
  return list[list.length - 1].value;
}

/** Whether the guest printed a marker. */
export function hasMarker(run: Run, key: string): boolean {
  return (run.markers.get(key)?.length ?? 0) > 0;
}

/** A numeric marker. */
export function numberMarker(run: Run, key: string): number {
  const v = Number(marker(run, key));
  if (!Number.isFinite(v)) failRun(run, `marker ${key} is not a number: ${marker(run, key)}`);
  return v;
}

/** A block's text; fails if absent. */
export function block(run: Run, name: string): string {
  const b = run.blocks.get(name);
  if (b === undefined) failRun(run, `the guest printed no "${name}" block`);
  return b;
}

/** Asserts a condition about a run, with the run's context on failure. */
export function check(run: Run, cond: boolean, message: string): void {
  if (!cond) failRun(run, message);
}

/** Asserts `<name>.rc` equals `rc`. */
export function expectRc(run: Run, name: string, rc: number): void {
  const got = marker(run, `${name}.rc`);
  if (Number(got) !== rc) {
    failRun(run, `${name} exited ${got}, expected ${rc}; its output:\n${run.blocks.get(name) ?? ""}`);
  }
}

/**
 * With hotplug on, userspace never unloads: the only moments without a crash kernel are the kernel's own, while it
 * swaps the rewritten header in (arch_crash_handle_hotplug_event: xchg(&kexec_crash_image, NULL), memcpy, xchg
 * back): microseconds per hotplug event. The guest's poller (a read of kexec_crash_loaded every few tens of
 * microseconds under TCG) may catch one now and then, never a reload-sized window (a reload shows ~100 reads).
 */
export function kernelWindowOnly(run: Run, events: number): void {
  const zeros = numberMarker(run, "storm.zero-reads");
  check(run, zeros <= events, `${zeros} reads saw no crash kernel during ${events} in-place updates`);
}

/** Every line of the guest's reload log says the reload succeeded. */
export function reloadsOk(run: Run): void {
  check(
    run,
    block(run, "reload-log").split("\n").filter(Boolean).every((l) => l.includes("outcome=ok")),
    "a reload failed",
  );
}
