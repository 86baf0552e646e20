/**
 * Crash hotplug: what the kernel offers, and what a CPU or memory hotplug event will do to the loaded crash image.
 *
 * Two behaviours exist (see ../../../shared/reference/kernel-interface.md §3):
 *  (a) `reload`: userspace must unload and reload the crash kernel so its elfcorehdr describes the new memory/CPUs;
 *  (b) `in-place`: the kernel rewrites the elfcorehdr segment itself (CONFIG_CRASH_HOTPLUG, and the image was loaded
 *      with kexec_file_load, or through kexec_load with KEXEC_UPDATE_ELFCOREHDR or, since 6.10,
 *      KEXEC_CRASH_HOTPLUG_SUPPORT).
 * `/sys/devices/system/{cpu,memory}/crash_hotplug` reads 1 exactly in case (b).
 *
 * @module
 */

import type { SystemView } from "../system.ts";
import { readKexecInteger } from "./sysfs.ts";

/** A `crash_hotplug` node: its value, or why there is none. */
export type SysfsFlag = 0 | 1 | "denied" | "absent";

/** The kernel's crash hotplug interface as sysfs shows it. */
export interface HotplugSysfs {
  /** `/sys/kernel/crash_elfcorehdr_size`: bytes of program headers the kernel may write (Ehdr excluded); absent without CONFIG_CRASH_HOTPLUG. */
  elfcorehdrSizeBytes?: bigint;
  /** `/sys/devices/system/cpu/crash_hotplug`. */
  cpu: SysfsFlag;
  /** `/sys/devices/system/memory/crash_hotplug`. */
  memory: SysfsFlag;
}

/** Paths of the two nodes that say whether the kernel handles hotplug for the loaded image. */
export const CRASH_HOTPLUG_NODES = {
  cpu: "/sys/devices/system/cpu/crash_hotplug",
  memory: "/sys/devices/system/memory/crash_hotplug",
} as const;

/** Reads one `crash_hotplug` node. */
export function readFlag(sys: SystemView, path: string): SysfsFlag {
  const r = sys.read(path);
  if (r.kind !== "ok") return r.kind;
  const v = new TextDecoder().decode(r.bytes).trim();
  return v === "1" ? 1 : 0;
}

/** Reads the kernel's crash hotplug sysfs nodes. */
export function readHotplugSysfs(sys: SystemView): HotplugSysfs {
  return {
    elfcorehdrSizeBytes: readKexecInteger(sys, "crashElfcorehdrSize"),
    cpu: readFlag(sys, CRASH_HOTPLUG_NODES.cpu),
    memory: readFlag(sys, CRASH_HOTPLUG_NODES.memory),
  };
}

/** Where a udev rule that reacts to hotplug for kdump was found. */
export interface UdevRuleState {
  /** Path of kexec-ts' own rule, if installed. */
  ours?: string;
  /** Path of another kdump rule (kdump-utils' 98-kexec.rules, openSUSE's 70-kdump.rules), if installed. */
  other?: string;
}

/** Directories udev reads rules from, highest priority first. */
export const UDEV_RULE_DIRS = ["/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"];

/** The file name `kexec-ts udev-rules --install` writes. */
export const OUR_RULE_NAME = "98-kexec-ts.rules";

/** Looks for our rule and for distribution kdump rules in the udev rule directories. */
export function findUdevRules(sys: SystemView): UdevRuleState {
  const state: UdevRuleState = {};
  for (const dir of UDEV_RULE_DIRS) {
    for (const name of sys.list(dir) ?? []) {
      if (name === OUR_RULE_NAME) state.ours ??= `${dir}/${name}`;
      else if (name === "98-kexec.rules" || name === "70-kdump.rules") state.other ??= `${dir}/${name}`;
    }
  }
  return state;
}

/** Why a hotplug event gets the behaviour it gets. */
export type VerdictReason =
  | "no-kexec" // kernel without CONFIG_KEXEC_CORE
  | "nothing-loaded" // no crash image: nothing to update
  | "no-crash-hotplug" // kernel without CONFIG_CRASH_HOTPLUG
  | "loaded-with-flag" // kexec-ts loaded it with the crash hotplug flag (0x4 or 0x8)
  | "loaded-with-file-load" // loaded through kexec_file_load: always hotplug-capable
  | "loaded-by-other-tool" // crash_hotplug reads 1 but we did not load it
  | "loaded-without-flag" // kexec_load without the flag (ours with --no-hotplug, or another tool)
  | "unknown"; // crash_hotplug unreadable and no record

