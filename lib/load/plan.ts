/**
 * The LoadPlan: plain data describing one kexec_load call, and the validation that mirrors the kernel's own
 * sanity checks (kernel/kexec_core.c sanity_check_segment_list, kernel/kexec.c) so a bad plan is refused
 * with a message naming the segment, before any syscall. This matters most for crash loads: the kernel frees
 * the loaded crash kernel before it checks the new one.
 *
 * @module
 */

import { fail, hex } from "../errors.ts";
import { hasElfMagic } from "../elf/reader.ts";
import { contains, formatRange, mergeRanges, overlaps, PAGE_SIZE, type Range } from "../memory/ranges.ts";
import type { LoadKind } from "./request.ts";
import type { ImageInfo } from "./image_info.ts";

/** What a segment holds. */
export type SegmentRole = "kernel" | "initrd" | "boot-params" | "purgatory" | "elfcorehdr";

/** One segment: `buf` is copied to physical `mem`; the rest of `memsz` is zero-filled by the kernel. */
export interface PlanSegment {
  /** What the segment holds. */
  role: SegmentRole;
  /** The bytes kexec-ts supplies (bufsz = its length). */
  buf: Uint8Array;
  /** Physical destination address, page-aligned. */
  mem: bigint;
  /** Bytes of memory the segment occupies (page-aligned); the kernel zero-fills past `buf`. */
  memsz: bigint;
}

/** One firmware record a plan passes to the next kernel (`efi_info`, `SETUP_EFI`, `acpi_rsdp_addr`). */
export interface FirmwareRecord {
  /** The field or record (`efi_info`, `SETUP_EFI`, `secure_boot`, `acpi_rsdp_addr`). */
  name: string;
  /** What it holds, for people. */
  detail: string;
}

/** What a plan hands the next kernel about the firmware. */
export interface FirmwareHandover {
  /** The running machine's firmware. */
  machine: "uefi" | "bios";
  /**
   * What the next kernel gets: `efi` (EFI runtime services and tables) or `bios` (none: a BIOS machine, --noefi,
   * or an EFI machine whose EFI cannot be handed over).
   */
  handover: "efi" | "bios";
  /** The records passed, in order. */
  records: FirmwareRecord[];
  /** On an EFI machine whose EFI is not handed over: why, what the next kernel lacks, and what would do better. */
  withheld?: {
    /** Why EFI is not handed over. */
    reason: string;
    /** The user asked for it (--noefi). */
    requested: boolean;
    /** What the next kernel lacks. */
    lacks: string;
    /** What would do better (`kexec_file_load (-s) ...`), when something would. */
    hint?: string;
  };
}

/** One kexec_load call, fully decided. */
export interface LoadPlan {
  /** A normal image for `kexec -e`, or a crash kernel. */
  kind: LoadKind;
  /** Image type that produced it ("bzImage64"). */
  loader: string;
  /** Purgatory's entry point: what kexec_load gets. */
  entry: bigint;
  /** The kexec_load flags (arch in the high half). */
  flags: bigint;
  /** Sorted by `mem`. */
  segments: PlanSegment[];
  /** The command line the new kernel gets, exactly. */
  cmdline: string;
  /** The kernel's 64-bit entry (purgatory jumps there) and boot_params address (in %rsi). */
  kernelEntry: bigint;
  /** Physical address of boot_params (in %rsi when purgatory enters the kernel). */
  bootParams: bigint;
  /** KEXEC_UPDATE_ELFCOREHDR requested. */
  hotplug: boolean;
  /** The regions purgatory hashes, and the digest it expects. */
  shaRegions: { start: bigint; len: bigint }[];
  /** The SHA-256 purgatory expects over `shaRegions` (32 bytes). */
  digest: Uint8Array;
  /** Remarks for the user (why a choice was made). */
  notes: string[];
  /** What the user must know about the load (printed for real loads too); absent when there is nothing. */
  warnings?: string[];
  /** What the next kernel is told about the firmware (loaders that say). */
  firmware?: FirmwareHandover;
  /** What a wrapped image (a UKI) or boot entry said about itself; absent for a plain kernel file. */
  image?: ImageInfo;
}

/** The kernel's limit on segments (KEXEC_SEGMENT_MAX). */
export const KEXEC_SEGMENT_MAX = 16;

