/**
 * Types of a parsed ELF64 file (see ./reader.ts). Addresses, file offsets and sizes from the file are `bigint`
 * (ELF64 fields are 64-bit); indexes and counts are `number`.
 *
 * @module
 */

/** The ELF file header (Elf64_Ehdr), with extended numbering (PN_XNUM, SHN_XINDEX, e_shnum 0) resolved. */
export interface ElfHeader {
  osabi: number;
  /** ET_* */
  type: number;
  /** EM_* */
  machine: number;
  /** virtual entry address */
  entry: bigint;
  /** file offset of the program header table, bytes */
  phoff: bigint;
  /** file offset of the section header table, bytes */
  shoff: bigint;
  flags: number;
  /** number of program headers (resolved from section 0 when e_phnum is PN_XNUM) */
  phnum: number;
  /** number of section headers (resolved from section 0 when e_shnum is 0) */
  shnum: number;
  /** index of the section-name string table (resolved from section 0 when SHN_XINDEX); 0 = none */
  shstrndx: number;
}

/** One program header (Elf64_Phdr). Offsets and sizes in bytes. */
export interface ProgramHeader {
  index: number;
  /** PT_* */
  type: number;
  /** PF_* */
  flags: number;
  offset: bigint;
  vaddr: bigint;
  paddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align: bigint;
}

/** One section header (Elf64_Shdr) with its name resolved. Offsets and sizes in bytes. */
export interface SectionHeader {
  index: number;
  name: string;
  /** SHT_* */
  type: number;
  /** SHF_* bits */
  flags: bigint;
  addr: bigint;
  offset: bigint;
  size: bigint;
  link: number;
  info: number;
  addralign: bigint;
  entsize: bigint;
  /** file offset of this section header */
  headerOffset: number;
}

/** One symbol (Elf64_Sym) with its name resolved. */
export interface ElfSymbol {
  /** index in its symbol table */
  index: number;
  name: string;
  /** st_value: for ET_REL, offset in section st_shndx; else a virtual address */
  value: bigint;
  /** st_size, bytes */
  size: bigint;
  /** STB_* */
  bind: number;
  /** STT_* */
  type: number;
  other: number;
  /** section index, or SHN_UNDEF / SHN_ABS / SHN_COMMON / another reserved index */
  shndx: number;
  /** file offset of this Elf64_Sym */
  fileOffset: number;
}

/** One SHT_SYMTAB or SHT_DYNSYM section. */
export interface SymbolTable {
  /** index of the symbol table section */
  section: number;
  /** index of its string table (sh_link) */
  strtab: number;
  /** index of the first non-local symbol (sh_info) */
  firstGlobal: number;
  symbols: ElfSymbol[];
}

/** One relocation with addend (Elf64_Rela). */
export interface Rela {
  /** index in its RELA section */
  index: number;
  /** r_offset: for ET_REL, offset in the target section, bytes */
  offset: bigint;
  /** ELF64_R_TYPE(r_info) */
  type: number;
  /** ELF64_R_SYM(r_info): index in the linked symbol table */
  sym: number;
  addend: bigint;
  /** file offset of this Elf64_Rela */
  fileOffset: number;
}

/** One SHT_RELA section. */
export interface RelaTable {
  /** index of the RELA section */
  section: number;
  /** index of the symbol table it uses (sh_link) */
  symtab: number;
  /** index of the section it patches (sh_info); 0 if none (e.g. dynamic relocations) */
  target: number;
  entries: Rela[];
}

/** A parsed, validated ELF64 little-endian file. */
export interface ElfFile {
  /** the whole file; every other field indexes into it */
  bytes: Uint8Array;
  header: ElfHeader;
  programHeaders: ProgramHeader[];
  /** all section headers, by index (index 0 is the null section) */
  sections: SectionHeader[];
  /** every SHT_SYMTAB and SHT_DYNSYM section, in section order */
  symbolTables: SymbolTable[];
  /** every SHT_RELA section, in section order */
  relaTables: RelaTable[];
}
