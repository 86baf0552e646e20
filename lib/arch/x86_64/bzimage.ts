/**
 * The x86 bzImage: real-mode setup sectors followed by the protected-mode kernel, described by the setup header
 * (Documentation/arch/x86/boot.rst). kexec-ts loads the protected-mode part and enters its 64-bit entry point,
 * `startup_64`, at load address + 0x200, with %rsi pointing at boot_params.
 *
 * Each check below rejects a specific malformed or unsuitable image with its own message.
 *
 * @module
 */

import { fail, hex } from "../../errors.ts";
import { alignUp, isPowerOfTwo, PAGE_SIZE } from "../../memory/ranges.ts";

/** Setup header field offsets in the bzImage file (and in boot_params, where the header is copied to). */
export const HDR = {
  setup_sects: 0x1f1, // u8
  root_flags: 0x1f2, // u16, mount root read-only when set
  syssize: 0x1f4, // u32, 16-byte paragraphs of protected-mode code
  vid_mode: 0x1fa, // u16
  boot_flag: 0x1fe, // u16, 0xAA55
  jump: 0x200, // u16: 0xEB, offset of the end of the header - 0x202
  header: 0x202, // u32, "HdrS"
  version: 0x206, // u16
  type_of_loader: 0x210, // u8
  loadflags: 0x211, // u8
  code32_start: 0x214, // u32
  ramdisk_image: 0x218, // u32
  ramdisk_size: 0x21c, // u32
  cmd_line_ptr: 0x228, // u32
  initrd_addr_max: 0x22c, // u32
  kernel_alignment: 0x230, // u32
  relocatable_kernel: 0x234, // u8
  min_alignment: 0x235, // u8 (log2)
  xloadflags: 0x236, // u16
  cmdline_size: 0x238, // u32
  hardware_subarch: 0x23c, // u32
  payload_offset: 0x248, // u32
  payload_length: 0x24c, // u32
  setup_data: 0x250, // u64
  pref_address: 0x258, // u64
  init_size: 0x260, // u32
  handover_offset: 0x264, // u32
  kernel_info_offset: 0x268, // u32
} as const;

/** Where a protocol 2.12-2.14 header ends at the least (through handover_offset). */
const MIN_HEADER_END = 0x268;
/** Protocol 2.15 added kernel_info_offset, so its header runs through 0x26c. */
export const HEADER_END_2_15 = 0x26c;

/** "HdrS" as a little-endian u32. */
export const HDRS_MAGIC = 0x53726448;
/** boot_flag's value. */
export const BOOT_FLAG = 0xaa55;
/** The short jump at 0x200 (its operand: the end of the header - 0x202). */
export const JMP_SHORT = 0xeb;
/** Boot protocol 2.12: the first with xloadflags' 64-bit entry. */
export const MIN_PROTOCOL = 0x020c;
/** Boot protocol 2.15: kernel_info_offset. */
export const PROTOCOL_2_15 = 0x020f;
/** vid_mode NORMAL_VGA (0xffff): the text mode the boot loader found. */
export const VID_MODE_NORMAL = 0xffff;

/** loadflags bits. */
export const LOADED_HIGH = 1 << 0;
/** xloadflags bits. */
export const XLF_KERNEL_64 = 1 << 0;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1;
/** XLF_EFI_KEXEC: the kernel can take EFI runtime services from a kexec (efi_info + SETUP_EFI). */
export const XLF_EFI_KEXEC = 1 << 4;
export const XLF_5LEVEL = 1 << 5;

/** Offset of the 64-bit entry point from the protected-mode load address. */
export const STARTUP_64_OFFSET = 0x200n;

/** What the loader needs from a bzImage. */
export interface BzImage {
  /** Boot protocol version, e.g. 0x020f. */
  protocol: number;
  /** The protected-mode kernel (a view into the file, not a copy). */
  kernel: Uint8Array;
  /** The setup header as it is copied into boot_params: file bytes [0x1f1, 0x202 + jump offset). */
  setupHeader: Uint8Array;
  /** Where the header starts in boot_params (0x1f1). */
  setupHeaderOffset: number;
  /** Memory the kernel needs from its load address while it decompresses (init_size, page-aligned), bytes. */
  memsz: bigint;
  /** Required load alignment (kernel_alignment), bytes. */
  alignment: bigint;
  /** Preferred load address; with a non-relocatable kernel, the only one. */
  prefAddress: bigint;
  relocatable: boolean;
  /** The kernel may sit above 4 GiB (XLF_CAN_BE_LOADED_ABOVE_4G). */
  above4G: boolean;
  /** Maximum address of the initrd's last byte (initrd_addr_max). */
  initrdAddrMax: bigint;
  /** Longest command line the kernel accepts, excluding the NUL. */
  cmdlineSize: number;
  supports5Level: boolean;
  /** It can take EFI runtime services from a kexec (XLF_EFI_KEXEC). */
  efiKexec: boolean;
  /** Size of the whole file, bytes. */
  fileSizeBytes: number;
}

/** Whether `bytes` looks like a bzImage (boot_flag and HdrS); a probe, so it never throws. */
export function probeBzImage(bytes: Uint8Array): boolean {
  if (bytes.length < HDR.header + 4) return false;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return dv.getUint16(HDR.boot_flag, true) === BOOT_FLAG && dv.getUint32(HDR.header, true) === HDRS_MAGIC;
}

/**
 * Parses and checks a bzImage for a 64-bit kexec_load.
 * @throws KexecError("bad-image") naming the field, its offset and value, and what was expected
 */
