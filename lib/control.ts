/**
 * The kexec operations that are not loads: unload (`-u`, `-p -u`) and execute (`-e`).
 *
 * @module
 */

import { KexecError } from "./errors.ts";
import { Errno } from "../ffi/errno.ts";
import { readInteger } from "./system.ts";
import { KEXEC_FILE_ON_CRASH, KEXEC_FILE_UNLOAD, KEXEC_ON_CRASH } from "./abi.ts";
import { currentArch } from "./arch/mod.ts";
import { crashStateAfterFailure, errnoContext, type RunEnv } from "./runtime.ts";
import { removeCrashRecord } from "./reload/record.ts";
import { takeLoadLock } from "./reload/lock.ts";
import { clearReloadInflight } from "./reload/inflight.ts";

/**
 * Unloads the crash image (`crash`) or the normal one: kexec_load with no segments, or KEXEC_FILE_UNLOAD when
 * `fileSyscall` (-s). Either unloads an image however it was loaded. kexec_load is refused under lockdown and by
 * IMA even for an unload, and kexec_file_load's unload is not, so on EPERM/EACCES the unload is retried through
 * kexec_file_load (kexec-tools unloads through kexec_file_load first by default); the first error is reported if
 * that fails too. A crash unload removes kexec-ts' crash-load record.
 * @throws KexecError (KernelCallError) when the kernel refuses
 */
export function unloadImage(env: RunEnv, crash: boolean, fileSyscall: boolean, lockWaitMs?: number): void {
  if (!crash) return unload(env, false, fileSyscall);
  // A crash unload and a kexec-ts reload must not interleave (the reload would load the record back).
  const lock = takeLoadLock("-p -u", lockWaitMs);
  if (lock.warning) env.err(`kexec-ts: warning: ${lock.warning}`);
  try {
    unload(env, true, fileSyscall);
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    if (e instanceof KexecError) {
      throw new KexecError(e.code, e.message + crashStateAfterFailure(env.sys, "unload", errno));
    }
    throw e;
  } finally {
    lock.release();
  }
}

function unload(env: RunEnv, crash: boolean, fileSyscall: boolean): void {
  const ctx = errnoContext(env, crash);
  const fileUnload = () =>
    env.kernel.kexecFileLoad(undefined, undefined, "", KEXEC_FILE_UNLOAD | (crash ? KEXEC_FILE_ON_CRASH : 0n), ctx);
  if (fileSyscall) {
    fileUnload();
  } else {
    try {
      env.kernel.kexecLoad(0n, [], currentArch().kexecArch | (crash ? KEXEC_ON_CRASH : 0n), ctx);
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      if (errno !== Errno.EPERM && errno !== Errno.EACCES) throw e;
      try {
        fileUnload();
      } catch {
        throw e;
      }
    }
  }
  if (crash) {
    removeCrashRecord();
    clearReloadInflight();
  }
}

/**
 * `-e`: sync (when `sync`), then reboot into the loaded kernel. Returns only by throwing.
 * @throws KexecError("nothing-loaded") when no kernel is loaded; KexecError("unsupported") without kexec support
 */
export function execLoaded(env: RunEnv, sync: boolean): void {
  const loaded = readInteger(env.sys, "/sys/kernel/kexec_loaded");
  if (loaded === undefined) {
    throw new KexecError(
      "unsupported",
      "this kernel has no kexec support (no /sys/kernel/kexec_loaded): nothing to execute",
    );
  }
  if (loaded !== 1n) {
    throw new KexecError(
      "nothing-loaded",
      "no kernel is loaded for kexec -e (/sys/kernel/kexec_loaded is 0); load one first with kexec-ts -l KERNEL",
    );
  }
  if (sync) env.kernel.sync();
  try {
    env.kernel.rebootIntoKexec(errnoContext(env, false));
  } catch (e) {
    if (e instanceof KexecError && "errno" in e && e.errno === Errno.EINVAL) {
      throw new KexecError(
        "nothing-loaded",
        "the kernel has no image to execute (EINVAL); load one with kexec-ts -l KERNEL",
      );
    }
    throw e;
  }
}
