/**
 * ELF64 little-endian reader: header, program headers, section headers and names. Symbol tables and RELA
 * sections are parsed by {@link parseElf} too (see ./symbols.ts). Used for the purgatory object (ET_REL), ELF
 * kernels (ET_EXEC) and core files (ET_CORE).
 *
 * Everything is validated up front: a file that parses is safe to index with the offsets it contains. Any
 * inconsistency is a `KexecError("bad-elf")` whose message names the field, its file offset and the bound.
 *
 * @module
 */

import { hex } from "../errors.ts";
import {
  EHDR,
  EHDR_SIZE,
  EI_CLASS,
  EI_DATA,
  EI_OSABI,
  EI_VERSION,
  ELF_MAGIC,
  ELFCLASS64,
  ELFDATA2LSB,
  EV_CURRENT,
  PHDR,
  PHDR_SIZE,
  PN_XNUM,
  PT_LOAD,
  SHDR,
  SHDR_SIZE,
  SHN_UNDEF,
  SHN_XINDEX,
  SHT_NOBITS,
  SHT_NULL,
  SHT_STRTAB,
  shtName,
} from "./constants.ts";
import { badElf, describeSection, readString } from "./check.ts";
import { parseRelaTables, parseSymbolTables } from "./symbols.ts";
import type { ElfFile, ElfHeader, ProgramHeader, SectionHeader } from "./types.ts";

export { badElf, describeSection, readString } from "./check.ts";
export type * from "./types.ts";

/** Options for {@link parseElf}. */
export interface ParseOptions {
  /**
   * Check that every program header's file range (p_offset + p_filesz) lies inside `bytes` (default true).
   * Pass false to parse just the headers of a large file (e.g. the first pages of a core file).
   */
  checkSegmentBounds?: boolean;
}

/** Whether `bytes` starts with the ELF magic, `\x7fELF`. */
export function hasElfMagic(bytes: Uint8Array): boolean {
  return bytes.length >= ELF_MAGIC.length && ELF_MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * Parses and validates an ELF64 little-endian file.
 *
 * @param bytes the whole file (or, with `checkSegmentBounds: false`, a prefix holding all the headers)
 * @throws KexecError("bad-elf") naming the offending field, its file offset and the violated bound
 */
export function parseElf(bytes: Uint8Array, options: ParseOptions = {}): ElfFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = parseHeader(bytes, view);
  const sections = parseSectionHeaders(bytes, view, header);
  const programHeaders = parseProgramHeaders(bytes, view, header, options.checkSegmentBounds ?? true);
  const symbolTables = parseSymbolTables(bytes, view, sections);
  const relaTables = parseRelaTables(view, sections, symbolTables);
  return { bytes, header, programHeaders, sections, symbolTables, relaTables };
}

/**
 * The file bytes of a section (a view, not a copy); empty for SHT_NOBITS and SHT_NULL.
 * Bounds were checked by {@link parseElf}.
 */
export function sectionBytes(elf: ElfFile, section: SectionHeader): Uint8Array {
  if (section.type === SHT_NOBITS || section.type === SHT_NULL) return new Uint8Array(0);
  const start = Number(section.offset);
  return elf.bytes.subarray(start, start + Number(section.size));
}

/** The first section with this name, or undefined. */
export function findSection(elf: ElfFile, name: string): SectionHeader | undefined {
  return elf.sections.find((s) => s.name === name);
}