export function parseBzImage(bytes: Uint8Array, name = "kernel"): BzImage {
  const bad = (msg: string): never => fail("bad-image", `${name}: ${msg}`);
  if (bytes.length < HDR.header + 4) {
    bad(`file is ${bytes.length} bytes, too short to hold a setup header (not a bzImage)`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u8 = (o: number) => dv.getUint8(o);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);

  const bootFlag = u16(HDR.boot_flag);
  if (bootFlag !== BOOT_FLAG) bad(`boot_flag at 0x1fe is ${hex(bootFlag)}, expected 0xaa55 (not a bzImage)`);
  if (u32(HDR.header) !== HDRS_MAGIC) bad(`no "HdrS" magic at 0x202 (not a bzImage, or a pre-2.0 zImage)`);
  if (bytes.length < MIN_HEADER_END) {
    bad(
      `file is ${bytes.length} bytes, too short for a boot protocol 2.12 setup header (${hex(MIN_HEADER_END)} bytes)`,
    );
  }
  const protocol = u16(HDR.version);
  const protoText = `${protocol >> 8}.${(protocol & 0xff).toString().padStart(2, "0")}`;
  if (protocol < MIN_PROTOCOL) {
    bad(`boot protocol ${protoText} (version at 0x206) is older than 2.12, which has no 64-bit entry point`);
  }
  const jumpEnd = HDR.header + (u16(HDR.jump) >> 8);
  const minEnd = protocol >= PROTOCOL_2_15 ? HEADER_END_2_15 : MIN_HEADER_END;
  if ((u16(HDR.jump) & 0xff) !== JMP_SHORT || jumpEnd < minEnd || jumpEnd > 0x400) {
    bad(
      `the jump at 0x200 (${hex(u16(HDR.jump))}) does not end the protocol ${protoText} setup header between ${
        hex(minEnd)
      } and 0x400`,
    );
  }
  const loadflags = u8(HDR.loadflags);
  if (!(loadflags & LOADED_HIGH)) {
    bad(`loadflags at 0x211 (${hex(loadflags)}) lack LOADED_HIGH: a zImage, not a bzImage`);
  }
  const xloadflags = u16(HDR.xloadflags);
  if (!(xloadflags & XLF_KERNEL_64)) {
    bad(`xloadflags at 0x236 (${hex(xloadflags)}) lack XLF_KERNEL_64: this kernel has no 64-bit entry point`);
  }

  const setupSects = u8(HDR.setup_sects) || 4;
  const kernelOffset = (setupSects + 1) * 512;
  if (kernelOffset >= bytes.length) {
    bad(
      `setup_sects at 0x1f1 (${setupSects}) puts the kernel at ${
        hex(kernelOffset)
      }, past the end of the ${bytes.length}-byte file`,
    );
  }
  const kernel = bytes.subarray(kernelOffset);
  const syssizeBytes = u32(HDR.syssize) * 16;
  if (syssizeBytes === 0 || syssizeBytes > kernel.length + 15) {
    bad(
      `syssize at 0x1f4 says ${hex(syssizeBytes)} bytes of kernel but the file holds ${hex(kernel.length)}` +
        (syssizeBytes > kernel.length ? " (truncated file?)" : ""),
    );
  }
  const payloadOffset = u32(HDR.payload_offset);
  const payloadLength = u32(HDR.payload_length);
  if (payloadLength === 0 || payloadOffset + payloadLength > kernel.length) {
    bad(
      `compressed payload (payload_offset ${hex(payloadOffset)} at 0x248, payload_length ${
        hex(payloadLength)
      } at 0x24c) ` +
        `does not fit in the ${hex(kernel.length)}-byte kernel (truncated file?)`,
    );
  }
  const alignment = BigInt(u32(HDR.kernel_alignment));
  if (!isPowerOfTwo(alignment) || alignment < PAGE_SIZE) {
    bad(`kernel_alignment at 0x230 (${hex(alignment)}) is not a power of two of at least 4 KiB`);
  }
  const minAlignLog2 = u8(HDR.min_alignment);
  if (minAlignLog2 > 63 || (1n << BigInt(minAlignLog2)) > alignment) {
    bad(`min_alignment at 0x235 (2^${minAlignLog2}) exceeds kernel_alignment (${hex(alignment)})`);
  }
  const initSize = BigInt(u32(HDR.init_size));
  if (initSize < BigInt(kernel.length)) {
    bad(`init_size at 0x260 (${hex(initSize)}) is smaller than the ${hex(kernel.length)}-byte kernel it must hold`);
  }
  const cmdlineSize = u32(HDR.cmdline_size);
  if (cmdlineSize === 0) bad("cmdline_size at 0x238 is 0: the kernel accepts no command line");
  const relocatable = u8(HDR.relocatable_kernel) !== 0;
  const prefAddress = dv.getBigUint64(HDR.pref_address, true);
  if (!relocatable && (prefAddress % alignment !== 0n || prefAddress < 0x100000n)) {
    bad(
      `non-relocatable kernel with pref_address ${
        hex(prefAddress)
      } (0x258) below 1 MiB or not kernel_alignment-aligned`,
    );
  }

  return {
    protocol,
    kernel,
    setupHeader: bytes.subarray(HDR.setup_sects, jumpEnd),
    setupHeaderOffset: HDR.setup_sects,
    memsz: alignUp(initSize > BigInt(kernel.length) ? initSize : BigInt(kernel.length), PAGE_SIZE),
    alignment,
    prefAddress,
    relocatable,
    above4G: (xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G) !== 0,
    initrdAddrMax: BigInt(u32(HDR.initrd_addr_max)),
    cmdlineSize,
    supports5Level: (xloadflags & XLF_5LEVEL) !== 0,
    efiKexec: (xloadflags & XLF_EFI_KEXEC) !== 0,
    fileSizeBytes: bytes.length,
  };
}
