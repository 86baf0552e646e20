/**
 * ELF64 reader over the real purgatory object (lib/purgatory/blob.ts) and over corrupt copies of it: each
 * corruption must give its own precise message (field, file offset, bound).
 */

import assert from "node:assert/strict";
import { hex, KexecError } from "../../../lib/errors.ts";
import {
  EHDR,
  EHDR_SIZE,
  EM_X86_64,
  ET_CORE,
  ET_REL,
  PHDR,
  PHDR_SIZE,
  PT_LOAD,
  PT_NOTE,
  RELA,
  SHDR,
  SHDR_SIZE,
  SHF_ALLOC,
  SHT_NOBITS,
  SHT_PROGBITS,
  SHT_RELA,
  SHT_STRTAB,
  SHT_SYMTAB,
  STB_GLOBAL,
  STT_OBJECT,
  SYM,
} from "../../../lib/elf/constants.ts";
import { type ElfFile, findSection, parseElf, sectionBytes, type SectionHeader } from "../../../lib/elf/reader.ts";
import { PURGATORY_OBJECT } from "../../../lib/purgatory/blob.ts";

const ORIGINAL = parseElf(PURGATORY_OBJECT);
const FILE_SIZE = PURGATORY_OBJECT.length;
const SHOFF = ORIGINAL.header.shoff;
const SHNUM = ORIGINAL.header.shnum;

function section(name: string): SectionHeader {
  return findSection(ORIGINAL, name) ?? assert.fail(`purgatory has no ${name}`);
}

/** Parses a copy of the purgatory object after `edit`. */
function parseEdited(edit: (bytes: Uint8Array, view: DataView) => void): ElfFile {
  const bytes = PURGATORY_OBJECT.slice();
  edit(bytes, new DataView(bytes.buffer));
  return parseElf(bytes);
}

function throwsBadElf(fn: () => unknown, expected: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KexecError, `expected KexecError, got ${e}`);
    assert.equal(e.code, "bad-elf");
    assert.equal(e.message, expected);
    return true;
  });
}

function editShdr(name: string, field: keyof typeof SHDR, value: number | bigint) {
  return (_bytes: Uint8Array, view: DataView) => {
    const at = section(name).headerOffset + SHDR[field];
    if (typeof value === "bigint") view.setBigUint64(at, value, true);
    else view.setUint32(at, value, true);
  };
}

Deno.test("parseElf: the purgatory object", () => {
  const { header, sections } = ORIGINAL;
  assert.equal(header.type, ET_REL);
  assert.equal(header.machine, EM_X86_64);
  assert.equal(ORIGINAL.programHeaders.length, 0);
  assert.equal(sections.length, SHNUM);
  assert.equal(sections[header.shstrndx].name, ".shstrtab");
  assert.equal(section(".text").type, SHT_PROGBITS);
  assert.ok((section(".text").flags & SHF_ALLOC) !== 0n);
  assert.equal(section(".bss").type, SHT_NOBITS);
  assert.equal(sectionBytes(ORIGINAL, section(".bss")).length, 0);
  assert.equal(section(".symtab").type, SHT_SYMTAB);
  assert.equal(section(".strtab").type, SHT_STRTAB);
  for (const gone of [".comment", ".eh_frame", ".note.GNU-stack", ".note.gnu.property", ".debug_info"]) {
    assert.equal(findSection(ORIGINAL, gone), undefined, `${gone} must be stripped`);
  }

  assert.equal(ORIGINAL.symbolTables.length, 1);
  const symbols = ORIGINAL.symbolTables[0].symbols;
  const byName = (name: string) => symbols.find((s) => s.name === name) ?? assert.fail(`no symbol ${name}`);
  const patched = { sha256_regions: 256n, sha256_digest: 32n, skip_checks: 1n, serial_port: 2n, entry64_regs: 136n };
  for (const [name, size] of Object.entries(patched)) {
    const symbol = byName(name);
    assert.equal(symbol.size, size, name);
    assert.equal(symbol.bind, STB_GLOBAL, name);
    assert.equal(symbol.type, STT_OBJECT, name);
    assert.equal(ORIGINAL.sections[symbol.shndx].name, ".data", name);
  }
  assert.equal(ORIGINAL.sections[byName("purgatory_start").shndx].name, ".text");

  const relaText = ORIGINAL.relaTables.find((t) => ORIGINAL.sections[t.section].name === ".rela.text");
  assert.ok(relaText);
  assert.equal(ORIGINAL.sections[relaText.section].type, SHT_RELA);
  assert.equal(ORIGINAL.sections[relaText.target].name, ".text");
  assert.equal(relaText.symtab, section(".symtab").index);
  assert.ok(relaText.entries.length > 0);
});