/** Who brings a crash kernel up to date after a hotplug event when the kernel does not rewrite it itself. */
export type Reloader =
  | "kexec-ts" // kexec-ts' udev rule, and kexec-ts has a record of this load to repeat
  | "other-rule" // another kdump udev rule (kdump-utils' 98-kexec.rules, openSUSE's 70-kdump.rules)
  | "none"; // nobody (or the kernel updates it in place, or nothing is loaded)

/** The answer `status` gives: what a hotplug event does now, and why, in words. */
export interface HotplugVerdict {
  /** What an event does: the kernel rewrites the header (`in-place`), userspace must reload, or nothing is loaded. */
  behaviour: "in-place" | "reload" | "none";
  /** Why, for scripts. */
  reason: VerdictReason;
  /** One or two sentences for people. */
  explanation: string;
  /** With `reload`: who reloads. `none` for the other behaviours, or when nobody will. */
  reloader: Reloader;
  /**
   * What a dump taken after a CPU or memory hotplug event describes: `current` (the kernel updated the header, or
   * a rule reloads the crash kernel), `stale` (the machine as it was at load time), `no-dump` (nothing loaded).
   */
  dumpAfterHotplug: "current" | "stale" | "no-dump";
}

/** How kexec-ts remembers loading the crash image (its crash-load record), when it did. */
export interface KnownLoad {
  /** The syscall that loaded it. */
  syscall: "kexec_load" | "kexec_file_load";
  /** Loaded with the in-place update flag (kexec_file_load images always allow it). */
  hotplug: boolean;
}

/** Inputs of the verdict, all read through the SystemView. */
export interface VerdictInput {
  kexecSupported: boolean;
  crashLoaded: boolean | undefined;
  sysfs: HotplugSysfs;
  record?: KnownLoad;
  udev: UdevRuleState;
}

/** The `crash_hotplug` value that speaks for the loaded image: memory's, else cpu's (6.6 without MEMORY_HOTPLUG). */
export function hotplugFlagValue(sysfs: HotplugSysfs): SysfsFlag {
  return sysfs.memory !== "absent" && sysfs.memory !== "denied" ? sysfs.memory : sysfs.cpu;
}

/**
 * Whether the kernel contradicts kexec-ts' record of the crash load: the record says the image allows in-place
 * updates (the flag, or kexec_file_load) and `crash_hotplug` reads 0, or the other way round. Then another tool
 * loaded the crash kernel after kexec-ts did (tools do not remove each other's records), and kexec-ts must neither
 * describe that load by its record nor replace it by repeating its own. Only a kernel with CONFIG_CRASH_HOTPLUG and
 * a readable `crash_hotplug` can contradict; elsewhere a later load by another tool cannot be told apart.
 */
export function recordContradicted(record: KnownLoad, sysfs: HotplugSysfs): boolean {
  const flag = hotplugFlagValue(sysfs);
  if (sysfs.elfcorehdrSizeBytes === undefined || (flag !== 0 && flag !== 1)) return false;
  return (record.hotplug || record.syscall === "kexec_file_load") !== (flag === 1);
}

/**
 * Decides what a CPU or memory hotplug event does to the loaded crash image on this machine.
 * Pure: same input, same verdict.
 */
export function hotplugVerdict(input: VerdictInput): HotplugVerdict {
  const contradicted = input.record !== undefined && recordContradicted(input.record, input.sysfs);
  const record = contradicted ? undefined : input.record;
  const reloader: Reloader = input.udev.ours && record ? "kexec-ts" : input.udev.other ? "other-rule" : "none";
  const base = baseVerdict({ ...input, record }, reloader, contradicted);
  return {
    ...base,
    reloader: base.behaviour === "reload" ? reloader : "none",
    dumpAfterHotplug: base.behaviour === "none"
      ? "no-dump"
      : base.behaviour === "in-place" || reloader !== "none"
      ? "current"
      : "stale",
  };
}

type BaseVerdict = Pick<HotplugVerdict, "behaviour" | "reason" | "explanation">;

