/**
 * The ELF vmlinux loader (`-t elf-x86_64`): the uncompressed kernel, its PT_LOAD segments placed at their physical
 * addresses (`p_paddr`) and entered at `e_entry` (the physical address of `startup_64`, the kernel's own 64-bit
 * entry: `ENTRY(phys_startup_64)` in vmlinux.lds.S) with %rsi = boot_params, through the same purgatory as a bzImage.
 * That is the state the bzImage's decompressor leaves behind (arch/x86/boot/compressed/misc.c: parse_elf copies each
 * PT_LOAD to `output + p_paddr - LOAD_PHYSICAL_ADDR`, then jumps to `output + e_entry - LOAD_PHYSICAL_ADDR`).
 *
 * There is no setup header in a vmlinux, so boot_params gets one made up of what a 64-bit kernel's bzImage header
 * says ({@link syntheticSetupHeader}): boot protocol 2.15, loaded high, 2 MiB alignment, 2047-byte command line,
 * initrd below 2 GiB or (ext_ramdisk_image) above. KASLR_FLAG stays clear: nothing randomised the kernel.
 *
 * Placement: the segments keep their distances (one buffer from the lowest p_paddr to the end of the last segment,
 * a kexec segment per PT_LOAD inside it), at the link address when it is free (kexec-tools' and u-root's behaviour), else, and always for crash
 * loads, moved by a multiple of 2 MiB: the kernel's startup code (head64.c __startup_64) computes the physical
 * delta itself and requires nothing but PMD alignment, as after the decompressor of a relocated bzImage. No
 * relocations are applied: they are only needed for a virtual (KASLR) move, which this is not. kexec-tools can
 * load a vmlinux for -p only when the crash region is reserved at its link address.
 *
 * kexec_file_load has no ELF loader on x86_64 (kexec_file_loaders[] = { &kexec_bzImage64_ops }): kexec_load only.
 * On an EFI machine the vmlinux gets no EFI, as with kexec-tools: whether a kernel takes EFI from kexec
 * (XLF_EFI_KEXEC) is written in the bzImage header it lacks.
 * A vmlinux has no xloadflags, so the 5-level paging check of bzImages cannot be made for it: with 5-level paging on,
 * the plan warns instead.
 *
 * @module
 */

import { fail, hex, KexecError } from "../../errors.ts";
import { alignUp, PAGE_SIZE } from "../../memory/ranges.ts";
import { hasElfMagic, parseElf } from "../../elf/reader.ts";
import { EHDR, ET_DYN, ET_EXEC, ET_REL, PT_INTERP, PT_LOAD } from "../../elf/constants.ts";
import type { BufferPiece, ImageLoader, LoadContext, LoadedImage } from "../../load/contract.ts";
import type { ProgramHeader } from "../../elf/types.ts";
import {
  BOOT_FLAG,
  HDR,
  HDRS_MAGIC,
  HEADER_END_2_15,
  JMP_SHORT,
  LOADED_HIGH,
  PROTOCOL_2_15,
  VID_MODE_NORMAL,
  XLF_CAN_BE_LOADED_ABOVE_4G,
  XLF_KERNEL_64,
} from "./bzimage.ts";
import { addBootParams, addInitrd, decideEfi } from "./bzimage_loader.ts";
import { ELF_MACHINE_X86_64 } from "./abi.ts";
import type { X86Machine } from "./machine.ts";
import type { EfiRefusal } from "./efi_handover.ts";

const MiB = 0x100000n;
const NO_LIMIT = 1n << 64n;
/** The kernel's startup code requires its physical load delta to be a multiple of a PMD (2 MiB). */
export const VMLINUX_MIN_ALIGN = 2n * MiB;
/** A kernel image spans at most KERNEL_IMAGE_SIZE (1 GiB with KASLR). */
const MAX_SPAN = 1n << 30n;
/** COMMAND_LINE_SIZE on x86 is 2048: 2047 characters and the NUL. */
const CMDLINE_SIZE = 2047;
/** What a 2.15 bzImage header lets an initrd reach without ext_ramdisk_image. */
const INITRD_ADDR_MAX = 0x7fffffffn;
/** log2 of {@link VMLINUX_MIN_ALIGN}: the header's min_alignment. */
const MIN_ALIGN_LOG2 = 21;

