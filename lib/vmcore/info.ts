/**
 * `kexec-ts vmcore-info`: what a dump says about the crash, read from its headers, notes, VMCOREINFO and a few
 * kernel structures (never the whole dump): kernel release, crash time, the panic message, the CPUs that saved their
 * registers, the memory it holds, whether memory hot-added while the kernel ran is in it, and who built its core
 * header. A dump that is not an ELF core is an error; anything after that which cannot be read is reported as
 * unknown with the reason, and the rest is still summarized.
 *
 * @example A synthetic dump (tests/fixtures/vmcore/structured.core)
 * ```ts
 * import { memoryCoreSource } from "./source.ts";
 * import { vmcoreSummary } from "./info.ts";
 *
 * const core = Deno.readFileSync(new URL("../../tests/fixtures/vmcore/structured.core", import.meta.url));
 * const s = vmcoreSummary(memoryCoreSource(core));
 * if (s.kernelRelease !== "5.4.0-synthetic" || s.log.format !== "structured") throw new Error(JSON.stringify(s.log));
 * ```
 *
 * @module
 */

import { KexecError } from "../errors.ts";
import { PT_LOAD } from "../elf/constants.ts";
import { mergeRanges, type Range, subtractRanges } from "../memory/ranges.ts";
import { type CoreElf, machineName, readCoreElf } from "./core_elf.ts";
import { type LogFormat, openKernelLog } from "./dmesg.ts";
import { formatTimestamp, type LogRecord } from "./format.ts";
import { marksEarlySections, readSectionTable, type SectionRange } from "./mem_section.ts";
import { NT_PRSTATUS, readCoreNotes } from "./notes.ts";
import { type CoreHeaderOrigin, coreHeaderOrigin } from "./origin.ts";
import { findPanic, logLines } from "./panic.ts";
import type { CoreSource } from "./source.ts";
import { kernelMemory } from "./translate.ts";
import { entryNumber, vmcoreinfoEntries } from "./vmcoreinfo.ts";

/** One PT_LOAD of the dump. */
export interface VmcoreLoad {
  /** Physical start. */
  paddr: bigint;
  /** Kernel virtual address it is mapped at. */
  vaddr: bigint;
  /** Bytes. */
  memsz: bigint;
  /** Whether its physical range is also in another PT_LOAD (the kernel text on x86_64): not counted twice. */
  alias: boolean;
}

/** The panic as the summary shows it. */
export interface VmcorePanic {
  /** `panic` (a panic() message) or `oops` (the last oops/BUG line). */
  kind: "panic" | "oops";
  /** The panic() message, or the oops line. */
  message: string;
  /** `[  123.456789]`-style time since boot of the record, when the log has timestamps. */
  uptime?: string;
}

/** Whether memory hot-added while the crashed kernel ran is in the dump. */
export interface HotplugEvidence {
  /**
   * `none`: the kernel had no hot-added memory; `included`: all of it is in the dump; `missing`: none of it;
   * `partial`: some of it; `unknown`: the section table could not be read (see `problem`).
   */
  verdict: "none" | "included" | "missing" | "partial" | "unknown";
  /** Why the verdict is unknown. */
  problem?: string;
  /** Memory present at the crash (all sections), in bytes. */
  presentBytes?: bigint;
  /** Present sections not there at boot: hot-added. */
  hotAdded: SectionRange[];
  /** Bytes of `hotAdded`. */
  hotAddedBytes: bigint;
  /** Hot-added memory the dump's PT_LOADs do not cover. */
  missing: Range[];
  /** Bytes of `missing`. */
  missingBytes: bigint;
}