function parseHeader(bytes: Uint8Array, view: DataView): ElfHeader {
  const fileSize = bytes.length;
  if (fileSize < ELF_MAGIC.length) badElf(`file is ${fileSize} bytes, too short for the ELF magic`);
  if (!hasElfMagic(bytes)) {
    badElf(`bad magic ${hexBytes(bytes.subarray(0, ELF_MAGIC.length))} at 0x0, expected 7f 45 4c 46 ("\\x7fELF")`);
  }
  if (fileSize < EHDR_SIZE) {
    badElf(`file is ${fileSize} bytes, shorter than the ${EHDR_SIZE}-byte ELF64 header (truncated)`);
  }
  if (bytes[EI_CLASS] !== ELFCLASS64) {
    badElf(`EI_CLASS at ${hex(EI_CLASS)} is ${bytes[EI_CLASS]}, expected ELFCLASS64 (${ELFCLASS64}): not a 64-bit ELF`);
  }
  if (bytes[EI_DATA] !== ELFDATA2LSB) {
    badElf(`EI_DATA at ${hex(EI_DATA)} is ${bytes[EI_DATA]}, expected ELFDATA2LSB (${ELFDATA2LSB}): not little-endian`);
  }
  if (bytes[EI_VERSION] !== EV_CURRENT) {
    badElf(`EI_VERSION at ${hex(EI_VERSION)} is ${bytes[EI_VERSION]}, expected EV_CURRENT (${EV_CURRENT})`);
  }
  const version = view.getUint32(EHDR.version, true);
  if (version !== EV_CURRENT) badElf(`e_version at ${hex(EHDR.version)} is ${version}, expected EV_CURRENT (1)`);
  const ehsize = view.getUint16(EHDR.ehsize, true);
  if (ehsize !== EHDR_SIZE) badElf(`e_ehsize at ${hex(EHDR.ehsize)} is ${ehsize}, expected ${EHDR_SIZE}`);

  const header: ElfHeader = {
    osabi: bytes[EI_OSABI],
    type: view.getUint16(EHDR.type, true),
    machine: view.getUint16(EHDR.machine, true),
    entry: view.getBigUint64(EHDR.entry, true),
    phoff: view.getBigUint64(EHDR.phoff, true),
    shoff: view.getBigUint64(EHDR.shoff, true),
    flags: view.getUint32(EHDR.flags, true),
    phnum: view.getUint16(EHDR.phnum, true),
    shnum: view.getUint16(EHDR.shnum, true),
    shstrndx: view.getUint16(EHDR.shstrndx, true),
  };
  checkEntrySize(view, "e_phentsize", EHDR.phentsize, PHDR_SIZE, header.phnum);
  // e_shnum 0 with a section header table means extended numbering: section 0 must still be readable.
  const shdrsPresent = header.shnum !== 0 || header.shoff !== 0n ? 1 : 0;
  checkEntrySize(view, "e_shentsize", EHDR.shentsize, SHDR_SIZE, shdrsPresent);

  if (header.shoff === 0n) {
    if (header.shnum !== 0) badElf(`e_shnum at ${hex(EHDR.shnum)} is ${header.shnum} but e_shoff is 0`);
    if (header.phnum === PN_XNUM) badElf(`e_phnum is PN_XNUM (0xffff) but there is no section 0 (e_shoff is 0)`);
    header.shstrndx = SHN_UNDEF;
    return header;
  }
  // Extended numbering: section 0 holds the real counts when they do not fit the 16-bit header fields.
  const needsSection0 = header.shnum === 0 || header.shstrndx === SHN_XINDEX || header.phnum === PN_XNUM;
  if (needsSection0) {
    checkTable("section header 0", "e_shoff", header.shoff, 1, SHDR_SIZE, fileSize);
    const s0 = Number(header.shoff);
    if (header.shnum === 0) {
      const count = view.getBigUint64(s0 + SHDR.size, true);
      // Bounded by the file size below; a count this large cannot fit in any file we hold.
      if (count > BigInt(fileSize)) {
        badElf(`section 0 sh_size (extended e_shnum) is ${count}, more section headers than the file can hold`);
      }
      header.shnum = Number(count);
    }
    if (header.shstrndx === SHN_XINDEX) header.shstrndx = view.getUint32(s0 + SHDR.link, true);
    if (header.phnum === PN_XNUM) header.phnum = view.getUint32(s0 + SHDR.info, true);
  }
  return header;
}

function checkEntrySize(view: DataView, field: string, offset: number, expected: number, count: number): void {
  const value = view.getUint16(offset, true);
  if (value === expected || (count === 0 && value === 0)) return;
  badElf(`${field} at ${hex(offset)} is ${value}, expected ${expected}`);
}

/** Checks that `count` entries of `entsize` bytes at `offset` fit in the file. */
function checkTable(what: string, field: string, offset: bigint, count: number, entsize: number, fileSize: number) {
  if (offset + BigInt(count) * BigInt(entsize) > BigInt(fileSize)) {
    badElf(
      `${what} at ${hex(offset)} (${field}) + ${count}*${entsize} bytes runs past end of file (${hex(fileSize)} bytes)`,
    );
  }
}

