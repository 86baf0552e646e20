/**
 * Carries out an {@link Invocation}: the only module that sequences reads, plans, checks and kernel calls.
 * Kernel calls go through {@link KernelOps} (the real one wraps ffi/), so the order "plan, validate, then call"
 * is visible in one place.
 *
 * @module
 */

import { KexecError } from "../errors.ts";
import { KEXEC_ARCH_X86_64, KEXEC_FILE_ON_CRASH, KEXEC_FILE_UNLOAD, KEXEC_ON_CRASH } from "../abi.ts";
import { Errno, type ErrnoContext } from "../../ffi/errno.ts";
import type { SyscallSegment } from "../../ffi/kexec.ts";
import { readInteger, readLockdown, type SystemView } from "../system.ts";
import { removeCrashRecord } from "../crash/record.ts";
import { USAGE, VERSION } from "./usage.ts";
import type { Invocation } from "./args.ts";
// The planners, status and the udev machinery are imported when a command needs them, so that the commands
// scripts call often (-S, -u, -e) start without loading them (node:crypto's polyfill alone is most of that).

/** The kernel calls a run may make. */
export interface KernelOps {
  kexecLoad(
    entry: bigint,
    segments: readonly SyscallSegment[],
    flags: bigint,
    ctx: ErrnoContext,
    trace?: (text: string) => void,
  ): void;
  kexecFileLoad(
    kernel: string | undefined,
    initrd: string | undefined,
    cmdline: string,
    flags: bigint,
    ctx: ErrnoContext,
  ): void;
  rebootIntoKexec(ctx: ErrnoContext): never;
  sync(): void;
}

/** Where a run writes and what it runs against. */
export interface RunEnv {
  sys: SystemView;
  kernel: KernelOps;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Runs `shutdown -r now` (kexec-tools' behaviour with no mode option). */
  shutdown: () => void;
  /** Effective uid (errno explanations). */
  uid: number;
}

/** The facts errno explanations need, read through the SystemView. */
export function errnoContext(env: RunEnv, crash: boolean): ErrnoContext {
  return {
    uid: env.uid,
    crash,
    lockdown: readLockdown(env.sys),
    kexecLoadDisabled: readInteger(env.sys, "/proc/sys/kernel/kexec_load_disabled") === 1n,
    loadLimit: readInteger(env.sys, `/proc/sys/kernel/kexec_load_limit_${crash ? "panic" : "reboot"}`),
  };
}

function dryRunReachedKernel(): never {
  throw new KexecError("usage", "--dry-run reached a kernel call; nothing was done (please report this)");
}

/** The kernel under --dry-run (and so under --system-root): every call is refused. */
const DRY_RUN_KERNEL: KernelOps = {
  kexecLoad: dryRunReachedKernel,
  kexecFileLoad: dryRunReachedKernel,
  rebootIntoKexec: dryRunReachedKernel,
  sync: dryRunReachedKernel,
};

/**
 * Runs the invocation; returns the exit status.
 * @throws KexecError for every failure the user should see
 */
export async function run(inv: Invocation, env: RunEnv): Promise<number> {
  for (const w of inv.warnings) env.err(`kexec-ts: warning: ${w}`);
  const a = inv.action;
  const touchesKernel = a.kind === "load" || a.kind === "unload" || a.kind === "exec" || a.kind === "reload";
  if (inv.systemRoot !== undefined && touchesKernel && !inv.dryRun) {
    // A plan made against a saved snapshot must never be loaded into the running kernel.
    throw new KexecError("usage", "--system-root plans against a saved snapshot: add --dry-run (or use kexec-ts plan)");
  }
  if (inv.dryRun && (a.kind === "unload" || a.kind === "exec")) {
    throw new KexecError(
      "usage",
      `--dry-run prints load plans; ${a.kind === "exec" ? "-e" : "-u"} has none: drop --dry-run`,
    );
  }
  // A dry run, or a plan against a snapshot, never reaches the kernel, whatever path a command takes.
  if (inv.dryRun) env = { ...env, kernel: DRY_RUN_KERNEL };
  switch (a.kind) {
    case "help":
      env.out(USAGE);
      return 0;
    case "version":
      env.out(`kexec-ts ${VERSION}\n`);
      return 0;
    case "status": {
      const { gatherStatus } = await import("../status.ts");
      const { renderStatus, toJson } = await import("./output.ts");
      const s = gatherStatus(env.sys);
      env.out(inv.json ? toJson(s) + "\n" : renderStatus(s));
      return 0;
    }
    case "status-exit": {
      // kexec-tools -S: the exit status is the value read, 1 when the image (crash by default, normal with -l) is
      // loaded, 0 when not, 255 when the file cannot be read.
      const v = readInteger(env.sys, a.crash ? "/sys/kernel/kexec_crash_loaded" : "/sys/kernel/kexec_loaded");
      return v === undefined ? 255 : v === 1n ? 1 : 0;
    }
    case "print-crash-size": {
      env.out(`${readInteger(env.sys, "/sys/kernel/kexec_crash_size") ?? 0n}\n`);
      return 0;
    }
    case "unload":
      unload(inv, env, a.crash);
      return 0;
    case "exec":
      execLoaded(inv, env);
      return 0;
    case "load": {
      const { performLoad } = await import("../load.ts");
      await performLoad(inv, a.crash, env, a.unloadFirst ? () => unload(inv, env, a.crash) : undefined);
      if (inv.dryRun) return 0;
      if (a.then === "exec") execLoaded(inv, env);
      if (a.then === "shutdown") env.shutdown();
      return 0;
    }
    case "reload": {
      const { runReload } = await import("../crash/reload.ts");
      return await runReload(inv, env);
    }
    case "udev-rules": {
      const { udevRulesCommand } = await import("../crash/udev.ts");
      return udevRulesCommand(a.install, env);
    }
  }
}

/**
 * `-u` / `-p -u`: kexec_load with no segments, or KEXEC_FILE_UNLOAD under -s. Either unloads an image however it
 * was loaded. kexec_load is refused under lockdown and by IMA even for an unload, and kexec_file_load's unload
 * is not, so on EPERM/EACCES the unload is retried through kexec_file_load (kexec-tools unloads through
 * kexec_file_load first by default); the first error is reported if that fails too.
 */
function unload(inv: Invocation, env: RunEnv, crash: boolean): void {
  const ctx = errnoContext(env, crash);
  const fileUnload = () =>
    env.kernel.kexecFileLoad(undefined, undefined, "", KEXEC_FILE_UNLOAD | (crash ? KEXEC_FILE_ON_CRASH : 0n), ctx);
  if (inv.syscall === "kexec_file_load") {
    fileUnload();
  } else {
    try {
      env.kernel.kexecLoad(0n, [], KEXEC_ARCH_X86_64 | (crash ? KEXEC_ON_CRASH : 0n), ctx);
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
  if (crash) removeCrashRecord();
}

/** `-e`: sync (unless -y), then reboot into the loaded kernel. */
function execLoaded(inv: Invocation, env: RunEnv): void {
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
  if (inv.sync) env.kernel.sync();
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
