/**
 * What the kernel's bzImage64 loader for kexec_file_load (arch/x86/kernel/kexec-bzimage64.c: bzImage64_probe,
 * bzImage64_load) refuses, checked before the syscall: kexec_file_load frees a loaded crash kernel before it even
 * reads the image (kernel/kexec_file.c:396), so every refusal we can foresee must happen here.
 *
 * {@link BZIMAGE64_FILE_CHECKS} lists each check with its line in Linux 6.12.117 and ours beside it; the table test
 * (tests/unit/load/file_load_test.ts) makes each one fail. Line numbers are of Debian's
 * linux-source-6.12 6.12.117-1~deb12u1, the kernel the VM tests boot.
 *
 * @module
 */

import { fail, hex } from "../../errors.ts";
import { alignUp, PAGE_SIZE } from "../../memory/ranges.ts";
import { readText, readTrimmed } from "../../system.ts";
import { runtimeOffParameter } from "./efi.ts";
import type { FileLoadInput, KernelCheck } from "../../load/contract.ts";
import type { BzImage } from "./bzimage.ts";
import { la57Enabled } from "./firmware.ts";
import { BP } from "./boot_params.ts";

/** `MAX_ELFCOREHDR_STR_LEN`: room bzImage64_load keeps on the command line for `elfcorehdr=0x<64-bit> `. */
export const MAX_ELFCOREHDR_STR_LEN = 30;
/** bzImage64_probe's minimum file size: two sectors. */
export const MIN_FILE_BYTES = 2 * 512;
/** `MIN_KERNEL_LOAD_ADDR`: the kernel buffer's floor when pref_address is lower. */
export const MIN_KERNEL_LOAD_ADDR = 0x100000n;
/** `MIN_INITRD_LOAD_ADDR`: the initrd buffer's floor. */
export const MIN_INITRD_LOAD_ADDR = 0x1000000n;

const FILE = "arch/x86/kernel/kexec-bzimage64.c";
const CORE = "kernel/kexec_core.c";

