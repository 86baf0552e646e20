/**
 * The ELF header and program headers of a core dump, read the way kexec-tools' vmcore-dmesg reads them (its
 * util_lib/elf_info.c): ELF32 and ELF64, either byte order, every field widened to 64 bits and decoded in the
 * file's byte order. e_type and e_machine are not checked (any ELF passes); the pointer width of the crashed
 * kernel is the ELF class's, except that EM_386 means 32 bits (i386 dumps are ELF64 cores of a 32-bit kernel).
 *
 * @module
 */

import {
  EHDR,
  EI_CLASS,
  EI_DATA,
  EI_VERSION,
  ELF_MAGIC,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  EV_CURRENT,
  PHDR,
} from "../elf/constants.ts";
import { describeFsError } from "../files.ts";
import type { ProgramHeader } from "../elf/types.ts";
import { coreFail, type CoreSource, readExact } from "./source.ts";

/** sizeof(e_ident). */
const EI_NIDENT = 16;
/** Elf32_Ehdr field offsets (52 bytes). */
const EHDR32 = {
  type: 0x10,
  machine: 0x12,
  version: 0x14,
  phoff: 0x1c,
  phentsize: 0x2a,
  phnum: 0x2c,
} as const;
const EHDR32_SIZE = 52;
const EHDR64_SIZE = 64;
/** Elf32_Phdr field offsets (32 bytes; flags come after memsz, unlike ELF64). */
const PHDR32 = { type: 0, offset: 4, vaddr: 8, paddr: 12, filesz: 16, memsz: 20, flags: 24, align: 28 } as const;
const PHDR32_SIZE = 32;
const PHDR64_SIZE = 56;
/** `e_machine` of i386: its dumps are read with 32-bit pointers whatever the ELF class. */
export const EM_386 = 3;

/** Decodes integers from a byte buffer in a dump's byte order and pointer width. */
export interface Fields {
  readonly littleEndian: boolean;
  /** 4 or 8: the crashed kernel's `unsigned long`. */
  readonly pointerBytes: 4 | 8;
  u16(bytes: Uint8Array, offset: number): number;
  u32(bytes: Uint8Array, offset: number): number;
  u64(bytes: Uint8Array, offset: number): bigint;
  /** An `unsigned long` (u32 or u64 by the pointer width), as bigint. */
  ulong(bytes: Uint8Array, offset: number): bigint;
}

/** A {@link Fields} decoder. */
export function fieldsOf(littleEndian: boolean, pointerBytes: 4 | 8): Fields {
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const f: Fields = {
    littleEndian,
    pointerBytes,
    u16: (b, o) => dv(b).getUint16(o, littleEndian),
    u32: (b, o) => dv(b).getUint32(o, littleEndian),
    u64: (b, o) => dv(b).getBigUint64(o, littleEndian),
    ulong: (b, o) => pointerBytes === 8 ? f.u64(b, o) : BigInt(f.u32(b, o)),
  };
  return f;
}

/** One program header of an ELF32 or ELF64 dump, widened to the ELF64 reader's fields (no index). */
export type CorePhdr = Omit<ProgramHeader, "index">;

/** What the ELF header and program headers of a dump say. */
export interface CoreElf {
  /** 32 or 64 (EI_CLASS). */
  elfClass: 32 | 64;
  type: number;
  machine: number;
  /** Decoder in the file's byte order, with the crashed kernel's pointer width. */
  fields: Fields;
  phdrs: CorePhdr[];
}

/**
 * Reads and checks the ELF header and the program header table, in kexec-tools' order and with its exit statuses:
 * 3 short e_ident, 4 no magic, 5 EI_VERSION, 6 EI_CLASS, 7 EI_DATA, 10 short header, 11 e_version, 12 e_phentsize,
 * 16 short program header table.
 * @throws KexecError naming the problem
 */
