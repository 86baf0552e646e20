/**
 * kexec-ts as a TypeScript library: plan, load, unload and execute kernels with kexec_load(2), read the kexec and
 * crash-hotplug state, keep a crash kernel current across hotplug, and read what a crash dump holds (its kernel
 * log, {@link vmcoreDmesg}, and a summary, {@link vmcoreInfo}), from a Deno script.
 *
 * Everything that talks to the kernel needs root (and `--allow-ffi`); {@link plan} against a saved snapshot
 * (`systemRoot`) needs neither. Every failure is a {@link KexecError} with a stable `code` and a one-line message
 * that names the cause and the fix.
 *
 * @example Load a crash kernel on this machine (root)
 * ```ts ignore
 * import { load, loadRequest, status } from "./mod.ts";
 *
 * const outcome = load(loadRequest({ kind: "crash", kernel: "/boot/vmlinuz", initrds: ["/boot/kdump.img"] }));
 * for (const w of outcome.warnings) console.error(w);
 * console.log(status().verdict.explanation);
 * ```
 *
 * @module
 */

import { realEnv, type RunEnv } from "./lib/runtime.ts";
import { buildLoadPlan } from "./lib/load/build.ts";
import { type LoadOptions, type LoadOutcome, performLoad } from "./lib/load/load.ts";
import { validatePlan } from "./lib/load/plan.ts";
import type { LoadPlan } from "./lib/load/plan.ts";
import type { LoadRequest } from "./lib/load/request.ts";
import { execLoaded, unloadImage } from "./lib/control.ts";
import { gatherStatus, type KexecStatus } from "./lib/status.ts";
import { type ReloadOptions, type ReloadReport, runReload } from "./lib/reload/reload.ts";
import { currentUdevRules, installUdevRules as install, type UdevInstall } from "./lib/reload/udev.ts";
import { type BootEntries, bootEntries as listEntries, bootEntryLoad, type EntryLoad } from "./lib/boot/mod.ts";
import { currentArch } from "./lib/arch/mod.ts";
import { loadRequest, type LoadRequestInit } from "./lib/load/request.ts";
import { writeDmesg } from "./lib/vmcore/dmesg.ts";
import { type SummaryOptions, type VmcoreSummary, vmcoreSummary } from "./lib/vmcore/info.ts";
import { openCoreFile } from "./lib/vmcore/source.ts";
import { readText } from "./lib/system.ts";

export { KexecError } from "./lib/errors.ts";
export type { ErrorCode } from "./lib/errors.ts";
export { composeCmdline, loadRequest, splitCmdline } from "./lib/load/request.ts";
export type { HotplugChoice, LoadKind, LoadRequest, LoadRequestInit, SyscallChoice } from "./lib/load/request.ts";
export type {
  FirmwareHandover,
  FirmwareRecord,
  LoadPlan,
  PlanLimits,
  PlanSegment,
  SegmentRole,
} from "./lib/load/plan.ts";
export type { FirmwareStatus, SecureBootState } from "./lib/arch/mod.ts";
export type { ImageInfo } from "./lib/load/image_info.ts";
export type { BootEntries, BootEntry, BootPartition, EntryLoad } from "./lib/boot/mod.ts";
export type { FileLoadPlan, LoadOptions, LoadOutcome } from "./lib/load/load.ts";
export type { CrashRegionStatus, KexecStatus, SyscallPresence } from "./lib/status.ts";
export type {
  HotplugSysfs,
  HotplugVerdict,
  KnownLoad,
  Reloader,
  SysfsFlag,
  UdevRuleState,
  VerdictReason,
} from "./lib/crash/hotplug.ts";
export type { KexecAttr, KexecSysfsLayout } from "./lib/crash/sysfs.ts";
export type { CrashLoadRecord } from "./lib/reload/record.ts";
export type { ReloadOptions, ReloadReport, ReloadResult } from "./lib/reload/reload.ts";
export type { ReloadLogEntry } from "./lib/reload/reload_log.ts";
export type { CoalesceOps } from "./lib/reload/coalesce.ts";
export type { UdevInstall } from "./lib/reload/udev.ts";
export type { Range } from "./lib/memory/ranges.ts";
export type { ReadResult, SystemView } from "./lib/system.ts";
export type { HotplugEvidence, SummaryOptions, VmcoreLoad, VmcorePanic, VmcoreSummary } from "./lib/vmcore/info.ts";
export type { LogFormat } from "./lib/vmcore/dmesg.ts";
export type { SectionRange } from "./lib/vmcore/mem_section.ts";
export type { CoreHeaderBuilder, CoreHeaderOrigin } from "./lib/vmcore/origin.ts";
export { planToJson, renderEntries, renderPlan, renderStatus, renderVmcoreInfo, toJson } from "./lib/cli/output.ts";

