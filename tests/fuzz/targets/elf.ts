/**
 * Fuzz targets on ELF input: `elf-reader` (parseElf and its accessors), `elf-relocator` (layout, relocation and
 * symbol lookup of an ET_REL object, as the purgatory is placed) and `kcore` (the kernel text mapping and
 * PAGE_OFFSET from the head of /proc/kcore).
 *
 * The mutator knows the ELF structures: besides random edits it writes interesting values into the header, the
 * program and section headers, and the first symbols and relocations of the input itself, found from its own
 * header fields (so it follows the structures the previous mutations left).
 *
 * @module
 */

import { type Field, fieldsOf, type FuzzTarget, mutateBytes, type Rng, step } from "../engine.ts";
import {
  EHDR,
  PHDR,
  PHDR_SIZE,
  RELA,
  RELA_SIZE,
  SHDR,
  SHDR_SIZE,
  SHT_RELA,
  SHT_SYMTAB,
  SYM,
  SYM_SIZE,
} from "../../../lib/elf/constants.ts";
import { findSection, parseElf, sectionBytes } from "../../../lib/elf/reader.ts";
import { layoutRelocatable, lookupSymbol, relocate } from "../../../lib/elf/relocate.ts";
import { alignUp } from "../../../lib/memory/ranges.ts";
import { PURGATORY_OBJECT } from "../../../lib/purgatory/blob.ts";
import { kernelMapFromKcore } from "../../../lib/crash/elfcorehdr.ts";
import { START_KERNEL_MAP } from "../../../lib/arch/x86_64/abi.ts";
import { writeCoreHeader } from "../../../lib/elf/core.ts";
import { cachedMachineFiles } from "./machines.ts";

const RELOC_O = new URL("../../fixtures/reloc/reloc.o", import.meta.url);

const EHDR_W = {
  type: 2,
  machine: 2,
  version: 4,
  flags: 4,
  ehsize: 2,
  phentsize: 2,
  phnum: 2,
  shentsize: 2,
  shnum: 2,
  shstrndx: 2,
};
const PHDR_W = { type: 4, flags: 4 };
const SHDR_W = { name: 4, type: 4, link: 4, info: 4 };
const SYM_W = { name: 4, info: 1, other: 1, shndx: 2 };

/** Header, program header, section header, symbol and relocation fields of `bytes`, as far as they are in it. */
export function elfFields(bytes: Uint8Array): Field[] {
  const fields = fieldsOf(EHDR, { ...EHDR_W, ident: 4 }, 0, 8);
  if (bytes.length < 64) return fields;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const table = (off: bigint, count: number, size: number, max = 24) => {
    const out: number[] = [];
    for (let i = 0; i < Math.min(count, max); i++) {
      const at = Number(off) + i * size;
      if (off > BigInt(bytes.length) || at + size > bytes.length) break;
      out.push(at);
    }
    return out;
  };
  for (const at of table(dv.getBigUint64(EHDR.phoff, true), dv.getUint16(EHDR.phnum, true), PHDR_SIZE)) {
    fields.push(...fieldsOf(PHDR, PHDR_W, at, 8));
  }
  const shdrs = table(dv.getBigUint64(EHDR.shoff, true), dv.getUint16(EHDR.shnum, true), SHDR_SIZE, 64);
  for (const at of shdrs) {
    fields.push(...fieldsOf(SHDR, SHDR_W, at, 8));
    const type = dv.getUint32(at + SHDR.type, true);
    const off = dv.getBigUint64(at + SHDR.offset, true);
    const size = dv.getBigUint64(at + SHDR.size, true);
    if (type === SHT_SYMTAB) {
      for (const s of table(off, Number(size / BigInt(SYM_SIZE)), SYM_SIZE, 16)) {
        fields.push(...fieldsOf(SYM, SYM_W, s, 8));
      }
    }
    if (type === SHT_RELA) {
      for (const r of table(off, Number(size / BigInt(RELA_SIZE)), RELA_SIZE, 16)) {
        fields.push(...fieldsOf(RELA, {}, r, 8), { at: r + RELA.info, width: 4 }, { at: r + RELA.info + 4, width: 4 });
      }
    }
  }
  return fields;
}

function mutateElf(input: Uint8Array, rng: Rng, seeds: readonly Uint8Array[]): Uint8Array {
  return mutateBytes(input, rng, elfFields(input), rng.pick(seeds));
}

const smallCore = () =>
  writeCoreHeader(62, [
    { type: 4, offset: 0x1000n, paddr: 0x1000n, filesz: 0x100n, memsz: 0x100n },
    {
      type: 1,
      flags: 7,
      offset: 0x100000n,
      vaddr: 0xffff888000100000n,
      paddr: 0x100000n,
      filesz: 1n << 30n,
      memsz: 1n << 30n,
    },
  ]);

export const elfReaderTarget: FuzzTarget = {
  name: "elf-reader",
  about: "ELF64 reader: parseElf (with and without segment bounds), section bytes and lookup",
  memoryBoundBytes: 16 * 2 ** 20,
  seeds: () => [PURGATORY_OBJECT, Deno.readFileSync(RELOC_O), smallCore()],
  mutate: mutateElf,
  run(input) {
    step(() => parseElf(input, { checkSegmentBounds: false }));
    const elf = parseElf(input);
    for (const s of elf.sections) sectionBytes(elf, s);
    findSection(elf, ".text");
  },
};

export const elfRelocatorTarget: FuzzTarget = {
  name: "elf-relocator",
  about: "ET_REL relocator: layout, relocation at an aligned load address, symbol lookup (the purgatory's path)",
  memoryBoundBytes: 16 * 2 ** 20,
  ciCases: 4000,
  seeds: () => [PURGATORY_OBJECT, Deno.readFileSync(RELOC_O)],
  mutate: mutateElf,
  run(input) {
    const obj = parseElf(input);
    const layout = layoutRelocatable(obj);
    const at = alignUp(0x9f000n, layout.align);
    for (const entry of ["purgatory_start", "fixture_start"]) {
      step(() => {
        const image = relocate(obj, at, entry);
        for (const name of ["sha256_regions", "entry64_regs", "table"]) step(() => lookupSymbol(image, name));
      });
    }
  },
};

export const kcoreTarget: FuzzTarget = {
  name: "kcore",
  about: "/proc/kcore head: the kernel text mapping and PAGE_OFFSET from its program headers",
  memoryBoundBytes: 16 * 2 ** 20,
  seeds: () => [
    cachedMachineFiles("qemu-q35-2g-crash256m").get("/proc/kcore")!,
    cachedMachineFiles("qemu-q35-2g-nocrash").get("/proc/kcore")!,
  ],
  mutate: mutateElf,
  run(input) {
    kernelMapFromKcore(input, START_KERNEL_MAP);
  },
};
