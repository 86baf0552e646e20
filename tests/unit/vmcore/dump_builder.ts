/**
 * Whole synthetic x86_64 crash dumps for vmcore-info: a lockless log, the SPARSEMEM section table (boot sections
 * marked early, hot-added ones not), CPU notes, and PT_LOADs laid out the way a loader lays them out: the kernel's
 * layout (kernel text first, RAM from 1 MiB, crash region left out; kexec_file_load, kexec-ts) or kexec-tools'
 * (a backup-region PT_LOAD below 640 KiB). Memory is sparse: a dump of GiBs costs only its structures.
 *
 * @module
 */

import type { CoreSource } from "../../../lib/vmcore/source.ts";
import { type CoreImage, type Segment, X86_64 } from "./core_builder.ts";
import { alloc, kernelSpace, put, spaceCore, struct } from "./kernel_space.ts";
import { buildRing, type RingRecord } from "./ring_builder.ts";

/** A range of physical memory, half-open. */
export interface PhysRange {
  start: bigint;
  end: bigint;
}

/** What the dump describes. */
export interface DumpSpec {
  release?: string;
  records: RingRecord[];
  /** Boot RAM (present at boot), dumped but for `crash`. */
  bootRam: PhysRange[];
  /** The crash kernel's region, left out of the dump. */
  crash: PhysRange;
  /** Hot-added RAM, and whether the dump's header includes it. */
  hotAdded?: { range: PhysRange; inDump: boolean; online?: boolean }[];
  layout: "kernel" | "kexec-tools";
  cpuPids?: number[];
  crashTime?: number;
  /** Leave the section table out of VMCOREINFO. */
  noSections?: boolean;
  /** VMCOREINFO lines appended last (a later key overrides an earlier one, as the reader takes the last). */
  vmcoreinfoOverrides?: string[];
}

const SECTION_BITS = 27n;
const MAX_PHYSMEM_BITS = 46n;
const SECTION_STRUCT = 16n;
const DIRECT_MAP = 0xffff888000000000n;

/** Builds the dump. */
export function dumpCore(spec: DumpSpec): CoreImage {
  const space = kernelSpace(X86_64);
  const lines = buildRing(space, { countBits: 6, sizeBits: 13, records: spec.records, release: spec.release });
  if (!spec.noSections) lines.push(...sectionTable(space, spec));
  const ram = (r: PhysRange): Segment => ({
    vaddr: DIRECT_MAP + r.start,
    paddr: r.start,
    memsz: r.end - r.start,
    content: [],
  });
  const dumped: PhysRange[] = [];
  for (const r of spec.bootRam) {
    for (
      const piece of minus(r, spec.layout === "kernel" ? [{ start: 0n, end: 0x100000n }, spec.crash] : [spec.crash])
    ) {
      dumped.push(piece);
    }
  }
  for (const h of spec.hotAdded ?? []) if (h.inDump) dumped.push(h.range);
  lines.push(
    "KERNELOFFSET=0",
    ...(spec.crashTime === undefined ? [] : [`CRASHTIME=${spec.crashTime}`]),
    ...(spec.vmcoreinfoOverrides ?? []),
  );
  return spaceCore(space, { vmcoreinfo: lines, cpuPids: spec.cpuPids, moreSegments: dumped.map(ram) });
}

/** `r` minus `holes`. */
function minus(r: PhysRange, holes: PhysRange[]): PhysRange[] {
  let out = [r];
  for (const h of holes) {
    out = out.flatMap((p) =>
      h.end <= p.start || h.start >= p.end ? [p] : [
        ...(p.start < h.start ? [{ start: p.start, end: h.start }] : []),
        ...(h.end < p.end ? [{ start: h.end, end: p.end }] : []),
      ]
    );
  }
  return out;
}

/** The SPARSEMEM_EXTREME table: root array and root pages in the direct map; returns its VMCOREINFO lines. */
function sectionTable(space: ReturnType<typeof kernelSpace>, spec: DumpSpec): string[] {
  const perRoot = 4096n / SECTION_STRUCT;
  const roots = (1n << (MAX_PHYSMEM_BITS - SECTION_BITS)) / perRoot;
  const rootArray = struct(space, Number(roots) * 8);
  const pages = new Map<bigint, ReturnType<typeof struct>>();
  const mark = (r: PhysRange, flags: bigint) => {
    for (let nr = r.start >> SECTION_BITS; nr << SECTION_BITS < r.end; nr++) {
      const root = nr / perRoot;
      if (!pages.has(root)) pages.set(root, struct(space, 4096));
      // section_mem_map: an encoded mem_map pointer (64-byte aligned) plus the flag bits.
      pages.get(root)!.w.u64(Number((nr % perRoot) * SECTION_STRUCT), 0xffffea0000000000n | flags);
    }
  };
  for (const r of spec.bootRam) mark(r, 0b1011n); // present, has mem_map, online, early
  for (const h of spec.hotAdded ?? []) mark(h.range, h.online === false ? 0b0011n : 0b0111n);
  for (const [root, page] of pages) {
    const at = alloc(space.ram, 4096, 4096n);
    put(space.ram, at, page.buf);
    rootArray.w.u64(Number(root) * 8, at);
  }
  const tableAt = alloc(space.ram, rootArray.buf.length);
  put(space.ram, tableAt, rootArray.buf);
  return [
    `SYMBOL(mem_section)=${tableAt.toString(16)}`,
    `LENGTH(mem_section)=${roots}`,
    `SIZE(mem_section)=${SECTION_STRUCT}`,
    "OFFSET(mem_section.section_mem_map)=0",
    `NUMBER(SECTION_SIZE_BITS)=${SECTION_BITS}`,
    `NUMBER(MAX_PHYSMEM_BITS)=${MAX_PHYSMEM_BITS}`,
  ];
}

/** A CoreSource over a core's pieces, zeros elsewhere, without materializing it (dumps of many GiB). */
export function pieceSource(img: CoreImage, name = "<synthetic>"): CoreSource & { reads: number } {
  let bytesRead = 0, reads = 0;
  return {
    name,
    sizeBytes: img.sizeBytes,
    get bytesRead() {
      return bytesRead;
    },
    get reads() {
      return reads;
    },
    read(offset: bigint, length: number): Uint8Array {
      const end = offset + BigInt(length) < img.sizeBytes ? offset + BigInt(length) : img.sizeBytes;
      if (end <= offset) return new Uint8Array(0);
      const out = new Uint8Array(Number(end - offset));
      for (const p of img.pieces) {
        const pEnd = p.offset + BigInt(p.bytes.length);
        if (pEnd <= offset || p.offset >= end) continue;
        const from = p.offset > offset ? p.offset : offset;
        const to = pEnd < end ? pEnd : end;
        out.set(p.bytes.subarray(Number(from - p.offset), Number(to - p.offset)), Number(from - offset));
      }
      bytesRead += out.length;
      reads++;
      return out;
    },
    close() {},
  };
}