Deno.test("parseElf: truncated files", () => {
  throwsBadElf(() => parseElf(PURGATORY_OBJECT.subarray(0, 2)), "ELF: file is 2 bytes, too short for the ELF magic");
  throwsBadElf(
    () => parseElf(PURGATORY_OBJECT.subarray(0, 40)),
    "ELF: file is 40 bytes, shorter than the 64-byte ELF64 header (truncated)",
  );
  for (const cut of [0x100, Number(SHOFF) + 3 * SHDR_SIZE, FILE_SIZE - 1]) {
    throwsBadElf(
      () => parseElf(PURGATORY_OBJECT.subarray(0, cut)),
      `ELF: section header table at ${hex(SHOFF)} (e_shoff) + ${SHNUM}*64 bytes runs past end of file (${
        hex(cut)
      } bytes)`,
    );
  }
});

Deno.test("parseElf: bad identification and header sizes", () => {
  throwsBadElf(
    () => parseEdited((b) => b[3] = 0x47),
    'ELF: bad magic 7f 45 4c 47 at 0x0, expected 7f 45 4c 46 ("\\x7fELF")',
  );
  throwsBadElf(
    () => parseEdited((b) => b[4] = 1),
    "ELF: EI_CLASS at 0x4 is 1, expected ELFCLASS64 (2): not a 64-bit ELF",
  );
  throwsBadElf(
    () => parseEdited((b) => b[5] = 2),
    "ELF: EI_DATA at 0x5 is 2, expected ELFDATA2LSB (1): not little-endian",
  );
  throwsBadElf(() => parseEdited((b) => b[6] = 0), "ELF: EI_VERSION at 0x6 is 0, expected EV_CURRENT (1)");
  throwsBadElf(
    () => parseEdited((_b, v) => v.setUint32(EHDR.version, 2, true)),
    "ELF: e_version at 0x14 is 2, expected EV_CURRENT (1)",
  );
  throwsBadElf(
    () => parseEdited((_b, v) => v.setUint16(EHDR.ehsize, 52, true)),
    "ELF: e_ehsize at 0x34 is 52, expected 64",
  );
  throwsBadElf(
    () => parseEdited((_b, v) => v.setUint16(EHDR.shentsize, 40, true)),
    "ELF: e_shentsize at 0x3a is 40, expected 64",
  );
  throwsBadElf(
    () =>
      parseEdited((_b, v) => {
        v.setUint16(EHDR.phnum, 1, true);
        v.setUint16(EHDR.phentsize, 32, true);
      }),
    "ELF: e_phentsize at 0x36 is 32, expected 56",
  );
});

Deno.test("parseElf: header tables out of range", () => {
  throwsBadElf(
    () => parseEdited((_b, v) => v.setBigUint64(EHDR.shoff, 0xffff_ffffn, true)),
    `ELF: section header table at 0xffffffff (e_shoff) + ${SHNUM}*64 bytes runs past end of file (${
      hex(FILE_SIZE)
    } bytes)`,
  );
  const phoff = BigInt(FILE_SIZE - 10);
  throwsBadElf(
    () =>
      parseEdited((_b, v) => {
        v.setBigUint64(EHDR.phoff, phoff, true);
        v.setUint16(EHDR.phnum, 1, true);
        v.setUint16(EHDR.phentsize, PHDR_SIZE, true);
      }),
    `ELF: program header table at ${hex(phoff)} (e_phoff) + 1*56 bytes runs past end of file (${hex(FILE_SIZE)} bytes)`,
  );
  throwsBadElf(
    () => parseEdited((_b, v) => v.setBigUint64(EHDR.shoff, 0n, true)),
    `ELF: e_shnum at 0x3c is ${SHNUM} but e_shoff is 0`,
  );
});

