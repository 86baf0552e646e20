/**
 * ELF64 constants and record layouts (System V gABI, x86_64 psABI), shared by the reader, the relocator and
 * the core-file writer. Offsets are byte offsets inside each record; sizes are in bytes.
 *
 * @module
 */

/** `e_ident` bytes 0..3. */
export const ELF_MAGIC: readonly number[] = [0x7f, 0x45, 0x4c, 0x46];

/** Indexes into `e_ident`. */
export const EI_CLASS = 4;
/** Index of the data-encoding byte in `e_ident`. */
export const EI_DATA = 5;
/** Index of the ident version byte in `e_ident`. */
export const EI_VERSION = 6;
/** Index of the OS ABI byte in `e_ident`. */
export const EI_OSABI = 7;

/** `e_ident[EI_CLASS]`: 32-bit objects. */
export const ELFCLASS32 = 1;
/** `e_ident[EI_CLASS]`: 64-bit objects. */
export const ELFCLASS64 = 2;
/** `e_ident[EI_DATA]`: two's complement, little-endian. */
export const ELFDATA2LSB = 1;
/** `e_ident[EI_DATA]`: two's complement, big-endian. */
export const ELFDATA2MSB = 2;
/** `e_ident[EI_VERSION]` and `e_version`. */
export const EV_CURRENT = 1;

/** `e_type` values. */
export const ET_NONE = 0;
/** Relocatable object. */
export const ET_REL = 1;
/** Executable. */
export const ET_EXEC = 2;
/** Shared object / PIE. */
export const ET_DYN = 3;
/** Core file. */
export const ET_CORE = 4;

/** `e_machine` for x86_64. */
export const EM_X86_64 = 62;

/** Elf64_Ehdr field offsets (64 bytes). */
export const EHDR = {
  ident: 0x00,
  type: 0x10,
  machine: 0x12,
  version: 0x14,
  entry: 0x18,
  phoff: 0x20,
  shoff: 0x28,
  flags: 0x30,
  ehsize: 0x34,
  phentsize: 0x36,
  phnum: 0x38,
  shentsize: 0x3a,
  shnum: 0x3c,
  shstrndx: 0x3e,
} as const;
/** sizeof(Elf64_Ehdr) in bytes. */
export const EHDR_SIZE = 64;

/** Elf64_Phdr field offsets (56 bytes). */
export const PHDR = {
  type: 0x00,
  flags: 0x04,
  offset: 0x08,
  vaddr: 0x10,
  paddr: 0x18,
  filesz: 0x20,
  memsz: 0x28,
  align: 0x30,
} as const;
/** sizeof(Elf64_Phdr) in bytes. */
export const PHDR_SIZE = 56;

/** Elf64_Shdr field offsets (64 bytes). */
export const SHDR = {
  name: 0x00,
  type: 0x04,
  flags: 0x08,
  addr: 0x10,
  offset: 0x18,
  size: 0x20,
  link: 0x28,
  info: 0x2c,
  addralign: 0x30,
  entsize: 0x38,
} as const;
/** sizeof(Elf64_Shdr) in bytes. */
export const SHDR_SIZE = 64;

/** Elf64_Sym field offsets (24 bytes). */
export const SYM = {
  name: 0x00,
  info: 0x04,
  other: 0x05,
  shndx: 0x06,
  value: 0x08,
  size: 0x10,
} as const;
/** sizeof(Elf64_Sym) in bytes. */
export const SYM_SIZE = 24;

/** Elf64_Rela field offsets (24 bytes). */
export const RELA = {
  offset: 0x00,
  info: 0x08,
  addend: 0x10,
} as const;
/** sizeof(Elf64_Rela) in bytes. */
export const RELA_SIZE = 24;

/** Elf64_Nhdr field offsets (12 bytes; name and descriptor follow, each padded to 4 bytes). */
export const NHDR = {
  namesz: 0x00,
  descsz: 0x04,
  type: 0x08,
} as const;
/** sizeof(Elf64_Nhdr) in bytes. */
export const NHDR_SIZE = 12;

