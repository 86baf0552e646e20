/**
 * Coalescing a burst of hotplug events into a few crash-kernel reloads.
 *
 * Hot-adding N GiB of memory onlines 8 memory blocks per GiB, and each block's `online` uevent runs
 * `kexec-ts reload`. Reloading once per event is what made RHEL7 spend minutes reloading (3840 reloads for
 * 32 → 512 GiB), and every reload is a window with no crash kernel. The protocol below turns a burst into one
 * reload after the burst (two when events keep arriving while a reload runs), and it never loses the last event:
 * some reload always starts after the last event's change to the machine.
 *
 * State: a pending marker file and a lock file in one directory (`runDir()`: `reload.pending`, `reload.lock`).
 * Every event (one `kexec-ts reload` process, or the udev rule's shell, which does steps 1 and 2 with flock(1)):
 *
 *  1. marks pending (creates `reload.pending`);
 *  2. tries to take the lock without waiting (`flock(LOCK_EX|LOCK_NB)`); if another process holds it, stops:
 *     that holder will see the mark;
 *  3. as the holder, while pending is marked: sleeps the settle time (events arriving meanwhile only mark and
 *     stop), clears the mark (unlinks the file), then reloads, reading the machine after the clear;
 *  4. releases the lock;
 *  5. if pending is marked again, goes back to 2.
 *
 * Why no event is lost. An event changes the machine before it marks. If its try-lock fails at time T, some holder
 * held the lock at T, and that holder's step 5 comes after its release, so after T and after the mark. At that
 * check the mark is either still there (the holder, or whoever beats it to the lock, reloads after clearing it)
 * or it was cleared after it was made, and every clear is followed by a reload that reads the machine after the
 * clear. An event whose try-lock succeeds is the holder and checks pending itself. A process that dies while
 * holding the lock releases it with its file descriptor; its mark stays for the next event.
 *
 * {@link coalesce} is the protocol over abstract operations (tests drive it with in-memory locks and fake
 * reloads); {@link fileCoalesceOps} gives the real ones.
 *
 * @module
 */

import { fail, KexecError } from "../errors.ts";
import { describeFsError } from "../files.ts";
import { closeFd, openLockFile, tryLockExclusive } from "../../ffi/libc.ts";

/** The primitives the protocol needs. Implementations must make markPending/takePending atomic. */
export interface CoalesceOps {
  /** Records that an event happened (idempotent). */
  markPending(): void;
  /** Clears the mark; true when it was set. */
  takePending(): boolean;
  /** Whether the mark is set. */
  hasPending(): boolean;
  /** Takes the exclusive lock without waiting; false when another holder has it. */
  tryLock(): boolean;
  /** Releases the lock taken by {@link CoalesceOps.tryLock}. */
  unlock(): void;
  /** Waits `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

/** What one participant did. */
export interface CoalesceOutcome<T> {
  /** Whether this participant held the lock at least once. */
  holder: boolean;
  /** The value of each reload this participant ran, in order. */
  results: T[];
  /** Exceptions thrown by reloads (the protocol goes on after them, so no event is lost). */
  errors: unknown[];
}

/**
 * Runs the coalescing protocol for one event (see the module doc). `reload` runs only in the holder, after
 * `settleMs` of quiet, with the pending mark cleared just before it; it should report failures in its result
 * rather than throw, but a throw is caught and collected in `errors`.
 */
export async function coalesce<T>(
  ops: CoalesceOps,
  settleMs: number,
  reload: () => Promise<T>,
): Promise<CoalesceOutcome<T>> {
  const outcome: CoalesceOutcome<T> = { holder: false, results: [], errors: [] };
  ops.markPending();
  while (ops.tryLock()) {
    outcome.holder = true;
    try {
      while (ops.hasPending()) {
        await ops.sleep(settleMs);
        ops.takePending();
        try {
          outcome.results.push(await reload());
        } catch (e) {
          outcome.errors.push(e);
        }
      }
    } finally {
      ops.unlock();
    }
    // The release race: an event that marked while we held the lock and found it taken relies on this check.
    if (!ops.hasPending()) break;
  }
  return outcome;
}

/** Default settle time: events closer together than this share one reload. */
export const DEFAULT_SETTLE_MS = 1000;

/** The settle time from `KEXEC_TS_RELOAD_SETTLE_MS`, or {@link DEFAULT_SETTLE_MS}. */
export function reloadSettleMs(): number {
  const text = Deno.env.get("KEXEC_TS_RELOAD_SETTLE_MS");
  if (text === undefined || text === "") return DEFAULT_SETTLE_MS;
  if (!/^[0-9]{1,7}$/.test(text.trim())) {
    fail("usage", `KEXEC_TS_RELOAD_SETTLE_MS="${text}" is not a whole number of milliseconds`);
  }
  return Number(text.trim());
}

/** Names of the protocol's files inside the run directory. */
export const PENDING_FILE = "reload.pending";
export const LOCK_FILE = "reload.lock";

/**
 * Whether the pending mark exists. Only kexec-ts and the udev rule make it, as an empty regular file; anything else
 * there (a directory, a link) is reported with the fix rather than half-used.
 * @throws KexecError("io")
 */
function present(path: string): boolean {
  try {
    const st = Deno.lstatSync(path);
    if (!st.isFile) fail("io", `${path} is not a regular file; remove it (it marks a reload pending)`);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    if (e instanceof KexecError) throw e;
    return fail("io", `cannot read the pending mark ${path} (${describeFsError(e)})`);
  }
}

/**
 * The real primitives over `dir` (created if missing): `dir/reload.pending` as the mark, flock(2) on
 * `dir/reload.lock` as the lock, setTimeout for sleeping. Needs FFI for flock.
 * @throws KexecError("io") when the directory or the lock file cannot be created
 */
export function fileCoalesceOps(dir: string): CoalesceOps {
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    fail("io", `cannot create ${dir}: ${(e as Error).message}`);
  }
  const pending = `${dir}/${PENDING_FILE}`;
  const lock = `${dir}/${LOCK_FILE}`;
  let fd = -1;
  return {
    markPending() {
      try {
        Deno.writeFileSync(pending, new Uint8Array(), { append: true, create: true, mode: 0o644 });
      } catch (e) {
        fail("io", `cannot mark a reload pending in ${pending}: ${(e as Error).message}`);
      }
    },
    takePending() {
      if (!present(pending)) return false;
      try {
        Deno.removeSync(pending);
        return true;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return false;
        return fail("io", `cannot clear the pending mark ${pending} (${describeFsError(e)}); remove it`);
      }
    },
    hasPending: () => present(pending),
    tryLock() {
      const f = openLockFile(lock);
      if (f < 0) fail("io", `cannot open the reload lock ${lock} (errno ${-f})`);
      if (tryLockExclusive(f)) {
        fd = f;
        return true;
      }
      closeFd(f);
      return false;
    },
    unlock() {
      if (fd >= 0) closeFd(fd);
      fd = -1;
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}
