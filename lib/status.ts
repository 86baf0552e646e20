/**
 * `kexec-ts status`: everything the running kernel says about kexec, crash dumps and crash hotplug, plus the
 * hotplug verdict and the firmware (UEFI or BIOS, EFI runtime services and map, Secure Boot). All reads go through the SystemView; nothing here needs root, though some values are only
 * visible to root (they then show as "denied").
 *
 * @module
 */

import { findCrashRegions } from "./crash/region.ts";
import {
  findUdevRules,
  type HotplugSysfs,
  type HotplugVerdict,
  hotplugVerdict,
  readHotplugSysfs,
  type UdevRuleState,
} from "./crash/hotplug.ts";
import { type CrashLoadRecord, readCrashRecord } from "./reload/record.ts";
import { iomemAddressesHidden, parseIomem } from "./memory/iomem.ts";
import type { Range } from "./memory/ranges.ts";
import { readInteger, readLockdown, readText, readTrimmed, type SystemView } from "./system.ts";
import { currentArch, type FirmwareStatus } from "./arch/mod.ts";
import {
  hasKexecAttr,
  type KexecAttr,
  type KexecSysfsLayout,
  kexecSysfsLayout,
  readCmaRanges,
  readKexecInteger,
} from "./crash/sysfs.ts";

/** Whether a syscall is compiled into the running kernel, from `/proc/kallsyms`. */
export type SyscallPresence = "yes" | "no" | "unknown";

/** The crash reservation as status reports it. */
export type CrashRegionStatus =
  | { kind: "reserved"; main: Range; low?: Range }
  | { kind: "none" }
  | { kind: "hidden" } // non-root: /proc/iomem addresses are zeroed
  | { kind: "unreadable" };

/** What `status` reports. Optional fields are absent when the kernel does not provide them. */
export interface KexecStatus {
  /** `/proc/sys/kernel/osrelease`. */
  kernelRelease?: string;
  /** CONFIG_KEXEC_CORE: `/sys/kernel/kexec/loaded` (or the older `/sys/kernel/kexec_loaded`) exists. */
  kexecSupported: boolean;
  /** Whether each syscall is compiled in, from /proc/kallsyms. */
  syscalls: { kexecLoad: SyscallPresence; kexecFileLoad: SyscallPresence };
  /** `kexec/loaded` (`kexec_loaded` before 6.19): a normal image is loaded. */
  kexecLoaded?: boolean;
  /** `kexec/crash_loaded` (`kexec_crash_loaded` before 6.19): a crash image is loaded. */
  crashLoaded?: boolean;
  /** `kexec/crash_size` (`kexec_crash_size` before 6.19): bytes of the main crash reservation. */
  crashSizeBytes?: bigint;
  /** The crash reservation from /proc/iomem. */
  crashRegion: CrashRegionStatus;
  /**
   * `crashkernel=SIZE,cma` ranges (`kexec/crash_cma_ranges`, 6.19+): the capture kernel gets them as usable memory
   * and the dump leaves them out. Empty when none are reserved; absent when the kernel has no such attribute.
   */
  crashCmaRanges?: Range[];
  /** Which sysfs layout was read: `/sys/kernel/kexec/` (6.19+) or the older `/sys/kernel/kexec_*` names. */
  sysfs: KexecSysfsLayout;
  /** The crash hotplug sysfs nodes. */
  hotplug: HotplugSysfs;
  /** `none`, `integrity`, `confidentiality`; absent when securityfs is not mounted or the LSM is not built. */
  lockdown?: string;
  /** `kernel.kexec_load_disabled`: kexec is off until reboot. */
  kexecLoadDisabled?: boolean;
  /** `kexec_load_limit_{panic,reboot}`: -1 = unlimited, 0 = no more loads (6.1+). */
  loadLimitPanic?: bigint;
  /** `kernel.kexec_load_limit_reboot`. */
  loadLimitReboot?: bigint;
  /** Installed udev rules that react to hotplug for kdump. */
  udev: UdevRuleState;
  /** kexec-ts' record of the loaded crash kernel (absent when another tool loaded it, or nothing is loaded). */
  record?: CrashLoadRecord;
  /** Why the record could not be used, when it exists but is damaged (one line, with the fix). */
  recordProblem?: string;
  /** What a CPU or memory hotplug event will do to the loaded crash image, and why. */
  verdict: HotplugVerdict;
  /** The firmware: UEFI or BIOS, EFI runtime services and runtime map, Secure Boot (absent off x86_64). */
  firmware?: FirmwareStatus;
}

