/**
 * The elfcorehdr: the ELF core header the capture kernel turns into /proc/vmcore.
 *
 * Built the way the kernel's own rebuild (crash_prepare_elf64_headers + x86 prepare_elf_headers, 6.12) builds it,
 * so that the first in-place hotplug rewrite changes nothing but the hot-plugged ranges:
 *  1. one PT_NOTE per possible CPU: p_offset = p_paddr = crash_notes, size crash_notes_size;
 *  2. one PT_NOTE for vmcoreinfo;
 *  3. one PT_LOAD for the kernel text: p_vaddr = _text, p_paddr = p_offset = __pa(_text), size _end - _text, RWX;
 *  4. one PT_LOAD per System RAM resource (the kernel's walk: no merging), minus the architecture's always-reserved
 *     low memory (x86_64: the low 1 MiB, so no 640K backup region) and the crash region(s); p_vaddr = __va(start),
 *     RWX, p_align 0.
 *
 * Inputs come from /sys/devices/system/cpu/cpuN/crash_notes, /sys/kernel/vmcoreinfo, /proc/kcore (kernel text
 * and PAGE_OFFSET) and /proc/iomem, all through the SystemView; all need root.
 *
 * @module
 */

import { fail, hex } from "../errors.ts";
import { coreHeaderSize, type CorePhdr, PF_R, PF_W, PF_X, PT_LOAD, PT_NOTE, writeCoreHeader } from "../elf/core.ts";
import { EHDR_SIZE } from "../elf/constants.ts";
import { parseElf } from "../elf/reader.ts";
import { findIomem, type IomemEntry, isSystemRam, walkIomem } from "../memory/iomem.ts";
import { alignUp, PAGE_SIZE, type Range, subtractRanges } from "../memory/ranges.ts";
import { parseInteger, readTrimmed, type SystemView } from "../system.ts";
import type { CrashRegions } from "./region.ts";

/** What the header describes. */
export interface CoreInputs {
  /** e_machine of the header. */
  elfMachine: number;
  /** One per possible CPU whose sysfs node exists, in CPU order. */
  cpuNotes: { cpu: number; paddr: bigint; sizeBytes: bigint }[];
  /** Possible CPUs without a cpuN node (not present): the kernel's rebuild will add their notes. */
  missingCpus: number[];
  vmcoreinfo: { paddr: bigint; sizeBytes: bigint };
  kernelText: { vaddr: bigint; paddr: bigint; sizeBytes: bigint };
  /** The direct map's base: __va(p) = p + pageOffset. */
  pageOffset: bigint;
  /** System RAM to dump, already without the low 1 MiB and the crash regions, ascending. */
  ram: Range[];
}

/** Facts the header takes from the architecture (lib/arch/). */
export interface CoreDumpFacts {
  /** e_machine of the core header. */
  elfMachine: number;
  /** Start of the kernel text mapping (__START_KERNEL_map on x86_64): /proc/kcore entries at or above it are the kernel image. */
  kernelTextBase: bigint;
  /** Low memory the first kernel never uses (x86_64: the low 1 MiB): left out of the dump. */
  lowReserved: Range;
}

const NO_PADDR = 0xffffffffffffffffn;

/**
 * The most CPUs a Linux kernel can have: NR_CPUS is at most 8192 on every architecture (x86_64 with
 * CPUMASK_OFFSTACK/MAXSMP, arch/x86/Kconfig NR_CPUS_RANGE_END; powerpc's range ends there too). A CPU list naming a
 * CPU at or above it did not come from a kernel, and is refused before anything is allocated for it.
 */
export const MAX_CPUS = 8192;

/**
 * Parses a CPU list such as `0-3,8,10-11` (the kernel's `%*pbl` format: ascending, no duplicates).
 * @throws KexecError("io") for anything else, including a CPU number of {@link MAX_CPUS} or more
 */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  const list = text.trim();
  const bad = (why: string): never => fail("io", `cannot parse CPU list "${list.slice(0, 80)}": ${why}`);
  for (const part of list.split(",").filter(Boolean)) {
    const m = /^(\d{1,12})(?:-(\d{1,12}))?$/.exec(part);
    if (!m) bad(`"${part.slice(0, 40)}" is not N or N-M`);
    const a = Number(m![1]), b = m![2] === undefined ? a : Number(m![2]);
    if (b >= MAX_CPUS) bad(`CPU ${b} is above the kernel's limit of ${MAX_CPUS} CPUs (NR_CPUS)`);
    if (b < a) bad(`the range ${part} runs backwards`);
    if (out.length && a <= out[out.length - 1]) bad(`${part} is not above the CPUs before it`);
    for (let c = a; c <= b; c++) out.push(c);
  }
  return out;
}

