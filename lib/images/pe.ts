/**
 * A PE/COFF reader for what a boot loader needs of an EFI image: the DOS stub's `e_lfanew`, the COFF file header,
 * the optional header's magic and subsystem, and the section table with each section's file range. Arch-neutral.
 *
 * Every field is checked where it is read, and a file that fails gets one line naming the structure or section, its
 * file offset, the value found and what was expected ("PE section header 4 (".linux") at 0x1e8: PointerToRawData
 * 0x11e00 + 0xb86200 bytes runs past the end of the 0x200000-byte file (truncated?)"). Reads go through a
 * {@link ByteSource}, so listing boot entries reads the headers and a few small sections of a large file, not all of it.
 *
 * Section names are the 8 name bytes, NUL-padded; an 8-character name (`.cmdline`, `.profile`) has no NUL. Long
 * names (`/N`, an offset into the COFF string table) exist only in object files and are left as they are.
 *
 * @module
 */

import { fail, hex } from "../errors.ts";

/** IMAGE_DOS_HEADER: the fields read, and its size. */
export const DOS = { e_magic: 0x00, e_lfanew: 0x3c, size: 0x40 } as const;

/** The PE signature and IMAGE_FILE_HEADER, relative to `e_lfanew`; the optional header follows at `size`. */
export const COFF = {
  signature: 0, // "PE\0\0"
  machine: 4, // u16
  numberOfSections: 6, // u16
  timeDateStamp: 8, // u32
  pointerToSymbolTable: 12, // u32
  numberOfSymbols: 16, // u32
  sizeOfOptionalHeader: 20, // u16
  characteristics: 22, // u16
  size: 24,
} as const;

/** IMAGE_OPTIONAL_HEADER fields common to PE32 and PE32+, relative to its start. */
export const OPT = {
  magic: 0, // u16
  addressOfEntryPoint: 16, // u32
  sectionAlignment: 32, // u32
  fileAlignment: 36, // u32
  sizeOfImage: 56, // u32
  sizeOfHeaders: 60, // u32
  subsystem: 68, // u16
} as const;

/** PE32+ (64-bit) optional header: ImageBase and the data directory count, and where the directories start. */
export const OPT64 = { imageBase: 24, numberOfRvaAndSizes: 108, dataDirectory: 112 } as const;
/** PE32 optional header: the same fields at their PE32 offsets. */
export const OPT32 = { imageBase: 28, numberOfRvaAndSizes: 92, dataDirectory: 96 } as const;

/** IMAGE_SECTION_HEADER (40 bytes). */
export const SECTION = {
  name: 0, // 8 bytes
  virtualSize: 8, // u32
  virtualAddress: 12, // u32
  sizeOfRawData: 16, // u32
  pointerToRawData: 20, // u32
  characteristics: 36, // u32
  size: 40,
} as const;

/** Optional header magics. */
export const PE32_MAGIC = 0x10b;
export const PE32PLUS_MAGIC = 0x20b;
/** IMAGE_SUBSYSTEM_EFI_APPLICATION. */
export const SUBSYSTEM_EFI_APPLICATION = 10;

/** IMAGE_FILE_MACHINE_* values and their names, for messages. */
export const PE_MACHINES: Readonly<Record<number, string>> = {
  0x14c: "i386",
  0x8664: "x86_64",
  0x1c2: "arm",
  0xaa64: "arm64",
  0x5064: "riscv64",
  0x6264: "loongarch64",
};

/** A machine in words: `0xaa64 (arm64)`. */
export function machineName(machine: number): string {
  const name = PE_MACHINES[machine];
  return name ? `${hex(machine)} (${name})` : hex(machine);
}

/** Random access to a file's bytes: an in-memory file, or an open file read on demand. */
export interface ByteSource {
  /** The file's size in bytes. */
  readonly size: number;
  /** `length` bytes at `offset`; the caller has checked the range against {@link size}. */
  read(offset: number, length: number): Uint8Array;
}

