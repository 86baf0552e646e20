/**
 * `kexec-ts reload`: repeat the last successful `kexec-ts -p` load, so a crash kernel whose elfcorehdr the kernel
 * cannot update (kexec_load without KEXEC_UPDATE_ELFCOREHDR, or a kernel without CONFIG_CRASH_HOTPLUG) describes
 * the machine again after CPU or memory hotplug. The udev rule from `kexec-ts udev-rules` runs it on every event.
 *
 * One invocation:
 *  1. does nothing (exit 0, one line on stderr) when no crash kernel is loaded (`/sys/kernel/kexec_crash_loaded`
 *     is not 1) or when the kernel updates the elfcorehdr itself (`crash_hotplug` of cpu or memory reads 1);
 *  2. fails (exit 1) when there is no record of a kexec-ts -p load for this boot (`runDir()/crash-load.json`);
 *  3. with `--dry-run`, prints the plan the reload would load and stops;
 *  4. otherwise joins the coalescing protocol of ./coalesce.ts: it marks a reload pending and either leaves
 *     (exit 0: the process holding `runDir()/reload.lock` will reload after it) or becomes the holder, which waits
 *     for the settle time, reloads, and repeats while events keep arriving. Before each reload the holder reads
 *     the record and the machine again (an unload or a new -p load during the settle time is respected).
 *
 * Each reload takes the recorded LoadRequest (paths already absolute) through the ordinary load path,
 * performLoad, with the kernel calls timed; it appends a line to `runDir()/reload.log` (see ./reload_log.ts). The exit status
 * is 1 when the holder's last reload failed (with that reload's error), else 0.
 *
 * Environment:
 *  - `KEXEC_TS_RELOAD_SETTLE_MS`: the settle time in milliseconds (default 1000). Events closer together than
 *    this share one reload; a larger value means fewer reloads but a longer delay before the crash kernel
 *    describes the new memory. 0 reloads at once (manual use, tests).
 *  - `KEXEC_TS_RUN_DIR`: where the record, the lock, the pending mark and the log live (default /run/kexec-ts).
 *
 * @module
 */

import { KexecError } from "../errors.ts";
import type { KernelOps, RunEnv } from "../runtime.ts";
import { type LoadOutcome, performLoad } from "../load/load.ts";
import { fsSystemView, type SystemView } from "../system.ts";
import { readKexecInteger } from "../crash/sysfs.ts";
import { CRASH_HOTPLUG_NODES, readFlag, readHotplugSysfs, recordContradicted } from "../crash/hotplug.ts";
import { type CrashLoadRecord, crashRecordPath, readCrashRecord, runDir } from "./record.ts";
import { coalesce, fileCoalesceOps, reloadSettleMs } from "./coalesce.ts";
import { appendReloadLog, type ReloadLogEntry } from "./reload_log.ts";

/** What a reload should do now. */
export type ReloadDecision =
  | { kind: "skip"; why: string }
  | { kind: "no-record"; path: string }
  | { kind: "bad-record"; why: string }
  | { kind: "reload"; record: CrashLoadRecord };

/**
 * Decides from the machine and the record whether to reload. `assumeLoaded` skips the "nothing loaded" check
 * (after a failed reload of our own, which leaves no crash kernel, the next event must retry).
 */
export function decideReload(sys: SystemView, recordPath: string, assumeLoaded = false): ReloadDecision {
  if (!assumeLoaded) {
    const loaded = readKexecInteger(sys, "crashLoaded");
    if (loaded === undefined) {
      return { kind: "skip", why: "this kernel has no kexec support (no /sys/kernel/kexec_crash_loaded)" };
    }
    if (loaded !== 1n) {
      return { kind: "skip", why: "no crash kernel is loaded (/sys/kernel/kexec_crash_loaded is 0)" };
    }
  }
  const memory = readFlag(sys, CRASH_HOTPLUG_NODES.memory);
  const cpu = readFlag(sys, CRASH_HOTPLUG_NODES.cpu);
  if (memory === 1 || cpu === 1) {
    return {
      kind: "skip",
      why: `the kernel updates the crash kernel's elfcorehdr in place (crash_hotplug reads 1 for ${
        memory === 1 ? "memory" : "cpu"
      })`,
    };
  }
  const read = readCrashRecord(sys, recordPath);
  if (read.kind === "ok" && recordContradicted(read.record, readHotplugSysfs(sys))) {
    return {
      kind: "skip",
      why: "the loaded crash kernel is not kexec-ts' recorded load (kexec-ts loaded with hotplug, crash_hotplug " +
        "reads 0): another tool replaced it; not replacing that tool's load",
    };
  }
  return read.kind === "ok"
    ? { kind: "reload", record: read.record }
    : read.kind === "bad"
    ? { kind: "bad-record", why: read.why }
    : { kind: "no-record", path: recordPath };
}

/**
 * The view reload reads through: the machine from `sys`, but kexec-ts' own files under `dir` (the record) from
 * the real filesystem, where record.ts writes them, also under `--system-root`.
 */
export function withRunDir(sys: SystemView, dir = runDir()): SystemView {
  const real = fsSystemView("/");
  const own = (path: string) => path.startsWith(dir + "/");
  return {
    origin: sys.origin,
    read: (path, maxBytes) => (own(path) ? real.read(path, maxBytes) : sys.read(path, maxBytes)),
    list: (path) => (own(path) ? real.list(path) : sys.list(path)),
  };
}