/**
 * System RAM as the kernel's walk_system_ram_res sees it, minus the low 1 MiB and the crash regions;
 * one range per resource, pieces kept separate (crash_exclude_mem_range splits, never merges).
 */
export function dumpRamRanges(iomem: readonly IomemEntry[], crash: CrashRegions, lowReserved: Range): Range[] {
  const ram = walkIomem(iomem, isSystemRam).map((e) => ({ start: e.start, end: e.end }));
  const holes = [lowReserved, crash.main, ...(crash.low ? [crash.low] : [])];
  return subtractRanges(ram, holes);
}

/**
 * The kernel text mapping and PAGE_OFFSET from /proc/kcore's program headers: the KCORE_TEXT entry
 * (vaddr >= __START_KERNEL_map, paddr set) and any KCORE_RAM entry (vaddr below it, paddr set).
 */
export function kernelMapFromKcore(
  head: Uint8Array,
  kernelTextBase: bigint,
): { text: CoreInputs["kernelText"]; pageOffset: bigint } {
  const { programHeaders } = parseElf(head, { checkSegmentBounds: false });
  const loads = programHeaders.filter((p) => p.type === PT_LOAD && p.paddr !== NO_PADDR);
  const text = loads.find((p) => p.vaddr >= kernelTextBase);
  const ram = loads.find((p) => p.vaddr < kernelTextBase);
  if (!text || !ram) {
    fail("io", "/proc/kcore has no kernel-text or RAM program header (CONFIG_PROC_KCORE without them?)");
  }
  return { text: { vaddr: text.vaddr, paddr: text.paddr, sizeBytes: text.memsz }, pageOffset: ram.vaddr - ram.paddr };
}

/**
 * The first bytes of /proc/kcore, as many as its program headers need: about two per System RAM resource, so a
 * machine with many hot-plugged blocks needs more than a fixed read would give. Doubles from 64 KiB while the
 * table runs past what was read (the file's size is virtual; reading its data would read all of memory).
 */
function readKcoreHeaders(sys: SystemView): ReturnType<SystemView["read"]> {
  for (let bytes = 1 << 16;; bytes *= 2) {
    const r = sys.read("/proc/kcore", bytes);
    if (r.kind !== "ok" || r.bytes.length < bytes || bytes >= 1 << 26) return r;
    try {
      parseElf(r.bytes, { checkSegmentBounds: false });
      return r;
    } catch {
      // the table runs past `bytes`: read more
    }
  }
}

/**
 * Reads everything the header needs from the running kernel.
 * @throws KexecError("permission") when not root; KexecError("io") when a node is missing or malformed
 */
export function readCoreInputs(
  sys: SystemView,
  iomem: readonly IomemEntry[],
  crash: CrashRegions,
  facts: CoreDumpFacts,
): CoreInputs {
  /** The number in `path`; `undefined` only when absent and `optional`. */
  function need(path: string, radix?: 10 | 16): bigint;
  function need(path: string, radix: 10 | 16, optional: true): bigint | undefined;
  function need(path: string, radix: 10 | 16 = 10, optional = false): bigint | undefined {
    const r = sys.read(path);
    if (r.kind === "denied") fail("permission", `${path} is readable by root only; crash loads need root`);
    if (r.kind === "absent") {
      if (optional) return undefined;
      fail("io", `${path} is missing; this kernel lacks CONFIG_CRASH_DUMP`);
    }
    const v = parseInteger(new TextDecoder().decode(r.bytes), radix);
    if (v === undefined) fail("io", `${path} does not hold a number`);
    return v;
  }
  const possible = parseCpuList(readTrimmed(sys, "/sys/devices/system/cpu/possible") ?? "0");
  const cpuNotes: CoreInputs["cpuNotes"] = [];
  const missingCpus: number[] = [];
  for (const cpu of possible) {
    const base = `/sys/devices/system/cpu/cpu${cpu}`;
    const paddr = need(`${base}/crash_notes`, 16, true);
    if (paddr === undefined) {
      missingCpus.push(cpu);
      continue;
    }
    cpuNotes.push({ cpu, paddr, sizeBytes: need(`${base}/crash_notes_size`) });
  }
  if (cpuNotes.length === 0) {
    fail("io", "no /sys/devices/system/cpu/cpuN/crash_notes found; this kernel lacks CONFIG_CRASH_DUMP");
  }

  const vi = readTrimmed(sys, "/sys/kernel/vmcoreinfo");
  const vm = vi === undefined ? null : /^(0x)?([0-9a-f]+)\s+([0-9a-f]+)$/i.exec(vi);
  if (!vm) fail("io", `/sys/kernel/vmcoreinfo is ${vi === undefined ? "missing" : `malformed ("${vi}")`}`);
  const vmcoreinfo = { paddr: BigInt("0x" + vm[2]), sizeBytes: BigInt("0x" + vm[3]) };

  const kcore = readKcoreHeaders(sys);
  if (kcore.kind === "denied") {
    fail("permission", "/proc/kcore is readable by root only (and closed under lockdown=confidentiality)");
  }
  if (kcore.kind === "absent") {
    fail("io", "/proc/kcore is missing (CONFIG_PROC_KCORE); kexec-ts needs it for the kernel text address");
  }
  const { text, pageOffset } = kernelMapFromKcore(kcore.bytes, facts.kernelTextBase);

  const code = findIomem(iomem, "Kernel code")[0];
  if (code && code.start !== text.paddr) {
    fail("io", `/proc/kcore puts the kernel text at ${hex(text.paddr)} but /proc/iomem says ${hex(code.start)}`);
  }
  return {
    elfMachine: facts.elfMachine,
    cpuNotes,
    missingCpus,
    vmcoreinfo,
    kernelText: text,
    pageOffset,
    ram: dumpRamRanges(iomem, crash, facts.lowReserved),
  };
}