/**
 * Whether `__x64_sys_<name>` is a real (strong, `T`) symbol. A kernel built without the syscall still has a weak
 * (`W`) stub that returns ENOSYS, so presence alone proves nothing. Reading kallsyms has no side effects, unlike a
 * probing syscall (which would consume a kexec_load_limit slot).
 */
export function syscallPresence(kallsyms: string | undefined, name: string): SyscallPresence {
  if (kallsyms === undefined) return "unknown";
  const m = new RegExp(`^[0-9a-f]+ ([A-Za-z]) __x64_sys_${name}$`, "m").exec(kallsyms);
  if (!m) return "no";
  return m[1] === "T" || m[1] === "t" ? "yes" : "no";
}

/** A `0`/`1` value as a boolean. */
function boolOf(v: bigint | undefined): boolean | undefined {
  return v === undefined ? undefined : v !== 0n;
}

/** Reads a `0`/`1` kexec attribute. */
function readBool(sys: SystemView, attr: KexecAttr): boolean | undefined {
  return boolOf(readKexecInteger(sys, attr));
}

/** Gathers the status of the machine behind `sys`. */
export function gatherStatus(sys: SystemView): KexecStatus {
  const kexecLoaded = readBool(sys, "loaded");
  const crashLoaded = readBool(sys, "crashLoaded");
  const crashSizeBytes = readKexecInteger(sys, "crashSize");
  const kexecSupported = hasKexecAttr(sys, "loaded"); // CONFIG_KEXEC_CORE, readable or not
  const kallsyms = readText(sys, "/proc/kallsyms");

  let crashRegion: CrashRegionStatus;
  const iomemText = readText(sys, "/proc/iomem");
  if (iomemText === undefined) {
    crashRegion = { kind: "unreadable" };
  } else {
    const iomem = parseIomem(iomemText);
    const regions = findCrashRegions(iomem, crashSizeBytes);
    if (!regions) crashRegion = { kind: "none" };
    else if (iomemAddressesHidden(iomem)) crashRegion = { kind: "hidden" };
    else crashRegion = { kind: "reserved", ...regions };
  }

  const hotplug = readHotplugSysfs(sys);
  const udev = findUdevRules(sys);
  const read = crashLoaded ? readCrashRecord(sys) : { kind: "none" as const };
  const record = read.kind === "ok" ? read.record : undefined;
  return {
    kernelRelease: readTrimmed(sys, "/proc/sys/kernel/osrelease"),
    kexecSupported,
    syscalls: {
      kexecLoad: syscallPresence(kallsyms, "kexec_load"),
      kexecFileLoad: syscallPresence(kallsyms, "kexec_file_load"),
    },
    kexecLoaded,
    crashLoaded,
    crashSizeBytes,
    crashRegion,
    crashCmaRanges: readCmaRanges(sys),
    sysfs: kexecSysfsLayout(sys),
    hotplug,
    lockdown: readLockdown(sys),
    kexecLoadDisabled: boolOf(readInteger(sys, "/proc/sys/kernel/kexec_load_disabled")),
    loadLimitPanic: readInteger(sys, "/proc/sys/kernel/kexec_load_limit_panic"),
    loadLimitReboot: readInteger(sys, "/proc/sys/kernel/kexec_load_limit_reboot"),
    udev,
    record,
    recordProblem: read.kind === "bad" ? read.why : undefined,
    verdict: hotplugVerdict({ kexecSupported, crashLoaded, sysfs: hotplug, record, udev }),
    firmware: firmwareStatus(sys),
  };
}

/**
 * The firmware as the architecture reads it; undefined where kexec-ts has no architecture folder. Malformed EFI files
 * are reported as such (a runtime map `malformed`, naming the file), never thrown.
 */
function firmwareStatus(sys: SystemView): FirmwareStatus | undefined {
  return currentArch().firmwareStatus?.(sys);
}
