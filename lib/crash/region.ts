/**
 * The crash kernel reservation (`crashkernel=`), as `/proc/iomem` shows it.
 *
 * `crashkernel=X,high` (or the automatic fallback) makes two "Crash kernel" resources: the main one (`crashk_res`)
 * and a low one below 4 GiB (`crashk_low_res`). Only the main range may hold kexec segments and the entry point;
 * the kernel checks `crashk_res` alone. `/sys/kernel/kexec_crash_size` is the main range's size, which tells the two
 * apart; without it the higher range is the main one.
 *
 * `crashkernel=SIZE,cma` (6.17+) adds up to four CMA ranges the first kernel keeps using for movable pages: they are
 * System RAM in /proc/iomem and are listed only in `/sys/kernel/kexec/crash_cma_ranges` (6.19+; 6.17 and 6.18 do
 * not say where they are, see {@link unpublishedCmaWarning}). The capture kernel gets
 * them as usable memory, and the dump leaves them out (arch/x86/kernel/crash.c: crash_setup_memmap_entries adds
 * them as E820_TYPE_RAM, elf_header_exclude_ranges takes them out of the PT_LOADs); at a panic the kernel waits
 * for DMA into them to drain before it starts the capture kernel.
 *
 * @module
 */

import { fail, hex } from "../errors.ts";
import { findIomem, type IomemEntry } from "../memory/iomem.ts";
import { type Range, rangeSize } from "../memory/ranges.ts";
import { readText, type SystemView } from "../system.ts";
import { kexecAttrPath, readCmaRanges, readKexecInteger } from "./sysfs.ts";

/** The main crash range and, when reserved, the low one. */
export interface CrashRegions {
  main: Range;
  low?: Range;
  /** `crashkernel=SIZE,cma` ranges, when the kernel reserved any: capture-kernel memory, not dumped. */
  cma?: Range[];
}

/** The iomem name of both crash reservations. */
export const CRASH_KERNEL_NAME = "Crash kernel";

/**
 * Finds the crash reservation(s) in a parsed `/proc/iomem`.
 * @param mainSizeBytes `/sys/kernel/kexec_crash_size`, when known, to tell main from low
 * @returns `undefined` when nothing is reserved
 */
export function findCrashRegions(iomem: readonly IomemEntry[], mainSizeBytes?: bigint): CrashRegions | undefined {
  const found: Range[] = findIomem(iomem, CRASH_KERNEL_NAME).map((e) => ({ start: e.start, end: e.end }));
  if (found.length === 0) return undefined;
  if (found.length === 1) return { main: found[0] };
  found.sort((a, b) => (a.start < b.start ? 1 : -1)); // highest first
  const bySize = mainSizeBytes === undefined ? -1 : found.findIndex((r) => rangeSize(r) === mainSizeBytes);
  const mainIndex = bySize >= 0 ? bySize : 0;
  const main = found[mainIndex];
  const low = found.find((_, i) => i !== mainIndex);
  return { main, low };
}

/**
 * When the running kernel was booted with `crashkernel=SIZE,cma` but publishes no `crash_cma_ranges` (6.17 and 6.18
 * reserve the ranges; the attribute came with /sys/kernel/kexec/ in 6.19): what a kexec_load crash load loses.
 * Undefined otherwise.
 */
export function unpublishedCmaWarning(sys: SystemView): string | undefined {
  const cmdline = readText(sys, "/proc/cmdline") ?? "";
  if (!/(^|\s)crashkernel=\S*,cma(\s|$)/.test(cmdline)) return undefined;
  if (kexecAttrPath(sys, "crashCmaRanges") !== undefined) return undefined;
  return "the kernel was booted with crashkernel=...,cma but does not publish where its CMA ranges are (no " +
    "/sys/kernel/kexec/crash_cma_ranges before Linux 6.19): the capture kernel gets only the crashkernel= region and " +
    "the dump includes the CMA memory; use -s, whose in-kernel loader passes them";
}

/**
 * The crash regions of the running machine, or a one-line error telling the user how to reserve one.
 * @throws KexecError("no-crash-region")
 */
export function requireCrashRegions(sys: SystemView, iomem: readonly IomemEntry[]): CrashRegions {
  const regions = findCrashRegions(iomem, readKexecInteger(sys, "crashSize"));
  if (!regions) {
    const param = /(?:^|\s)(crashkernel=\S+)/.exec(readText(sys, "/proc/cmdline") ?? "")?.[1];
    fail(
      "no-crash-region",
      param
        ? `${param} is on the command line but the kernel reserved nothing (no "Crash kernel" in /proc/iomem; ` +
          "see dmesg for why, often too little memory below 4 GiB); try a smaller size or crashkernel=...,high"
        : 'crashkernel= is not set on this kernel\'s command line (no "Crash kernel" in /proc/iomem); ' +
          "boot with crashkernel=256M (or more) to load a crash kernel",
    );
  }
  if (rangeSize(regions.main) === 0n) {
    fail(
      "no-crash-region",
      `the crash kernel region at ${hex(regions.main.start)} is empty; boot with crashkernel=256M`,
    );
  }
  const cma = readCmaRanges(sys);
  const cmaPath = kexecAttrPath(sys, "crashCmaRanges");
  if (cma === undefined && cmaPath !== undefined && sys.read(cmaPath).kind === "ok") {
    fail("io", `${cmaPath} does not hold START-END lines of hex addresses; cannot tell the capture kernel's memory`);
  }
  return cma?.length ? { ...regions, cma } : regions;
}
