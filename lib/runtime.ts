/**
 * The ports a run goes through, below the CLI: {@link KernelOps} (the kernel calls), {@link RunEnv} (the machine,
 * the kernel, where messages go, shutdown), the facts errno explanations need, the dry-run kernel that refuses
 * every call, and the real implementations. The CLI, the load path, reload and the public API all import this
 * module; it imports neither of them.
 *
 * @module
 */

import { KexecError } from "./errors.ts";
import { fsSystemView, readInteger, readLockdown, type SystemView } from "./system.ts";
import { readKexecInteger } from "./crash/sysfs.ts";
import { Errno, type ErrnoContext, explainErrno } from "../ffi/errno.ts";
import {
  type FileInput,
  kexecFileLoad,
  kexecLoad,
  type MemoryFile,
  rebootIntoKexec,
  type SyscallSegment,
} from "../ffi/kexec.ts";
import { syncFilesystems } from "../ffi/libc.ts";

export type { ErrnoContext, FileInput, MemoryFile, SyscallSegment };

/** The kernel calls a run may make. Each throws a KexecError (a KernelCallError carrying errno) on failure. */
export interface KernelOps {
  /** kexec_load(entry, segments, flags); no segments = unload. `trace` gets kexec-tools' `-d` dump first. */
  kexecLoad(
    entry: bigint,
    segments: readonly SyscallSegment[],
    flags: bigint,
    ctx: ErrnoContext,
    trace?: (text: string) => void,
  ): void;
  /**
   * kexec_file_load on descriptors already open and checked (lib/files.ts' InputFile), or on memfds of in-memory
   * contents (undefined kernel + KEXEC_FILE_UNLOAD unloads).
   */
  kexecFileLoad(
    kernel: FileInput | undefined,
    initrd: FileInput | undefined,
    cmdline: string,
    flags: bigint,
    ctx: ErrnoContext,
  ): void;
  /** reboot(LINUX_REBOOT_CMD_KEXEC): returns only by throwing. */
  rebootIntoKexec(ctx: ErrnoContext): never;
  sync(): void;
}

/** Where a run reads the machine, calls the kernel and writes its messages. */
export interface RunEnv {
  sys: SystemView;
  kernel: KernelOps;
  /** Standard output (renderings the user asked for). */
  out: (text: string) => void;
  /** Standard output for bytes that are not text (vmcore-dmesg's log); absent: `out` with each byte as a char. */
  outBytes?: (bytes: Uint8Array) => void;
  /** Diagnostics (warnings, progress of `reload`, `-d` dumps); a line at a time. */
  err: (text: string) => void;
  /** Runs `shutdown -r now` (kexec-tools' behaviour with no mode option). */
  shutdown: () => void;
  /** Effective uid (errno explanations). */
  uid: number;
}

/** The facts errno explanations need, read through the SystemView. */
export function errnoContext(env: Pick<RunEnv, "sys" | "uid">, crash: boolean): ErrnoContext {
  return {
    uid: env.uid,
    crash,
    lockdown: readLockdown(env.sys),
    kexecLoadDisabled: readInteger(env.sys, "/proc/sys/kernel/kexec_load_disabled") === 1n,
    loadLimit: readInteger(env.sys, `/proc/sys/kernel/kexec_load_limit_${crash ? "panic" : "reboot"}`),
  };
}

/**
 * After a failed crash load or unload: whether a crash kernel is loaded now, in words, from
 * /sys/kernel/kexec_crash_loaded; when that is unreadable, from where the kernel returns `errno` (EBUSY, and
 * kexec_load's EPERM and EACCES, come before it frees the loaded crash kernel), or, for `op` "precheck", from
 * kexec-ts having refused before any syscall.
 */
export function crashStateAfterFailure(sys: SystemView, op?: string, errno?: number): string {
  const loaded = readKexecInteger(sys, "crashLoaded");
  if (loaded === 1n) return " (the previously loaded crash kernel is still loaded)";
  if (loaded === 0n) return " (no crash kernel is loaded now)";
  if (op === "precheck") return " (refused before any syscall: a loaded crash kernel is untouched)";
  const before = errno === Errno.EBUSY ||
    (op !== "kexec_file_load" && (errno === Errno.EPERM || errno === Errno.EACCES));
  return before
    ? " (the kernel refused before touching the loaded crash kernel)"
    : " (whether a crash kernel is still loaded is unknown: /sys/kernel/kexec_crash_loaded is unreadable)";
}

