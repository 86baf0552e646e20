/**
 * The kexec ABI as userspace sees it (include/uapi/linux/kexec.h, x86_64). One place for the numbers; ffi/ and
 * the planners import them from here.
 *
 * @module
 */

/** kexec_load flags. */
export const KEXEC_ON_CRASH = 0x1n;
/** Lets the kernel rewrite a kexec_load crash image's elfcorehdr on hotplug (6.6+; 0x8 is EINVAL before 6.10). */
export const KEXEC_UPDATE_ELFCOREHDR = 0x4n;
/** KEXEC_ARCH_X86_64 (EM_X86_64 << 16), in the high half of kexec_load's flags. */
export const KEXEC_ARCH_X86_64 = 0x003e0000n;

/** kexec_file_load flags. */
export const KEXEC_FILE_UNLOAD = 0x1n;
export const KEXEC_FILE_ON_CRASH = 0x2n;
export const KEXEC_FILE_NO_INITRAMFS = 0x4n;

/** Names of the kexec_load flag bits, for output. */
export function describeFlags(flags: bigint): string {
  const names: string[] = [];
  if ((flags & 0xffff0000n) === KEXEC_ARCH_X86_64) names.push("KEXEC_ARCH_X86_64");
  if (flags & KEXEC_ON_CRASH) names.push("KEXEC_ON_CRASH");
  if (flags & KEXEC_UPDATE_ELFCOREHDR) names.push("KEXEC_UPDATE_ELFCOREHDR");
  return names.join(" | ") || "0";
}