export function readCoreElf(src: CoreSource): CoreElf {
  const name = src.name;
  let ident: Uint8Array;
  try {
    ident = src.read(0n, EI_NIDENT);
  } catch (e) {
    // kexec-tools: "Read of e_ident from F failed" (a directory opens, then fails to read).
    return coreFail(3, `cannot read ${name}: ${describeFsError(e)}`);
  }
  if (ident.length < EI_NIDENT) {
    coreFail(3, `${name} is not an ELF core: ${ident.length} bytes, shorter than an ELF identification (16)`);
  }
  if (!ELF_MAGIC.every((b, i) => ident[i] === b)) coreFail(4, `${name} is not an ELF core (no \\x7fELF magic)`);
  if (ident[EI_VERSION] !== EV_CURRENT) coreFail(5, `${name}: bad ELF identification version ${ident[EI_VERSION]}`);
  const cls = ident[EI_CLASS];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) coreFail(6, `${name}: unknown ELF class ${cls}`);
  const data = ident[EI_DATA];
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) coreFail(7, `${name}: unknown ELF byte order ${data}`);
  const is64 = cls === ELFCLASS64;
  const le = data === ELFDATA2LSB;
  const hdrSize = is64 ? EHDR64_SIZE : EHDR32_SIZE;
  const hdr = readExact(src, 0n, hdrSize, "the ELF header", 10);
  const probe = fieldsOf(le, 8);
  const at = is64 ? EHDR : EHDR32;
  const type = probe.u16(hdr, at.type);
  const machine = probe.u16(hdr, at.machine);
  const version = probe.u32(hdr, at.version);
  const phoff = is64 ? probe.u64(hdr, EHDR.phoff) : BigInt(probe.u32(hdr, EHDR32.phoff));
  const phentsize = probe.u16(hdr, at.phentsize);
  const phnum = probe.u16(hdr, at.phnum);
  if (version !== EV_CURRENT) coreFail(11, `${name}: bad ELF header version ${version}`);
  const phSize = is64 ? PHDR64_SIZE : PHDR32_SIZE;
  if (phentsize !== phSize) {
    coreFail(12, `${name}: program header entries of ${phentsize} bytes (ELF${is64 ? 64 : 32} has ${phSize})`);
  }
  const table = readExact(src, phoff, phnum * phSize, `the program header table (${phnum} entries)`, 16);
  const phdrs: CorePhdr[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = i * phSize;
    if (is64) {
      phdrs.push({
        type: probe.u32(table, o + PHDR.type),
        flags: probe.u32(table, o + PHDR.flags),
        offset: probe.u64(table, o + PHDR.offset),
        vaddr: probe.u64(table, o + PHDR.vaddr),
        paddr: probe.u64(table, o + PHDR.paddr),
        filesz: probe.u64(table, o + PHDR.filesz),
        memsz: probe.u64(table, o + PHDR.memsz),
        align: probe.u64(table, o + PHDR.align),
      });
    } else {
      const u = (f: keyof typeof PHDR32) => probe.u32(table, o + PHDR32[f]);
      phdrs.push({
        type: u("type"),
        flags: u("flags"),
        offset: BigInt(u("offset")),
        vaddr: BigInt(u("vaddr")),
        paddr: BigInt(u("paddr")),
        filesz: BigInt(u("filesz")),
        memsz: BigInt(u("memsz")),
        align: BigInt(u("align")),
      });
    }
  }
  const pointerBytes = !is64 || machine === EM_386 ? 4 : 8;
  return { elfClass: is64 ? 64 : 32, type, machine, fields: fieldsOf(le, pointerBytes), phdrs };
}

/** A few `e_machine` names, for the summary. */
export function machineName(machine: number): string {
  const names: Record<number, string> = {
    3: "i386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390",
    40: "arm",
    62: "x86_64",
    183: "aarch64",
    243: "riscv",
    258: "loongarch",
  };
  return names[machine] ?? `machine ${machine}`;
}
