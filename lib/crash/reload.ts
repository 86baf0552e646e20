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
 * Each reload parses the recorded argv (paths already absolute) and runs the ordinary load path, performLoad,
 * with the kernel calls timed; it appends a line to `runDir()/reload.log` (see ./reload_log.ts). The exit status
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

import { fail, KexecError } from "../errors.ts";
import { type Invocation, parseInvocation } from "../cli/args.ts";
import type { KernelOps, RunEnv } from "../cli/run.ts";
import { performLoad } from "../load.ts";
import { fsSystemView, readInteger, type SystemView } from "../system.ts";
import { CRASH_HOTPLUG_NODES, readFlag } from "./hotplug.ts";
import { type CrashLoadRecord, crashRecordPath, readCrashRecord, runDir } from "./record.ts";
import { coalesce, fileCoalesceOps, reloadSettleMs } from "./coalesce.ts";
import { appendReloadLog, type ReloadLogEntry } from "./reload_log.ts";

/** What a reload should do now. */
export type ReloadDecision =
  | { kind: "skip"; why: string }
  | { kind: "no-record"; path: string }
  | { kind: "reload"; record: CrashLoadRecord };

/**
 * Decides from the machine and the record whether to reload. `assumeLoaded` skips the "nothing loaded" check
 * (after a failed reload of our own, which leaves no crash kernel, the next event must retry).
 */
export function decideReload(sys: SystemView, recordPath: string, assumeLoaded = false): ReloadDecision {
  if (!assumeLoaded) {
    const loaded = readInteger(sys, "/sys/kernel/kexec_crash_loaded");
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
  const record = readCrashRecord(sys, recordPath);
  return record ? { kind: "reload", record } : { kind: "no-record", path: recordPath };
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

/** The load invocation a record stands for, with the reload's own -d / --dry-run / --json. */
export function invocationFromRecord(record: CrashLoadRecord, inv: Invocation): Invocation {
  let again: Invocation;
  try {
    again = parseInvocation(record.argv);
  } catch (e) {
    throw new KexecError(
      "io",
      `the recorded load (${record.argv.join(" ")}) no longer parses: ${
        (e as Error).message
      }; load again with kexec-ts -p`,
    );
  }
  if (again.action.kind !== "load" || !again.action.crash || !again.load) {
    fail("io", `the recorded load (${record.argv.join(" ")}) is not a -p load; load again with kexec-ts -p`);
  }
  return { ...again, dryRun: inv.dryRun, json: inv.json, debug: inv.debug || again.debug };
}

/** A performed reload: the log entry and, when it failed, the error to report. */
export interface ReloadResult {
  entry: ReloadLogEntry;
  error?: unknown;
}

/**
 * Performs one reload of `record` through performLoad, timing the whole of it and the kernel calls.
 * Never throws: a failure is in the result.
 */
export async function reloadOnce(record: CrashLoadRecord, inv: Invocation, env: RunEnv): Promise<ReloadResult> {
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
    await performLoad(invocationFromRecord(record, inv), true, { ...env, kernel });
  } catch (e) {
    error = e;
  }
  const totalMs = performance.now() - t0;
  const loaded = readInteger(env.sys, "/sys/kernel/kexec_crash_loaded");
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

/**
 * `kexec-ts reload` (see the module doc).
 * @returns 0 when the crash kernel was reloaded or there was nothing to do
 * @throws KexecError when there is no record, or the last reload this process performed failed
 */
export async function runReload(inv: Invocation, env: RunEnv): Promise<number> {
  const recordPath = crashRecordPath();
  const view = withRunDir(env.sys);
  const first = decideReload(view, recordPath);
  if (first.kind === "skip") {
    say(env, `${first.why}; nothing to reload`);
    return 0;
  }
  if (first.kind === "no-record") {
    throw new KexecError(
      "nothing-loaded",
      `no kexec-ts -p load recorded in ${recordPath}; load one with kexec-ts -p first`,
    );
  }
  if (inv.dryRun) {
    await performLoad(invocationFromRecord(first.record, inv), true, env);
    return 0;
  }

  const settleMs = reloadSettleMs();
  let last: ReloadResult | undefined;
  let skipped: string | undefined;
  const outcome = await coalesce(fileCoalesceOps(runDir()), settleMs, async () => {
    // The machine may have changed during the settle time: decide again.
    const now = decideReload(view, recordPath, last?.entry.outcome === "failed");
    if (now.kind !== "reload") {
      skipped = now.kind === "skip" ? now.why : `the record ${recordPath} is gone (unloaded with kexec-ts -p -u)`;
      return;
    }
    skipped = undefined;
    last = await reloadOnce(now.record, inv, env);
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
  });
  if (outcome.errors.length) throw outcome.errors[outcome.errors.length - 1];
  if (!outcome.holder) {
    say(env, `another kexec-ts reload holds ${runDir()}/reload.lock; it reloads again after this event`);
    return 0;
  }
  if (last?.error !== undefined && skipped === undefined) throw last.error;
  if (!last) {
    say(env, skipped ? `${skipped}; nothing to reload` : "an earlier kexec-ts reload already covered this event");
  }
  return 0;
}