/** The kernel's checks on the bzImage64 kexec_file_load path and ours. All come after the crash kernel was freed. */
export const BZIMAGE64_FILE_CHECKS: readonly KernelCheck[] = [
  {
    source: `${FILE}:342`,
    kernel: "file shorter than two 512-byte sectors",
    errno: "ENOEXEC",
    afterFree: true,
    ours: "bzImage64 fileLoadCheck: file size >= 1024",
  },
  {
    source: `${FILE}:348`,
    kernel: 'no "HdrS" at 0x202',
    errno: "ENOEXEC",
    afterFree: true,
    ours: "parseBzImage: the HdrS magic",
  },
  {
    source: `${FILE}:353`,
    kernel: "boot_flag is not 0xAA55",
    errno: "ENOEXEC",
    afterFree: true,
    ours: "parseBzImage: boot_flag",
  },
  {
    source: `${FILE}:358`,
    kernel: "boot protocol older than 2.12",
    errno: "ENOEXEC",
    afterFree: true,
    ours: "parseBzImage: version >= 0x020c",
  },
  {
    source: `${FILE}:363`,
    kernel: "loadflags lack LOADED_HIGH",
    errno: "ENOEXEC",
    afterFree: true,
    ours: "parseBzImage: LOADED_HIGH",
  },
  {
    source: `${FILE}:368`,
    kernel: "xloadflags lack XLF_KERNEL_64",
    errno: "ENOEXEC",
    afterFree: true,
    ours: "parseBzImage: XLF_KERNEL_64",
  },
  {
    source: `${FILE}:373`,
    kernel: "xloadflags lack XLF_CAN_BE_LOADED_ABOVE_4G",
    errno: "ENOEXEC",
    afterFree: true,
    ours: "bzImage64 fileLoadCheck: XLF_CAN_BE_LOADED_ABOVE_4G",
  },
  {
    source: `${FILE}:382`,
    kernel: "EFI runtime services on 32-bit EFI firmware",
    errno: "ENOEXEC",
    afterFree: true,
    ours:
      "bzImage64 fileLoadCheck: /sys/firmware/efi/fw_platform_size is 32 and /proc/cmdline has no noefi or efi=noruntime",
  },
  {
    source: `${FILE}:387`,
    kernel: "5-level paging on and xloadflags lack XLF_5LEVEL",
    errno: "ENOEXEC",
    afterFree: true,
    ours: "bzImage64 fileLoadCheck: la57 in /proc/cpuinfo and XLF_5LEVEL",
  },
  {
    source: `${FILE}:426`,
    kernel: "file shorter than (setup_sects + 1) * 512",
    errno: "ENOEXEC",
    afterFree: true,
    ours: "parseBzImage: setup_sects puts the kernel inside the file (and syssize fits)",
  },
  {
    source: `${FILE}:431`,
    kernel: "command line with its NUL longer than cmdline_size",
    errno: "EINVAL",
    afterFree: true,
    ours: "bzImage64 fileLoadCheck: bytes + NUL + 30 <= cmdline_size (covers this one)",
  },
  {
    source: `${FILE}:440`,
    kernel:
      "command line with its NUL + MAX_ELFCOREHDR_STR_LEN (30) longer than cmdline_size (every load, not only crash)",
    errno: "EINVAL",
    afterFree: true,
    ours: "bzImage64 fileLoadCheck: bytes + NUL + 30 <= cmdline_size",
  },
  {
    source: `${FILE}:448`,
    kernel: "crash_load_segments: no room for the elfcorehdr in the crash region (arch/x86/kernel/crash.c:401)",
    errno: "EADDRNOTAVAIL",
    afterFree: true,
    ours: "bzImage64 fileLoadCheck: kernel, initrd, elfcorehdr, boot data, purgatory and slack fit the crash region",
  },
  {
    source: `${FILE}:458`,
    kernel: "kexec_load_purgatory: no room for the purgatory",
    errno: "EADDRNOTAVAIL",
    afterFree: true,
    ours: "bzImage64 fileLoadCheck: counted (one page at least) in the crash region total",
  },
  {
    source: `${FILE}:505`,
    kernel: "no room for boot_params + command line + setup_data at or above 0x3000",
    errno: "EADDRNOTAVAIL",
    afterFree: true,
    ours: "bzImage64 fileLoadCheck: counted in the crash region total",
  },
  {
    source: `${FILE}:522`,
    kernel: "no kernel_alignment-aligned room for PAGE_ALIGN(init_size) at or above max(pref_address, 1 MiB)",
    errno: "EADDRNOTAVAIL",
    afterFree: true,
    ours: "bzImage64 fileLoadCheck: that window inside the crash region",
  },
  {
    source: `${FILE}:537`,
    kernel: "no room for the initrd at or above 16 MiB (MIN_INITRD_LOAD_ADDR)",
    errno: "EADDRNOTAVAIL",
    afterFree: true,
    ours: "bzImage64 fileLoadCheck: that window inside the crash region",
  },
  {
    source: `${CORE}:169`,
    kernel: "the kernel segment's bufsz (file minus setup sectors) exceeds PAGE_ALIGN(init_size)",
    errno: "EINVAL",
    afterFree: true,
    ours: "parseBzImage: init_size >= the protected-mode kernel",
  },
  {
    source: `${CORE}:179`,
    kernel: "one segment (PAGE_ALIGN(init_size), the initrd) over half of totalram_pages",
    errno: "EINVAL",
    afterFree: true,
    ours: "bzImage64 fileLoadCheck: init_size and initrd each <= MemTotal / 2",
  },
  {
    source: `${CORE}:185`,
    kernel: "all segments together over half of totalram_pages",
    errno: "EINVAL",
    afterFree: true,
    ours: "bzImage64 fileLoadCheck: init_size + initrd <= MemTotal / 2",
  },
  {
    source: `${FILE}:522 (placement)`,
    kernel: "where kexec_add_buffer puts each buffer (top-down, first hole) and whether holes between them suffice",
    errno: "EADDRNOTAVAIL",
    afterFree: true,
    unchecked:
      "where the kernel's own placement puts each buffer in the crash region (kexec-ts checks they fit together)",
  },
];

/** At least the bytes of the boot_params buffer bzImage64_load adds (kexec-bzimage64.c:476): setup_data and EFI map not counted. */
function bootParamsBufferBytes(cmdlineLen: number): bigint {
  return BigInt(BP.size + cmdlineLen + MAX_ELFCOREHDR_STR_LEN);
}

/** Whether the running kernel would refuse bzImage64 on 32-bit EFI (runtime services on, EFI_64BIT off). */
function efi32WithRuntime(input: FileLoadInput): boolean {
  if (readTrimmed(input.sys, "/sys/firmware/efi/fw_platform_size") !== "32") return false;
  return runtimeOffParameter(readText(input.sys, "/proc/cmdline")) === undefined;
}