/** Where a plan or status reads the machine. */
export interface MachineOptions {
  /**
   * A saved snapshot of `/proc` and `/sys` to read instead of the running machine (see scripts/vm/snapshot.ts).
   * Plans made against a snapshot can never be loaded.
   */
  systemRoot?: string;
}

/** How {@link plan} runs. */
export interface PlanOptions extends MachineOptions {
  /** 32 bytes for the next kernel's RNG seed (SETUP_RNG_SEED); default: fresh random bytes. Fix it for golden tests. */
  rngSeed?: Uint8Array;
}

function env(opts: MachineOptions = {}, log?: (line: string) => void): RunEnv {
  return realEnv({ systemRoot: opts.systemRoot, err: log });
}

/**
 * The kexec_load plan for `request`, checked as the kernel will check it, without loading anything: the segments
 * (role, physical address `mem`, bytes `memsz`, contents `buf`), entry point, flags, command line and purgatory
 * digest. Against the running machine it needs root (the kernel hides `/proc/iomem` addresses and the crash notes
 * from other users); against a saved snapshot it needs neither.
 *
 * @example Plan a crash kernel against a saved machine (the kernel from `scripts/setup --vm`)
 * ```ts
 * import { loadRequest, plan } from "./mod.ts";
 *
 * const p = plan(
 *   loadRequest({ kind: "crash", kernel: ".cache/kernels/6.12/vmlinuz", append: "irqpoll nr_cpus=1" }),
 *   { systemRoot: "tests/fixtures/machines/qemu-q35-2g-crash256m", rngSeed: new Uint8Array(32) },
 * );
 * const hdr = p.segments.find((s) => s.role === "elfcorehdr")!;
 * if (!p.cmdline.startsWith(`elfcorehdr=0x${hdr.mem.toString(16)} `)) throw new Error(p.cmdline);
 * ```
 * @throws KexecError for unreadable files, a bad image, a missing crash region, or a plan that does not fit
 */
export function plan(request: LoadRequest, options: PlanOptions = {}): LoadPlan {
  const e = env(options);
  const built = buildLoadPlan(request, e.sys, options.rngSeed ?? crypto.getRandomValues(new Uint8Array(32)));
  validatePlan(built.plan, built.limits);
  return built.plan;
}

/**
 * Loads `request` into the running kernel (root). A crash load (`kind: "crash"`) is recorded under
 * `/run/kexec-ts` so that {@link status} can explain it and {@link reload} can repeat it.
 * @returns what was done, with any warnings
 * @throws KexecError before the syscall for everything that can be checked; after a refused crash load the message
 *   says whether the previously loaded crash kernel is still loaded
 */
export function load(request: LoadRequest, options: Omit<LoadOptions, "unloadFirst"> = {}): LoadOutcome {
  return performLoad(request, env(), options);
}

/**
 * Unloads the loaded normal image or, with `crash`, the crash image (kexec-tools' `-u` / `-p -u`).
 * @throws KexecError when the kernel refuses
 */
export function unload(options: { crash?: boolean; fileSyscall?: boolean } = {}): void {
  unloadImage(env(), options.crash ?? false, options.fileSyscall ?? false);
}

/**
 * Boots the loaded kernel now (kexec-tools' `-e`), after sync() unless `sync` is false. Returns only by throwing.
 * @throws KexecError when nothing is loaded or the kernel refuses
 */
export function exec(options: { sync?: boolean } = {}): void {
  execLoaded(env(), options.sync ?? true);
}

/** Everything the kernel says about kexec, the crash region and crash hotplug, with the hotplug verdict. */
export function status(options: MachineOptions = {}): KexecStatus {
  return gatherStatus(env(options).sys);
}

/**
 * Repeats the last recorded crash load when the kernel cannot update its elfcorehdr itself, coalescing bursts of
 * hotplug events (see lib/reload/reload.ts); `log` gets a line per step.
 * @throws KexecError when there is no usable record or the reload failed
 */
export function reload(options: ReloadOptions & { log?: (line: string) => void } = {}): Promise<ReloadReport> {
  return runReload(options, env({}, options.log));
}

/** The udev rules `kexec-ts udev-rules` prints, for this kexec-ts. */
export function udevRules(): string {
  return currentUdevRules();
}

/**
 * Installs the udev rules atomically as `dir/98-kexec-ts.rules`.
 * @throws KexecError("io") when the file cannot be written
 */
export function installUdevRules(dir = "/etc/udev/rules.d"): UdevInstall {
  return install(dir, env().sys);
}

