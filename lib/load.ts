/**
 * A load from start to finish: read the files, gather the machine's facts through the SystemView, let the
 * image's loader and the shared layout build a LoadPlan, validate it, print it when asked, and only then call
 * the kernel. Every check runs before the syscall: for crash loads the kernel frees the loaded crash kernel
 * before it looks at the new one, so a load we could have refused must never reach it.
 *
 * @module
 */

import { fail, KexecError } from "./errors.ts";
import { checkReadable, readInputFile } from "./files.ts";
import { type Invocation, type LoadRequest } from "./cli/args.ts";
import { errnoContext, type RunEnv } from "./cli/run.ts";
import { planToJson, renderFilePlan, renderPlan, toJson } from "./cli/output.ts";
import { Errno, explainErrno } from "../ffi/errno.ts";
import { readIomem } from "./memory/iomem.ts";
import { encodeCmdline } from "./x86/bootparams.ts";
import { requireCrashRegions } from "./crash/region.ts";
import { CRASH_HOTPLUG_NODES, readFlag, readHotplugSysfs } from "./crash/hotplug.ts";
import { readCoreInputs } from "./crash/elfcorehdr.ts";
import { crashRecordPath, writeCrashRecord } from "./crash/record.ts";
import { ramOf, rebootMemmap } from "./x86/e820.ts";
import { acpiRsdpFor, require5LevelSupport } from "./x86/firmware.ts";
import { layoutPlan } from "./layout.ts";
import { KEXEC_FILE_ON_CRASH } from "./abi.ts";
import { type LoadPlan, MAXMEM_4LEVEL, type PlanLimits, validatePlan } from "./plan.ts";
import { pickLoader } from "./loaders.ts";
import { readInteger, readText, type SystemView } from "./system.ts";
import type { Range } from "./memory/ranges.ts";

/** Splits a kernel command line into parameters, keeping double-quoted values together. */
export function splitCmdline(cmdline: string): string[] {
  return cmdline.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
}

/**
 * The command line for the new kernel: `--reuse-cmdline` starts from /proc/cmdline without `BOOT_IMAGE=` (and,
 * for crash kernels, without `crashkernel=`), then `--append` follows, as kexec-tools concatenates them.
 */
export function composeCmdline(req: LoadRequest, crash: boolean, sys: SystemView): string {
  const parts: string[] = [];
  if (req.reuseCmdline) {
    const current = readText(sys, "/proc/cmdline");
    if (current === undefined) fail("io", "--reuse-cmdline: cannot read /proc/cmdline");
    parts.push(
      ...splitCmdline(current).filter((p) => !p.startsWith("BOOT_IMAGE=") && !(crash && p.startsWith("crashkernel="))),
    );
  }
  if (req.append) parts.push(req.append.trim());
  return parts.join(" ");
}

/** The limits a plan is checked against: `crashMain` for crash plans, else RAM (`allowed`). */
function planLimits(crashMain: Range | undefined, allowed: readonly Range[], sys: SystemView): PlanLimits {
  const memTotalKiB = /^MemTotal:\s+(\d+) kB$/m.exec(readText(sys, "/proc/meminfo") ?? "")?.[1];
  return {
    allowed,
    crash: crashMain,
    maxAddress: MAXMEM_4LEVEL - 1n,
    totalRamBytes: memTotalKiB === undefined ? undefined : BigInt(memTotalKiB) * 1024n,
  };
}

/** Whether hotplug support goes into this crash load, or why the load must stop. */
export function decideHotplug(req: LoadRequest, sysfsBytes: bigint | undefined): boolean {
  if (req.hotplug === "off") return false;
  if (sysfsBytes !== undefined) return true;
  if (req.hotplug === "require") {
    fail(
      "unsupported",
      "--hotplug needs a kernel built with CONFIG_CRASH_HOTPLUG (no /sys/kernel/crash_elfcorehdr_size); " +
        "drop --hotplug to load without it (hot-plug events will then need kexec-ts reload)",
    );
  }
  return false;
}

