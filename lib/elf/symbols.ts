/**
 * Symbol tables (SHT_SYMTAB, SHT_DYNSYM) and relocation sections (SHT_RELA) of an ELF64 file: parsed and
 * validated for {@link ../reader.ts parseElf}.
 *
 * @module
 */

import { hex } from "../errors.ts";
import { badElf, describeSection, readString } from "./check.ts";
import {
  RELA,
  RELA_SIZE,
  SHN_LORESERVE,
  SHN_XINDEX,
  SHT_DYNSYM,
  SHT_NAMES,
  SHT_RELA,
  SHT_STRTAB,
  SHT_SYMTAB,
  shtName,
  SYM,
  SYM_SIZE,
} from "./constants.ts";
import type { ElfSymbol, Rela, RelaTable, SectionHeader, SymbolTable } from "./types.ts";

/**
 * Parses every SHT_SYMTAB and SHT_DYNSYM section.
 *
 * @throws KexecError("bad-elf") on a bad sh_entsize, sh_size, sh_link (string table) or sh_info, a symbol
 *   name outside its string table, or an st_shndx that names no section
 */
export function parseSymbolTables(bytes: Uint8Array, view: DataView, sections: SectionHeader[]): SymbolTable[] {
  const tables: SymbolTable[] = [];
  for (const section of sections) {
    if (section.type !== SHT_SYMTAB && section.type !== SHT_DYNSYM) continue;
    const count = entryCount(section, SYM_SIZE, "symbol");
    const strtab = linkedSection(section, sections, SHT_STRTAB, "SHT_STRTAB");
    if (section.info > count) {
      badElf(
        `${describeSection(section)} sh_info (first non-local symbol, header at ${hex(section.headerOffset)})` +
          ` is ${section.info} but the table has only ${count} symbols`,
      );
    }
    const symbols: ElfSymbol[] = [];
    for (let index = 0; index < count; index++) {
      const at = Number(section.offset) + index * SYM_SIZE;
      const what = `symbol ${index} in ${describeSection(section)} (at ${hex(at)})`;
      const info = bytes[at + SYM.info];
      const symbol: ElfSymbol = {
        index,
        name: readString(bytes, strtab, view.getUint32(at + SYM.name, true), `${what} st_name`),
        value: view.getBigUint64(at + SYM.value, true),
        size: view.getBigUint64(at + SYM.size, true),
        bind: info >> 4,
        type: info & 0xf,
        other: bytes[at + SYM.other],
        shndx: view.getUint16(at + SYM.shndx, true),
        fileOffset: at,
      };
      if (symbol.shndx === SHN_XINDEX) {
        badElf(`${what} st_shndx is SHN_XINDEX (0xffff); SHT_SYMTAB_SHNDX tables are not supported`);
      }
      if (symbol.shndx >= sections.length && symbol.shndx < SHN_LORESERVE) {
        badElf(`${what} st_shndx is ${symbol.shndx}, but there are only ${sections.length} sections`);
      }
      symbols.push(symbol);
    }
    tables.push({ section: section.index, strtab: strtab.index, firstGlobal: section.info, symbols });
  }
  return tables;
}

/**
 * Parses every SHT_RELA section.
 *
 * @throws KexecError("bad-elf") on a bad sh_entsize, sh_size, sh_link (symbol table) or sh_info (target
 *   section), or a relocation whose symbol index is past the linked symbol table
 */
export function parseRelaTables(
  view: DataView,
  sections: SectionHeader[],
  symbolTables: SymbolTable[],
): RelaTable[] {
  const tables: RelaTable[] = [];
  for (const section of sections) {
    if (section.type !== SHT_RELA) continue;
    const count = entryCount(section, RELA_SIZE, "relocation");
    const symtab = linkedSection(section, sections, SHT_SYMTAB, "SHT_SYMTAB or SHT_DYNSYM", SHT_DYNSYM);
    const symbols = symbolTables.find((t) => t.section === symtab.index)!.symbols;
    if (section.info >= sections.length) {
      badElf(
        `${describeSection(section)} sh_info (target section, header at ${hex(section.headerOffset)})` +
          ` is ${section.info} but there are only ${sections.length} sections`,
      );
    }
    const entries: Rela[] = [];
    for (let index = 0; index < count; index++) {
      const at = Number(section.offset) + index * RELA_SIZE;
      const info = view.getBigUint64(at + RELA.info, true);
      const rela: Rela = {
        index,
        offset: view.getBigUint64(at + RELA.offset, true),
        type: Number(info & 0xffffffffn),
        sym: Number(info >> 32n),
        addend: view.getBigInt64(at + RELA.addend, true),
        fileOffset: at,
      };
      if (rela.sym >= symbols.length) {
        badElf(
          `relocation ${index} in ${describeSection(section)} (at ${hex(at)}) refers to symbol ${rela.sym},` +
            ` but ${describeSection(symtab)} has ${symbols.length} symbols`,
        );
      }
      entries.push(rela);
    }
    tables.push({ section: section.index, symtab: symtab.index, target: section.info, entries });
  }
  return tables;
}

/** Checks sh_entsize and that sh_size is a whole number of entries; returns the entry count. */
function entryCount(section: SectionHeader, entsize: number, kind: string): number {
  const where = `${describeSection(section)} (${SHT_NAMES[section.type]}, header at ${hex(section.headerOffset)})`;
  if (section.entsize !== BigInt(entsize)) {
    badElf(`${where} sh_entsize is ${section.entsize}; ${kind} entries are ${entsize} bytes`);
  }
  if (section.size % BigInt(entsize) !== 0n) {
    badElf(`${where} sh_size ${hex(section.size)} is not a multiple of the ${entsize}-byte entry size`);
  }
  return Number(section.size / BigInt(entsize));
}

/** Returns the section named by sh_link, which must be of type `type` (or `altType`). */
function linkedSection(
  section: SectionHeader,
  sections: SectionHeader[],
  type: number,
  typeName: string,
  altType = type,
): SectionHeader {
  const where = `${describeSection(section)} sh_link (header at ${hex(section.headerOffset)})`;
  if (section.link === 0 || section.link >= sections.length) {
    badElf(`${where} is ${section.link}, not a valid section index (${sections.length} sections)`);
  }
  const linked = sections[section.link];
  if (linked.type !== type && linked.type !== altType) {
    badElf(`${where} is ${section.link}: ${describeSection(linked)} has type ${shtName(linked.type)}, not ${typeName}`);
  }
  return linked;
}