function baseVerdict(input: VerdictInput, reloader: Reloader, contradicted: boolean): BaseVerdict {
  const { sysfs, record, udev } = input;
  const hasConfig = sysfs.elfcorehdrSizeBytes !== undefined;
  if (!input.kexecSupported) {
    return {
      behaviour: "none",
      reason: "no-kexec",
      explanation: "this kernel has no kexec support (CONFIG_KEXEC_CORE); there is no crash image to keep current",
    };
  }
  if (input.crashLoaded === false) {
    return {
      behaviour: "none",
      reason: "nothing-loaded",
      explanation: "no crash kernel is loaded, so a hotplug event has nothing to update; " +
        (hasConfig
          ? "a kexec-ts -p load will let the kernel update it in place (CONFIG_CRASH_HOTPLUG is present)"
          : "this kernel lacks CONFIG_CRASH_HOTPLUG, so a loaded crash kernel will need a reload after each event"),
    };
  }
  const reloadTail = reloader === "kexec-ts"
    ? ` The udev rule ${udev.ours} runs kexec-ts reload on each event.`
    : reloader === "other-rule"
    ? ` The udev rule ${udev.other} reloads through the distribution's kdump service.`
    : udev.ours
    ? ` The udev rule ${udev.ours} runs kexec-ts reload, but kexec-ts did not load this crash kernel and will not ` +
      "replace another tool's load: the dump will miss hot-added memory and CPUs until that tool reloads."
    : " No udev rule reloads it: the dump will miss hot-added memory and CPUs until someone reloads " +
      "(install one with kexec-ts udev-rules --install).";
  const notOurs = contradicted ? " (kexec-ts' record is of an earlier load, which another tool replaced)" : "";
  if (!hasConfig) {
    return {
      behaviour: "reload",
      reason: "no-crash-hotplug",
      explanation: "the kernel lacks CONFIG_CRASH_HOTPLUG (no /sys/kernel/crash_elfcorehdr_size), so it cannot " +
        "rewrite the elfcorehdr; userspace must unload and reload the crash kernel after each event." + reloadTail,
    };
  }
  const flag = hotplugFlagValue(sysfs);
  const inPlaceTail = udev.ours || udev.other
    ? ` The udev rule ${udev.ours ?? udev.other} sees crash_hotplug=1 and skips the reload.`
    : "";
  if (flag === 1) {
    if (record?.syscall === "kexec_file_load") {
      return {
        behaviour: "in-place",
        reason: "loaded-with-file-load",
        explanation: "the kernel updates the elfcorehdr in place; no reload: the crash kernel was loaded with " +
          "kexec_file_load, whose images always support hotplug." + inPlaceTail,
      };
    }
    if (record?.hotplug) {
      return {
        behaviour: "in-place",
        reason: "loaded-with-flag",
        explanation: "the kernel updates the elfcorehdr in place; no reload: kexec-ts loaded the crash kernel with " +
          "the crash hotplug flag (KEXEC_UPDATE_ELFCOREHDR or KEXEC_CRASH_HOTPLUG_SUPPORT) and CONFIG_CRASH_HOTPLUG " +
          "is present." + inPlaceTail,
      };
    }
    return {
      behaviour: "in-place",
      reason: "loaded-by-other-tool",
      explanation: "the kernel updates the elfcorehdr in place; no reload: crash_hotplug reads 1, so another tool " +
        "loaded the crash kernel with kexec_file_load or with --hotplug" + notOurs + "." + inPlaceTail,
    };
  }
  if (flag === 0) {
    return {
      behaviour: "reload",
      reason: "loaded-without-flag",
      explanation: "crash_hotplug reads 0: the crash kernel was loaded with kexec_load without " +
        "the crash hotplug flag" + (record && !record.hotplug ? " (kexec-ts --no-hotplug)" : notOurs) +
        ", so the kernel will not touch its elfcorehdr; reload it with kexec-ts -p (hotplug is on by default) " +
        "to let the kernel update it in place." + reloadTail,
    };
  }
  if (record) {
    const inPlace = record.hotplug || record.syscall === "kexec_file_load";
    return {
      behaviour: inPlace ? "in-place" : "reload",
      reason: inPlace
        ? (record.syscall === "kexec_file_load" ? "loaded-with-file-load" : "loaded-with-flag")
        : "loaded-without-flag",
      explanation:
        `crash_hotplug is unreadable (${sysfs.memory}/${sysfs.cpu}); going by kexec-ts' record of the load, ` +
        (inPlace ? "the kernel updates the elfcorehdr in place." : "a reload is needed after each event." + reloadTail),
    };
  }
  return {
    behaviour: "reload",
    reason: "unknown",
    explanation: "crash_hotplug is unreadable (run as root) and kexec-ts did not load this crash kernel; " +
      "assume a reload is needed." + reloadTail,
  };
}

/** `crash_hotplug` as text for the status table. */
export function flagText(f: SysfsFlag): string {
  return typeof f === "number" ? String(f) : f;
}