/** Builds the kexec_load plan for `req`; reads the machine through `sys`. No side effects. */
export function buildLoadPlan(req: LoadRequest, crash: boolean, sys: SystemView, rngSeed: Uint8Array): {
  plan: LoadPlan;
  limits: PlanLimits;
} {
  const kernelBytes = readInputFile(req.kernelPath, "kernel");
  const initrd = req.initrdPath === undefined ? undefined : readInputFile(req.initrdPath, "initrd");
  if (initrd && initrd.length === 0) fail("io", `initrd ${req.initrdPath} is empty`);
  const loader = pickLoader(kernelBytes, req.type, req.kernelPath);
  const image = loader.parse(kernelBytes, req.kernelPath);
  const cmdline = composeCmdline(req, crash, sys);
  const iomem = readIomem(sys);
  require5LevelSupport(sys, image.supports5Level, req.kernelPath);
  const fw = sys.read("/sys/kernel/boot_params/data");
  const firmwareBootParams = fw.kind === "ok" ? fw.bytes : undefined;
  const acpiRsdpAddr = acpiRsdpFor(sys, firmwareBootParams);

  if (crash) {
    const regions = requireCrashRegions(sys, iomem);
    const hotplugBytes = readHotplugSysfs(sys).elfcorehdrSizeBytes;
    const hotplug = decideHotplug(req, hotplugBytes);
    const core = readCoreInputs(sys, iomem, regions);
    const plan = layoutPlan({
      loader: loader.name,
      image,
      initrd,
      cmdline,
      memmap: [],
      firmwareBootParams,
      acpiRsdpAddr,
      memMin: req.memMin,
      memMax: req.memMax,
      crash: { regions, iomem, core, hotplugBytes: hotplug ? hotplugBytes : undefined },
      skipChecks: req.noChecks,
      serialPort: req.serialPort,
      rngSeed,
    });
    return { plan, limits: planLimits(regions.main, [regions.main], sys) };
  }
  const memmap = rebootMemmap(sys, iomem);
  const plan = layoutPlan({
    loader: loader.name,
    image,
    initrd,
    cmdline,
    memmap,
    firmwareBootParams,
    acpiRsdpAddr,
    memMin: req.memMin,
    memMax: req.memMax,
    skipChecks: req.noChecks,
    serialPort: req.serialPort,
    rngSeed,
  });
  return { plan, limits: planLimits(undefined, ramOf(memmap), sys) };
}