function parseSectionHeaders(bytes: Uint8Array, view: DataView, header: ElfHeader): SectionHeader[] {
  const fileSize = bytes.length;
  checkTable("section header table", "e_shoff", header.shoff, header.shnum, SHDR_SIZE, fileSize);
  const sections: SectionHeader[] = [];
  for (let index = 0; index < header.shnum; index++) {
    const at = Number(header.shoff) + index * SHDR_SIZE;
    sections.push({
      index,
      name: "",
      type: view.getUint32(at + SHDR.type, true),
      flags: view.getBigUint64(at + SHDR.flags, true),
      addr: view.getBigUint64(at + SHDR.addr, true),
      offset: view.getBigUint64(at + SHDR.offset, true),
      size: view.getBigUint64(at + SHDR.size, true),
      link: view.getUint32(at + SHDR.link, true),
      info: view.getUint32(at + SHDR.info, true),
      addralign: view.getBigUint64(at + SHDR.addralign, true),
      entsize: view.getBigUint64(at + SHDR.entsize, true),
      headerOffset: at,
    });
  }
  if (sections.length === 0) return sections;

  if (header.shstrndx !== SHN_UNDEF) {
    const where = `e_shstrndx at ${hex(EHDR.shstrndx)}`;
    if (header.shstrndx >= sections.length) {
      badElf(`${where} is ${header.shstrndx} but there are only ${sections.length} sections`);
    }
    const table = sections[header.shstrndx];
    if (table.type !== SHT_STRTAB) {
      badElf(`${where} names section ${table.index}, of type ${shtName(table.type)}, not SHT_STRTAB`);
    }
    checkSectionBounds(table, fileSize);
    // The table's own name first, so that messages about the other names can say which table it is.
    for (const section of [table, ...sections]) {
      const nameIndex = view.getUint32(section.headerOffset + SHDR.name, true);
      section.name = readString(bytes, table, nameIndex, `section ${section.index} sh_name`);
    }
  }
  for (const section of sections) {
    checkSectionBounds(section, fileSize);
    const align = section.addralign;
    if ((align & (align - 1n)) !== 0n) {
      badElf(
        `${describeSection(section)} sh_addralign (header at ${hex(section.headerOffset)}) is ${
          hex(align)
        }, not a power of two`,
      );
    }
    if (section.link >= sections.length) {
      // Types that define sh_link (symbol tables, RELA) are checked further in ./symbols.ts.
      badElf(
        `${describeSection(section)} sh_link (header at ${hex(section.headerOffset)}) is ${section.link}` +
          ` but there are only ${sections.length} sections`,
      );
    }
  }
  return sections;
}

function checkSectionBounds(section: SectionHeader, fileSize: number): void {
  if (section.type === SHT_NOBITS || section.type === SHT_NULL) return;
  if (section.offset + section.size > BigInt(fileSize)) {
    badElf(
      `${describeSection(section)} at ${hex(section.offset)} (sh_offset) + ${hex(section.size)} bytes (sh_size)` +
        ` runs past end of file (${hex(fileSize)} bytes); section header at ${hex(section.headerOffset)}`,
    );
  }
}

function parseProgramHeaders(bytes: Uint8Array, view: DataView, header: ElfHeader, checkBounds: boolean) {
  const fileSize = bytes.length;
  checkTable("program header table", "e_phoff", header.phoff, header.phnum, PHDR_SIZE, fileSize);
  const headers: ProgramHeader[] = [];
  for (let index = 0; index < header.phnum; index++) {
    const at = Number(header.phoff) + index * PHDR_SIZE;
    const ph: ProgramHeader = {
      index,
      type: view.getUint32(at + PHDR.type, true),
      flags: view.getUint32(at + PHDR.flags, true),
      offset: view.getBigUint64(at + PHDR.offset, true),
      vaddr: view.getBigUint64(at + PHDR.vaddr, true),
      paddr: view.getBigUint64(at + PHDR.paddr, true),
      filesz: view.getBigUint64(at + PHDR.filesz, true),
      memsz: view.getBigUint64(at + PHDR.memsz, true),
      align: view.getBigUint64(at + PHDR.align, true),
    };
    if (checkBounds && ph.offset + ph.filesz > BigInt(fileSize)) {
      badElf(
        `program header ${index} (at ${hex(at)}): ${hex(ph.offset)} (p_offset) + ${hex(ph.filesz)} bytes (p_filesz)` +
          ` runs past end of file (${hex(fileSize)} bytes)`,
      );
    }
    if (ph.type === PT_LOAD && ph.filesz > ph.memsz) {
      badElf(`program header ${index} (at ${hex(at)}): p_filesz ${hex(ph.filesz)} > p_memsz ${hex(ph.memsz)}`);
    }
    headers.push(ph);
  }
  return headers;
}

function hexBytes(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}
