/**
 * x86_64 numbers of the kexec interface and of the kernel's address space, in one place: the syscall numbers,
 * KEXEC_ARCH_X86_64, the destination limits for 4- and 5-level paging, the start of the kernel text mapping, the
 * always-reserved low 1 MiB, the ELF machine, and the names EFI and PE give the architecture.
 *
 * @module
 */

/** kexec_load and kexec_file_load (arch/x86/entry/syscalls/syscall_64.tbl). */
export const SYS_KEXEC_LOAD = 246;
export const SYS_KEXEC_FILE_LOAD = 320;

/** KEXEC_ARCH_X86_64 (EM_X86_64 << 16), in the high half of kexec_load's flags. */
export const KEXEC_ARCH_X86_64 = 0x003e0000n;

/** EM_X86_64: the e_machine of the core headers. */
export const ELF_MACHINE_X86_64 = 62;

/** The EFI architecture name (`BOOTX64.EFI`; a Boot Loader Specification entry's `architecture x64`). */
export const EFI_ARCH_NAME_X86_64 = "x64";
/** IMAGE_FILE_MACHINE_AMD64: the COFF Machine of an x86_64 PE image (a UKI). */
export const PE_MACHINE_AMD64 = 0x8664;

/** MAXMEM with 4-level paging (64 TiB); KEXEC_DESTINATION_MEMORY_LIMIT is MAXMEM - 1. */
export const MAXMEM_4LEVEL = 1n << 46n;
/** MAXMEM with 5-level paging (4 PiB), when CR4.LA57 is on. */
export const MAXMEM_5LEVEL = 1n << 52n;

/** __START_KERNEL_map: /proc/kcore entries at or above it are the kernel image. */
export const START_KERNEL_MAP = 0xffffffff80000000n;

/**
 * The low 1 MiB: always reserved by the first kernel since 5.13 (f1d4d47c5851), and since 5.5 whenever
 * crashkernel= is set. So it holds no first-kernel data: it is left out of the dump, and the capture kernel gets
 * its System RAM as RAM (no 640 KiB backup region).
 */
export const LOW_RESERVED = { start: 0n, end: 0x100000n } as const;
