/**
 * x86_64 relocator for ELF relocatable objects (ET_REL), used to place the purgatory.
 *
 * Layout: every SHF_ALLOC section goes into one image. Sections with file contents come first, in section
 * index order, each at its sh_addralign; SHT_NOBITS sections follow. The image's first `bufLen` bytes are the
 * file-backed part; `memsz` also covers the NOBITS part (zero-filled by the kernel when the segment's
 * memsz > bufsz). The layout does not depend on the load address, so a caller can size the segment first
 * ({@link layoutRelocatable}) and relocate once it is placed ({@link relocate}).
 *
 * Relocations (x86_64 psABI, S = symbol address, A = addend, P = address of the patched field):
 * R_X86_64_NONE; R_X86_64_64 = S + A (64 bits); R_X86_64_32 = S + A (unsigned 32); R_X86_64_32S = S + A
 * (signed 32); R_X86_64_PC32 and R_X86_64_PLT32 = S + A - P (signed 32). Everything else is refused.
 *
 * @module
 */

import { fail, hex } from "../errors.ts";
import {
  EM_X86_64,
  ET_REL,
  SHF_ALLOC,
  SHN_ABS,
  SHN_COMMON,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHT_NOBITS,
  SHT_REL,
  SHT_SYMTAB,
  STB_GLOBAL,
  STB_WEAK,
  STT_SECTION,
} from "./constants.ts";
import { describeSection } from "./check.ts";
import type { ElfFile, ElfSymbol, Rela, SectionHeader } from "./types.ts";

/** x86_64 relocation types this relocator applies (psABI numbering). */
export const R_X86_64_NONE = 0;
/** S + A, 64 bits. */
export const R_X86_64_64 = 1;
/** S + A - P, signed 32 bits. */
export const R_X86_64_PC32 = 2;
/** L + A - P; with no PLT, S + A - P, signed 32 bits. */
export const R_X86_64_PLT32 = 4;
/** S + A, zero-extended 32 bits. */
export const R_X86_64_32 = 10;
/** S + A, sign-extended 32 bits. */
export const R_X86_64_32S = 11;

/** psABI names of x86_64 relocation types, for messages (index = type number). */
// deno-fmt-ignore
const R_X86_64_NAMES: readonly string[] = [
  "NONE", "64", "PC32", "GOT32", "PLT32", "COPY", "GLOB_DAT", "JUMP_SLOT", "RELATIVE", "GOTPCREL", // 0-9
  "32", "32S", "16", "PC16", "8", "PC8", "DTPMOD64", "DTPOFF64", "TPOFF64", "TLSGD", // 10-19
  "TLSLD", "DTPOFF32", "GOTTPOFF", "TPOFF32", "PC64", "GOTOFF64", "GOTPC32", "GOT64", "GOTPCREL64", "GOTPC64", // 20-29
  "GOTPLT64", "PLTOFF64", "SIZE32", "SIZE64", "GOTPC32_TLSDESC", "TLSDESC_CALL", "TLSDESC", "IRELATIVE", // 30-37
  "RELATIVE64", "", "", "GOTPCRELX", "REX_GOTPCRELX", // 38-42
];

/** `R_X86_64_PC32 (2)`, or just the number if the type has no name. */
export function relocationTypeName(type: number): string {
  const name = R_X86_64_NAMES[type];
  return name ? `R_X86_64_${name} (${type})` : `${type}`;
}

/** Where an ET_REL object's allocated sections go, independent of the load address. */
export interface RelocatableLayout {
  /** bytes with file contents (the segment's bufsz) */
  bufLen: number;
  /** bytes of memory the image occupies, NOBITS included (the segment's memsz before page rounding) */
  memsz: bigint;
  /** largest sh_addralign of the allocated sections (>= 1); the load address must be a multiple of it */
  align: bigint;
  /** offset in the image of each allocated section, by section index */
  sectionOffsets: ReadonlyMap<number, bigint>;
}

