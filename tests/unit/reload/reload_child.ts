/**
 * A `kexec-ts reload` process for the fault tests (./faults_test.ts): the real runReload, with a fake kernel whose
 * state lives in files (so that it survives this process being killed), the saved crash256m machine, and a pause
 * point at one step of its work, where it stops (writes STATE/paused and sleeps) for the test to SIGKILL it.
 *
 * Usage: deno run --allow-all reload_child.ts STATE_DIR [PAUSE_AT]
 * Environment: KEXEC_TS_RUN_DIR (the run directory), KEXEC_TS_RELOAD_SETTLE_MS.
 * STATE_DIR/loaded is /sys/kernel/kexec_crash_loaded; STATE_DIR/calls gets "start <ms>" and "end <ms>" per syscall.
 *
 * @module
 */

import { runReload } from "../../../lib/reload/reload.ts";
import { fileCoalesceOps } from "../../../lib/reload/coalesce.ts";
import { runDir } from "../../../lib/reload/record.ts";
import type { KernelOps, RunEnv } from "../../../lib/runtime.ts";
import { fsSystemView, type SystemView } from "../../../lib/system.ts";
import { sleepSync } from "../../../lib/reload/lock.ts";

/** Where the child can be stopped. */
export const PAUSE_POINTS = [
  "marked", // after marking the reload pending, before trying the coalescing lock
  "locked", // holding the coalescing lock, before the settle time
  "settling", // in the settle time
  "cleared", // after clearing the pending mark, before deciding
  "syscall", // inside kexec_load: the kernel has freed the old crash kernel
  "after-syscall", // kexec_load returned, the record is not written yet
  "after-record", // the record is written, the reload log not yet
  "after-log", // the log is written, the coalescing lock not yet released
] as const;
export type PausePoint = typeof PAUSE_POINTS[number];

const FIXTURE = new URL("../../fixtures/machines/qemu-q35-2g-crash256m", import.meta.url).pathname;

function pause(state: string, at: string, where: PausePoint): void {
  if (at !== where) return;
  // Atomically: the test reads the file as soon as it exists.
  Deno.writeTextFileSync(`${state}/paused.tmp`, where);
  Deno.renameSync(`${state}/paused.tmp`, `${state}/paused`);
  for (;;) sleepSync(1000);
}

if (import.meta.main) {
  const [state, at = ""] = Deno.args;
  let called = false;
  let logAppended = false;
  const base = fsSystemView(FIXTURE);
  const sys: SystemView = {
    origin: base.origin,
    read(path, maxBytes) {
      if (path === "/sys/kernel/kexec_crash_loaded") {
        if (called) pause(state, at, "after-record"); // reloadOnce reads it after performLoad wrote the record
        return { kind: "ok", bytes: Deno.readFileSync(`${state}/loaded`) };
      }
      if (path === "/proc/sys/kernel/random/boot_id" && called) pause(state, at, "after-syscall");
      if (path.endsWith("/crash_hotplug")) return { kind: "ok", bytes: new TextEncoder().encode("0\n") };
      return base.read(path, maxBytes);
    },
    list: (path) => base.list(path),
  };
  const kernel: KernelOps = {
    kexecLoad() {
      Deno.writeTextFileSync(`${state}/loaded`, "0\n");
      Deno.writeTextFileSync(`${state}/calls`, `start ${Date.now()}\n`, { append: true });
      pause(state, at, "syscall");
      sleepSync(20);
      Deno.writeTextFileSync(`${state}/calls`, `end ${Date.now()}\n`, { append: true });
      Deno.writeTextFileSync(`${state}/loaded`, "1\n");
      called = true;
    },
    kexecFileLoad() {
      throw new Error("not used");
    },
    rebootIntoKexec() {
      throw new Error("not used");
    },
    sync() {},
  };
  const real = fileCoalesceOps(runDir());
  let cleared = false;
  const ops = {
    ...real,
    markPending() {
      real.markPending();
      if (!cleared) pause(state, at, "marked");
    },
    tryLock() {
      const got = real.tryLock();
      if (got) pause(state, at, "locked");
      return got;
    },
    async sleep(ms: number) {
      pause(state, at, "settling");
      await real.sleep(ms);
    },
    takePending() {
      const had = real.takePending();
      cleared = true;
      pause(state, at, "cleared");
      return had;
    },
    hasPending() {
      if (called && !logAppended) {
        logAppended = true;
        pause(state, at, "after-log");
      }
      return real.hasPending();
    },
  };
  const env: RunEnv = {
    sys,
    kernel,
    out: () => {},
    err: (t) => console.error(t),
    shutdown: () => {},
    uid: 0,
  };
  try {
    const report = await runReload({ coalesceOps: ops }, env);
    console.log(JSON.stringify({ performed: report.performed.map((p) => p.entry.outcome) }));
  } catch (e) {
    console.error(`failed: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
