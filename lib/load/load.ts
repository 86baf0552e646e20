/**
 * A load from start to finish: plan it, check it, and only then call the kernel; say what was done. Every check runs
 * before the syscall: for crash loads the kernel frees the loaded crash kernel before it looks at the new one, so
 * a load we could have refused must never reach it. Nothing here prints: the outcome carries the plan, what was
 * done and the warnings, and the caller (the CLI, the public API, reload) renders them.
 *
 * @module
 */

import { KexecError } from "../errors.ts";
import { Errno, explainErrno } from "../../ffi/errno.ts";
import { readIomem } from "../memory/iomem.ts";
import { requireCrashRegions } from "../crash/region.ts";
import { CRASH_HOTPLUG_NODES, readFlag } from "../crash/hotplug.ts";
import { crashRecordPath, writeCrashRecord } from "../reload/record.ts";
import { KEXEC_FILE_ON_CRASH } from "../abi.ts";
import { readInteger, readText, type SystemView } from "../system.ts";
import { errnoContext, type FileInput, lockedDown, type RunEnv } from "../runtime.ts";
import { type Arch, currentArch } from "../arch/mod.ts";
import { emptyInitramfs } from "./initramfs.ts";
import { type LoadPlan, type PlanLimits, validatePlan } from "./plan.ts";
import { buildLoadPlan } from "./build.ts";
import { type LoadInputs, resolveInputs } from "./inputs.ts";
import type { ImageInfo } from "./image_info.ts";
import { absoluteRequest, type LoadRequest } from "./request.ts";

/** The inputs of a kexec_file_load: the kernel lays out the segments itself. */
export interface FileLoadPlan {
  /** Path of the kernel image (for a UKI: the UKI, whose kernel goes through a memfd). */
  kernel: string;
  /** Path of the initrd, if any (several, or a UKI's, are joined and go through a memfd: see `initrdParts`). */
  initrd?: string;
  /** The command line, as the kernel will get it. */
  cmdline: string;
  /** kexec_file_load flags (KEXEC_FILE_ON_CRASH, ...). */
  flags: bigint;
  /** The kernel's bytes when they are part of the file (a UKI's `.linux`): passed as a memfd, never a temporary file. */
  kernelBytes?: Uint8Array;
  /** The initrd's bytes when they are not one file of their own (joined pieces): passed as a memfd. */
  initrdBytes?: Uint8Array;
  /** What a UKI or boot entry said about itself. */
  image?: ImageInfo;
  /** Remarks for the user (an initrd kexec-ts added); absent when there is none. */
  notes?: string[];
}

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
}

/** After a failed crash load, what is loaded now, in words. */
function crashStateAfterFailure(sys: SystemView): string {
  const loaded = readInteger(sys, "/sys/kernel/kexec_crash_loaded");
  return loaded === 1n
    ? " (the previously loaded crash kernel is still loaded)"
    : loaded === 0n
    ? " (no crash kernel is loaded now)"
    : "";
}

/**
 * What kexec_file_load's loader would refuse, checked before that syscall, which frees a loaded crash kernel before
 * it parses anything (kernel/kexec_file.c): the refusal, or undefined when it would take the load.
 * @throws anything but a KexecError (a bug) as it is
 */
function fileLoadRefusal(req: LoadRequest, inputs: LoadInputs, cmdline: string, env: RunEnv): KexecError | undefined {
  const { loader } = inputs;
  if (!loader.fileLoadCheck) {
    return new KexecError("unsupported", `kexec_file_load cannot load ${loader.name} images; use -c (kexec_load)`);
  }
  try {
    loader.fileLoadCheck(inputs.image, cmdline, req.kind);
    if (req.kind === "crash") requireCrashRegions(env.sys, readIomem(env.sys));
  } catch (e) {
    if (e instanceof KexecError) return e;
    throw e;
  }
  return undefined;
}