/** A defined global or weak symbol of a relocated image. */
export interface RelocatedSymbol {
  name: string;
  /** absolute (physical) address */
  addr: bigint;
  /** st_size, bytes */
  size: bigint;
  /** offset in the image, bytes; undefined for SHN_ABS symbols */
  offset: bigint | undefined;
  /** section index, or SHN_ABS */
  shndx: number;
  /** true if the symbol lies in a SHT_NOBITS section (so it has no bytes in `buf`) */
  nobits: boolean;
}

/** An ET_REL object laid out and relocated for one load address. */
export interface RelocatedImage {
  /** the file-backed part of the image, relocations applied (length = layout.bufLen) */
  buf: Uint8Array;
  /** bytes of memory the image occupies, NOBITS included */
  memsz: bigint;
  /** physical load address of image offset 0 */
  loadAddr: bigint;
  /** address of the entry symbol */
  entry: bigint;
  /** defined global and weak symbols by name */
  symbols: ReadonlyMap<string, RelocatedSymbol>;
  layout: RelocatableLayout;
}

/**
 * The largest image this relocator lays out, NOBITS included: 1 MiB. A purgatory is a few KiB of code and a stack
 * (ours: 2.7 KiB + 16 KiB) and goes into low memory with the boot data; an object whose sections (or their
 * sh_addralign padding) need more is refused before anything is allocated for it.
 */
export const MAX_RELOCATABLE_BYTES = 1n << 20n;

function relocError(message: string): never {
  return fail("relocation", message);
}

function isAlloc(section: SectionHeader): boolean {
  return (section.flags & SHF_ALLOC) !== 0n;
}

function alignUp(value: bigint, align: bigint): bigint {
  return (value + align - 1n) / align * align;
}

/**
 * Computes where each SHF_ALLOC section of an x86_64 ET_REL object goes.
 *
 * @throws KexecError("relocation") if the object is not an x86_64 ET_REL
 */
export function layoutRelocatable(obj: ElfFile): RelocatableLayout {
  if (obj.header.type !== ET_REL) relocError(`object is ELF type ${obj.header.type}, expected ET_REL (${ET_REL})`);
  if (obj.header.machine !== EM_X86_64) {
    relocError(`object is for machine ${obj.header.machine}, expected EM_X86_64 (${EM_X86_64})`);
  }
  const sectionOffsets = new Map<number, bigint>();
  let align = 1n;
  let end = 0n;
  const place = (section: SectionHeader) => {
    const sectionAlign = section.addralign > 1n ? section.addralign : 1n;
    const offset = alignUp(end, sectionAlign);
    if (sectionAlign > MAX_RELOCATABLE_BYTES || offset + section.size > MAX_RELOCATABLE_BYTES) {
      relocError(
        `${describeSection(section)} (sh_size ${hex(section.size)}, sh_addralign ${hex(sectionAlign)}) ` +
          `takes the image past ${hex(MAX_RELOCATABLE_BYTES)} bytes, the most a purgatory may take`,
      );
    }
    if (sectionAlign > align) align = sectionAlign;
    sectionOffsets.set(section.index, offset);
    end = offset + section.size;
  };
  const allocated = obj.sections.filter(isAlloc);
  for (const section of allocated) if (section.type !== SHT_NOBITS) place(section);
  const bufLen = end;
  for (const section of allocated) if (section.type === SHT_NOBITS) place(section);
  return { bufLen: Number(bufLen), memsz: end, align, sectionOffsets };
}

/**
 * Lays out an x86_64 ET_REL object at `loadAddr`, resolves its symbols and applies its RELA relocations.
 *
 * @param obj parsed object (see parseElf)
 * @param loadAddr physical address of image offset 0; must be a multiple of the layout's `align`
 * @param entrySymbol name of the global symbol whose address becomes `entry`
 * @throws KexecError("relocation") for a misaligned load address, an undefined or common symbol, an
 *   unsupported relocation type, a relocation outside its section, or a value that overflows its field
 */
