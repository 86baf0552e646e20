/**
 * `kexec-ts reload`: repeat the last successful `kexec-ts -p` load, so a crash kernel whose elfcorehdr the kernel
 * cannot update (kexec_load without KEXEC_UPDATE_ELFCOREHDR, or a kernel without CONFIG_CRASH_HOTPLUG) describes
 * the machine again after CPU or memory hotplug. The udev rule from `kexec-ts udev-rules` runs it on every event.
 *
 * One invocation:
 *  1. does nothing (exit 0, one line on stderr) when no crash kernel is loaded (`/sys/kernel/kexec_crash_loaded`
 *     is not 1) unless a reload of ours did not finish (`reload.inflight`, ./inflight.ts: the kernel had freed the
 *     crash kernel when the reload failed or was killed, so this event loads it again), or when the kernel updates
 *     the elfcorehdr itself (`crash_hotplug` of cpu or memory reads 1). When `crash_hotplug` reads 0 but the record
 *     says the image was loaded with hotplug support, it reads it again a few times (the kernel answers 0 when its
 *     kexec trylock fails, as in a storm of hotplug updates) and does not reload, saying why;
 *  2. fails (exit 1) when there is no record of a kexec-ts -p load for this boot (`runDir()/crash-load.json`);
 *  3. with `--dry-run`, prints the plan the reload would load and stops;
 *  4. otherwise joins the coalescing protocol of ./coalesce.ts: it marks a reload pending and either leaves
 *     (exit 0: the process holding `runDir()/reload.lock` will reload after it) or becomes the holder, which waits
 *     for the settle time, reloads, and repeats while events keep arriving. Each reload holds `load.lock`
 *     (./lock.ts), as `-p` and `-p -u` do, from reading the record and the machine again to writing the new
 *     record, so a manual load in between is respected and never interleaved. When the memory map or the CPUs
 *     changed while it reloaded (an event in its syscall window may have found no crash kernel and stopped), the
 *     holder goes again.
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
import { fsSystemView, readText, type SystemView } from "../system.ts";
import { hasKexecAttr, readKexecInteger } from "../crash/sysfs.ts";
import { CRASH_HOTPLUG_NODES, readFlag } from "../crash/hotplug.ts";
import { type CrashLoadRecord, crashRecordPath, readCrashRecord, runDir } from "./record.ts";
import { INFLIGHT_FILE, markReloadInflight, readReloadInflight } from "./inflight.ts";
import { sleepSync, takeLoadLock } from "./lock.ts";
import { coalesce, type CoalesceOps, fileCoalesceOps, reloadSettleMs } from "./coalesce.ts";
import { appendReloadLog, type ReloadLogEntry } from "./reload_log.ts";

/** What a reload should do now. */
export type ReloadDecision =
  | { kind: "skip"; why: string }
  | { kind: "no-record"; path: string }
  | { kind: "bad-record"; why: string }
  | { kind: "reload"; record: CrashLoadRecord; retry?: string };

/** How often, and how far apart, a `crash_hotplug` of 0 is read again when the record says it should be 1. */
export const HOTPLUG_REREADS = 5;
export const HOTPLUG_REREAD_MS = 100;

/** Whether the cpu or memory `crash_hotplug` node reads 1 (the kernel updates the elfcorehdr itself), and which. */
function inPlaceNode(sys: SystemView): "memory" | "cpu" | undefined {
  if (readFlag(sys, CRASH_HOTPLUG_NODES.memory) === 1) return "memory";
  if (readFlag(sys, CRASH_HOTPLUG_NODES.cpu) === 1) return "cpu";
  return undefined;
}

/**
 * Decides from the machine and the record whether to reload. `assumeLoaded` skips the "nothing loaded" check
 * (after a failed reload of our own, which leaves no crash kernel, the next event must retry; across processes the
 * reload.inflight marker (./inflight.ts) says the same). `sleep` waits between re-reads of crash_hotplug.
 */
