/**
 * A load from start to finish: plan it, check it, and only then call the kernel; say what was done. Every check runs
 * before the syscall: for crash loads the kernel frees the loaded crash kernel before it looks at the new one, so
 * a load we could have refused must never reach it. Nothing here prints: the outcome carries the plan, what was
 * done and the warnings, and the caller (the CLI, the public API, reload) renders them.
 *
 * @module
 */

import { KexecError } from "../errors.ts";
import { Errno } from "../../ffi/errno.ts";
import { CRASH_HOTPLUG_NODES, readFlag } from "../crash/hotplug.ts";
import { crashRecordPath, removeCrashRecord, writeCrashRecord } from "../reload/record.ts";
import { takeLoadLock } from "../reload/lock.ts";
import { clearReloadInflight } from "../reload/inflight.ts";
import { describeFsError } from "../files.ts";
import { readText } from "../system.ts";
import { crashStateAfterFailure, errnoContext, permissionRefusal, type RunEnv } from "../runtime.ts";
import { type Arch, currentArch } from "../arch/mod.ts";
import { type LoadPlan, type PlanLimits, validatePlan } from "./plan.ts";
import { buildLoadPlan, type BuiltPlan } from "./build.ts";
import { FileOnlyRefusal, uncheckedNote } from "./file_load.ts";
import { fileInputs, type FileLoadPlan, fileLoadPreChecks, filePlanOf, skippedFileLoadNote } from "./file_plan.ts";
import { type LoadInputs, resolveInputs } from "./inputs.ts";
import type { ImageInfo } from "./image_info.ts";
import { absoluteRequest, type LoadRequest } from "./request.ts";

export type { FileLoadPlan };

/** What a load did (or, dry, would do). */
export interface LoadOutcome {
  /** The syscall that loaded it (or would have). */
  syscall: "kexec_load" | "kexec_file_load";
  /** The kexec_load plan; built whenever kexec_load may be used (default, `-c`, `-a`). */
  plan?: LoadPlan;
  /** The kexec_file_load inputs, when that syscall was (or would be) used. */
  filePlan?: FileLoadPlan;
  /** True when the kernel took the image; false for a dry run. */
  loaded: boolean;
  /** Things the user should know (fallbacks, an unwritable record, hotplug not active). */
  warnings: string[];
}

/** How {@link performLoad} runs. */
export interface LoadOptions {
  /** Plan and check only; never call the kernel. */
  dryRun?: boolean;
  /** Pass kexec-tools' `-d` segment dump to `env.err` before the syscall. */
  debug?: boolean;
  /** Runs after every check and before the load (kexec-tools' `-u -l K`; never for crash loads, see below). */
  unloadFirst?: () => void;
  /** 32 bytes for SETUP_RNG_SEED; default: fresh random bytes. */
  rngSeed?: Uint8Array;
  /** Where a note said before the syscall goes (a crash kexec_file_load's unchecked items); default `env.err`. */
  note?: (text: string) => void;
  /** The caller already holds load.lock (../reload/lock.ts): `kexec-ts reload`, around its decision and load. */
  lockHeld?: boolean;
  /** How long a crash load waits for load.lock (default ../reload/lock.ts LOAD_LOCK_WAIT_MS). */
  lockWaitMs?: number;
}

/**
 * Loads what `req` names (or, with `dryRun`, only plans it).
 *
 * Order, so that nothing reaches the kernel that could have been refused before:
 *  1. whenever kexec_load may be used (default, -c, -a) the whole plan is built and validated first;
 *  2. with -s/-a, what the kernel's kexec_file_load path checks (./file_load.ts: files, permissions, signature under
 *     lockdown, the image loader's probe and load, room in the crash region) is checked before kexec_file_load; -s
 *     stops there; with -a a refusal only kexec_file_load would make (or an image kind it has no loader for, an ELF
 *     vmlinux) goes straight to kexec_load, saying why in the plan's notes, instead of the fallback kexec-tools -a
 *     takes after kexec_file_load has freed the loaded crash kernel; for a crash load, what cannot be checked is
 *     said (`note`) before the syscall;
 *  3. `unloadFirst` (kexec-tools' `-u -l K`) runs only after those checks; for crash loads it is skipped:
 *     loading a crash kernel replaces the old one inside the kernel anyway, and unloading first would throw it
 *     away even when the new load fails;
 *  4. what the kernel refuses with EPERM before anything else (kexec_load_disabled, a load limit of 0, lockdown for
 *     kexec_load) is refused here, with the kernel's own reason, without spending one of the kexec_load_limit_*
 *     attempts.
 * A successful crash load is recorded (../reload/record.ts) for `status` and `reload`.
 * The kernel and initrds are opened once, first, and stay open until the syscall returned: what was checked and
 * hashed is what the kernel gets (./inputs.ts).
 * @throws KexecError for every refusal; after a failed crash load the message says whether one is still loaded
 */