/** Memory a plan may use. */
export interface PlanLimits {
  /** Where segments may go: RAM (normal) or the main crash range (crash). */
  allowed: readonly Range[];
  /** For crash plans: the main crash range, which must also hold the entry. */
  crash?: Range;
  /** KEXEC_DESTINATION_MEMORY_LIMIT (MAXMEM - 1): every segment must end below it. */
  maxAddress: bigint;
  /** MemTotal (totalram_pages): no segment, and not all of them together, may exceed half of it. */
  totalRamBytes?: bigint;
}

/** `segment 2 (initrd, 0x...-0x...)` for messages. */
export function describeSegment(s: PlanSegment, i: number): string {
  return `segment ${i} (${s.role}, ${formatRange({ start: s.mem, end: s.mem + s.memsz })})`;
}

/**
 * Checks a plan the way the kernel will, plus kexec-ts' own rules (hotplug ELF-magic uniqueness, crash slack).
 * @throws KexecError("invalid-plan") naming the first offending segment
 */
export function validatePlan(plan: LoadPlan, limits: PlanLimits): void {
  const bad = (msg: string): never => fail("invalid-plan", msg);
  const segs = plan.segments;
  const allowed = mergeRanges(limits.allowed); // adjacent firmware memmap entries are one piece of RAM
  if (segs.length === 0) bad("the plan has no segments");
  if (segs.length > KEXEC_SEGMENT_MAX) {
    bad(`the plan has ${segs.length} segments; the kernel accepts at most ${KEXEC_SEGMENT_MAX} (KEXEC_SEGMENT_MAX)`);
  }
  segs.forEach((s, i) => {
    const d = describeSegment(s, i);
    if (s.mem % PAGE_SIZE !== 0n || s.memsz % PAGE_SIZE !== 0n) {
      bad(`${d}: mem ${hex(s.mem)} and memsz ${hex(s.memsz)} must be multiples of 4 KiB`);
    }
    if (s.memsz === 0n) bad(`${d}: memsz is 0`);
    if (BigInt(s.buf.length) > s.memsz) bad(`${d}: bufsz ${hex(s.buf.length)} is larger than memsz ${hex(s.memsz)}`);
    const end = s.mem + s.memsz;
    if (end >= limits.maxAddress) bad(`${d}: ends above the kernel's destination limit ${hex(limits.maxAddress)}`);
    const range = { start: s.mem, end };
    if (limits.crash && !contains(limits.crash, range)) {
      bad(`${d}: outside the crash kernel region ${formatRange(limits.crash)}`);
    }
    if (!allowed.some((a) => contains(a, range))) bad(`${d}: not inside usable RAM`);
    for (let j = 0; j < i; j++) {
      const o = segs[j];
      if (overlaps(range, { start: o.mem, end: o.mem + o.memsz })) bad(`${d} overlaps ${describeSegment(o, j)}`);
    }
    if (plan.hotplug && s.role !== "elfcorehdr" && hasElfMagic(s.buf)) {
      bad(`${d} starts with the ELF magic; with hotplug the kernel would take it for the elfcorehdr`);
    }
  });
  if (limits.totalRamBytes !== undefined) {
    // kernel/kexec_core.c: PAGE_COUNT(memsz) > totalram_pages() / 2, per segment and in total, is EINVAL.
    const half = limits.totalRamBytes / PAGE_SIZE / 2n;
    const pages = (s: PlanSegment) => s.memsz / PAGE_SIZE;
    segs.forEach((s, i) => {
      if (pages(s) > half) {
        bad(`${describeSegment(s, i)} is more than half of this machine's RAM (the kernel refuses it)`);
      }
    });
    const total = segs.reduce((n, s) => n + pages(s), 0n);
    if (total > half) bad(`the segments take ${total} pages, more than half of this machine's RAM (${half} pages)`);
  }
  if (plan.hotplug && segs.filter((s) => s.role === "elfcorehdr").length !== 1) {
    bad("a hotplug crash plan needs exactly one elfcorehdr segment");
  }
  if (limits.crash && (plan.entry < limits.crash.start || plan.entry >= limits.crash.end)) {
    bad(`the entry point ${hex(plan.entry)} is outside the crash kernel region ${formatRange(limits.crash)}`);
  }
  if (!segs.some((s) => plan.entry >= s.mem && plan.entry < s.mem + s.memsz)) {
    bad(`the entry point ${hex(plan.entry)} is not inside any segment`);
  }
}