/** A {@link ByteSource} over bytes in memory (reads are views, not copies). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

/** One section header. Sizes and offsets in bytes; `virtualAddress` is an RVA. */
export interface PeSection {
  /** Position in the section table, from 0. */
  index: number;
  /** The name bytes up to the first NUL (all 8 when there is none). */
  name: string;
  virtualSize: number;
  virtualAddress: number;
  sizeOfRawData: number;
  pointerToRawData: number;
  characteristics: number;
  /** File offset of this section header. */
  headerOffset: number;
}

/** The parts of a PE image a boot loader reads. */
export interface PeFile {
  /** IMAGE_FILE_MACHINE_*. */
  machine: number;
  /** 0x20b (PE32+) or 0x10b (PE32). */
  magic: number;
  /** IMAGE_SUBSYSTEM_* (10: EFI application). */
  subsystem: number;
  sectionAlignment: number;
  fileAlignment: number;
  imageBase: bigint;
  sizeOfImage: number;
  /** File offset of the section table. */
  sectionTableOffset: number;
  /** The section table, in file order. */
  sections: PeSection[];
  /** The file's size, bytes. */
  fileSize: number;
}

/** Whether the bytes start with "MZ" (a DOS/PE executable); a probe, so it never throws. */
export function hasMzMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x4d && bytes[1] === 0x5a;
}

/**
 * Parses and checks the headers and section table of a PE file.
 * @param name names the file in messages
 * @throws KexecError("bad-image") naming the structure, its offset, the value and what was expected
 */