/** With -a, why kexec_file_load is not tried: a note for the kexec_load plan. */
function skippedFileLoadNote(inputs: LoadInputs, refusal: KexecError): string {
  return inputs.loader.fileLoadCheck
    ? `kexec_file_load skipped (${refusal.message}); kexec_load used`
    : `kexec_file_load has no ${inputs.loader.name} loader; kexec_load used`;
}

/**
 * The kexec_file_load inputs: paths where the kernel can open a file of its own, memfd contents otherwise. With no
 * initrd where the architecture says the kernel's loader needs one (x86 EFI: ../arch/x86_64/efi_handover.ts), an
 * empty initramfs.
 */
function filePlanOf(req: LoadRequest, inputs: LoadInputs, crash: boolean, arch: Arch, sys: SystemView): FileLoadPlan {
  const name = req.kernel.slice(req.kernel.lastIndexOf("/") + 1);
  const plan: FileLoadPlan = {
    kernel: req.kernel,
    initrd: inputs.initrdPath ?? (inputs.initrd ? `${name}:initrd (memfd)` : undefined),
    cmdline: inputs.cmdline,
    flags: crash ? KEXEC_FILE_ON_CRASH : 0n,
    kernelBytes: inputs.kernelIsPart ? inputs.kernel : undefined,
    initrdBytes: inputs.initrdPath === undefined ? inputs.initrd : undefined,
    image: inputs.info,
  };
  const why = plan.initrd === undefined ? arch.fileLoadNeedsInitrd?.(sys) : undefined;
  if (why) {
    return { ...plan, initrd: `${name}:initrd (memfd, empty initramfs)`, initrdBytes: emptyInitramfs(), notes: [why] };
  }
  return plan;
}

/** What the syscall opens: the paths, or memfds named after the file. */
function fileInputs(p: FileLoadPlan): { kernel: FileInput; initrd?: FileInput } {
  const name = p.kernel.slice(p.kernel.lastIndexOf("/") + 1);
  return {
    kernel: p.kernelBytes ? { name: `${name}:kernel`, bytes: p.kernelBytes } : p.kernel,
    initrd: p.initrdBytes ? { name: `${name}:initrd`, bytes: p.initrdBytes } : p.initrd,
  };
}

/**
 * Loads what `req` names (or, with `dryRun`, only plans it).
 *
 * Order, so that nothing reaches the kernel that could have been refused before:
 *  1. whenever kexec_load may be used (default, -c, -a) the whole plan is built and validated first;
 *  2. with -s/-a, what the kernel's kexec_file loader checks (a loader for the image kind, the image, command line
 *     length, the crash region) is checked before kexec_file_load; -s stops there, -a does not call kexec_file_load
 *     and goes on with kexec_load, saying why in the plan's notes (an ELF vmlinux: the kernel has no loader for it);
 *  3. `unloadFirst` (kexec-tools' `-u -l K`) runs only after those checks; for crash loads it is skipped:
 *     loading a crash kernel replaces the old one inside the kernel anyway, and unloading first would throw it
 *     away even when the new load fails;
 *  4. under lockdown kexec_load is refused here, with the kernel's own reason, without spending one of the
 *     kexec_load_limit_* attempts.
 * A successful crash load is recorded (../reload/record.ts) for `status` and `reload`.
 * @throws KexecError for every refusal; after a failed crash load the message says whether one is still loaded
 */