/** Why a vmlinux gets no EFI. */
export const VMLINUX_REFUSES_EFI: EfiRefusal = {
  reason: "an ELF vmlinux has no setup header to say it takes EFI (XLF_EFI_KEXEC)",
  hint: "load its bzImage to keep EFI",
};

/** A parsed x86_64 vmlinux. Addresses are physical. */
export interface ElfVmlinux {
  /**
   * The PT_LOAD segments' file bytes at their distances from {@link linkBase}: one piece per segment that starts on
   * its own page (a view into the file, no copy), segments sharing a page joined into one.
   */
  pieces: BufferPiece[];
  /** The lowest p_paddr: where the kernel is linked to run (LOAD_PHYSICAL_ADDR, 16 MiB on Debian). */
  linkBase: bigint;
  /** Bytes from linkBase to the end of the highest segment's memory (p_paddr + p_memsz). */
  memsz: bigint;
  /** e_entry's distance from linkBase. */
  entryOffset: bigint;
  /** Alignment of any move: the largest PT_LOAD p_align, at least 2 MiB. */
  alignment: bigint;
  /** How many PT_LOAD segments there are. */
  segmentCount: number;
}

/** An x86_64 vmlinux probe: the ELF magic (parse then names what is wrong with any other ELF file). */
export function probeElfVmlinux(bytes: Uint8Array): boolean {
  return hasElfMagic(bytes);
}

/**
 * Checks an ELF vmlinux and lays its PT_LOAD segments out as in memory.
 * @throws KexecError("bad-image") naming the header field or program header, its offset and what was expected
 */
export function parseElfVmlinux(bytes: Uint8Array, name = "kernel"): ElfVmlinux {
  const bad = (msg: string): never => fail("bad-image", `${name}: ${msg}`);
  let elf;
  try {
    elf = parseElf(bytes);
  } catch (e) {
    if (e instanceof KexecError) bad(e.message);
    throw e;
  }
  const h = elf.header;
  if (h.machine !== ELF_MACHINE_X86_64) {
    bad(
      `e_machine at ${
        hex(EHDR.machine)
      } is ${h.machine}, expected ${ELF_MACHINE_X86_64} (x86_64): not an x86_64 kernel`,
    );
  }
  if (h.type !== ET_EXEC) {
    const kind = h.type === ET_REL ? "an object file" : h.type === ET_DYN ? "a shared object" : "not an executable";
    bad(`e_type at ${hex(EHDR.type)} is ${h.type}, expected ET_EXEC (${ET_EXEC}): ${kind}, not a linked vmlinux`);
  }
  const interp = elf.programHeaders.find((p) => p.type === PT_INTERP);
  if (interp) bad(`program header ${interp.index} is PT_INTERP: a user-space program, not a kernel`);
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD && p.memsz > 0n);
  if (loads.length === 0) bad("no PT_LOAD program header with memory: nothing to load");

  let alignment = VMLINUX_MIN_ALIGN;
  for (const p of loads) {
    const what = `program header ${p.index} (PT_LOAD, p_paddr ${hex(p.paddr)})`;
    if (p.filesz > p.memsz) bad(`${what}: p_filesz ${hex(p.filesz)} is larger than p_memsz ${hex(p.memsz)}`);
    if (p.align % VMLINUX_MIN_ALIGN !== 0n) {
      bad(`${what}: p_align ${hex(p.align)} is not a multiple of 2 MiB, which the kernel's startup code requires`);
    }
    if (p.align > alignment) alignment = p.align;
  }
  const sorted = [...loads].sort((a, b) => (a.paddr < b.paddr ? -1 : a.paddr > b.paddr ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].paddr < prev.paddr + prev.memsz) {
      bad(
        `program headers ${prev.index} and ${sorted[i].index} (PT_LOAD) overlap in physical memory ` +
          `(${hex(prev.paddr)} + ${hex(prev.memsz)} > ${hex(sorted[i].paddr)})`,
      );
    }
  }
  const linkBase = sorted[0].paddr;
  if (linkBase % VMLINUX_MIN_ALIGN !== 0n) {
    bad(`the lowest PT_LOAD p_paddr ${hex(linkBase)} is not 2 MiB-aligned: not a kernel linked to run at a PMD`);
  }
  const last = sorted[sorted.length - 1];
  const memsz = last.paddr + last.memsz - linkBase;
  if (memsz > MAX_SPAN) bad(`the PT_LOAD segments span ${hex(memsz)} bytes, more than a kernel image (1 GiB)`);

  // e_entry is physical (phys_startup_64); accept a virtual one too, translated through its segment.
  const inPhys = loads.find((p) => h.entry >= p.paddr && h.entry < p.paddr + p.memsz);
  const inVirt = loads.find((p) => h.entry >= p.vaddr && h.entry < p.vaddr + p.memsz);
  const entry = inPhys ? h.entry : inVirt ? h.entry - inVirt.vaddr + inVirt.paddr : undefined;
  if (entry === undefined) return bad(`e_entry at ${hex(EHDR.entry)} (${hex(h.entry)}) is in no PT_LOAD segment`);

  return {
    pieces: piecesOf(bytes, sorted, linkBase),
    linkBase,
    memsz,
    entryOffset: entry - linkBase,
    alignment,
    segmentCount: loads.length,
  };
}