Deno.test("parseElf: extended section numbering (e_shnum 0, count in section 0)", () => {
  const elf = parseEdited((_b, v) => {
    v.setUint16(EHDR.shnum, 0, true);
    v.setBigUint64(Number(SHOFF) + SHDR.size, BigInt(SHNUM), true);
  });
  assert.equal(elf.header.shnum, SHNUM);
  assert.deepEqual(elf.sections.map((s) => s.name), ORIGINAL.sections.map((s) => s.name));
});

Deno.test("parseElf: bad e_shstrndx", () => {
  throwsBadElf(
    () => parseEdited((_b, v) => v.setUint16(EHDR.shstrndx, 40, true)),
    `ELF: e_shstrndx at 0x3e is 40 but there are only ${SHNUM} sections`,
  );
  throwsBadElf(
    () => parseEdited((_b, v) => v.setUint16(EHDR.shstrndx, section(".text").index, true)),
    `ELF: e_shstrndx at 0x3e names section ${section(".text").index}, of type 1 (SHT_PROGBITS), not SHT_STRTAB`,
  );
});

Deno.test("parseElf: section contents out of bounds (NOBITS exempt)", () => {
  const text = section(".text");
  throwsBadElf(
    () => parseEdited(editShdr(".text", "size", 0x100000n)),
    `ELF: section ${text.index} [.text] at ${hex(text.offset)} (sh_offset) + 0x100000 bytes (sh_size) runs past end` +
      ` of file (${hex(FILE_SIZE)} bytes); section header at ${hex(text.headerOffset)}`,
  );
  const data = section(".data");
  throwsBadElf(
    () => parseEdited(editShdr(".data", "offset", BigInt(FILE_SIZE - 8))),
    `ELF: section ${data.index} [.data] at ${hex(FILE_SIZE - 8)} (sh_offset) + ${hex(data.size)} bytes (sh_size)` +
      ` runs past end of file (${hex(FILE_SIZE)} bytes); section header at ${hex(data.headerOffset)}`,
  );
  const bss = parseEdited(editShdr(".bss", "size", 0x1_0000_0000n));
  assert.equal(findSection(bss, ".bss")!.size, 0x1_0000_0000n);
  throwsBadElf(
    () => parseEdited(editShdr(".data", "addralign", 24n)),
    `ELF: section ${data.index} [.data] sh_addralign (header at ${hex(data.headerOffset)}) is 0x18, not a power of two`,
  );
});

Deno.test("parseElf: bad sh_link and sh_info", () => {
  const symtab = section(".symtab");
  const relaText = section(".rela.text");
  const text = section(".text");
  throwsBadElf(
    () => parseEdited(editShdr(".symtab", "link", 99)),
    `ELF: section ${symtab.index} [.symtab] sh_link (header at ${hex(symtab.headerOffset)}) is 99` +
      ` but there are only ${SHNUM} sections`,
  );
  throwsBadElf(
    () => parseEdited(editShdr(".symtab", "link", text.index)),
    `ELF: section ${symtab.index} [.symtab] sh_link (header at ${hex(symtab.headerOffset)}) is ${text.index}:` +
      ` section ${text.index} [.text] has type 1 (SHT_PROGBITS), not SHT_STRTAB`,
  );
  const strtab = section(".strtab");
  throwsBadElf(
    () => parseEdited(editShdr(".rela.text", "link", strtab.index)),
    `ELF: section ${relaText.index} [.rela.text] sh_link (header at ${hex(relaText.headerOffset)}) is ` +
      `${strtab.index}: section ${strtab.index} [.strtab] has type 3 (SHT_STRTAB), not SHT_SYMTAB or SHT_DYNSYM`,
  );
  throwsBadElf(
    () => parseEdited(editShdr(".rela.text", "info", 50)),
    `ELF: section ${relaText.index} [.rela.text] sh_info (target section, header at ${hex(relaText.headerOffset)})` +
      ` is 50 but there are only ${SHNUM} sections`,
  );
  const count = ORIGINAL.symbolTables[0].symbols.length;
  throwsBadElf(
    () => parseEdited(editShdr(".symtab", "info", count + 1)),
    `ELF: section ${symtab.index} [.symtab] sh_info (first non-local symbol, header at ${hex(symtab.headerOffset)})` +
      ` is ${count + 1} but the table has only ${count} symbols`,
  );
});