export function performLoad(req: LoadRequest, env: RunEnv, opts: LoadOptions = {}): LoadOutcome {
  const arch = currentArch();
  const inputs = resolveInputs(req, env.sys, arch, { readInitrd: req.syscall !== "kexec_file_load" });
  try {
    return loadFromInputs(req, env, opts, inputs, arch);
  } finally {
    inputs.close();
  }
}

function loadFromInputs(
  req: LoadRequest,
  env: RunEnv,
  opts: LoadOptions,
  inputs: LoadInputs,
  arch: Arch,
): LoadOutcome {
  const crash = req.kind === "crash";
  const warnings: string[] = [];
  const mayUseLoad = req.syscall !== "kexec_file_load";
  warnings.push(...inputs.warnings);
  const built = mayUseLoad
    ? buildLoadPlan(req, env.sys, opts.rngSeed ?? crypto.getRandomValues(new Uint8Array(32)), arch, inputs)
    : undefined;
  if (built) validatePlan(built.plan, built.limits);
  let filePlan = req.syscall === "kexec_load" ? undefined : filePlanOf(req, inputs, crash, arch, env.sys);
  let plan = built?.plan;
  let skipped: string | undefined;
  if (filePlan) {
    try {
      const unchecked = fileLoadPreChecks(req, inputs, filePlan, env, arch);
      if (crash) filePlan.unchecked = unchecked;
    } catch (e) {
      if (crash && e instanceof KexecError && e.code === "permission") {
        throw new KexecError(e.code, e.message + crashStateAfterFailure(env.sys, "precheck"));
      }
      // -a: what only kexec_file_load refuses (the image, the command line, the kernel's layout, an image kind it has
      // no loader for) goes to kexec_load at once, and the plan says why: kexec-tools -a falls back only after
      // kexec_file_load has freed the loaded crash kernel.
      const fileOnly = e instanceof FileOnlyRefusal ||
        (e instanceof KexecError && (e.code === "bad-image" || e.code === "layout" || e.code === "unsupported"));
      if (req.syscall !== "auto" || !plan || !fileOnly) throw e;
      skipped = skippedFileLoadNote(inputs, e as KexecError);
      plan = { ...plan, notes: [...plan.notes, skipped] };
      filePlan = undefined;
    }
  }
  if (opts.dryRun) {
    if (filePlan) return { syscall: "kexec_file_load", plan, filePlan, loaded: false, warnings };
    warnings.push(...kexecLoadWarnings(plan!));
    return { syscall: "kexec_load", plan: plan!, loaded: false, warnings };
  }
  // A real load has no plan printed: say why -a did not use kexec_file_load.
  if (skipped) (opts.note ?? ((t) => env.err(`kexec-ts: note: ${t}`)))(skipped);

  // A crash load changes what `kexec-ts reload` would repeat: one at a time (../reload/lock.ts).
  const lock = crash && !opts.lockHeld ? takeLoadLock("-p", opts.lockWaitMs) : undefined;
  if (lock?.warning) warnings.push(lock.warning);
  try {
    return load(req, env, opts, inputs, built && { ...built, plan: plan! }, filePlan, warnings);
  } finally {
    lock?.release();
  }
}

/** The syscalls of {@link performLoad}, once everything is checked: kexec_file_load (with -a's fallback), kexec_load. */
function load(
  req: LoadRequest,
  env: RunEnv,
  opts: LoadOptions,
  inputs: LoadInputs,
  built: BuiltPlan | undefined,
  filePlan: FileLoadPlan | undefined,
  warnings: string[],
): LoadOutcome {
  const crash = req.kind === "crash";
  const unloadNormal = () => {
    if (opts.unloadFirst && !crash) opts.unloadFirst();
  };
  if (filePlan) {
    if (filePlan.unchecked.length) {
      (opts.note ?? ((t) => env.err(`kexec-ts: note: ${t}`)))(uncheckedNote(filePlan.unchecked));
    }
    unloadNormal();
    try {
      const files = fileInputs(filePlan, inputs);
      env.kernel.kexecFileLoad(files.kernel, files.initrd, filePlan.cmdline, filePlan.flags, errnoContext(env, crash));
      if (crash) recordCrashLoad(env, req, "kexec_file_load", filePlan.flags, true, warnings, inputs.info);
      return { syscall: "kexec_file_load", filePlan, loaded: true, warnings };
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      const fallback = errno === Errno.ENOSYS || errno === Errno.EINVAL || errno === Errno.ENOEXEC ||
        errno === Errno.EOPNOTSUPP;
      if (req.syscall === "kexec_file_load" || !fallback || !built) {
        if (crash && e instanceof KexecError) {
          throw new KexecError(e.code, e.message + crashStateAfterFailure(env.sys, "kexec_file_load", errno));
        }
        throw e;
      }
      warnings.push(`kexec_file_load failed (${(e as Error).message}); fell back to kexec_load`);
    }
  }

  const { plan, limits } = built!;
  warnings.push(...kexecLoadWarnings(plan));
  unloadNormal();
  executePlan(plan, limits, env, opts.debug);
  if (crash) {
    recordCrashLoad(env, req, "kexec_load", plan.flags, plan.hotplug, warnings, inputs.info);
    if (plan.hotplug) warnUnlessHotplugActive(env, warnings);
  }
  return { syscall: "kexec_load", plan, loaded: true, warnings };
}