/** The program headers, in the kernel's order. */
export function corePhdrs(inputs: CoreInputs): CorePhdr[] {
  const rwx = PF_R | PF_W | PF_X;
  return [
    ...inputs.cpuNotes.map((n) => ({
      type: PT_NOTE,
      offset: n.paddr,
      paddr: n.paddr,
      filesz: n.sizeBytes,
      memsz: n.sizeBytes,
    })),
    {
      type: PT_NOTE,
      offset: inputs.vmcoreinfo.paddr,
      paddr: inputs.vmcoreinfo.paddr,
      filesz: inputs.vmcoreinfo.sizeBytes,
      memsz: inputs.vmcoreinfo.sizeBytes,
    },
    {
      type: PT_LOAD,
      flags: rwx,
      offset: inputs.kernelText.paddr,
      vaddr: inputs.kernelText.vaddr,
      paddr: inputs.kernelText.paddr,
      filesz: inputs.kernelText.sizeBytes,
      memsz: inputs.kernelText.sizeBytes,
    },
    ...inputs.ram.map((r) => ({
      type: PT_LOAD,
      flags: rwx,
      offset: r.start,
      vaddr: BigInt.asUintN(64, r.start + inputs.pageOffset),
      paddr: r.start,
      filesz: r.end - r.start,
      memsz: r.end - r.start,
    })),
  ];
}

/** The elfcorehdr bytes (4 KiB-aligned length). */
export function buildElfcorehdr(inputs: CoreInputs): Uint8Array {
  return writeCoreHeader(inputs.elfMachine, corePhdrs(inputs));
}

/** Program headers reserved beyond today's count, for ranges hot-added later (kexec-ts' headroom). */
export const HOTPLUG_HEADROOM_PHDRS = 128;

/**
 * memsz of the elfcorehdr segment.
 *
 * Without hotplug: the header's own size. With hotplug the kernel rewrites the header in place and refuses when
 * its new header (`ALIGN(64 + 56 * n, 4096)`) exceeds memsz, so take the largest of: the kernel's own bound
 * (`/sys/kernel/crash_elfcorehdr_size`, which omits the 64-byte Ehdr), and what this machine needs now (every
 * possible CPU, vmcoreinfo, kernel text, today's ranges) plus {@link HOTPLUG_HEADROOM_PHDRS}. Page-aligned.
 */
export function elfcorehdrMemsz(inputs: CoreInputs, hotplugSysfsBytes: bigint | undefined): bigint {
  const today = inputs.cpuNotes.length + inputs.missingCpus.length + 2 + inputs.ram.length;
  if (hotplugSysfsBytes === undefined) return coreHeaderSize(today);
  const needNow = coreHeaderSize(today + HOTPLUG_HEADROOM_PHDRS);
  const kernelBound = alignUp(hotplugSysfsBytes + BigInt(EHDR_SIZE), PAGE_SIZE);
  return needNow > kernelBound ? needNow : kernelBound;
}