export function parsePe(src: ByteSource, name: string): PeFile {
  const size = src.size;
  const bad = (msg: string): never => fail("bad-image", `${name}: ${msg}`);
  const view = (offset: number, length: number, what: string): DataView => {
    if (offset + length > size) {
      bad(`${what} at ${hex(offset)} (${length} bytes) runs past the end of the ${hex(size)}-byte file (truncated?)`);
    }
    const b = src.read(offset, length);
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  };

  if (size < DOS.size) bad(`file is ${size} bytes, shorter than the 64-byte DOS header: not a PE file`);
  const dos = view(0, DOS.size, "DOS header");
  const mz = dos.getUint16(DOS.e_magic, true);
  if (mz !== 0x5a4d) bad(`DOS header at 0x0: magic ${hex(mz)}, expected 0x5a4d ("MZ"): not a PE file`);
  const lfanew = dos.getUint32(DOS.e_lfanew, true);
  if (lfanew < DOS.size) {
    bad(`e_lfanew at 0x3c is ${hex(lfanew)}: the PE header would overlap the 64-byte DOS header`);
  }
  if (lfanew + COFF.size > size) {
    bad(`e_lfanew at 0x3c is ${hex(lfanew)}: the PE header would end past the ${hex(size)}-byte file (truncated?)`);
  }
  const coff = view(lfanew, COFF.size, "PE header");
  if (coff.getUint32(COFF.signature, true) !== 0x00004550) {
    bad(`no PE signature "PE\\0\\0" at ${hex(lfanew)} (e_lfanew): a DOS executable, not a PE file`);
  }
  const machine = coff.getUint16(COFF.machine, true);
  const sectionCount = coff.getUint16(COFF.numberOfSections, true);
  const optSize = coff.getUint16(COFF.sizeOfOptionalHeader, true);
  const coffAt = lfanew + 4;
  if (sectionCount === 0) bad(`NumberOfSections at ${hex(coffAt + 2)} is 0: the image has no sections`);
  if (optSize < 2) {
    bad(`SizeOfOptionalHeader at ${hex(coffAt + 16)} is ${optSize}: an image needs an optional header`);
  }

  const optAt = lfanew + COFF.size;
  const magic = view(optAt, 2, "optional header").getUint16(OPT.magic, true);
  if (magic !== PE32PLUS_MAGIC && magic !== PE32_MAGIC) {
    bad(`optional header magic at ${hex(optAt)} is ${hex(magic)}, expected 0x20b (PE32+) or 0x10b (PE32)`);
  }
  const layout = magic === PE32PLUS_MAGIC ? OPT64 : OPT32;
  if (optSize < layout.dataDirectory) {
    bad(
      `SizeOfOptionalHeader at ${hex(coffAt + 16)} is ${hex(optSize)}, smaller than the ${
        hex(layout.dataDirectory)
      }-byte ${magic === PE32PLUS_MAGIC ? "PE32+" : "PE32"} optional header`,
    );
  }
  const opt = view(optAt, layout.dataDirectory, "optional header");
  const dirCount = opt.getUint32(layout.numberOfRvaAndSizes, true);
  if (layout.dataDirectory + dirCount * 8 > optSize) {
    bad(
      `NumberOfRvaAndSizes at ${hex(optAt + layout.numberOfRvaAndSizes)} is ${dirCount}: ${dirCount} data ` +
        `directories do not fit the ${hex(optSize)}-byte optional header (SizeOfOptionalHeader)`,
    );
  }

  const tableAt = optAt + optSize;
  // NumberOfSections is a u16: at most 65535 x 40 bytes (2.5 MiB) of table, which view() bounds by the file.
  const tableBytes = sectionCount * SECTION.size;
  const table = view(tableAt, tableBytes, `section table (${sectionCount} headers)`);
  const sections: PeSection[] = [];
  for (let index = 0; index < sectionCount; index++) {
    const at = index * SECTION.size;
    let nameText = "";
    for (let i = 0; i < 8; i++) {
      const c = table.getUint8(at + SECTION.name + i);
      if (c === 0) break;
      nameText += String.fromCharCode(c);
    }
    const s: PeSection = {
      index,
      name: nameText,
      virtualSize: table.getUint32(at + SECTION.virtualSize, true),
      virtualAddress: table.getUint32(at + SECTION.virtualAddress, true),
      sizeOfRawData: table.getUint32(at + SECTION.sizeOfRawData, true),
      pointerToRawData: table.getUint32(at + SECTION.pointerToRawData, true),
      characteristics: table.getUint32(at + SECTION.characteristics, true),
      headerOffset: tableAt + at,
    };
    const what = `PE section header ${index} (${JSON.stringify(s.name)}) at ${hex(s.headerOffset)}`;
    if (s.virtualAddress + s.virtualSize > 0xffffffff) {
      bad(`${what}: VirtualAddress ${hex(s.virtualAddress)} + VirtualSize ${hex(s.virtualSize)} overflows 32 bits`);
    }
    const fileBytes = Math.min(s.virtualSize, s.sizeOfRawData);
    if (fileBytes > 0 && s.pointerToRawData + fileBytes > size) {
      bad(
        `${what}: PointerToRawData ${hex(s.pointerToRawData)} + ${hex(fileBytes)} bytes runs past the end of the ${
          hex(size)
        }-byte file (truncated?)`,
      );
    }
    sections.push(s);
  }

  return {
    machine,
    magic,
    subsystem: opt.getUint16(OPT.subsystem, true),
    sectionAlignment: opt.getUint32(OPT.sectionAlignment, true),
    fileAlignment: opt.getUint32(OPT.fileAlignment, true),
    imageBase: magic === PE32PLUS_MAGIC
      ? opt.getBigUint64(OPT64.imageBase, true)
      : BigInt(opt.getUint32(OPT32.imageBase, true)),
    sizeOfImage: opt.getUint32(OPT.sizeOfImage, true),
    sectionTableOffset: tableAt,
    sections,
    fileSize: size,
  };
}

/**
 * The bytes of a section as a loader reads them from the file: `min(VirtualSize, SizeOfRawData)` bytes at
 * `PointerToRawData` (as systemd-stub and sd-boot do; SizeOfRawData alone would add the FileAlignment padding,
 * which breaks the signature of a signed bzImage). When VirtualSize is larger the image's memory copy is
 * zero-extended; every section kexec-ts reads (kernel, initrds, text) ignores trailing zeros, so they are not
 * materialised, and a hostile VirtualSize cannot make kexec-ts allocate what it asks for. Bounds were checked by
 * {@link parsePe}.
 */
export function sectionData(src: ByteSource, section: PeSection): Uint8Array {
  const length = Math.min(section.virtualSize, section.sizeOfRawData);
  return length === 0 ? new Uint8Array(0) : src.read(section.pointerToRawData, length);
}