export function decideReload(
  sys: SystemView,
  recordPath: string,
  assumeLoaded = false,
  sleep: (ms: number) => void = sleepSync,
): ReloadDecision {
  // After a failed reload of our own the crash kernel is gone (crash_hotplug reads 0 with nothing loaded): load again.
  let retry: string | undefined = assumeLoaded
    ? "the previous reload failed and no crash kernel is loaded: loading it again"
    : undefined;
  if (!assumeLoaded) {
    const loaded = readKexecInteger(sys, "crashLoaded");
    if (loaded === undefined) {
      return { kind: "skip", why: "this kernel has no kexec support (no /sys/kernel/kexec_crash_loaded)" };
    }
    if (loaded !== 1n) {
      const inflight = readReloadInflight(sys, `${recordPath.slice(0, recordPath.lastIndexOf("/"))}/${INFLIGHT_FILE}`);
      if (inflight.kind === "none") {
        return { kind: "skip", why: "no crash kernel is loaded (/sys/kernel/kexec_crash_loaded is 0)" };
      }
      retry = inflight.kind === "ok"
        ? `a kexec-ts reload (pid ${inflight.inflight.pid}, started ${inflight.inflight.startedAt}) did not finish ` +
          "and no crash kernel is loaded: loading it again"
        : `a kexec-ts reload did not finish (${inflight.why}) and no crash kernel is loaded: loading it again`;
    }
  }
  if (retry === undefined) {
    const node = inPlaceNode(sys);
    if (node) {
      return {
        kind: "skip",
        why: `the kernel updates the crash kernel's elfcorehdr in place (crash_hotplug reads 1 for ${node})`,
      };
    }
  }
  const read = readCrashRecord(sys, recordPath);
  if (read.kind === "bad") return { kind: "bad-record", why: read.why };
  if (read.kind === "none") return { kind: "no-record", path: recordPath };
  const record = read.record;
  const hotplugImage = record.hotplug || record.syscall === "kexec_file_load";
  if (retry === undefined && hotplugImage && hasKexecAttr(sys, "crashElfcorehdrSize")) {
    // crash_check_hotplug_support() answers 0 when its kexec_trylock() fails: during a storm of hotplug updates (or
    // while another kexec operation runs) a udev rule can read 0 for an image that has hotplug support.
    for (let i = 0; i < HOTPLUG_REREADS; i++) {
      sleep(HOTPLUG_REREAD_MS);
      if (inPlaceNode(sys)) {
        return {
          kind: "skip",
          why: "the kernel updates the crash kernel's elfcorehdr in place (crash_hotplug read 0, then 1)",
        };
      }
    }
    return {
      kind: "skip",
      why: `crash_hotplug reads 0, but kexec-ts loaded this crash kernel (${record.loadedAt}) ` +
        (record.syscall === "kexec_file_load" ? "with kexec_file_load" : "with the crash hotplug flag") +
        ": the kernel answers 0 while another kexec operation holds its lock, and updates the elfcorehdr itself; " +
        "or another tool has loaded a crash kernel since, which kexec-ts does not replace; not reloading " +
        "(kexec-ts status tells the two apart once the storm is over)",
    };
  }
  return { kind: "reload", record, retry };
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
  /** The coalescing primitives; default: the files in the run directory (tests wrap them to stop at each step). */
  coalesceOps?: CoalesceOps;
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
    const loadOpts = { debug: opts.debug, lockHeld: true, note: (t: string) => env.err(`kexec-ts reload: note: ${t}`) };
    for (const w of performLoad(record.request, { ...env, kernel }, loadOpts).warnings) {
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
  // Under load.lock: a -p or -p -u in its syscall must not look like "nothing loaded" (../reload/lock.ts).
  const first = opts.dryRun ? decideReload(view, recordPath) : underLoadLock(() => decideReload(view, recordPath));
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
  const ops = opts.coalesceOps ?? fileCoalesceOps(runDir());
  const outcome = await coalesce(ops, settleMs, () => {
    underLoadLock(() => {
      // The machine may have changed during the settle time: decide again.
      const now = decideReload(view, recordPath, last?.entry.outcome === "failed");
      if (now.kind !== "reload") {
        skipped = now.kind === "no-record"
          ? `the record ${recordPath} is gone (unloaded with kexec-ts -p -u)`
          : now.why;
        return;
      }
      skipped = undefined;
      if (now.retry) say(env, now.retry);
      const warning = markReloadInflight(view);
      if (warning) say(env, `warning: ${warning}`);
      const before = machineFingerprint(view);
      last = reloadOnce(now.record, opts, env);
      performed.push(last);
      const logWarning = appendReloadLog(last.entry);
      if (logWarning) say(env, `warning: ${logWarning}`);
      const e = last.entry;
      say(
        env,
        e.outcome === "ok"
          ? `reloaded the crash kernel (${e.syscall}, ${e.totalMs.toFixed(0)} ms, ` +
            `${e.windowMs.toFixed(1)} ms without a crash kernel)`
          : `reload failed after ${e.totalMs.toFixed(0)} ms`,
      );
      // An event during the reload (its syscall window, when the udev rule sees no crash kernel and so does a
      // reload started meanwhile) may be in no pending mark: when the machine changed, go again.
      if (e.outcome === "ok" && machineFingerprint(view) !== before) {
        say(env, "the memory map or the CPUs changed during the reload; reloading again");
        ops.markPending();
      }
    });
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

/** Runs `fn` holding load.lock (../reload/lock.ts). */
function underLoadLock<T>(fn: () => T): T {
  const lock = takeLoadLock("reload");
  try {
    return fn();
  } finally {
    lock.release();
  }
}

/**
 * What the elfcorehdr describes, as text: the System RAM ranges of /proc/iomem and the possible and present CPUs.
 * Two equal fingerprints mean a reload in between had nothing new to describe.
 */
export function machineFingerprint(sys: SystemView): string {
  const ram = (readText(sys, "/proc/iomem") ?? "").split("\n").filter((l) => / : System RAM/.test(l));
  const cpus = ["possible", "present"].map((n) => readText(sys, `/sys/devices/system/cpu/${n}`)?.trim() ?? "?");
  return [...ram, ...cpus].join("\n");
}