export function performLoad(req: LoadRequest, env: RunEnv, opts: LoadOptions = {}): LoadOutcome {
  const crash = req.kind === "crash";
  const warnings: string[] = [];
  const mayUseLoad = req.syscall !== "kexec_file_load";
  const arch = currentArch();
  const inputs = resolveInputs(req, env.sys, arch, { readInitrd: mayUseLoad });
  warnings.push(...inputs.warnings);
  const built = mayUseLoad
    ? buildLoadPlan(req, env.sys, opts.rngSeed ?? crypto.getRandomValues(new Uint8Array(32)), arch, inputs)
    : undefined;
  if (built) validatePlan(built.plan, built.limits);
  const unloadNormal = () => {
    if (opts.unloadFirst && !crash) opts.unloadFirst();
  };

  // -a: the checks -s makes run first, and kexec_file_load is not called when they fail (it would free a loaded crash
  // kernel before refusing): kexec_load goes ahead, and the plan says why.
  const filePlan = req.syscall === "kexec_load" ? undefined : filePlanOf(req, inputs, crash, arch, env.sys);
  const refusal = filePlan && fileLoadRefusal(req, inputs, filePlan.cmdline, env);
  if (refusal && req.syscall === "kexec_file_load") throw refusal;

  if (filePlan && !refusal) {
    if (opts.dryRun) return { syscall: "kexec_file_load", plan: built?.plan, filePlan, loaded: false, warnings };
    unloadNormal();
    try {
      const files = fileInputs(filePlan);
      env.kernel.kexecFileLoad(files.kernel, files.initrd, filePlan.cmdline, filePlan.flags, errnoContext(env, crash));
      if (crash) recordCrashLoad(env, req, "kexec_file_load", filePlan.flags, true, warnings, inputs.info);
      return { syscall: "kexec_file_load", filePlan, loaded: true, warnings };
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      const fallback = errno === Errno.ENOSYS || errno === Errno.EINVAL || errno === Errno.ENOEXEC ||
        errno === Errno.EOPNOTSUPP;
      if (req.syscall === "kexec_file_load" || !fallback || !built) {
        if (crash && e instanceof KexecError) throw new KexecError(e.code, e.message + crashStateAfterFailure(env.sys));
        throw e;
      }
      warnings.push(`kexec_file_load failed (${(e as Error).message}); fell back to kexec_load`);
    }
  }

  const { limits } = built!;
  const plan = refusal
    ? { ...built!.plan, notes: [...built!.plan.notes, skippedFileLoadNote(inputs, refusal)] }
    : built!.plan;
  warnings.push(...(plan.warnings ?? []));
  const efiWarning = withheldEfiWarning(plan);
  if (efiWarning) warnings.push(efiWarning);
  if (opts.dryRun) return { syscall: "kexec_load", plan, loaded: false, warnings };
  unloadNormal();
  executePlan(plan, limits, env, opts.debug);
  if (crash) {
    recordCrashLoad(env, req, "kexec_load", plan.flags, plan.hotplug, warnings, inputs.info);
    if (plan.hotplug) warnUnlessHotplugActive(env, warnings);
  }
  return { syscall: "kexec_load", plan, loaded: true, warnings };
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
  const state = () => (crash ? crashStateAfterFailure(env.sys) : "");
  if (lockedDown(ctx)) {
    throw new KexecError("permission", explainErrno("kexec_load", Errno.EPERM, ctx) + state());
  }
  try {
    env.kernel.kexecLoad(plan.entry, plan.segments, plan.flags, ctx, debug ? (t) => env.err(t) : undefined);
  } catch (e) {
    if (e instanceof KexecError) throw new KexecError(e.code, e.message + state());
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
  const warning = writeCrashRecord({
    version: 2,
    request: absoluteRequest(req),
    syscall,
    flags: Number(flags),
    hotplug,
    ...(image ? { image } : {}),
    bootId: readText(env.sys, "/proc/sys/kernel/random/boot_id")?.trim() ?? "",
    loadedAt: new Date().toISOString(),
  }, crashRecordPath());
  if (warning) warnings.push(`${warning}; kexec-ts reload will not be able to repeat this load`);
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
      `loaded with KEXEC_UPDATE_ELFCOREHDR but crash_hotplug reads ${flag}; the kernel will not ` +
        "update the elfcorehdr on hotplug (check kexec-ts status; a concurrent kexec operation can cause this)",
    );
  }
}