/**
 * The segments' file bytes as buffer pieces: a segment that starts on a page of its own is a view into the file;
 * segments sharing a page with the one before are copied into one piece with it.
 */
function piecesOf(bytes: Uint8Array, sorted: readonly ProgramHeader[], linkBase: bigint): BufferPiece[] {
  const groups: { offset: bigint; memEnd: bigint; segs: ProgramHeader[] }[] = [];
  for (const p of sorted) {
    const at = p.paddr - linkBase;
    const last = groups[groups.length - 1];
    if (last && (at % PAGE_SIZE !== 0n || at < alignUp(last.memEnd, PAGE_SIZE))) {
      last.segs.push(p);
      if (at + p.memsz > last.memEnd) last.memEnd = at + p.memsz;
    } else {
      groups.push({ offset: at - (at % PAGE_SIZE), memEnd: at + p.memsz, segs: [p] });
    }
  }
  return groups.map((g) => {
    const file = (p: ProgramHeader) => bytes.subarray(Number(p.offset), Number(p.offset + p.filesz));
    if (g.segs.length === 1 && g.segs[0].paddr - linkBase === g.offset) {
      return { offset: g.offset, bytes: file(g.segs[0]) };
    }
    const end = g.segs.reduce((e, p) => (p.paddr - linkBase + p.filesz > e ? p.paddr - linkBase + p.filesz : e), 0n);
    const out = new Uint8Array(Number(end - g.offset));
    for (const p of g.segs) out.set(file(p), Number(p.paddr - linkBase - g.offset));
    return { offset: g.offset, bytes: out };
  });
}

/**
 * The setup header a 64-bit bzImage of this kernel would carry, for boot_params (the kernel reads the command line,
 * initrd and setup_data pointers, root_flags and the protocol version from it): file bytes [0x1f1, 0x26c).
 */
