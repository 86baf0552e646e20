/**
 * The planner, shared by every image kind and architecture, as kexec_add_buffer, crash_load_segments and
 * kexec_calculate_store_digests are in the kernel: it owns the free memory, places what loaders ask for, puts the
 * crash headers in, builds the purgatory and its digest, and sets the flags. Pure: the same inputs give the same
 * plan, byte for byte (the RNG seed is an input).
 *
 * Order of placement:
 *  1. crash loads: the elfcorehdr at the very top of the main crash region (the capture kernel's command line
 *     names it: {@link captureParams});
 *  2. the loader's buffers, in the order it asks (bzImage: kernel, initrd, boot data);
 *  3. the purgatory, last, in the architecture's purgatory windows: its contents depend on every other segment.
 * Every buffer of a crash load lies inside the main "Crash kernel" range, and at least the architecture's slack
 * stays free there for the kernel's control and page-table pages.
 *
 * Purgatory verifies SHA-256 over every segment but itself and, with hotplug, the elfcorehdr (which the kernel
 * rewrites in place). It hashes the bytes kexec-ts supplied (bufsz), not the zero fill up to memsz: the kernel
 * writes those zeros itself at load time, and for a bzImage they are the decompressor's scratch space (init_size),
 * 46 MiB for Debian's 6.12 kernel that purgatory would otherwise hash at every panic. The kernel's kexec_file
 * purgatory and kexec-tools hash memsz.
 *
 * @module
 */

import { fail, hex } from "../errors.ts";
import { alignUp, clampRanges, PAGE_SIZE, type Range, sortRanges } from "../memory/ranges.ts";
import { type Layout, newLayout, NO_LIMIT } from "./layout.ts";
import { buildElfcorehdr, type CoreInputs, elfcorehdrMemsz } from "../crash/elfcorehdr.ts";
import type { CrashRegions } from "../crash/region.ts";
import { cmaRangesText } from "../crash/sysfs.ts";
import type { IomemEntry } from "../memory/iomem.ts";
import { buildPurgatory, purgatoryLayout } from "../purgatory/purgatory.ts";
import { computeDigest } from "../purgatory/digest.ts";
import { KEXEC_ON_CRASH } from "../abi.ts";
import type { Arch } from "../arch/types.ts";
import { chooseHotplugFlag } from "../arch/hotplug_flag.ts";
import type { ImageLoader } from "./contract.ts";
import type { LoadPlan, PlanSegment } from "./plan.ts";
import type { LoadKind } from "./request.ts";

/** Everything the planner needs; gathered by the caller (./build.ts) through the SystemView. */
export interface PlannerInput<I = unknown, M = unknown> {
  kind: LoadKind;
  arch: Arch<M>;
  loader: ImageLoader<I, M>;
  /** The parsed image, from `loader.parse`. */
  image: I;
  kernelName: string;
  initrd?: Uint8Array;
  /** The command line the user asked for (crash loads get {@link captureParams} in front). */
  cmdline: string;
  machine: M;
  memMin?: bigint;
  memMax?: bigint;
  crash?: {
    regions: CrashRegions;
    iomem: readonly IomemEntry[];
    core: CoreInputs;
    /** `/sys/kernel/crash_elfcorehdr_size` when hotplug is on; undefined = no hotplug. */
    hotplugBytes?: bigint;
    /** The running kernel's release (`/proc/sys/kernel/osrelease`): picks the hotplug flag (arch.hotplugFlags). */
    kernelRelease?: string;
  };
  skipChecks: boolean;
  serialPort: number;
  /** 32 bytes for the next kernel's RNG seed (random in the CLI, fixed in tests). */
  rngSeed: Uint8Array;
  /** `--noefi`: no EFI handover. */
  noefi?: boolean;
}