/** What a kexec_load plan warns about: its loader's warnings, EFI withheld. */
function kexecLoadWarnings(plan: LoadPlan): string[] {
  const efiWarning = withheldEfiWarning(plan);
  return [...(plan.warnings ?? []), ...(efiWarning ? [efiWarning] : [])];
}

/**
 * Validates a plan and, only if it passes, hands it to kexec_load. The single door to the syscall for plans.
 * @throws KexecError("invalid-plan") or KexecError("permission") (lockdown) before any syscall; KernelCallError
 *   (with what is loaded now, for crash plans) when the kernel refuses
 */
export function executePlan(plan: LoadPlan, limits: PlanLimits, env: RunEnv, debug = false): void {
  validatePlan(plan, limits);
  const crash = plan.kind === "crash";
  const ctx = errnoContext(env, crash);
  const state = (errno?: number) => (crash ? crashStateAfterFailure(env.sys, "kexec_load", errno) : "");
  const refusal = permissionRefusal("kexec_load", ctx);
  if (refusal) throw new KexecError("permission", refusal + (crash ? crashStateAfterFailure(env.sys, "precheck") : ""));
  try {
    env.kernel.kexecLoad(plan.entry, plan.segments, plan.flags, ctx, debug ? (t) => env.err(t) : undefined);
  } catch (e) {
    if (e instanceof KexecError) throw new KexecError(e.code, e.message + state((e as { errno?: number }).errno));
    throw e;
  }
}

function recordCrashLoad(
  env: RunEnv,
  req: LoadRequest,
  syscall: "kexec_load" | "kexec_file_load",
  flags: bigint,
  hotplug: boolean,
  warnings: string[],
  image: ImageInfo | undefined,
): void {
  const path = crashRecordPath();
  const warning = writeCrashRecord({
    version: 2,
    request: absoluteRequest(req),
    syscall,
    flags: Number(flags),
    hotplug,
    ...(image ? { image } : {}),
    bootId: readText(env.sys, "/proc/sys/kernel/random/boot_id")?.trim() ?? "",
    loadedAt: new Date().toISOString(),
  }, path);
  if (warning) {
    // The previous record describes a load that is gone: reload must not repeat it, status must not report it.
    let stale = "";
    try {
      removeCrashRecord(path);
    } catch (e) {
      stale = ` (and the previous record ${path} could not be removed: ${describeFsError(e)})`;
    }
    warnings.push(
      `the crash kernel is loaded, but ${warning}${stale}; kexec-ts reload will not be able to repeat ` +
        "this load after a hotplug event (free space in the run directory and load again with kexec-ts -p)",
    );
  }
  // Whatever a reload left unfinished is superseded by this load.
  clearReloadInflight();
}

/** On an EFI machine whose EFI a kexec_load plan cannot hand over (not by --noefi): why, and what is lost. */
function withheldEfiWarning(plan: LoadPlan): string | undefined {
  const w = plan.firmware?.withheld;
  if (!w || w.requested) return undefined;
  return `EFI is not handed over: ${w.reason}; ${w.lacks}${w.hint ? `; ${w.hint}` : ""}`;
}

/** After a hotplug-capable load, the kernel should report crash_hotplug = 1; say so if it does not. */
function warnUnlessHotplugActive(env: RunEnv, warnings: string[]): void {
  const mem = readFlag(env.sys, CRASH_HOTPLUG_NODES.memory);
  const flag = mem === "absent" || mem === "denied" ? readFlag(env.sys, CRASH_HOTPLUG_NODES.cpu) : mem;
  if (flag !== 1) {
    warnings.push(
      `loaded with the crash hotplug flag but crash_hotplug reads ${flag}; the kernel will not ` +
        "update the elfcorehdr on hotplug (check kexec-ts status; a concurrent kexec operation can cause this)",
    );
  }
}
