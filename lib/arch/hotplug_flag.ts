/**
 * Which kexec_load flag asks the running kernel to update a crash image's elfcorehdr in place on hotplug.
 *
 * Two bits exist (include/uapi/linux/kexec.h): `KEXEC_UPDATE_ELFCOREHDR` (0x4, 6.6, x86 only at first) and
 * `KEXEC_CRASH_HOTPLUG_SUPPORT` (0x8, 6.10, the architecture-neutral one; a kernel before 6.10 refuses it with
 * EINVAL because it is outside KEXEC_FLAGS). Which one to pass is a property of the architecture and the kernel
 * version, so each architecture states it as a table ({@link HotplugFlagRule}, newest first) and this module picks
 * the row for the running kernel's release (`/proc/sys/kernel/osrelease`).
 *
 * @example
 * ```ts
 * import { chooseHotplugFlag, parseKernelVersion } from "./hotplug_flag.ts";
 * const rules = [
 *   { since: [6, 10] as const, flag: 0x8n, name: "NEW", why: "6.10+" },
 *   { since: [0, 0] as const, flag: 0x4n, name: "OLD", why: "older" },
 * ];
 * console.assert(chooseHotplugFlag(rules, "6.12.117+deb12-amd64").flag === 0x8n);
 * console.assert(chooseHotplugFlag(rules, "6.9.12").flag === 0x4n);
 * console.assert(parseKernelVersion("7.3.4+deb13-amd64")?.join(".") === "7.3");
 * ```
 *
 * @module
 */

/** One row of an architecture's crash-hotplug flag table. */
export interface HotplugFlagRule {
  /** The first kernel version (major, minor) the row applies to; `[0, 0]` for the catch-all last row. */
  since: readonly [number, number];
  /** The kexec_load flag bit. */
  flag: bigint;
  /** Its UAPI name. */
  name: string;
  /** Why this flag for these kernels, for the plan's notes. */
  why: string;
}

/** The flag chosen for a kernel, with the release it was chosen for. */
export interface HotplugFlagChoice extends HotplugFlagRule {
  /** The kernel release read (`6.12.117+deb12-amd64`), or undefined when unknown. */
  release?: string;
}

/** `6.12.117+deb12-amd64` → `[6, 12]`; undefined when the release does not start with `MAJOR.MINOR`. */
export function parseKernelVersion(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release.trim());
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/**
 * The row of `rules` (newest first) for `release`: the first whose `since` is not above the release's version.
 * An unknown release gets the last row, which must be the flag every kernel with crash hotplug accepts.
 * @throws Error when `rules` is empty (an architecture bug)
 */
export function chooseHotplugFlag(rules: readonly HotplugFlagRule[], release: string | undefined): HotplugFlagChoice {
  if (rules.length === 0) throw new Error("the architecture lists no crash hotplug flag");
  const v = release === undefined ? undefined : parseKernelVersion(release);
  const atLeast = (since: readonly [number, number]) =>
    v !== undefined && (v[0] > since[0] || (v[0] === since[0] && v[1] >= since[1]));
  const rule = rules.find((r) => atLeast(r.since)) ?? rules[rules.length - 1];
  return { ...rule, release };
}