/**
 * bzImage64's kexec_file_load checks (see {@link BZIMAGE64_FILE_CHECKS}); parseBzImage has made the others.
 * @throws KexecError("bad-image") for what the kernel refuses with ENOEXEC or EINVAL, KexecError("layout") for what
 *   would not fit the crash region or half of RAM
 */
export function bzImageFileLoadCheck(image: BzImage, input: FileLoadInput): void {
  const refuse = (what: string): never => fail("bad-image", `kexec_file_load would refuse this kernel: ${what}`);
  if (image.fileSizeBytes < MIN_FILE_BYTES) refuse(`it is ${image.fileSizeBytes} bytes, less than two sectors`);
  if (!image.above4G) {
    refuse("its xloadflags lack XLF_CAN_BE_LOADED_ABOVE_4G, which the kernel's bzImage64 loader requires; use -c");
  }
  if (efi32WithRuntime(input)) {
    refuse("this machine runs 32-bit EFI firmware with runtime services; use -c (kexec_load)");
  }
  if (la57Enabled(input.sys) && !image.supports5Level) {
    refuse("5-level paging is on and its xloadflags lack XLF_5LEVEL");
  }
  const cmdlineBytes = new TextEncoder().encode(input.cmdline).length;
  const room = image.cmdlineSize - 1 - MAX_ELFCOREHDR_STR_LEN;
  if (cmdlineBytes > room) {
    refuse(
      `the command line is ${cmdlineBytes} bytes; with its NUL and the ${MAX_ELFCOREHDR_STR_LEN} bytes the kernel ` +
        `keeps for elfcorehdr= it must fit cmdline_size ${image.cmdlineSize}, so at most ${Math.max(room, 0)} bytes`,
    );
  }

  const initrd = alignUp(input.initrdBytes, PAGE_SIZE);
  if (input.totalRamBytes !== undefined) {
    const half = input.totalRamBytes / PAGE_SIZE / 2n * PAGE_SIZE;
    const over = (what: string, bytes: bigint) =>
      fail(
        "layout",
        `kexec_file_load would refuse this load: ${what} (${hex(bytes)} bytes) is more than half of ` +
          `this machine's RAM (${hex(half)} bytes)`,
      );
    if (image.memsz > half) over("the kernel's init_size", image.memsz);
    if (initrd > half) over("the initrd", initrd);
    if (image.memsz + initrd > half) over("the kernel's init_size and the initrd together", image.memsz + initrd);
  }
  if (!input.crash) return;

  const { region, elfcorehdrBytes, slackBytes } = input.crash;
  const regionText = `the crash region ${hex(region.start)}-${hex(region.end - 1n)}`;
  const noRoom = (what: string): never =>
    fail("layout", `kexec_file_load would find no room in ${regionText} for ${what}; reserve more with crashkernel=`);
  const floor = (a: bigint, b: bigint) => (a > b ? a : b);
  const kernelAt = alignUp(floor(region.start, floor(image.prefAddress, MIN_KERNEL_LOAD_ADDR)), image.alignment);
  if (kernelAt + image.memsz > region.end) {
    noRoom(
      `the kernel's init_size (${hex(image.memsz)} bytes) at or above pref_address ${hex(image.prefAddress)}, ` +
        `aligned to ${hex(image.alignment)}`,
    );
  }
  if (initrd && alignUp(floor(region.start, MIN_INITRD_LOAD_ADDR), PAGE_SIZE) + initrd > region.end) {
    noRoom(`the ${hex(initrd)}-byte initrd at or above 16 MiB`);
  }
  const parts = [
    ["kernel", image.memsz],
    ["initrd", initrd],
    ["elfcorehdr", alignUp(elfcorehdrBytes, PAGE_SIZE)],
    ["boot data", alignUp(bootParamsBufferBytes(cmdlineBytes + 1), PAGE_SIZE)],
    ["purgatory", PAGE_SIZE],
    ["control and page-table pages", slackBytes],
  ] as const;
  const need = parts.reduce((n, [, b]) => n + b, 0n);
  if (need > region.end - region.start) {
    noRoom(parts.filter(([, b]) => b > 0n).map(([w, b]) => `${w} ${hex(b)}`).join(" + ") + ` = ${hex(need)} bytes`);
  }
}
