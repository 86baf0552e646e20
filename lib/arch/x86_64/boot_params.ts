/**
 * boot_params, the "zero page" the 64-bit boot protocol hands the kernel in %rsi (its setup_data chain is in
 * ./setup_data.ts).
 *
 * Built from zero: the bzImage's setup header is copied to 0x1f1 as the boot protocol says; the loader fills the
 * command line, initrd and e820 fields; firmware-provided fields (screen_info, EDD, EDID, acpi_rsdp_addr) are
 * copied from the running kernel's /sys/kernel/boot_params/data when it is readable. efi_info and secure_boot are
 * filled only when EFI is handed over (./efi_handover.ts); otherwise they stay zero, the next kernel boots as on a
 * BIOS machine and finds ACPI through acpi_rsdp_addr.
 *
 * @module
 */

import { fail } from "../../errors.ts";
import { HDR } from "./bzimage.ts";
import { E820_ENTRY_SIZE, E820_MAX_ZEROPAGE, type E820Entry } from "./e820.ts";

/** struct boot_params offsets (arch/x86/include/uapi/asm/bootparam.h). */
export const BP = {
  screen_info: 0x000, // 0x40 bytes
  acpi_rsdp_addr: 0x070, // u64
  ext_ramdisk_image: 0x0c0, // u32
  ext_ramdisk_size: 0x0c4, // u32
  ext_cmd_line_ptr: 0x0c8, // u32
  edid_info: 0x140, // 0x80 bytes
  efi_info: 0x1c0, // 0x20 bytes
  e820_entries: 0x1e8, // u8
  eddbuf_entries: 0x1e9, // u8
  edd_mbr_sig_buf_entries: 0x1ea, // u8
  secure_boot: 0x1ec, // u8, enum efi_secureboot_mode
  edd_mbr_sig_buffer: 0x290, // 16 x u32
  e820_table: 0x2d0, // 128 x 20 bytes
  eddbuf: 0xd00, // 6 x 82 bytes
  size: 0x1000,
} as const;

/** Firmware-provided byte ranges copied verbatim from the running kernel's boot_params. */
const FIRMWARE_FIELDS: readonly [number, number][] = [
  [BP.screen_info, 0x40],
  [BP.acpi_rsdp_addr, 8],
  [BP.edid_info, 0x80],
  [BP.eddbuf_entries, 2], // eddbuf_entries, edd_mbr_sig_buf_entries
  [BP.edd_mbr_sig_buffer, 16 * 4],
  [BP.eddbuf, 6 * 82],
];

/** type_of_loader for kexec (0xD, no version), as the kernel's own kexec_file loader sets it. */
export const LOADER_TYPE_KEXEC = 0xd0;

/** What goes into boot_params. Addresses are physical. */
export interface BootParamsInput {
  setupHeader: Uint8Array;
  setupHeaderOffset: number;
  cmdlineAddr: bigint;
  initrd?: { addr: bigint; sizeBytes: bigint };
  e820: readonly E820Entry[];
  /** The running kernel's boot_params (/sys/kernel/boot_params/data), when readable. */
  firmware?: Uint8Array;
  /** Overrides the firmware's acpi_rsdp_addr when non-zero. */
  acpiRsdpAddr?: bigint;
  /** Physical address of the first setup_data record, 0 for none. */
  setupDataAddr: bigint;
  /** EFI handover: the 32-byte efi_info and the secure_boot byte. */
  efi?: { info: Uint8Array; secureBoot: number };
}

/**
 * The 4096-byte boot_params.
 * @throws KexecError("layout") when more than 128 e820 entries are given (the caller moves the rest to setup_data)
 */