/**
 * What the kernel refuses with EPERM before it touches anything, known from sysctls and securityfs: kexec-ts refuses
 * it itself, so that the attempt does not spend one of the kexec_load_limit_* loads. Undefined when none applies.
 */
export function permissionRefusal(op: "kexec_load" | "kexec_file_load", ctx: ErrnoContext): string | undefined {
  if (ctx.kexecLoadDisabled) {
    return "kexec is disabled (kernel.kexec_load_disabled=1, which cannot be undone until reboot)";
  }
  if (ctx.loadLimit === 0n) {
    return `kernel.kexec_load_limit_${ctx.crash ? "panic" : "reboot"} is 0, so this kernel allows no more loads ` +
      "of this type until reboot";
  }
  if (op === "kexec_load" && lockedDown(ctx)) return explainErrno("kexec_load", Errno.EPERM, ctx);
  return undefined;
}

/** Whether lockdown forbids kexec_load (integrity or confidentiality). */
export function lockedDown(ctx: ErrnoContext): boolean {
  return ctx.lockdown === "integrity" || ctx.lockdown === "confidentiality";
}

function dryRunReachedKernel(): never {
  throw new KexecError("usage", "--dry-run reached a kernel call; nothing was done (please report this)");
}

/** The kernel under --dry-run (and so under --system-root): every call is refused. */
export const DRY_RUN_KERNEL: KernelOps = {
  kexecLoad: dryRunReachedKernel,
  kexecFileLoad: dryRunReachedKernel,
  rebootIntoKexec: dryRunReachedKernel,
  sync: dryRunReachedKernel,
};

/** The kernel calls, through ffi/. */
export const REAL_KERNEL: KernelOps = { kexecLoad, kexecFileLoad, rebootIntoKexec, sync: syncFilesystems };

/**
 * kexec-tools' "no mode" ending: run `shutdown -r now` from /sbin, /etc or /bin, in that order.
 * @throws KexecError("io") when none runs; the kernel stays loaded
 */
export function runShutdown(): void {
  for (const cmd of ["/sbin/shutdown", "/etc/shutdown", "/bin/shutdown"]) {
    try {
      const r = new Deno.Command(cmd, { args: ["-r", "now"] }).outputSync();
      if (r.success) return;
      throw new KexecError(
        "io",
        `the kernel is loaded, but "${cmd} -r now" failed (exit ${r.code}); run kexec-ts -e to boot it`,
      );
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  throw new KexecError(
    "io",
    "the kernel is loaded, but there is no shutdown command to run; run kexec-ts -e to boot it",
  );
}

/** How a real environment is made. */
export interface RealEnvOptions {
  /** Read /proc and /sys under this directory (a saved snapshot); the kernel is then never called. */
  systemRoot?: string;
  out?: (text: string) => void;
  outBytes?: (bytes: Uint8Array) => void;
  err?: (text: string) => void;
}

/**
 * The environment of a real run against this machine, or against a saved snapshot (`systemRoot`, whose plans must
 * never reach the running kernel: its kernel ops are {@link DRY_RUN_KERNEL}).
 */
export function realEnv(opts: RealEnvOptions = {}): RunEnv {
  const snapshot = opts.systemRoot !== undefined && opts.systemRoot !== "/";
  return {
    sys: fsSystemView(opts.systemRoot ?? "/"),
    kernel: snapshot ? DRY_RUN_KERNEL : REAL_KERNEL,
    out: opts.out ?? (() => {}),
    outBytes: opts.outBytes,
    err: opts.err ?? (() => {}),
    shutdown: runShutdown,
    // Read when an errno needs explaining, so that plans and status run without --allow-sys.
    get uid() {
      return Deno.uid() ?? 0;
    },
  };
}
