/**
 * Writing ELF64 core headers: the elfcorehdr a capture kernel reads through `elfcorehdr=`.
 *
 * @module
 */

import { alignUp } from "../memory/ranges.ts";
import {
  EHDR,
  EHDR_SIZE,
  EI_CLASS,
  EI_DATA,
  EI_VERSION,
  ELF_MAGIC,
  ELFCLASS64,
  ELFDATA2LSB,
  EM_X86_64,
  ET_CORE,
  EV_CURRENT,
  PF_R,
  PF_W,
  PF_X,
  PHDR,
  PHDR_SIZE,
  PT_LOAD,
  PT_NOTE,
} from "./constants.ts";

export { EM_X86_64, ET_CORE, PF_R, PF_W, PF_X, PT_LOAD, PT_NOTE };

/** One program header. Absent fields are 0, as the kernel leaves them. */
export interface CorePhdr {
  type: number;
  flags?: number;
  offset: bigint;
  vaddr?: bigint;
  paddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align?: bigint;
}

/** Bytes a core header with `phnum` program headers takes, rounded up to `alignBytes` (ELF_CORE_HEADER_ALIGN). */
export function coreHeaderSize(phnum: number, alignBytes = 4096n): bigint {
  return alignUp(BigInt(EHDR_SIZE + phnum * PHDR_SIZE), alignBytes);
}

/**
 * An ET_CORE ELF64 little-endian header followed by `phdrs`, zero-padded to a 4 KiB multiple — the layout of the
 * kernel's crash_prepare_elf64_headers(): e_phoff 64, no sections, e_entry/e_flags 0, OSABI 0.
 */
export function writeCoreHeader(machine: number, phdrs: readonly CorePhdr[]): Uint8Array {
  const out = new Uint8Array(Number(coreHeaderSize(phdrs.length)));
  const dv = new DataView(out.buffer);
  out.set(ELF_MAGIC, EHDR.ident);
  out[EI_CLASS] = ELFCLASS64;
  out[EI_DATA] = ELFDATA2LSB;
  out[EI_VERSION] = EV_CURRENT;
  dv.setUint16(EHDR.type, ET_CORE, true);
  dv.setUint16(EHDR.machine, machine, true);
  dv.setUint32(EHDR.version, EV_CURRENT, true);
  dv.setBigUint64(EHDR.phoff, BigInt(EHDR_SIZE), true);
  dv.setUint16(EHDR.ehsize, EHDR_SIZE, true);
  dv.setUint16(EHDR.phentsize, PHDR_SIZE, true);
  dv.setUint16(EHDR.phnum, phdrs.length, true);
  phdrs.forEach((p, i) => {
    const o = EHDR_SIZE + i * PHDR_SIZE;
    dv.setUint32(o + PHDR.type, p.type, true);
    dv.setUint32(o + PHDR.flags, p.flags ?? 0, true);
    dv.setBigUint64(o + PHDR.offset, p.offset, true);
    dv.setBigUint64(o + PHDR.vaddr, p.vaddr ?? 0n, true);
    dv.setBigUint64(o + PHDR.paddr, p.paddr, true);
    dv.setBigUint64(o + PHDR.filesz, p.filesz, true);
    dv.setBigUint64(o + PHDR.memsz, p.memsz, true);
    dv.setBigUint64(o + PHDR.align, p.align ?? 0n, true);
  });
  return out;
}