/** Everything `vmcore-info` reports. */
export interface VmcoreSummary {
  /** The dump's file name. */
  file: string;
  /** Its size, when the file system reports one. */
  fileSizeBytes?: bigint;
  /** ELF class, byte order, machine and the crashed kernel's pointer width. */
  elf: { elfClass: 32 | 64; byteOrder: "little" | "big"; machine: string; pointerBits: number };
  /** OSRELEASE. */
  kernelRelease?: string;
  /** BUILD-ID. */
  buildId?: string;
  /** KERNELOFFSET (the KASLR offset, x86_64). */
  kernelOffset?: bigint;
  /** CRASHTIME as an ISO 8601 UTC time. */
  crashTime?: string;
  /** CRASHTIME: seconds since the epoch. */
  crashTimeEpoch?: number;
  /** Why the kernel crashed, from its log. */
  panic?: VmcorePanic;
  /** The log's format, how many records it holds, and why it could not be read (all of it) if so. */
  log: { format?: LogFormat; recordCount?: number; problem?: string };
  /** CPUs that saved registers (NT_PRSTATUS notes) and the pid each was running. */
  cpus: { savedCount: number; pids: number[] };
  /** The PT_LOADs, the physical ranges they cover (merged) and their total. */
  memory: { loads: VmcoreLoad[]; ranges: Range[]; totalBytes: bigint };
  /** Memory hot-added while the crashed kernel ran, and whether the dump has it. */
  hotplug: HotplugEvidence;
  /** Who built the dump's core header. */
  loader: CoreHeaderOrigin;
}

/** How {@link vmcoreSummary} runs. */
export interface SummaryOptions {
  /** The command line of the capture kernel reading the live /proc/vmcore (evidence of who loaded it). */
  captureCmdline?: string;
}

/**
 * The dump's physical memory from its PT_LOADs, with aliases (kernel text) counted once. A load is an alias when
 * other loads cover all of it, i.e. none of its bytes is covered by it alone: one sweep over the loads' ends finds
 * the ranges covered exactly once (a makedumpfile -E dump has tens of thousands of loads).
 */
function memoryOf(elf: CoreElf): VmcoreSummary["memory"] {
  const loads = elf.phdrs.filter((p) => p.type === PT_LOAD && p.memsz > 0n);
  const once = coveredOnce(loads.map((p) => ({ start: p.paddr, end: p.paddr + p.memsz })));
  const out: VmcoreLoad[] = loads.map((p) => {
    const alias = !overlapsAny(once, p.paddr, p.paddr + p.memsz);
    return { paddr: p.paddr, vaddr: p.vaddr, memsz: p.memsz, alias };
  });
  const ranges = mergeRanges(out.map((l) => ({ start: l.paddr, end: l.paddr + l.memsz })));
  return { loads: out, ranges, totalBytes: ranges.reduce((n, r) => n + r.end - r.start, 0n) };
}

/** The parts of the ranges' union covered by exactly one range, ascending and disjoint. */
function coveredOnce(ranges: readonly Range[]): Range[] {
  const events: [bigint, number][] = ranges.flatMap((r): [bigint, number][] => [[r.start, 1], [r.end, -1]]);
  events.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  const out: Range[] = [];
  let depth = 0;
  let at = 0n;
  for (const [x, d] of events) {
    if (x > at && depth === 1) {
      const last = out[out.length - 1];
      if (last && last.end === at) last.end = x;
      else out.push({ start: at, end: x });
    }
    depth += d;
    at = x;
  }
  return out;
}

/** Whether [start, end) meets one of the ascending, disjoint `ranges` (binary search). */
function overlapsAny(ranges: readonly Range[], start: bigint, end: bigint): boolean {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid].end <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo < ranges.length && ranges[lo].start < end;
}

/** The pid in an NT_PRSTATUS note: after pr_info (12 bytes), pr_cursig (2, padded to 4), pr_sigpend, pr_sighold. */
function prstatusPid(elf: CoreElf, desc: Uint8Array): number {
  const at = 16 + 2 * elf.fields.pointerBytes;
  return desc.length >= at + 4 ? elf.fields.u32(desc, at) | 0 : -1;
}

const sum = (rs: readonly Range[]) => rs.reduce((n, r) => n + r.end - r.start, 0n);