export function relocate(obj: ElfFile, loadAddr: bigint, entrySymbol: string): RelocatedImage {
  const layout = layoutRelocatable(obj);
  if (loadAddr < 0n || loadAddr % layout.align !== 0n) {
    relocError(`load address ${hex(loadAddr)} is not a multiple of the object's alignment ${hex(layout.align)}`);
  }
  if (loadAddr + layout.memsz > 1n << 64n) {
    relocError(`object of ${hex(layout.memsz)} bytes at ${hex(loadAddr)} runs past the 64-bit address space`);
  }
  for (const section of obj.sections) {
    if (section.type === SHT_REL && isAlloc(obj.sections[section.info] ?? section)) {
      relocError(`${describeSection(section)} is SHT_REL; x86_64 objects use SHT_RELA`);
    }
  }

  const buf = new Uint8Array(layout.bufLen);
  for (const section of obj.sections) {
    const offset = layout.sectionOffsets.get(section.index);
    if (offset === undefined || section.type === SHT_NOBITS) continue;
    const start = Number(section.offset);
    buf.set(obj.bytes.subarray(start, start + Number(section.size)), Number(offset));
  }

  const ctx: Context = { obj, layout, loadAddr, buf, view: new DataView(buf.buffer) };
  for (const table of obj.relaTables) {
    const target = obj.sections[table.target];
    if (table.target === 0 || !isAlloc(target)) continue; // debug info and the like: not loaded
    if (target.type === SHT_NOBITS) {
      relocError(`${describeSection(obj.sections[table.section])} patches NOBITS ${describeSection(target)}`);
    }
    const symbols = obj.symbolTables.find((t) => t.section === table.symtab)!.symbols;
    for (const rela of table.entries) applyRela(ctx, target, table.section, symbols, rela);
  }

  const symbols = collectSymbols(ctx);
  const entry = symbols.get(entrySymbol) ??
    relocError(`entry symbol "${entrySymbol}" is not defined as a global symbol in the object`);
  return { buf, memsz: layout.memsz, loadAddr, entry: entry.addr, symbols, layout };
}

/**
 * Looks up a defined global symbol of a relocated image.
 *
 * @throws KexecError("relocation") if the image has no such symbol
 */
export function lookupSymbol(image: RelocatedImage, name: string): RelocatedSymbol {
  return image.symbols.get(name) ?? relocError(`symbol "${name}" is not defined in the relocated object`);
}

interface Context {
  obj: ElfFile;
  layout: RelocatableLayout;
  loadAddr: bigint;
  buf: Uint8Array;
  view: DataView;
}

/** The name of a symbol for messages: its own, or its section's for STT_SECTION symbols. */
function symbolName(obj: ElfFile, symbol: ElfSymbol): string {
  if (symbol.type === STT_SECTION && symbol.shndx < obj.sections.length) {
    return `section symbol ${obj.sections[symbol.shndx].name}`;
  }
  return symbol.name === "" ? `symbol ${symbol.index}` : `"${symbol.name}"`;
}

/** The absolute address of a symbol at this load address. */
function symbolAddress(ctx: Context, symbol: ElfSymbol): bigint {
  if (symbol.index === 0) return 0n; // STN_UNDEF: the relocation has no symbol
  const name = symbolName(ctx.obj, symbol);
  if (symbol.shndx === SHN_UNDEF) relocError(`symbol ${name} is undefined (SHN_UNDEF); the object must be complete`);
  if (symbol.shndx === SHN_COMMON) {
    relocError(`symbol ${name} is a common symbol (SHN_COMMON); compile with -fno-common`);
  }
  if (symbol.shndx === SHN_ABS) return symbol.value;
  if (symbol.shndx >= SHN_LORESERVE) relocError(`symbol ${name} has unsupported section index ${hex(symbol.shndx)}`);
  const offset = ctx.layout.sectionOffsets.get(symbol.shndx);
  if (offset === undefined) {
    relocError(`symbol ${name} is in ${describeSection(ctx.obj.sections[symbol.shndx])}, which is not allocated`);
  }
  return ctx.loadAddr + offset + symbol.value;
}