/** How `reload` runs: kexec-ts' `-d` and `--dry-run` apply to the repeated load. */
export interface ReloadOptions {
  /** Print the plan the reload would load; call nothing. */
  dryRun?: boolean;
  /** Pass kexec-tools' `-d` segment dump to the log before the syscall. */
  debug?: boolean;
}

/** A performed reload: the log entry and, when it failed, the error to report. */
export interface ReloadResult {
  /** The line written to the reload log. */
  entry: ReloadLogEntry;
  /** Why the reload failed, when it did. */
  error?: unknown;
}

/**
 * Performs one reload of `record` through performLoad, timing the whole of it and the kernel calls.
 * Never throws: a failure is in the result.
 */
export function reloadOnce(record: CrashLoadRecord, opts: ReloadOptions, env: RunEnv): ReloadResult {
  const time = new Date().toISOString();
  const t0 = performance.now();
  let firstCall: number | undefined;
  let lastReturn: number | undefined;
  const timed = <T>(call: () => T): T => {
    const start = performance.now();
    firstCall ??= start;
    try {
      return call();
    } finally {
      lastReturn = performance.now();
    }
  };
  const kernel: KernelOps = {
    kexecLoad: (...args) => timed(() => env.kernel.kexecLoad(...args)),
    kexecFileLoad: (...args) => timed(() => env.kernel.kexecFileLoad(...args)),
    rebootIntoKexec: (ctx) => env.kernel.rebootIntoKexec(ctx),
    sync: () => env.kernel.sync(),
  };
  let error: unknown;
  try {
    for (const w of performLoad(record.request, { ...env, kernel }, { debug: opts.debug }).warnings) {
      env.err(`kexec-ts reload: warning: ${w}`);
    }
  } catch (e) {
    error = e;
  }
  const totalMs = performance.now() - t0;
  const loaded = readKexecInteger(env.sys, "crashLoaded");
  const entry: ReloadLogEntry = {
    time,
    outcome: error === undefined ? "ok" : "failed",
    totalMs,
    windowMs: firstCall === undefined ? 0 : (lastReturn ?? firstCall) - firstCall,
    syscall: record.syscall === "kexec_file_load" ? "kexec_file_load" : "kexec_load",
    loadedAfter: loaded === undefined ? undefined : loaded === 1n,
  };
  if (error !== undefined) entry.error = error instanceof Error ? error.message : String(error);
  return { entry, error };
}

const say = (env: RunEnv, text: string) => env.err(`kexec-ts reload: ${text}`);

/** What `reload` did: nothing, a dry run's outcome, or the reloads it performed. */
export interface ReloadReport {
  /** With `dryRun`: the load that would run. */
  dryRun?: LoadOutcome;
  /** The reloads this process performed (it may have left them to another process holding the lock). */
  performed: ReloadResult[];
}

/**
 * `kexec-ts reload` (see the module doc). Progress goes to `env.err`, a line per step.
 * @throws KexecError when there is no (usable) record, or the last reload this process performed failed
 */
export async function runReload(opts: ReloadOptions, env: RunEnv): Promise<ReloadReport> {
  const recordPath = crashRecordPath();
  const view = withRunDir(env.sys);
  const first = decideReload(view, recordPath);
  if (first.kind === "skip") {
    say(env, `${first.why}; nothing to reload`);
    return { performed: [] };
  }
  if (first.kind === "no-record") {
    throw new KexecError(
      "nothing-loaded",
      `no kexec-ts -p load recorded in ${recordPath}; load one with kexec-ts -p first`,
    );
  }
  if (first.kind === "bad-record") throw new KexecError("io", first.why);
  if (opts.dryRun) return { dryRun: performLoad(first.record.request, env, { dryRun: true }), performed: [] };

  const settleMs = reloadSettleMs();
  let last: ReloadResult | undefined;
  const performed: ReloadResult[] = [];
  let skipped: string | undefined;
  const outcome = await coalesce(fileCoalesceOps(runDir()), settleMs, () => {
    // The machine may have changed during the settle time: decide again.
    const now = decideReload(view, recordPath, last?.entry.outcome === "failed");
    if (now.kind !== "reload") {
      skipped = now.kind === "no-record" ? `the record ${recordPath} is gone (unloaded with kexec-ts -p -u)` : now.why;
      return Promise.resolve();
    }
    skipped = undefined;
    last = reloadOnce(now.record, opts, env);
    performed.push(last);
    const warning = appendReloadLog(last.entry);
    if (warning) say(env, `warning: ${warning}`);
    const e = last.entry;
    say(
      env,
      e.outcome === "ok"
        ? `reloaded the crash kernel (${e.syscall}, ${e.totalMs.toFixed(0)} ms, ` +
          `${e.windowMs.toFixed(1)} ms without a crash kernel)`
        : `reload failed after ${e.totalMs.toFixed(0)} ms`,
    );
    return Promise.resolve();
  });
  if (outcome.errors.length) throw outcome.errors[outcome.errors.length - 1];
  if (!outcome.holder) {
    say(env, `another kexec-ts reload holds ${runDir()}/reload.lock; it reloads again after this event`);
    return { performed };
  }
  if (last?.error !== undefined && skipped === undefined) throw last.error;
  if (!last) {
    say(env, skipped ? `${skipped}; nothing to reload` : "an earlier kexec-ts reload already covered this event");
  }
  return { performed };
}
