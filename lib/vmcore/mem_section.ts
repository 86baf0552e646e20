/**
 * Which memory the crashed kernel had, and which of it was there at boot, from its own SPARSEMEM section table
 * (include/linux/mmzone.h, mm/sparse.c): the evidence a dump carries about memory hot-added while it ran.
 *
 * VMCOREINFO gives `SYMBOL(mem_section)` (the table's address: with SPARSEMEM_EXTREME an array of
 * `LENGTH(mem_section)` root pointers, each to a page of `PAGESIZE / SIZE(mem_section)` sections; without it the
 * sections themselves), `SIZE(mem_section)`, `OFFSET(mem_section.section_mem_map)`, `NUMBER(SECTION_SIZE_BITS)` and
 * `NUMBER(MAX_PHYSMEM_BITS)`. The low bits of `section_mem_map` are flags: present (bit 0), online (bit 2), and
 * since Linux 5.3 "early" (bit 3), set by sparse_init() for every section present at boot and never for a section
 * added later by memory hotplug. So a present section without the early bit is memory hot-added after boot.
 *
 * Reads the root array and each populated root page: a few KiB to 1 MiB whatever the dump's size.
 *
 * @module
 */

import { KexecError } from "../errors.ts";
import type { Range } from "../memory/ranges.ts";
import type { KernelMemory } from "./translate.ts";
import { entryNumber } from "./vmcoreinfo.ts";

/** section_mem_map flag bits (enum in include/linux/mmzone.h, stable since 5.3). */
const SECTION_MARKED_PRESENT = 1n << 0n;
const SECTION_IS_ONLINE = 1n << 2n;
const SECTION_IS_EARLY = 1n << 3n;

/** A run of present sections with the same flags. */
export interface SectionRange extends Range {
  /** Present at boot (sparse_init), not hot-added. */
  early: boolean;
  /** Online (in use by the page allocator) at the crash. */
  online: boolean;
}

/** What the section table says. */
export interface SectionTable {
  /** Bytes per section (`1 << SECTION_SIZE_BITS`). */
  sectionBytes: bigint;
  /** Present sections, merged into runs, ascending. */
  ranges: SectionRange[];
}

/** The most sections a table may hold: 2^26, twice what 52-bit physical addresses with 128 MiB sections need. */
const MAX_SECTIONS = 1n << 26n;

const KEYS = [
  "SYMBOL(mem_section)",
  "LENGTH(mem_section)",
  "SIZE(mem_section)",
  "OFFSET(mem_section.section_mem_map)",
  "NUMBER(SECTION_SIZE_BITS)",
  "NUMBER(MAX_PHYSMEM_BITS)",
  "PAGESIZE",
] as const;

/**
 * Reads the section table.
 * @throws KexecError("bad-elf") naming the missing key or unreadable page
 */
export function readSectionTable(mem: KernelMemory, entries: Map<string, string>): SectionTable {
  const v = Object.fromEntries(KEYS.map((k) => [k, entryNumber(entries, k)])) as Record<
    typeof KEYS[number],
    bigint | undefined
  >;
  const missing = KEYS.filter((k) => v[k] === undefined);
  if (missing.length) throw new KexecError("bad-elf", `VMCOREINFO lacks ${missing.join(", ")} (no SPARSEMEM?)`);
  const table = v["SYMBOL(mem_section)"]!;
  const roots = v["LENGTH(mem_section)"]!;
  const size = v["SIZE(mem_section)"]!;
  const mapOffset = Number(v["OFFSET(mem_section.section_mem_map)"]!);
  const sectionBits = v["NUMBER(SECTION_SIZE_BITS)"]!;
  const physBits = v["NUMBER(MAX_PHYSMEM_BITS)"]!;
  const P = mem.elf.fields.pointerBytes;
  if (size < BigInt(mapOffset + P) || sectionBits < 12n || physBits > 64n || physBits <= sectionBits) {
    throw new KexecError("bad-elf", "VMCOREINFO's mem_section sizes are inconsistent");
  }
  const pageSize = v["PAGESIZE"]!;
  if (pageSize < 4096n || pageSize > 262144n || (pageSize & (pageSize - 1n)) !== 0n) {
    throw new KexecError("bad-elf", `VMCOREINFO's PAGESIZE=${pageSize} is not a page size (a power of two, 4-256 KiB)`);
  }
  const nrSections = 1n << (physBits - sectionBits);
  const extreme = roots !== nrSections;
  const perRoot = extreme ? pageSize / size : 1n;
  // Real kernels have at most 2^25 sections (52 physical address bits, 128 MiB sections); a corrupt table must not
  // make the scan unbounded.
  if (perRoot < 1n || roots * perRoot < nrSections || roots > 1n << 24n || roots * perRoot > MAX_SECTIONS) {
    throw new KexecError("bad-elf", `VMCOREINFO's LENGTH(mem_section)=${roots} does not fit the section count`);
  }
  const f = mem.elf.fields;
  const maps: { nr: bigint; map: bigint }[] = [];
  const scan = (page: Uint8Array, firstNr: bigint, count: bigint) => {
    for (let i = 0n; i < count; i++) {
      const map = f.ulong(page, Number(i * size) + mapOffset);
      if (map & SECTION_MARKED_PRESENT) maps.push({ nr: firstNr + i, map });
    }
  };
  if (!extreme) {
    scan(mem.readBytes(table, roots * size, "the mem_section table", 1), 0n, roots);
  } else {
    const rootPtrs = mem.readBytes(table, roots * BigInt(P), "the mem_section root array", 1);
    for (let r = 0n; r < roots; r++) {
      const root = f.ulong(rootPtrs, Number(r) * P);
      if (root === 0n) continue;
      scan(mem.readBytes(root, perRoot * size, `mem_section root ${r}`, 1), r * perRoot, perRoot);
    }
  }
  const sectionBytes = 1n << sectionBits;
  const ranges: SectionRange[] = [];
  for (const { nr, map } of maps) {
    const early = (map & SECTION_IS_EARLY) !== 0n;
    const online = (map & SECTION_IS_ONLINE) !== 0n;
    const start = nr * sectionBytes;
    const last = ranges[ranges.length - 1];
    if (last && last.end === start && last.early === early && last.online === online) last.end += sectionBytes;
    else ranges.push({ start, end: start + sectionBytes, early, online });
  }
  return { sectionBytes, ranges };
}

/** Whether a kernel release marks boot-time sections (SECTION_IS_EARLY, Linux 5.3). */
export function marksEarlySections(release: string | undefined): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release ?? "");
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 5 || (major === 5 && minor >= 3);
}