/**
 * Parameters kexec-ts puts in front of the capture kernel's command line (the user's own come after and win):
 *  - `elfcorehdr=` the header's address, as the kernel's kexec_file loader writes it;
 *  - `memhp_default_state=offline`: the capture kernel re-discovers hot-pluggable memory (ACPI memory devices)
 *    and would otherwise online it and allocate from memory it is supposed to dump. Left out when the user
 *    sets memhp_default_state= themselves.
 */
export function captureParams(elfcorehdrAddr: bigint, userCmdline: string): string {
  const params = [`elfcorehdr=${hex(elfcorehdrAddr)}`];
  if (!/(^|\s)memhp_default_state=/.test(userCmdline)) params.push("memhp_default_state=offline");
  return params.join(" ");
}

/**
 * Lays out the segments and builds the LoadPlan.
 * @throws KexecError("layout") when something does not fit (the message names it and the fix); the loader's
 *   KexecError("bad-image") when the machine rules the image out
 */
export function planLoad<I, M>(input: PlannerInput<I, M>): LoadPlan {
  const { arch, kind, crash } = input;
  const memMin = input.memMin ?? 0n;
  const memMax = input.memMax !== undefined ? input.memMax + 1n : NO_LIMIT;
  const allowed = clampRanges(crash ? [crash.regions.main] : arch.usableRam(input.machine), memMin, memMax);
  if (allowed.length === 0) {
    fail("layout", crash ? "--mem-min/--mem-max exclude the whole crash region" : "no RAM inside --mem-min/--mem-max");
  }
  const bounds: Range = crash ? crash.regions.main : { start: 0n, end: NO_LIMIT };
  const layout = newLayout({
    allowed,
    bounds,
    crash: crash !== undefined,
    memLimited: input.memMin !== undefined || input.memMax !== undefined,
  });
  const notes: string[] = [];
  const warnings: string[] = [];

  // 1. Crash loads: the elfcorehdr at the top of the crash region, and the command line that names it.
  const header = crash ? placeCrashHeader(layout, crash, input.cmdline) : undefined;
  const cmdline = header?.cmdline ?? input.cmdline;

  // 2. The image's own buffers.
  const loaded = input.loader.load(input.image, {
    kind,
    kernelName: input.kernelName,
    initrd: input.initrd,
    cmdline,
    machine: input.machine,
    crash: crash && header ? { regions: crash.regions, iomem: crash.iomem, elfcorehdr: header.range } : undefined,
    rngSeed: input.rngSeed,
    noefi: input.noefi,
    addBuffer: layout.addBuffer,
    note: (text) => notes.push(text),
    warn: (text) => warnings.push(text),
  });
  if (header) notes.push(...header.notes);

  // 3. The purgatory, last: its contents depend on every other segment.
  const pl = purgatoryLayout();
  const purgatoryAddr = layout.reserveInWindows(
    { role: "purgatory", memsz: pl.memsz, align: pl.align > PAGE_SIZE ? pl.align : PAGE_SIZE },
    arch.purgatoryWindows(kind),
  );
  if (crash) checkCrashSlack(layout, bounds, arch.crashSlackBytes(crashRamTop(crash.core, bounds)));

  const hotplug = crash?.hotplugBytes !== undefined;
  const { shaRegions, digest } = digestOf(layout.segments, hotplug);
  const purgatory = buildPurgatory(purgatoryAddr, {
    kernelEntry: loaded.kernelEntry,
    bootParams: loaded.bootParams,
    shaRegions,
    digest,
    skipChecks: input.skipChecks,
    serialPort: input.serialPort,
  });
  const segments = [...layout.segments, {
    role: "purgatory" as const,
    buf: purgatory.buf,
    mem: purgatoryAddr,
    memsz: alignUp(purgatory.memsz, PAGE_SIZE),
  }];

  let flags = arch.kexecArch;
  if (crash) flags |= KEXEC_ON_CRASH;
  if (hotplug) {
    const choice = chooseHotplugFlag(arch.hotplugFlags, crash?.kernelRelease);
    flags |= choice.flag;
    notes.push(
      `crash hotplug flag ${choice.name} (${hex(choice.flag)}) for kernel ${choice.release ?? "(release unknown)"}: ` +
        choice.why,
    );
  }
  if (input.skipChecks) notes.push("purgatory will not verify the segments (-i)");
  if (hotplug) notes.push("elfcorehdr left out of the purgatory digest: the kernel rewrites it on hotplug");

  return {
    kind,
    loader: input.loader.name,
    entry: purgatory.entry,
    flags,
    segments: sortRanges(segments.map((s) => ({ ...s, start: s.mem, end: s.mem + s.memsz })))
      .map(({ role, buf, mem, memsz }) => ({ role, buf, mem, memsz })),
    cmdline,
    kernelEntry: loaded.kernelEntry,
    bootParams: loaded.bootParams,
    hotplug,
    shaRegions,
    digest,
    notes,
    ...(warnings.length ? { warnings } : {}),
    ...(loaded.firmware ? { firmware: loaded.firmware } : {}),
  };
}

