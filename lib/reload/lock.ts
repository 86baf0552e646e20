/**
 * `runDir()/load.lock`: held by every kexec-ts process while it changes the loaded crash kernel (a `-p` load, a
 * `-p -u` unload, and each reload of `kexec-ts reload`, from reading the record to writing the new one). So a manual
 * `-p` and a udev-started reload never interleave: the later one waits, then reads the record the earlier one
 * wrote; the only window without a crash kernel stays the syscall's own.
 *
 * It is not the coalescing lock (./coalesce.ts `reload.lock`): that one is held across the settle time, and an event
 * that finds it taken leaves its reload to the holder, which a `-p` is not.
 *
 * The holder writes `load.holder` (JSON: pid, what, since) beside it for the message a waiter prints; the file is
 * read back field by field and ignored when malformed. The lock is flock(2): it dies with its process, so a killed
 * holder never leaves it taken.
 *
 * @module
 */

import { fail } from "../errors.ts";
import { closeFd, openLockFile, tryLockExclusive } from "../../ffi/libc.ts";
import { runDir } from "./record.ts";

/** The lock file's name in the run directory. */
export const LOAD_LOCK_FILE = "load.lock";
/** Who holds it, for waiters' messages. */
export const LOAD_HOLDER_FILE = "load.holder";
/** How long a load waits for the lock by default: a reload holds it for one load (about a second; 2-4 s under TCG). */
export const LOAD_LOCK_WAIT_MS = 30_000;

/** A taken lock (or, when the lock file could not be opened, a warning and nothing to release). */
export interface LoadLock {
  release(): void;
  /** Set when the lock could not be taken at all and the caller goes on without it. */
  warning?: string;
}

/** Who holds the lock, as the holder file says. */
export interface LoadLockHolder {
  pid: number;
  /** `-p`, `-p -u`, `reload`. */
  what: string;
  /** ISO time the holder took it. */
  since: string;
}

/** Blocks the thread for `ms` milliseconds. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A holder file's text, every field checked; undefined when malformed. */
export function parseLoadHolder(text: string): LoadLockHolder | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) return undefined;
  if (typeof o.pid !== "number" || !Number.isInteger(o.pid) || o.pid <= 0) return undefined;
  if (typeof o.what !== "string" || o.what.length > 40 || /[\n\r]/.test(o.what)) return undefined;
  if (typeof o.since !== "string" || Number.isNaN(Date.parse(o.since))) return undefined;
  return { pid: o.pid, what: o.what, since: o.since };
}

/** The holder file of `dir`; undefined when absent or malformed. */
export function readLoadHolder(dir = runDir()): LoadLockHolder | undefined {
  try {
    return parseLoadHolder(Deno.readTextFileSync(`${dir}/${LOAD_HOLDER_FILE}`));
  } catch {
    return undefined;
  }
}

/**
 * Takes `dir/load.lock`, waiting up to `waitMs`.
 * @param what names this holder (`-p`, `-p -u`, `reload`) for other waiters' messages
 * @throws KexecError("io") when another process holds it longer than `waitMs` (nothing was changed)
 */
export function takeLoadLock(what: string, waitMs = LOAD_LOCK_WAIT_MS, dir = runDir()): LoadLock {
  const path = `${dir}/${LOAD_LOCK_FILE}`;
  let fd = -1;
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
    fd = openLockFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) return { release: () => {} };
    return { release: () => {}, warning: `cannot create ${dir} (${(e as Error).message})` + WITHOUT_LOCK };
  }
  // EACCES: not root (the lock lives in root's run directory); the kernel refuses such a caller's load anyway.
  if (fd === -EACCES) return { release: () => {} };
  if (fd < 0) return { release: () => {}, warning: `cannot open ${path} (errno ${-fd})` + WITHOUT_LOCK };
  const deadline = performance.now() + waitMs;
  while (!tryLockExclusive(fd)) {
    if (performance.now() >= deadline) {
      closeFd(fd);
      const h = readLoadHolder(dir);
      const holder = h ? `kexec-ts ${h.what} (pid ${h.pid}, since ${h.since})` : "another kexec-ts";
      fail(
        "io",
        `${holder} has held ${path} for more than ${Math.round(waitMs / 1000)} s while changing the crash kernel; ` +
          "nothing was loaded or unloaded: try again",
      );
    }
    sleepSync(20);
  }
  const holderPath = `${dir}/${LOAD_HOLDER_FILE}`;
  try {
    Deno.writeTextFileSync(holderPath, JSON.stringify({ pid: Deno.pid, what, since: new Date().toISOString() }));
  } catch { /* only for messages */ }
  return {
    release() {
      try {
        Deno.removeSync(holderPath);
      } catch { /* gone already */ }
      closeFd(fd);
    },
  };
}

const WITHOUT_LOCK = "; went on without serialising against kexec-ts reload";
const EACCES = 13;
