/**
 * Where the kernel publishes kexec's state in sysfs, in one place.
 *
 * Linux 6.19 moved the kexec attributes of `/sys/kernel` into `/sys/kernel/kexec/` (`loaded`, `crash_loaded`,
 * `crash_size`, `crash_elfcorehdr_size`) and keeps the old names (`kexec_loaded`, `kexec_crash_loaded`,
 * `kexec_crash_size`, `crash_elfcorehdr_size`) as deprecated symlinks that will go away; `crash_cma_ranges` came
 * with the move and has no old name (`kexec_crash_cma_ranges`, from an early version of that patch series, never
 * shipped; it stays as a harmless fallback). kexec-ts reads the new path first and the old one only when the new one is absent,
 * so it works on 6.1 (old names only), 6.12 (old names only) and 7.x (both, the old ones being symlinks) alike.
 *
 * Every reader of these attributes goes through {@link kexecAttrPath} / {@link readKexecInteger}; `status`
 * reports which layout it read ({@link kexecSysfsLayout}).
 *
 * @module
 */

import { hex } from "../errors.ts";
import type { Range } from "../memory/ranges.ts";
import { readInteger, readText, type SystemView } from "../system.ts";

/** The directory 6.19+ kernels keep kexec's attributes in. */
export const KEXEC_SYSFS_DIR = "/sys/kernel/kexec";

/** The kexec attributes kexec-ts reads, by the names {@link KEXEC_SYSFS} gives them. */
export type KexecAttr = "loaded" | "crashLoaded" | "crashSize" | "crashElfcorehdrSize" | "crashCmaRanges";

/** Where one attribute lives: its current path (6.19+) and the deprecated one older kernels have. */
export interface KexecAttrPaths {
  /** Under /sys/kernel/kexec/. */
  current: string;
  /** The pre-6.19 name directly under /sys/kernel (a symlink into kexec/ on 7.x). */
  legacy: string;
}

/** Each kexec attribute: its current path (6.19+) and the deprecated one older kernels have. */
export const KEXEC_SYSFS: Readonly<Record<KexecAttr, KexecAttrPaths>> = {
  /** A normal (kexec -e) image is loaded: 0 or 1. CONFIG_KEXEC_CORE. */
  loaded: { current: `${KEXEC_SYSFS_DIR}/loaded`, legacy: "/sys/kernel/kexec_loaded" },
  /** A crash image is loaded: 0 or 1. */
  crashLoaded: { current: `${KEXEC_SYSFS_DIR}/crash_loaded`, legacy: "/sys/kernel/kexec_crash_loaded" },
  /** Bytes of the main crash reservation (crashk_res). */
  crashSize: { current: `${KEXEC_SYSFS_DIR}/crash_size`, legacy: "/sys/kernel/kexec_crash_size" },
  /** Program-header bytes the kernel may write on hotplug (CONFIG_CRASH_HOTPLUG; the Ehdr excluded). */
  crashElfcorehdrSize: {
    current: `${KEXEC_SYSFS_DIR}/crash_elfcorehdr_size`,
    legacy: "/sys/kernel/crash_elfcorehdr_size",
  },
  /**
   * `crashkernel=SIZE,cma` ranges, one `%08llx-%08llx` (inclusive end) per line: 6.19+ (6.17 and 6.18 reserve CMA
   * ranges without publishing them; ../crash/region.ts unpublishedCmaWarning).
   */
  crashCmaRanges: { current: `${KEXEC_SYSFS_DIR}/crash_cma_ranges`, legacy: "/sys/kernel/kexec_crash_cma_ranges" },
};

/**
 * The path to read `attr` from: the current one when it exists, else the deprecated one when that exists.
 * @returns `undefined` when the kernel has neither (the feature is not built in)
 */
export function kexecAttrPath(sys: SystemView, attr: KexecAttr): string | undefined {
  const { current, legacy } = KEXEC_SYSFS[attr];
  if (sys.read(current, 1).kind !== "absent") return current;
  if (sys.read(legacy, 1).kind !== "absent") return legacy;
  return undefined;
}

/** Whether the kernel has `attr` at all (readable or not). */
export function hasKexecAttr(sys: SystemView, attr: KexecAttr): boolean {
  return kexecAttrPath(sys, attr) !== undefined;
}

/** Reads `attr` as an integer; `undefined` when absent, unreadable or not a number. */
export function readKexecInteger(sys: SystemView, attr: KexecAttr): bigint | undefined {
  const path = kexecAttrPath(sys, attr);
  return path === undefined ? undefined : readInteger(sys, path);
}

/** Reads `attr` as text; `undefined` when absent or unreadable. */
export function readKexecText(sys: SystemView, attr: KexecAttr): string | undefined {
  const path = kexecAttrPath(sys, attr);
  return path === undefined ? undefined : readText(sys, path);
}

/** Which sysfs layout a kernel has, as `status` reports it. */
export interface KexecSysfsLayout {
  /** `kexec-dir`: /sys/kernel/kexec/ (6.19+); `legacy`: only the old /sys/kernel/kexec_* names; `none`: no kexec. */
  layout: "kexec-dir" | "legacy" | "none";
  /** The path each attribute was read from (absent: the kernel has neither path). */
  paths: Partial<Record<KexecAttr, string>>;
  /** The old names are still there beside the directory (as deprecated symlinks on 7.x). */
  legacyAlsoPresent: boolean;
}

/** Which of the two layouts the kernel behind `sys` has, and the path used for each attribute. */
export function kexecSysfsLayout(sys: SystemView): KexecSysfsLayout {
  const paths: Partial<Record<KexecAttr, string>> = {};
  for (const attr of Object.keys(KEXEC_SYSFS) as KexecAttr[]) {
    const p = kexecAttrPath(sys, attr);
    if (p !== undefined) paths[attr] = p;
  }
  const used = Object.values(paths);
  const layout = used.some((p) => p.startsWith(`${KEXEC_SYSFS_DIR}/`)) ? "kexec-dir" : used.length ? "legacy" : "none";
  const legacyAlsoPresent = layout === "kexec-dir" &&
    Object.values(KEXEC_SYSFS).some((a) => sys.read(a.legacy, 1).kind !== "absent");
  return { layout, paths, legacyAlsoPresent };
}

/**
 * Parses `crash_cma_ranges`: one `start-end` per line, hex without `0x`, `end` inclusive (`%08llx-%08llx`).
 * @returns half-open ranges, in the kernel's order; `undefined` if a line is malformed
 */
export function parseCmaRanges(text: string): Range[] | undefined {
  const out: Range[] = [];
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)$/i.exec(line);
    if (!m) return undefined;
    const start = BigInt("0x" + m[1]), last = BigInt("0x" + m[2]);
    if (last < start) return undefined;
    out.push({ start, end: last + 1n });
  }
  return out;
}

/**
 * The `crashkernel=SIZE,cma` ranges of the running kernel: empty when it has the attribute and none are reserved,
 * `undefined` when it has no such attribute (before 6.17, or without CONFIG_CMA) or it cannot be read.
 * @throws never; a malformed file reads as `undefined` (status shows it as unknown)
 */
export function readCmaRanges(sys: SystemView): Range[] | undefined {
  const text = readKexecText(sys, "crashCmaRanges");
  return text === undefined ? undefined : parseCmaRanges(text);
}

/** `0x57000000-0x66ffffff` style text of CMA ranges for messages. */
export function cmaRangesText(ranges: readonly Range[]): string {
  return ranges.map((r) => `${hex(r.start)}-${hex(r.end - 1n)}`).join(", ");
}