/**
 * Summarizes the dump in `src`.
 * @throws KexecError when it is not a readable ELF core (the same exit statuses as vmcore-dmesg)
 */
export function vmcoreSummary(src: CoreSource, opts: SummaryOptions = {}): VmcoreSummary {
  const elf = readCoreElf(src);
  const notes = readCoreNotes(src, elf);
  const entries = vmcoreinfoEntries(notes.vmcoreinfo);
  const release = entries.get("OSRELEASE");
  const crashSeconds = entryNumber(entries, "CRASHTIME");
  const prstatus = notes.all.filter((n) => n.name === "CORE" && n.type === NT_PRSTATUS);
  const memory = memoryOf(elf);

  const log: VmcoreSummary["log"] = {};
  let records: LogRecord[] | Uint8Array = [];
  try {
    const kl = openKernelLog(src);
    log.format = kl.format;
    if (kl.format === "legacy") {
      records = kl.text;
    } else {
      const got: LogRecord[] = [];
      records = got;
      try {
        for (const r of kl.records) got.push(r);
      } finally {
        log.recordCount = got.length;
      }
    }
  } catch (e) {
    if (!(e instanceof KexecError)) throw e;
    log.problem = e.message;
  }
  const found = findPanic(logLines(records));
  const panic: VmcorePanic | undefined = found && {
    kind: found.kind,
    message: found.message,
    uptime: found.tsNsec === undefined ? undefined : formatTimestamp(found.tsNsec).trim(),
  };

  const hotplug: HotplugEvidence = {
    verdict: "unknown",
    hotAdded: [],
    hotAddedBytes: 0n,
    missing: [],
    missingBytes: 0n,
  };
  if (!marksEarlySections(release)) {
    hotplug.problem = `Linux ${release ?? "(release unknown)"} does not mark boot-time memory sections (5.3+ does)`;
  } else {
    try {
      const table = readSectionTable(kernelMemory(src, elf), entries);
      hotplug.presentBytes = sum(table.ranges);
      hotplug.hotAdded = table.ranges.filter((r) => !r.early);
      hotplug.hotAddedBytes = sum(hotplug.hotAdded);
      hotplug.missing = mergeRanges(subtractRanges(hotplug.hotAdded, memory.ranges));
      hotplug.missingBytes = sum(hotplug.missing);
      hotplug.verdict = hotplug.hotAddedBytes === 0n
        ? "none"
        : hotplug.missingBytes === 0n
        ? "included"
        : hotplug.missingBytes === hotplug.hotAddedBytes
        ? "missing"
        : "partial";
    } catch (e) {
      if (!(e instanceof KexecError)) throw e;
      hotplug.problem = `cannot read the memory section table: ${e.message}`;
    }
  }

  return {
    file: src.name,
    fileSizeBytes: src.sizeBytes,
    elf: {
      elfClass: elf.elfClass,
      byteOrder: elf.fields.littleEndian ? "little" : "big",
      machine: machineName(elf.machine),
      pointerBits: elf.fields.pointerBytes * 8,
    },
    kernelRelease: release,
    buildId: entries.get("BUILD-ID"),
    kernelOffset: entryNumber(entries, "KERNELOFFSET"),
    // Date holds +-8.64e12 s; a corrupt CRASHTIME beyond that is shown as the number only.
    crashTime: crashSeconds === undefined || crashSeconds > 8_640_000_000_000n || crashSeconds < -8_640_000_000_000n
      ? undefined
      : new Date(Number(crashSeconds) * 1000).toISOString(),
    crashTimeEpoch: crashSeconds === undefined ? undefined : Number(crashSeconds),
    panic,
    log,
    cpus: { savedCount: prstatus.length, pids: prstatus.map((n) => prstatusPid(elf, n.desc)) },
    memory,
    hotplug,
    loader: coreHeaderOrigin(elf.machine, elf.phdrs, opts.captureCmdline),
  };
}