/** Absolute form of the argv that produced a crash load, so `reload` can repeat it from any directory. */
function absoluteArgv(req: LoadRequest): string[] {
  const abs = (p: string) => (p.startsWith("/") ? p : `${Deno.cwd()}/${p}`);
  const argv = ["-p"];
  if (req.initrdPath) argv.push(`--initrd=${abs(req.initrdPath)}`);
  if (req.append !== undefined) argv.push(`--append=${req.append}`);
  if (req.reuseCmdline) argv.push("--reuse-cmdline");
  if (req.type) argv.push(`--type=${req.type}`);
  if (req.memMin !== undefined) argv.push(`--mem-min=0x${req.memMin.toString(16)}`);
  if (req.memMax !== undefined) argv.push(`--mem-max=0x${req.memMax.toString(16)}`);
  if (req.noChecks) argv.push("-i");
  if (req.hotplug === "require") argv.push("--hotplug");
  if (req.hotplug === "off") argv.push("--no-hotplug");
  if (req.serialPort) argv.push("--console-serial", `--serial=0x${req.serialPort.toString(16)}`);
  argv.push(abs(req.kernelPath));
  return argv;
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
 * Loads the kernel the invocation names (or prints its plan with --dry-run).
 *
 * Order, so that nothing reaches the kernel that could have been refused before:
 *  1. whenever kexec_load may be used (default, -c, -a) the whole plan is built and validated first;
 *  2. with -s/-a, what the kernel's bzImage64 loader checks (image, command line length, files) is checked
 *     before kexec_file_load, because for crash loads that syscall frees the loaded crash kernel before it
 *     parses anything (kernel/kexec_file.c);
 *  3. `unloadFirst` (kexec-tools' `-u -l K`) runs only after those checks; for crash loads it is skipped:
 *     loading a crash kernel replaces the old one inside the kernel anyway, and unloading first would throw it
 *     away even when the new load fails;
 *  4. under lockdown kexec_load is refused here, with the kernel's own reason, without spending one of the
 *     kexec_load_limit_* attempts.
 * @throws KexecError for every refusal
 */
export function performLoad(
  inv: Invocation,
  crash: boolean,
  env: RunEnv,
  unloadFirst?: () => void,
): Promise<void> {
  const req = inv.load!;
  const mayUseLoad = inv.syscall !== "kexec_file_load";
  const planned = mayUseLoad
    ? buildLoadPlan(req, crash, env.sys, crypto.getRandomValues(new Uint8Array(32)))
    : undefined;
  if (planned) validatePlan(planned.plan, planned.limits);
  const unloadNormal = () => {
    if (unloadFirst && !crash) unloadFirst();
  };

  if (inv.syscall === "kexec_file_load" || inv.syscall === "auto") {
    const cmdline = composeCmdline(req, crash, env.sys);
    if (!planned) {
      // -s: what the plan would have checked (with -a it did, more strictly: elfcorehdr= is on its command line).
      const kernelBytes = readInputFile(req.kernelPath, "kernel");
      const image = pickLoader(kernelBytes, req.type, req.kernelPath).parse(kernelBytes, req.kernelPath);
      encodeCmdline(cmdline, image.cmdlineSize);
      if (req.initrdPath) checkReadable(req.initrdPath, "initrd");
      if (crash) requireCrashRegions(env.sys, readIomem(env.sys));
    }
    const flags = crash ? KEXEC_FILE_ON_CRASH : 0n;
    if (inv.dryRun) {
      env.out(
        inv.json
          ? toJson({
            syscall: "kexec_file_load",
            kernel: req.kernelPath,
            initrd: req.initrdPath ?? null,
            cmdline,
            flags,
          }) +
            "\n"
          : renderFilePlan(req, cmdline, flags),
      );
      return Promise.resolve();
    }
    unloadNormal();
    try {
      env.kernel.kexecFileLoad(req.kernelPath, req.initrdPath, cmdline, flags, errnoContext(env, crash));
      if (crash) recordCrashLoad(env, req, "kexec_file_load", Number(flags), true);
      return Promise.resolve();
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      const fallback = errno === Errno.ENOSYS || errno === Errno.EINVAL || errno === Errno.ENOEXEC ||
        errno === Errno.EOPNOTSUPP;
      if (inv.syscall === "kexec_file_load" || !fallback || !planned) {
        if (crash && e instanceof KexecError) throw new KexecError(e.code, e.message + crashStateAfterFailure(env.sys));
        throw e;
      }
      env.err(`kexec-ts: kexec_file_load failed (${(e as Error).message}); falling back to kexec_load`);
    }
  }

  const { plan, limits } = planned!;
  if (inv.dryRun) {
    env.out(inv.json ? toJson(planToJson(plan)) + "\n" : renderPlan(plan));
    return Promise.resolve();
  }
  unloadNormal();
  executePlan(plan, limits, env, inv.debug);
  if (crash) {
    recordCrashLoad(env, req, "kexec_load", Number(plan.flags), plan.hotplug);
    if (plan.hotplug) warnUnlessHotplugActive(env);
  }
  return Promise.resolve();
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
  if (ctx.lockdown === "integrity" || ctx.lockdown === "confidentiality") {
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
  flags: number,
  hotplug: boolean,
) {
  const warning = writeCrashRecord({
    version: 1,
    argv: [...(syscall === "kexec_file_load" ? ["-s"] : []), ...absoluteArgv(req)],
    syscall,
    flags,
    hotplug,
    bootId: readText(env.sys, "/proc/sys/kernel/random/boot_id")?.trim() ?? "",
    loadedAt: new Date().toISOString(),
  }, crashRecordPath());
  if (warning) env.err(`kexec-ts: warning: ${warning}; kexec-ts reload will not be able to repeat this load`);
}

/** After a hotplug-capable load, the kernel should report crash_hotplug = 1; say so if it does not. */
function warnUnlessHotplugActive(env: RunEnv): void {
  const mem = readFlag(env.sys, CRASH_HOTPLUG_NODES.memory);
  const flag = mem === "absent" || mem === "denied" ? readFlag(env.sys, CRASH_HOTPLUG_NODES.cpu) : mem;
  if (flag !== 1) {
    env.err(
      `kexec-ts: warning: loaded with KEXEC_UPDATE_ELFCOREHDR but crash_hotplug reads ${flag}; the kernel will not ` +
        "update the elfcorehdr on hotplug (check kexec-ts status; a concurrent kexec operation can cause this)",
    );
  }
}
