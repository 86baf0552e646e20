/**
 * The notes of a core dump: every PT_NOTE segment, walked the way kexec-tools' vmcore-dmesg walks them (a 12-byte
 * header, name and descriptor each padded to 4 bytes, the walk ending when a note would run past its segment),
 * so that both find the same VMCOREINFO notes. In /proc/vmcore the capture kernel has merged the crashed kernel's
 * per-CPU notes and its VMCOREINFO note into one PT_NOTE.
 *
 * @module
 */

import { NHDR, NHDR_SIZE, PT_NOTE } from "../elf/constants.ts";
import type { CoreElf } from "./core_elf.ts";
import { type CoreSource, readExact } from "./source.ts";

/** One note. */
export interface CoreNote {
  /** The name up to its first NUL (`CORE`, `VMCOREINFO`, `LINUX`). */
  name: string;
  type: number;
  desc: Uint8Array;
}

/** What the notes of a dump hold. */
export interface CoreNotes {
  /** Every note, in file order. */
  all: CoreNote[];
  /**
   * The descriptors of the notes kexec-tools takes for VMCOREINFO (first 11 name bytes `VMCOREINFO\0`, type 0), in
   * order: each is parsed, later values overwriting earlier ones.
   */
  vmcoreinfo: Uint8Array[];
}

/** `n_type` of a CPU's register note (`CORE`). */
export const NT_PRSTATUS = 1;

const VMCOREINFO_NAME = new TextEncoder().encode("VMCOREINFO\0");
/** Rounds up to 4 without 32-bit bitwise arithmetic (a corrupt size may exceed 2^31). */
const align4 = (n: number) => Math.ceil(n / 4) * 4;

/** Walks one PT_NOTE segment's bytes. */
export function walkNotes(elf: CoreElf, buf: Uint8Array, out: CoreNotes): void {
  const f = elf.fields;
  const size = buf.length;
  // kexec-tools: for (note = buf; note + sizeof(Elf_Nhdr) < buf + size - 1; note = next)
  for (let note = 0; note + NHDR_SIZE < size - 1;) {
    const namesz = f.u32(buf, note + NHDR.namesz);
    const descsz = f.u32(buf, note + NHDR.descsz);
    const type = f.u32(buf, note + NHDR.type);
    const nameAt = note + NHDR_SIZE;
    const descAt = nameAt + align4(namesz);
    const next = descAt + align4(descsz);
    if (next > size) break;
    const rawName = buf.subarray(nameAt, nameAt + namesz);
    const nul = rawName.indexOf(0);
    const desc = buf.subarray(descAt, descAt + descsz);
    out.all.push({ name: new TextDecoder().decode(nul < 0 ? rawName : rawName.subarray(0, nul)), type, desc });
    const isVmcoreinfo = VMCOREINFO_NAME.every((b, i) => nameAt + i < size && buf[nameAt + i] === b) && type === 0;
    if (isVmcoreinfo) out.vmcoreinfo.push(desc);
    note = next;
  }
}

/**
 * Reads every PT_NOTE segment whole (a short read is kexec-tools' exit 22) and walks its notes.
 * @throws KexecError when a note segment lies past the end of the file
 */
export function readCoreNotes(src: CoreSource, elf: CoreElf): CoreNotes {
  const out: CoreNotes = { all: [], vmcoreinfo: [] };
  elf.phdrs.forEach((ph, i) => {
    if (ph.type !== PT_NOTE) return;
    walkNotes(elf, readExact(src, ph.offset, ph.filesz, `note segment ${i}`, 22), out);
  });
  return out;
}