/** Bytes patched by each supported type. */
const FIELD_BYTES: Readonly<Record<number, bigint>> = {
  [R_X86_64_NONE]: 0n,
  [R_X86_64_64]: 8n,
  [R_X86_64_PC32]: 4n,
  [R_X86_64_PLT32]: 4n,
  [R_X86_64_32]: 4n,
  [R_X86_64_32S]: 4n,
};

function applyRela(ctx: Context, target: SectionHeader, relaSection: number, symbols: ElfSymbol[], rela: Rela) {
  const where = () =>
    `${relocationTypeName(rela.type)} relocation ${rela.index} in ` +
    `${describeSection(ctx.obj.sections[relaSection])} at ${target.name || describeSection(target)}+${
      hex(rela.offset)
    }`;
  const width = FIELD_BYTES[rela.type];
  if (width === undefined) relocError(`unsupported ${where()}: this relocator handles NONE, 64, 32, 32S, PC32, PLT32`);
  if (rela.offset + width > target.size) {
    relocError(`${where()} patches ${width} bytes past the end of the section (${hex(target.size)} bytes)`);
  }
  if (rela.type === R_X86_64_NONE) return;

  const symbol = symbols[rela.sym];
  const s = symbolAddress(ctx, symbol);
  const sectionOffset = ctx.layout.sectionOffsets.get(target.index)!;
  const p = ctx.loadAddr + sectionOffset + rela.offset;
  const at = Number(sectionOffset + rela.offset);
  const overflow = (value: bigint, range: string): never =>
    relocError(
      `${where()} against ${symbolName(ctx.obj, symbol)}: value ${value < 0n ? "-" + hex(-value) : hex(value)}` +
        ` does not fit in ${range} (load address ${hex(ctx.loadAddr)})`,
    );
  switch (rela.type) {
    case R_X86_64_64:
      ctx.view.setBigUint64(at, BigInt.asUintN(64, s + rela.addend), true);
      break;
    case R_X86_64_32: {
      const value = s + rela.addend;
      if (value < 0n || value > 0xffff_ffffn) overflow(value, "unsigned 32 bits");
      ctx.view.setUint32(at, Number(value), true);
      break;
    }
    case R_X86_64_32S: {
      const value = s + rela.addend;
      if (value < -(1n << 31n) || value >= 1n << 31n) overflow(value, "signed 32 bits");
      ctx.view.setInt32(at, Number(value), true);
      break;
    }
    case R_X86_64_PC32:
    case R_X86_64_PLT32: {
      const value = s + rela.addend - p;
      if (value < -(1n << 31n) || value >= 1n << 31n) overflow(value, "signed 32 bits (S + A - P)");
      ctx.view.setInt32(at, Number(value), true);
      break;
    }
  }
}

function collectSymbols(ctx: Context): Map<string, RelocatedSymbol> {
  const symbols = new Map<string, RelocatedSymbol>();
  for (const table of ctx.obj.symbolTables) {
    if (ctx.obj.sections[table.section].type !== SHT_SYMTAB) continue;
    for (const symbol of table.symbols) {
      if (symbol.bind !== STB_GLOBAL && symbol.bind !== STB_WEAK) continue;
      if (symbol.name === "" || symbol.shndx === SHN_UNDEF || symbols.has(symbol.name)) continue;
      if (symbol.shndx !== SHN_ABS && !ctx.layout.sectionOffsets.has(symbol.shndx)) continue;
      const addr = symbolAddress(ctx, symbol);
      const inSection = symbol.shndx !== SHN_ABS;
      symbols.set(symbol.name, {
        name: symbol.name,
        addr,
        size: symbol.size,
        offset: inSection ? addr - ctx.loadAddr : undefined,
        shndx: symbol.shndx,
        nobits: inSection && ctx.obj.sections[symbol.shndx].type === SHT_NOBITS,
      });
    }
  }
  return symbols;
}