export function syntheticSetupHeader(v: ElfVmlinux): Uint8Array {
  const hdr = new Uint8Array(HEADER_END_2_15 - HDR.setup_sects);
  const dv = new DataView(hdr.buffer);
  const at = (offset: number) => offset - HDR.setup_sects;
  dv.setUint16(at(HDR.root_flags), 1, true); // mount root read-only unless the command line says rw
  dv.setUint16(at(HDR.vid_mode), VID_MODE_NORMAL, true);
  dv.setUint16(at(HDR.boot_flag), BOOT_FLAG, true);
  dv.setUint8(at(HDR.jump), JMP_SHORT);
  dv.setUint8(at(HDR.jump) + 1, HEADER_END_2_15 - HDR.header);
  dv.setUint32(at(HDR.header), HDRS_MAGIC, true);
  dv.setUint16(at(HDR.version), PROTOCOL_2_15, true);
  dv.setUint8(at(HDR.loadflags), LOADED_HIGH);
  dv.setUint32(at(HDR.initrd_addr_max), Number(INITRD_ADDR_MAX), true);
  dv.setUint32(at(HDR.kernel_alignment), Number(v.alignment & 0xffffffffn), true);
  dv.setUint8(at(HDR.relocatable_kernel), 1);
  dv.setUint8(at(HDR.min_alignment), MIN_ALIGN_LOG2);
  dv.setUint16(at(HDR.xloadflags), XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G, true);
  dv.setUint32(at(HDR.cmdline_size), CMDLINE_SIZE, true);
  dv.setBigUint64(at(HDR.pref_address), v.linkBase, true);
  dv.setUint32(at(HDR.init_size), Number(alignUp(v.memsz, PAGE_SIZE) & 0xffffffffn), true);
  return hdr;
}

/** The warning for a vmlinux on a machine with 5-level paging on. */
export const VMLINUX_LA57_WARNING = "5-level paging is on and an ELF vmlinux cannot say whether it runs with it " +
  "(XLF_5LEVEL is a bzImage header flag): the kexec jump keeps CR4.LA57, and a kernel built without CONFIG_X86_5LEVEL " +
  "crashes at its first instruction; load its bzImage to have this checked";

function loadElfVmlinux(v: ElfVmlinux, ctx: LoadContext<X86Machine>): LoadedImage {
  const crash = ctx.kind === "crash";
  // A bzImage without XLF_5LEVEL is refused under LA57 (require5LevelSupport); a vmlinux has no flag to check.
  if (ctx.machine.la57) ctx.warn(VMLINUX_LA57_WARNING);
  const kernelAddr = ctx.addBuffer({
    role: "kernel",
    what: "vmlinux",
    bytes: v.pieces,
    memsz: v.memsz,
    align: v.alignment,
    // A reboot load stays at or above its link address (below it sits what the firmware and BIOS left); a crash
    // load goes anywhere in the crash region, moved by a multiple of the alignment.
    min: crash ? 0n : v.linkBase,
    max: NO_LIMIT,
    topDown: false,
    prefer: v.linkBase,
    why: crash ? undefined : `at or above its link address ${hex(v.linkBase)}`,
  });
  if (kernelAddr !== v.linkBase) {
    ctx.note(
      `vmlinux moved from its link address ${hex(v.linkBase)} to ${hex(kernelAddr)} (by ${
        hex(kernelAddr - v.linkBase)
      }, a multiple of ${hex(v.alignment)}): its startup code relocates itself physically`,
    );
  }
  // XLF_EFI_KEXEC, which says a kernel takes EFI from a kexec loader, is in the bzImage header a vmlinux lacks: like
  // kexec-tools for ELF kernels, hand it no EFI (it finds ACPI through the RSDP in boot_params).
  const efi = decideEfi(ctx, VMLINUX_REFUSES_EFI);
  const initrd = addInitrd(ctx, { initrdAddrMax: INITRD_ADDR_MAX, above4G: true }, efi);
  const { bootParams, firmware } = addBootParams(
    ctx,
    {
      setupHeader: syntheticSetupHeader(v),
      setupHeaderOffset: HDR.setup_sects,
      cmdlineSize: CMDLINE_SIZE,
    },
    initrd,
    efi,
  );
  return { kernelEntry: kernelAddr + v.entryOffset, bootParams, firmware };
}

/** The x86_64 ELF vmlinux loader (`-t elf-x86_64`, kexec-tools' name; aliases `elf`, `vmlinux`). kexec_load only. */
export const elfVmlinuxLoader: ImageLoader<ElfVmlinux, X86Machine> = {
  name: "elf-x86_64",
  aliases: ["elf", "vmlinux", "elf64"],
  probe: probeElfVmlinux,
  parse: parseElfVmlinux,
  load: loadElfVmlinux,
};
