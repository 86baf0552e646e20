/**
 * A synthetic crashed kernel's memory: a kernel-image region (where variables such as `prb` or `log_buf` live)
 * and a direct-map RAM region (where boot-time allocations such as a resized log buffer live), with a bump
 * allocator, turned into a core (./core_builder.ts) with its notes and VMCOREINFO.
 *
 * @module
 */

import {
  type Arch,
  buildCore,
  type CoreImage,
  kernelBases,
  type Note,
  pageAlign,
  prstatus,
  type Segment,
  vmcoreinfoText,
  type Writer,
  writer,
} from "./core_builder.ts";

/** One region of the kernel's memory. */
export interface Region {
  vaddr: bigint;
  paddr: bigint;
  /** Bytes allocated so far. */
  used: bigint;
  content: { at: bigint; bytes: Uint8Array }[];
}

/** The synthetic kernel. */
export interface KernelSpace {
  arch: Arch;
  text: Region;
  ram: Region;
}

/** Physical addresses of the two regions (the kernel at 16 MiB, the RAM region at 1 MiB). */
export const TEXT_PADDR = 0x1000000n;
export const RAM_PADDR = 0x100000n;

/** A new, empty kernel. */
export function kernelSpace(arch: Arch): KernelSpace {
  const b = kernelBases(arch);
  return {
    arch,
    text: { vaddr: b.text, paddr: TEXT_PADDR, used: 0n, content: [] },
    ram: { vaddr: b.directMap + RAM_PADDR, paddr: RAM_PADDR, used: 0n, content: [] },
  };
}

/** Allocates `size` bytes (aligned) in `r`; returns their virtual address. */
export function alloc(r: Region, size: number | bigint, alignBytes = 8n): bigint {
  r.used = (r.used + alignBytes - 1n) / alignBytes * alignBytes;
  const at = r.used;
  r.used += BigInt(size);
  return r.vaddr + at;
}

/** Writes `bytes` at virtual address `vaddr` of `r`. */
export function put(r: Region, vaddr: bigint, bytes: Uint8Array): void {
  r.content.push({ at: vaddr - r.vaddr, bytes });
}

/** A zeroed buffer of `size` bytes and a writer for it in the kernel's byte order. */
export function struct(space: KernelSpace, size: number): { buf: Uint8Array; w: Writer } {
  const buf = new Uint8Array(size);
  return { buf, w: writer(buf, space.arch) };
}

/** Allocates and fills a structure in `r`; returns its address. */
export function place(r: Region, buf: Uint8Array, alignBytes = 8n): bigint {
  const at = alloc(r, buf.length, alignBytes);
  put(r, at, buf);
  return at;
}

/** A pointer-sized variable holding `value`, in the kernel image; returns its address. */
export function pointerVar(space: KernelSpace, value: bigint): bigint {
  const { buf, w } = struct(space, space.arch.pointerBytes);
  w.ulong(0, value);
  return place(space.text, buf);
}

/** A u32 variable in the kernel image; returns its address. */
export function u32Var(space: KernelSpace, value: number): bigint {
  const { buf, w } = struct(space, 4);
  w.u32(0, value);
  return place(space.text, buf, 4n);
}

/** What goes around the memory in a core. */
export interface CoreExtras {
  /** VMCOREINFO lines (without `\n`). */
  vmcoreinfo: string[];
  /** Leave out the final `\n` (as kernels before 4.x wrote CRASHTIME). */
  noFinalNewline?: boolean;
  /** Pids of the CPUs' NT_PRSTATUS notes (default one CPU, pid 0). */
  cpuPids?: number[];
  /** More PT_LOADs after the two regions (RAM the log does not use). */
  moreSegments?: Segment[];
  /** Notes before the CPU notes (e.g. a broken one). */
  extraNotes?: Note[];
  /** Cut the file here. */
  truncateAt?: bigint;
  /** Leave out the VMCOREINFO note. */
  noVmcoreinfo?: boolean;
}

/** The core of `space`: kernel-image PT_LOAD first, then the RAM region, then `moreSegments`. */
export function spaceCore(space: KernelSpace, extras: CoreExtras): CoreImage {
  const seg = (r: Region): Segment => ({
    vaddr: r.vaddr,
    paddr: r.paddr,
    memsz: pageAlign(r.used === 0n ? 1n : r.used),
    content: r.content,
  });
  const notes: Note[] = [
    ...(extras.extraNotes ?? []),
    ...(extras.cpuPids ?? [0]).map((pid) => ({ name: "CORE", type: 1, desc: prstatus(space.arch, pid) })),
  ];
  if (!extras.noVmcoreinfo) {
    notes.push({ name: "VMCOREINFO", type: 0, desc: vmcoreinfoText(extras.vmcoreinfo, extras.noFinalNewline) });
  }
  return buildCore({
    arch: space.arch,
    notes,
    segments: [seg(space.text), seg(space.ram), ...(extras.moreSegments ?? [])],
    truncateAt: extras.truncateAt,
  });
}

/** `SYMBOL(name)=hex`, as the kernel writes it. */
export const symbolLine = (name: string, vaddr: bigint) => `SYMBOL(${name})=${vaddr.toString(16)}`;
