/**
 * The crashed kernel's memory, reached through the dump: a kernel virtual address becomes a file offset through
 * the first program header whose `[p_vaddr, p_vaddr + p_memsz)` holds it (any type, in file order, as kexec-tools
 * 2.0.25 does; additions wrap at 2^64). On x86_64 the core header maps the kernel image at `_text` and RAM at its
 * direct-map address, so `SYMBOL()` values from VMCOREINFO and the pointers read from memory both resolve without
 * KASLR or phys_base arithmetic. Reads are exact: a short read is an error naming what was being read.
 *
 * @module
 */

import { hex } from "../errors.ts";
import type { CoreElf, CorePhdr } from "./core_elf.ts";
import { coreFail, type CoreSource, readExact } from "./source.ts";

/** The file offset of `vaddr`, or undefined when no program header covers it. */
export function vaddrToOffset(phdrs: readonly CorePhdr[], vaddr: bigint): bigint | undefined {
  for (const ph of phdrs) {
    if (ph.vaddr > vaddr) continue;
    if (BigInt.asUintN(64, ph.vaddr + ph.memsz) <= vaddr) continue;
    return BigInt.asUintN(64, vaddr - ph.vaddr + ph.offset);
  }
  return undefined;
}

/** Reads of the crashed kernel's memory by virtual address. `what` names the object for error messages. */
export interface KernelMemory {
  readonly elf: CoreElf;
  readonly src: CoreSource;
  /** File offset of `vaddr` (kexec-tools exit 30 when unmapped). */
  offsetOf(vaddr: bigint, what: string): bigint;
  /** An `unsigned long` / pointer at `vaddr` (exit 40 on a short read). */
  readPointer(vaddr: bigint, what: string): bigint;
  /** A u32 at `vaddr` (exit 41 on a short read). */
  readU32(vaddr: bigint, what: string): number;
  /** `length` bytes at `vaddr` (exit `exitCode` on a short read). */
  readBytes(vaddr: bigint, length: number | bigint, what: string, exitCode: number): Uint8Array;
}

/** Memory of the kernel that crashed, through `src`. */
export function kernelMemory(src: CoreSource, elf: CoreElf): KernelMemory {
  const f = elf.fields;
  const offsetOf = (vaddr: bigint, what: string) =>
    vaddrToOffset(elf.phdrs, vaddr) ??
      coreFail(30, `${src.name}: no program header maps ${what} at virtual address ${hex(vaddr)}: the dump lacks it`);
  return {
    elf,
    src,
    offsetOf,
    readPointer(vaddr, what) {
      const b = readExact(src, offsetOf(vaddr, what), f.pointerBytes, what, 40);
      return f.ulong(b, 0);
    },
    readU32(vaddr, what) {
      return f.u32(readExact(src, offsetOf(vaddr, what), 4, what, 41), 0);
    },
    readBytes(vaddr, length, what, exitCode) {
      return readExact(src, offsetOf(vaddr, what), length, what, exitCode);
    },
  };
}
