/**
 * The kexec flags as userspace sees them (include/uapi/linux/kexec.h), for every architecture. The numbers that
 * differ per architecture (syscall numbers, KEXEC_ARCH_*) live in lib/arch/.
 *
 * @module
 */

/** kexec_load flags. */
export const KEXEC_ON_CRASH = 0x1n;
/** Lets the kernel rewrite a kexec_load crash image's elfcorehdr on hotplug (6.6+; 0x8 is EINVAL before 6.10). */
export const KEXEC_UPDATE_ELFCOREHDR = 0x4n;
/** The 6.10 name for the same permission (x86 accepts either bit; 6.6-6.9 reject this one with EINVAL). */
export const KEXEC_CRASH_HOTPLUG_SUPPORT = 0x8n;
/** The high half of kexec_load's flags: the architecture (ELF e_machine << 16). */
export const KEXEC_ARCH_MASK = 0xffff0000n;

/** kexec_file_load flags. */
export const KEXEC_FILE_UNLOAD = 0x1n;
export const KEXEC_FILE_ON_CRASH = 0x2n;
export const KEXEC_FILE_NO_INITRAMFS = 0x4n;

/** KEXEC_ARCH_* names by ELF e_machine (the value is e_machine << 16). */
const ARCH_NAMES: Record<number, string> = { 3: "386", 62: "X86_64", 183: "AARCH64", 243: "RISCV" };

/** Names of the kexec_load flag bits, for output: `KEXEC_ARCH_X86_64 | KEXEC_ON_CRASH`. */
export function describeFlags(flags: bigint): string {
  const names: string[] = [];
  const machine = Number((flags & KEXEC_ARCH_MASK) >> 16n);
  if (machine) names.push(`KEXEC_ARCH_${ARCH_NAMES[machine] ?? machine}`);
  if (flags & KEXEC_ON_CRASH) names.push("KEXEC_ON_CRASH");
  if (flags & KEXEC_UPDATE_ELFCOREHDR) names.push("KEXEC_UPDATE_ELFCOREHDR");
  if (flags & KEXEC_CRASH_HOTPLUG_SUPPORT) names.push("KEXEC_CRASH_HOTPLUG_SUPPORT");
  return names.join(" | ") || "0";
}