export function buildBootParams(input: BootParamsInput): Uint8Array {
  const bp = new Uint8Array(BP.size);
  const dv = new DataView(bp.buffer);
  if (input.firmware && input.firmware.length >= BP.size) {
    for (const [off, len] of FIRMWARE_FIELDS) bp.set(input.firmware.subarray(off, off + len), off);
  }
  bp.set(input.setupHeader, input.setupHeaderOffset);
  if (input.firmware && input.firmware.length >= BP.size) {
    // The platform (PC, Xen, ...) is the running machine's, not the image's default (kexec-bzimage64.c does this).
    bp.set(input.firmware.subarray(HDR.hardware_subarch, HDR.hardware_subarch + 4), HDR.hardware_subarch);
  }
  dv.setUint8(HDR.type_of_loader, LOADER_TYPE_KEXEC);
  dv.setUint8(HDR.loadflags, dv.getUint8(HDR.loadflags) & 0x01); // keep LOADED_HIGH only; no heap, not quiet
  dv.setUint32(HDR.code32_start, 0, true);

  const lo = (v: bigint) => Number(v & 0xffffffffn);
  const hi = (v: bigint) => Number(v >> 32n);
  dv.setUint32(HDR.cmd_line_ptr, lo(input.cmdlineAddr), true);
  dv.setUint32(BP.ext_cmd_line_ptr, hi(input.cmdlineAddr), true);
  if (input.initrd) {
    dv.setUint32(HDR.ramdisk_image, lo(input.initrd.addr), true);
    dv.setUint32(BP.ext_ramdisk_image, hi(input.initrd.addr), true);
    dv.setUint32(HDR.ramdisk_size, lo(input.initrd.sizeBytes), true);
    dv.setUint32(BP.ext_ramdisk_size, hi(input.initrd.sizeBytes), true);
  } else {
    for (const o of [HDR.ramdisk_image, HDR.ramdisk_size, BP.ext_ramdisk_image, BP.ext_ramdisk_size]) {
      dv.setUint32(o, 0, true);
    }
  }
  if (input.acpiRsdpAddr) dv.setBigUint64(BP.acpi_rsdp_addr, input.acpiRsdpAddr, true);
  if (input.efi) {
    bp.set(input.efi.info, BP.efi_info);
    dv.setUint8(BP.secure_boot, input.efi.secureBoot);
  }
  dv.setBigUint64(HDR.setup_data, input.setupDataAddr, true);

  if (input.e820.length > E820_MAX_ZEROPAGE) {
    fail("layout", `${input.e820.length} e820 entries do not fit boot_params (${E820_MAX_ZEROPAGE})`);
  }
  dv.setUint8(BP.e820_entries, input.e820.length);
  bp.set(e820ExtPayload(input.e820), BP.e820_table);
  return bp;
}

/** Encodes e820 entries as a SETUP_E820_EXT payload. */
export function e820ExtPayload(entries: readonly E820Entry[]): Uint8Array {
  const out = new Uint8Array(entries.length * E820_ENTRY_SIZE);
  const dv = new DataView(out.buffer);
  entries.forEach((e, i) => {
    dv.setBigUint64(i * E820_ENTRY_SIZE, e.start, true);
    dv.setBigUint64(i * E820_ENTRY_SIZE + 8, e.end - e.start, true);
    dv.setUint32(i * E820_ENTRY_SIZE + 16, e.type, true);
  });
  return out;
}

/** The command line bytes with their NUL, checked against the kernel's cmdline_size. */
export function encodeCmdline(cmdline: string, cmdlineSize: number): Uint8Array {
  const bytes = new TextEncoder().encode(cmdline + "\0");
  if (bytes.length - 1 > cmdlineSize) {
    fail(
      "bad-image",
      `the command line is ${bytes.length - 1} bytes; this kernel accepts at most ${cmdlineSize} (cmdline_size)`,
    );
  }
  if (cmdline.includes("\0")) fail("usage", "the command line contains a NUL byte");
  return bytes;
}

/** Reads acpi_rsdp_addr from a boot_params image, 0 if too short. */
export function acpiRsdpOf(bootParams: Uint8Array | undefined): bigint {
  if (!bootParams || bootParams.length < BP.size) return 0n;
  return new DataView(bootParams.buffer, bootParams.byteOffset, bootParams.byteLength).getBigUint64(
    BP.acpi_rsdp_addr,
    true,
  );
}
