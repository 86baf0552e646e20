/**
 * Reading what a capture kernel reported about /proc/vmcore: its ELF header, program headers and the merged
 * notes (the head the guest sent as base64), checked with kexec-ts' own ELF reader.
 *
 * @module
 */

import { decodeBase64 } from "../../scripts/vm/base64.ts";
import { parseElf } from "../../lib/elf/reader.ts";
import { PT_LOAD, PT_NOTE } from "../../lib/elf/constants.ts";
import { isSystemRam, parseIomem, walkIomem } from "../../lib/memory/iomem.ts";
import { mergeRanges, type Range, subtractRanges } from "../../lib/memory/ranges.ts";
import { findCrashRegions } from "../../lib/crash/region.ts";

/** What a vmcore holds. */
export interface VmcoreSummary {
  /** NT_PRSTATUS notes ("CORE", type 1): one per CPU that saved its registers. */
  prstatus: number;
  /** A "VMCOREINFO" note. */
  vmcoreinfo: string | undefined;
  /** PT_LOAD physical ranges, in order. */
  loads: Range[];
}

const NT_PRSTATUS = 1;

/** Parses the base64 head of /proc/vmcore. */
export function summarizeVmcore(base64: string): VmcoreSummary {
  const head = decodeBase64(base64.replace(/\s+/g, ""));
  const elf = parseElf(head, { checkSegmentBounds: false });
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let prstatus = 0;
  let vmcoreinfo: string | undefined;
  for (const ph of elf.programHeaders.filter((p) => p.type === PT_NOTE)) {
    let off = Number(ph.offset);
    const end = off + Number(ph.filesz);
    if (end > head.length) throw new Error(`vmcore notes end at ${end}, past the ${head.length} bytes captured`);
    while (off + 12 <= end) {
      const namesz = dv.getUint32(off, true), descsz = dv.getUint32(off + 4, true), type = dv.getUint32(off + 8, true);
      if (namesz === 0) break;
      const name = new TextDecoder().decode(head.subarray(off + 12, off + 12 + namesz - 1));
      const desc = off + 12 + ((namesz + 3) & ~3);
      if (name === "CORE" && type === NT_PRSTATUS) prstatus++;
      if (name === "VMCOREINFO") vmcoreinfo = new TextDecoder().decode(head.subarray(desc, desc + descsz));
      off = desc + ((descsz + 3) & ~3);
    }
  }
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD).map((p) => ({
    start: p.paddr,
    end: p.paddr + p.memsz,
  }));
  return { prstatus, vmcoreinfo, loads };
}

/**
 * The first kernel's RAM a dump must cover: System RAM minus the low 1 MiB and the crash region(s), and minus
 * `exclude` (the crashkernel=,cma ranges, which the kernel's own loader leaves out of the dump).
 */
export function expectedDumpRam(firstIomem: string, exclude: readonly Range[] = []): Range[] {
  const iomem = parseIomem(firstIomem);
  const crash = findCrashRegions(iomem);
  const holes = [
    { start: 0n, end: 0x100000n },
    ...(crash ? [crash.main, ...(crash.low ? [crash.low] : [])] : []),
    ...exclude,
  ];
  return mergeRanges(subtractRanges(walkIomem(iomem, isSystemRam).map((e) => ({ start: e.start, end: e.end })), holes));
}

/** Bytes of `want` not covered by `have`. */
export function uncovered(want: readonly Range[], have: readonly Range[]): bigint {
  return subtractRanges(want, have).reduce((n, r) => n + (r.end - r.start), 0n);
}