/** The elfcorehdr, placed at the top of the crash region, and the capture command line that names it. */
function placeCrashHeader(
  layout: Layout,
  crash: NonNullable<PlannerInput["crash"]>,
  userCmdline: string,
): { range: Range; cmdline: string; notes: string[] } {
  const memsz = elfcorehdrMemsz(crash.core, crash.hotplugBytes);
  const mem = layout.addBuffer({
    role: "elfcorehdr",
    bytes: buildElfcorehdr(crash.core),
    memsz,
    align: PAGE_SIZE,
    min: 0n,
    max: NO_LIMIT,
    topDown: true,
  });
  const missing = crash.core.missingCpus;
  const cma = crash.regions.cma ?? [];
  return {
    range: { start: mem, end: mem + memsz },
    cmdline: `${captureParams(mem, userCmdline)} ${userCmdline}`.trim(),
    notes: [
      ...(cma.length
        ? [
          `crashkernel=,cma ranges ${
            cmaRangesText(cma)
          } go to the capture kernel as usable memory and stay out of the dump, as the kernel's own loader does`,
        ]
        : []),
      ...(missing.length
        ? [
          `possible CPUs ${missing.join(",")} have no crash_notes node (not present); with crash hotplug the kernel ` +
          "adds their notes on its first rewrite, without it they stay out of the dump",
        ]
        : []),
    ],
  };
}

/** The top of the RAM the identity map must cover (for the crash region's page-table slack). */
function crashRamTop(core: CoreInputs, bounds: Range): bigint {
  return core.ram.reduce((m, r) => (r.end > m ? r.end : m), bounds.end);
}

/** Refuses a crash layout that leaves the kernel too little of the region for its control and page-table pages. */
function checkCrashSlack(layout: Layout, region: Range, slack: bigint): void {
  const left = layout.freeBytes();
  if (left < slack) {
    fail(
      "layout",
      `the crash region ${hex(region.start)}-${hex(region.end - 1n)} would keep ${hex(left)} free bytes; ` +
        `the kernel needs ${hex(slack)} for its control and page-table pages: reserve more with crashkernel= or ` +
        "use a smaller initrd",
    );
  }
}

/**
 * What purgatory verifies: every segment but itself and, with hotplug, the elfcorehdr (the kernel rewrites it), in
 * address order, each over the bytes kexec-ts supplied.
 */
function digestOf(segments: readonly PlanSegment[], hotplug: boolean) {
  const verified = sortRanges(segments.map((s) => ({ start: s.mem, end: s.mem + s.memsz, s })))
    .map((r) => r.s)
    .filter((s) => !(hotplug && s.role === "elfcorehdr"));
  return {
    shaRegions: verified.map((s) => ({ start: s.mem, len: BigInt(s.buf.length) })),
    digest: computeDigest(verified.map((s) => ({ buf: s.buf, len: BigInt(s.buf.length) }))),
  };
}