Deno.test("parseElf: bad entsize and sh_size of symbol and RELA tables", () => {
  const symtab = section(".symtab");
  const relaText = section(".rela.text");
  throwsBadElf(
    () => parseEdited(editShdr(".symtab", "entsize", 16n)),
    `ELF: section ${symtab.index} [.symtab] (SHT_SYMTAB, header at ${hex(symtab.headerOffset)}) sh_entsize is` +
      ` 16; symbol entries are 24 bytes`,
  );
  throwsBadElf(
    () => parseEdited(editShdr(".rela.text", "entsize", 0n)),
    `ELF: section ${relaText.index} [.rela.text] (SHT_RELA, header at ${hex(relaText.headerOffset)})` +
      ` sh_entsize is 0; relocation entries are 24 bytes`,
  );
  throwsBadElf(
    () => parseEdited(editShdr(".rela.text", "size", relaText.size - 1n)),
    `ELF: section ${relaText.index} [.rela.text] (SHT_RELA, header at ${hex(relaText.headerOffset)})` +
      ` sh_size ${hex(relaText.size - 1n)} is not a multiple of the 24-byte entry size`,
  );
});

Deno.test("parseElf: string indexes out of range or unterminated", () => {
  const text = section(".text");
  const shstrtab = section(".shstrtab");
  throwsBadElf(
    () => parseEdited((_b, v) => v.setUint32(text.headerOffset + SHDR.name, 0x1000, true)),
    `ELF: section ${text.index} sh_name 0x1000 is past the end of string table [.shstrtab] (${
      hex(shstrtab.size)
    } bytes)`,
  );
  const symbol = ORIGINAL.symbolTables[0].symbols.find((s) => s.name === "entry64_regs")!;
  const strtab = section(".strtab");
  const symtab = section(".symtab");
  throwsBadElf(
    () => parseEdited((_b, v) => v.setUint32(symbol.fileOffset + SYM.name, 0xffff, true)),
    `ELF: symbol ${symbol.index} in section ${symtab.index} [.symtab] (at ${hex(symbol.fileOffset)}) st_name 0xffff` +
      ` is past the end of string table [.strtab] (${hex(strtab.size)} bytes)`,
  );
  // Cut the string table's final NUL: the last symbol name in it is no longer terminated.
  const strtabBytes = sectionBytes(ORIGINAL, strtab);
  const lastStart = strtabBytes.subarray(0, strtabBytes.length - 1).lastIndexOf(0) + 1;
  const victim = ORIGINAL.symbolTables[0].symbols.find((s) =>
    new DataView(PURGATORY_OBJECT.buffer).getUint32(s.fileOffset + SYM.name, true) === lastStart
  )!;
  throwsBadElf(
    () => parseEdited(editShdr(".strtab", "size", strtab.size - 1n)),
    `ELF: symbol ${victim.index} in section ${symtab.index} [.symtab] (at ${hex(victim.fileOffset)}) st_name ` +
      `${hex(lastStart)}: string at file offset ${hex(Number(strtab.offset) + lastStart)} in [.strtab] has no NUL` +
      ` before the table ends`,
  );
});