/** `p_type` values. */
export const PT_NULL = 0;
/** Loadable segment. */
export const PT_LOAD = 1;
/** Dynamic linking information. */
export const PT_DYNAMIC = 2;
/** Program interpreter path. */
export const PT_INTERP = 3;
/** Notes. */
export const PT_NOTE = 4;
/** The program header table itself. */
export const PT_PHDR = 6;
/** Thread-local storage template. */
export const PT_TLS = 7;

/** `p_flags` bits. */
export const PF_X = 1;
/** Segment is writable. */
export const PF_W = 2;
/** Segment is readable. */
export const PF_R = 4;

/** `e_phnum` value meaning "the real count is in section 0's sh_info". */
export const PN_XNUM = 0xffff;

/** `sh_type` values. */
export const SHT_NULL = 0;
/** Program-defined contents. */
export const SHT_PROGBITS = 1;
/** Symbol table. */
export const SHT_SYMTAB = 2;
/** String table. */
export const SHT_STRTAB = 3;
/** Relocations with explicit addends. */
export const SHT_RELA = 4;
/** Symbol hash table. */
export const SHT_HASH = 5;
/** Dynamic linking information. */
export const SHT_DYNAMIC = 6;
/** Notes. */
export const SHT_NOTE = 7;
/** Occupies memory but no file space (.bss). */
export const SHT_NOBITS = 8;
/** Relocations without addends. */
export const SHT_REL = 9;
/** Dynamic symbol table. */
export const SHT_DYNSYM = 11;
/** Extended section indexes for a symbol table. */
export const SHT_SYMTAB_SHNDX = 18;

/** `sh_flags` bits. */
export const SHF_WRITE = 0x1n;
/** Section occupies memory at run time. */
export const SHF_ALLOC = 0x2n;
/** Section holds machine instructions. */
export const SHF_EXECINSTR = 0x4n;
/** `sh_info` holds a section index. */
export const SHF_INFO_LINK = 0x40n;

/** Special section indexes. */
export const SHN_UNDEF = 0;
/** First reserved index. */
export const SHN_LORESERVE = 0xff00;
/** Absolute symbol value. */
export const SHN_ABS = 0xfff1;
/** Common (unallocated) symbol. */
export const SHN_COMMON = 0xfff2;
/** Index is in SHT_SYMTAB_SHNDX (or, as e_shstrndx, in section 0's sh_link). */
export const SHN_XINDEX = 0xffff;

/** Symbol binding (`st_info >> 4`). */
export const STB_LOCAL = 0;
/** Global symbol. */
export const STB_GLOBAL = 1;
/** Weak symbol. */
export const STB_WEAK = 2;

/** Symbol type (`st_info & 0xf`). */
export const STT_NOTYPE = 0;
/** Data object. */
export const STT_OBJECT = 1;
/** Function. */
export const STT_FUNC = 2;
/** Section symbol. */
export const STT_SECTION = 3;
/** Source file name. */
export const STT_FILE = 4;

/** Names of `sh_type` values, for messages. */
export const SHT_NAMES: Readonly<Record<number, string>> = {
  [SHT_NULL]: "SHT_NULL",
  [SHT_PROGBITS]: "SHT_PROGBITS",
  [SHT_SYMTAB]: "SHT_SYMTAB",
  [SHT_STRTAB]: "SHT_STRTAB",
  [SHT_RELA]: "SHT_RELA",
  [SHT_HASH]: "SHT_HASH",
  [SHT_DYNAMIC]: "SHT_DYNAMIC",
  [SHT_NOTE]: "SHT_NOTE",
  [SHT_NOBITS]: "SHT_NOBITS",
  [SHT_REL]: "SHT_REL",
  [SHT_DYNSYM]: "SHT_DYNSYM",
  [SHT_SYMTAB_SHNDX]: "SHT_SYMTAB_SHNDX",
};

/** `sh_type` as `N (SHT_NAME)` for messages. */
export function shtName(type: number): string {
  const name = SHT_NAMES[type];
  return name === undefined ? `${type}` : `${type} (${name})`;
}
