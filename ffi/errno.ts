/**
 * errno → actionable message. Pure: the facts that tell the causes of EPERM apart (uid, lockdown,
 * kexec_load_disabled, the load limits) are read by the caller through the SystemView and passed in.
 *
 * @module
 */

import { KexecError } from "../lib/errors.ts";

/** x86_64 errno values the kexec syscalls return. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENOEXEC: 8,
  EBADF: 9,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EINVAL: 22,
  ETXTBSY: 26,
  EFBIG: 27,
  ENOSYS: 38,
  ENODATA: 61,
  ENOPKG: 65,
  EBADMSG: 74,
  ELIBBAD: 80,
  EOPNOTSUPP: 95,
  EADDRNOTAVAIL: 99,
  ENOKEY: 126,
  EKEYREJECTED: 129,
} as const;

/** Symbolic name of an errno, e.g. `EPERM`, or `errno 123`. */
export function errnoName(errno: number): string {
  return Object.entries(Errno).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
}

/** Which operation failed. */
export type KexecOp = "kexec_load" | "kexec_file_load" | "unload" | "reboot";

/** What the caller knows about the machine when the call failed. */
export interface ErrnoContext {
  uid: number;
  crash: boolean;
  /** `none`, `integrity`, `confidentiality`, or undefined if unknown. */
  lockdown?: string;
  kexecLoadDisabled?: boolean;
  /** The relevant `kexec_load_limit_{panic,reboot}` value (-1 = unlimited). */
  loadLimit?: bigint;
}

/** The one-line explanation of `errno` for `op`. */
export function explainErrno(op: KexecOp, errno: number, ctx: ErrnoContext): string {
  const name = errnoName(errno);
  const call = op === "unload" ? "unloading" : op === "reboot" ? "reboot(LINUX_REBOOT_CMD_KEXEC)" : op;
  const limitName = ctx.crash ? "kernel.kexec_load_limit_panic" : "kernel.kexec_load_limit_reboot";
  switch (errno) {
    case Errno.EPERM:
      if (ctx.uid !== 0) return `${call} failed (EPERM): kexec needs root (CAP_SYS_BOOT); run it as root`;
      if (ctx.kexecLoadDisabled) {
        return `${call} failed (EPERM): kexec is disabled (kernel.kexec_load_disabled=1, which cannot be undone until reboot)`;
      }
      if (ctx.loadLimit === 0n && op !== "reboot") {
        return `${call} failed (EPERM): ${limitName} is 0, so this kernel allows no more loads of this type until reboot`;
      }
      if (op === "kexec_load" && (ctx.lockdown === "integrity" || ctx.lockdown === "confidentiality")) {
        return `kexec_load is blocked by lockdown (${ctx.lockdown}); use -s (kexec_file_load) with a signed kernel`;
      }
      if (op === "kexec_file_load" && (ctx.lockdown === "integrity" || ctx.lockdown === "confidentiality")) {
        return `kexec_file_load failed (EPERM): under lockdown (${ctx.lockdown}) the kernel image must carry a ` +
          "signature the kernel trusts; sign it, or boot without lockdown";
      }
      return `${call} failed (EPERM): this process lacks CAP_SYS_BOOT in the init user namespace (containers cannot kexec)`;
    case Errno.EACCES:
      return op === "kexec_file_load"
        ? "kexec_file_load failed (EACCES): a security policy (IMA appraisal, LoadPin, SELinux) refused the kernel or " +
          "initrd; the kernel log says which and why"
        : `${call} failed (EACCES): the kernel will not accept an image it cannot appraise (IMA policy or Secure Boot ` +
          `with KEXEC_SIG); use -s (kexec_file_load) with a signed kernel`;
    case Errno.ENOSYS:
      return op === "kexec_file_load"
        ? "kexec_file_load is not in this kernel (CONFIG_KEXEC_FILE off, ENOSYS); use -c (kexec_load)"
        : `${call} is not in this kernel (CONFIG_KEXEC off, ENOSYS)` +
          (op === "kexec_load" ? "; try -s (kexec_file_load)" : "");
    case Errno.EBUSY:
      return `${call} failed (EBUSY): another kexec load, unload or crash hotplug update holds the kexec lock; retry`;
    case Errno.EADDRNOTAVAIL:
      return `${call} failed (EADDRNOTAVAIL): a segment or the entry point is outside the memory the kernel allows` +
        (ctx.crash ? " (the main Crash kernel range)" : "") + "; run with -d to see the segments";
    case Errno.ENOMEM:
      return `${call} failed (ENOMEM): the kernel could not allocate its control and page-table pages` +
        (ctx.crash ? "; leave free space in the crash region or reserve more with crashkernel=" : "");
    case Errno.EINVAL:
      if (op === "unload") return "unloading failed (EINVAL): the kernel rejected the unload's flags";
      return `${call} failed (EINVAL): the kernel rejected the request (flags this kernel lacks, overlapping or ` +
        `oversized segments${op === "kexec_file_load" ? ", or an image it cannot parse" : ""}); run with -d to see it`;
    case Errno.ENOEXEC:
      return `${call} failed (ENOEXEC): the kernel cannot load this image type with kexec_file_load; use -c (kexec_load)`;
    case Errno.EKEYREJECTED:
    case Errno.ENOKEY:
    case Errno.EBADMSG:
      return `${call} failed (${name}): the kernel image's signature was rejected; sign it with a key the kernel trusts`;
    case Errno.ENODATA:
      return `${call} failed (ENODATA): the kernel requires a signed image (KEXEC_SIG enforced, e.g. by Secure Boot) ` +
        "and this one carries no signature; use the distribution's signed kernel";
    case Errno.ELIBBAD:
      return `${call} failed (ELIBBAD): the image's PE signature structure is malformed; use an intact signed kernel`;
    case Errno.ENOPKG:
      return `${call} failed (ENOPKG): the kernel lacks the crypto algorithm the image's signature uses`;
    case Errno.ETXTBSY:
      return `${call} failed (ETXTBSY): another process has the kernel or initrd open for writing (a package ` +
        "upgrade?); retry when it is done";
    case Errno.EFBIG:
      return `${call} failed (EFBIG): the kernel or initrd is larger than the 4 GiB kexec_file_load reads`;
    case Errno.EIO:
      return `${call} failed (EIO): the kernel or initrd changed while the kernel read it; retry`;
    case Errno.EOPNOTSUPP:
      return `${call} failed (EOPNOTSUPP): this kernel cannot do that for this image or architecture; use -c (kexec_load)`;
    case Errno.EFAULT:
      return `${call} failed (EFAULT): the kernel could not read a segment buffer (a kexec-ts bug; please report it)`;
    default:
      return `${call} failed (${name})`;
  }
}

/** A KexecError for a failed kexec syscall, carrying errno. */
export class KernelCallError extends KexecError {
  constructor(readonly op: KexecOp, readonly errno: number, message: string) {
    super(errno === Errno.EPERM || errno === Errno.EACCES ? "permission" : "kernel", message);
    this.name = "KernelCallError";
  }
}