Deno.test("parseElf: symbol st_shndx and relocation r_sym out of range", () => {
  const symtab = section(".symtab");
  const symbol = ORIGINAL.symbolTables[0].symbols.find((s) => s.name === "sha256_digest")!;
  throwsBadElf(
    () => parseEdited((_b, v) => v.setUint16(symbol.fileOffset + SYM.shndx, 50, true)),
    `ELF: symbol ${symbol.index} in section ${symtab.index} [.symtab] (at ${hex(symbol.fileOffset)}) st_shndx is 50,` +
      ` but there are only ${SHNUM} sections`,
  );
  const relaText = section(".rela.text");
  const rela = ORIGINAL.relaTables[0].entries[2];
  const count = ORIGINAL.symbolTables[0].symbols.length;
  throwsBadElf(
    () => parseEdited((_b, v) => v.setUint32(rela.fileOffset + RELA.info + 4, 500, true)), // high half = r_sym
    `ELF: relocation 2 in section ${relaText.index} [.rela.text] (at ${hex(rela.fileOffset)}) refers to symbol 500,` +
      ` but section ${symtab.index} [.symtab] has ${count} symbols`,
  );
});

/** A minimal ET_CORE: header, `phnum` program headers, then `payload` bytes; no sections (e_shentsize 0). */
function coreFile(phdrs: { type: number; offset: bigint; filesz: bigint; memsz: bigint }[], payload = 64): Uint8Array {
  const bytes = new Uint8Array(EHDR_SIZE + phdrs.length * PHDR_SIZE + payload);
  const view = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  view.setUint16(EHDR.type, ET_CORE, true);
  view.setUint16(EHDR.machine, EM_X86_64, true);
  view.setUint32(EHDR.version, 1, true);
  view.setBigUint64(EHDR.phoff, BigInt(EHDR_SIZE), true);
  view.setUint16(EHDR.ehsize, EHDR_SIZE, true);
  view.setUint16(EHDR.phentsize, PHDR_SIZE, true);
  view.setUint16(EHDR.phnum, phdrs.length, true);
  phdrs.forEach((ph, i) => {
    const at = EHDR_SIZE + i * PHDR_SIZE;
    view.setUint32(at + PHDR.type, ph.type, true);
    view.setBigUint64(at + PHDR.offset, ph.offset, true);
    view.setBigUint64(at + PHDR.paddr, 0x100000n * BigInt(i + 1), true);
    view.setBigUint64(at + PHDR.filesz, ph.filesz, true);
    view.setBigUint64(at + PHDR.memsz, ph.memsz, true);
  });
  return bytes;
}

Deno.test("parseElf: a core file with program headers and no sections", () => {
  const payloadAt = BigInt(EHDR_SIZE + 2 * PHDR_SIZE);
  const bytes = coreFile([
    { type: PT_NOTE, offset: payloadAt, filesz: 64n, memsz: 0n },
    { type: PT_LOAD, offset: 0x1000_0000n, filesz: 0x4000_0000n, memsz: 0x4000_0000n },
  ]);
  // The PT_LOAD's contents are not in this prefix: fine for a header-only parse, an error otherwise.
  const elf = parseElf(bytes, { checkSegmentBounds: false });
  assert.equal(elf.header.type, ET_CORE);
  assert.equal(elf.sections.length, 0);
  assert.deepEqual(
    elf.programHeaders.map((ph) => [ph.type, ph.offset, ph.paddr, ph.filesz, ph.memsz]),
    [[PT_NOTE, payloadAt, 0x100000n, 64n, 0n], [PT_LOAD, 0x1000_0000n, 0x200000n, 0x4000_0000n, 0x4000_0000n]],
  );
  throwsBadElf(
    () => parseElf(bytes),
    `ELF: program header 1 (at ${hex(EHDR_SIZE + PHDR_SIZE)}): 0x10000000 (p_offset) + 0x40000000 bytes (p_filesz)` +
      ` runs past end of file (${hex(bytes.length)} bytes)`,
  );
  throwsBadElf(
    () => parseElf(coreFile([{ type: PT_LOAD, offset: BigInt(EHDR_SIZE + PHDR_SIZE), filesz: 32n, memsz: 16n }])),
    `ELF: program header 0 (at ${hex(EHDR_SIZE)}): p_filesz 0x20 > p_memsz 0x10`,
  );
});