/** Where {@link bootEntries} and {@link bootEntryRequest} look. */
export interface BootEntryOptions extends MachineOptions {
  /**
   * A directory to take as the ESP; default: `$SYSTEMD_ESP_PATH`/`$SYSTEMD_XBOOTLDR_PATH`, else `/efi`, `/boot`,
   * `/boot/efi` (and XBOOTLDR) as systemd finds them (with `systemRoot`, from the saved mount table, under it).
   */
  bootRoot?: string;
}

/**
 * The boot entries (Boot Loader Specification Type #1 `.conf` files and Type #2 UKIs) on the ESP and XBOOTLDR,
 * sorted as systemd-boot's menu, with the default entry (LoaderEntryOneShot/LoaderEntryDefault EFI variables,
 * loader.conf's `default`, else the first) and why it is the default.
 *
 * @example List the entries of a directory laid out as an ESP, and make the request for its default
 * ```ts
 * import { bootEntries, bootEntryRequest } from "./mod.ts";
 *
 * const esp = "tests/fixtures/boot/esp-basic";
 * const list = bootEntries({ bootRoot: esp });
 * // Newest first; loader.conf says `default debian-6.1.*`.
 * if (list.entries[0].id !== "debian-6.12.conf" || list.defaultId !== "debian-6.1.conf") throw new Error();
 * const { request } = bootEntryRequest("default", { kind: "crash" }, { bootRoot: esp });
 * if (request.kernel !== `${esp}/vmlinuz-6.1` || request.append !== "root=/dev/vda1 ro") throw new Error();
 * ```
 */
export function bootEntries(options: BootEntryOptions = {}): BootEntries {
  return listEntries(env(options).sys, {
    bootRoot: options.bootRoot,
    systemRoot: options.systemRoot,
    arch: currentArch(),
  });
}

/**
 * The LoadRequest that boots a boot entry: `selector` is an id from {@link bootEntries}, an alias or glob of one, or
 * `default`; `init` adds the load's other fields (kind, syscall; a command line or initrd of its own, which replace
 * or join the entry's as on kexec-ts' command line).
 * @throws KexecError("usage") when no entry matches; KexecError("unsupported") for an entry kexec cannot boot
 */
export function bootEntryRequest(
  selector: string,
  init: Omit<LoadRequestInit, "kernel"> = {},
  options: BootEntryOptions = {},
): EntryLoad {
  return bootEntryLoad(bootEntries(options), selector, loadRequest({ ...init, kernel: "" }));
}

/**
 * The crashed kernel's log from a dump (default: the capture kernel's `/proc/vmcore`), byte for byte what
 * kexec-tools 2.0.25's vmcore-dmesg prints. Reads the dump's headers, notes and the log's pages only.
 *
 * @example
 * ```ts
 * import { vmcoreDmesg } from "./mod.ts";
 *
 * const log = new TextDecoder().decode(vmcoreDmesg("tests/fixtures/vmcore/lockless.core"));
 * if (!log.endsWith("Kernel panic - not syncing: sysrq triggered crash\n")) throw new Error(log);
 * ```
 * @throws KexecError with kexec-tools' exit status as `exitCode` when the dump is unreadable, truncated or corrupt
 */
export function vmcoreDmesg(file = "/proc/vmcore", warn?: (message: string) => void): Uint8Array {
  const src = openCoreFile(file);
  const parts: Uint8Array[] = [];
  try {
    writeDmesg(src, (b) => parts.push(b), warn);
  } finally {
    src.close();
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((off, p) => (out.set(p, off), off + p.length), 0);
  return out;
}

/**
 * What a dump says (default: the capture kernel's `/proc/vmcore`): kernel release, crash time, panic message, CPUs,
 * memory, hot-added memory and whether it is in the dump, and who built its core header. For the live
 * `/proc/vmcore` the capture kernel's command line is read too, unless `options.captureCmdline` is given.
 *
 * @example
 * ```ts
 * import { vmcoreInfo } from "./mod.ts";
 *
 * const s = vmcoreInfo("tests/fixtures/vmcore/lockless.core");
 * if (s.panic?.message !== "sysrq triggered crash") throw new Error(JSON.stringify(s.panic));
 * ```
 * @throws KexecError when the file is not a readable ELF core
 */
export function vmcoreInfo(file = "/proc/vmcore", options: SummaryOptions = {}): VmcoreSummary {
  const src = openCoreFile(file);
  try {
    const captureCmdline = options.captureCmdline ??
      (file === "/proc/vmcore" ? readText(env().sys, "/proc/cmdline") : undefined);
    return vmcoreSummary(src, { captureCmdline });
  } finally {
    src.close();
  }
}
