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
import { freeBytes, freeList, place } from "../memory/placement.ts";
import { buildElfcorehdr, type CoreInputs, elfcorehdrMemsz } from "../crash/elfcorehdr.ts";
import type { CrashRegions } from "../crash/region.ts";
import { cmaRangesText } from "../crash/sysfs.ts";
import type { IomemEntry } from "../memory/iomem.ts";
import { buildPurgatory, purgatoryLayout } from "../purgatory/purgatory.ts";
import { computeDigest } from "../purgatory/digest.ts";
import { KEXEC_ON_CRASH } from "../abi.ts";
import type { Arch } from "../arch/types.ts";
import { chooseHotplugFlag } from "../arch/hotplug_flag.ts";
import type { BufferRequest, ImageLoader, LoadContext } from "./contract.ts";
import type { LoadPlan, PlanSegment } from "./plan.ts";
import type { LoadKind } from "./request.ts";

const NO_LIMIT = 1n << 64n;

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
  const { arch, kind } = input;
  const crash = input.crash;
  const memMin = input.memMin ?? 0n;
  const memMax = input.memMax !== undefined ? input.memMax + 1n : NO_LIMIT;
  const allowed = clampRanges(crash ? [crash.regions.main] : arch.usableRam(input.machine), memMin, memMax);
  if (allowed.length === 0) {
    fail("layout", crash ? "--mem-min/--mem-max exclude the whole crash region" : "no RAM inside --mem-min/--mem-max");
  }
  const free = freeList(allowed);
  const hint = crash
    ? "reserve more memory with crashkernel= or use a smaller initrd"
    : "widen --mem-min/--mem-max or use a smaller initrd";
  const bounds: Range = crash ? crash.regions.main : { start: 0n, end: NO_LIMIT };
  const segments: PlanSegment[] = [];
  const loaderNotes: string[] = [];
  const planNotes: string[] = [];

  /**
   * Reserves memory for `req` inside the bounds; the segment's memsz is the request's, page-aligned. A window that
   * cannot hold the buffer even in empty memory is named as the cause (not "reserve more memory").
   */
  const reserve = (req: Omit<BufferRequest, "bytes">): bigint => {
    const what = req.what ?? req.role;
    const min = req.min > bounds.start ? req.min : bounds.start;
    const max = req.max < bounds.end ? req.max : bounds.end;
    const size = alignUp(req.memsz, PAGE_SIZE);
    const fits = allowed.some((r) => {
      const lo = alignUp(r.start > min ? r.start : min, req.align > PAGE_SIZE ? req.align : PAGE_SIZE);
      const hi = r.end < max ? r.end : max;
      return hi > lo && hi - lo >= size;
    });
    if (!fits) {
      const window = `[${hex(req.min)}, ${req.max >= NO_LIMIT ? "the top of memory" : hex(req.max)})`;
      const where = crash
        ? `the crash region ${hex(bounds.start)}-${hex(bounds.end - 1n)}${
          input.memMin !== undefined || input.memMax !== undefined ? " inside --mem-min/--mem-max" : ""
        }`
        : input.memMin !== undefined || input.memMax !== undefined
        ? "usable RAM inside --mem-min/--mem-max"
        : "usable RAM";
      fail(
        "layout",
        `no room for the ${what} (${hex(size)} bytes) in ${window}${req.why ? ` (${req.why})` : ""}: ${where} ` +
          `does not reach into that window; ${
            crash
              ? "reserve the crash region inside it (crashkernel=SIZE@OFFSET, or without ,high)"
              : "widen --mem-min/--mem-max"
          }`,
      );
    }
    return place(free, {
      what,
      memsz: req.memsz,
      align: req.align,
      min,
      max,
      topDown: req.topDown,
      prefer: req.prefer,
    }, hint);
  };
  const addBuffer = (req: BufferRequest): bigint => {
    const mem = reserve(req);
    const buf = typeof req.bytes === "function" ? req.bytes(mem) : req.bytes;
    const memsz = alignUp(req.memsz, PAGE_SIZE);
    if (BigInt(buf.length) > memsz) {
      fail("layout", `the ${req.what ?? req.role} is ${hex(buf.length)} bytes, more than the ${hex(memsz)} reserved`);
    }
    segments.push({ role: req.role, buf, mem, memsz });
    return mem;
  };

  // 1. The elfcorehdr at the top of the crash region, then the command line that names it.
  let cmdline = input.cmdline;
  let elfcorehdr: Range | undefined;
  if (crash) {
    const memsz = elfcorehdrMemsz(crash.core, crash.hotplugBytes);
    const mem = addBuffer({
      role: "elfcorehdr",
      bytes: buildElfcorehdr(crash.core),
      memsz,
      align: PAGE_SIZE,
      min: 0n,
      max: NO_LIMIT,
      topDown: true,
    });
    elfcorehdr = { start: mem, end: mem + memsz };
    cmdline = `${captureParams(mem, cmdline)} ${cmdline}`.trim();
    if (crash.regions.cma?.length) {
      planNotes.push(
        `crashkernel=,cma ranges ${
          cmaRangesText(crash.regions.cma)
        } go to the capture kernel as usable memory and stay out of the dump, as the kernel's own loader does`,
      );
    }
    if (crash.core.missingCpus.length) {
      planNotes.push(
        `possible CPUs ${
          crash.core.missingCpus.join(",")
        } have no crash_notes node (not present); the kernel adds their notes on its first hotplug rewrite`,
      );
    }
  }

  // 2. The image's own buffers.
  const ctx: LoadContext<M> = {
    kind,
    kernelName: input.kernelName,
    initrd: input.initrd,
    cmdline,
    machine: input.machine,
    crash: crash && elfcorehdr ? { regions: crash.regions, iomem: crash.iomem, elfcorehdr } : undefined,
    rngSeed: input.rngSeed,
    addBuffer,
    note: (text) => loaderNotes.push(text),
  };
  const loaded = input.loader.load(input.image, ctx);

  // 3. The purgatory, last: its contents depend on every other segment.
  const pl = purgatoryLayout();
  const windows = arch.purgatoryWindows(kind);
  let purgatoryAddr: bigint | undefined;
  for (let i = 0; purgatoryAddr === undefined; i++) {
    try {
      purgatoryAddr = reserve({
        role: "purgatory",
        memsz: pl.memsz,
        align: pl.align > PAGE_SIZE ? pl.align : PAGE_SIZE,
        ...windows[i],
        topDown: true,
      });
    } catch (e) {
      if (i + 1 >= windows.length) throw e;
    }
  }

  if (crash) {
    const left = freeBytes(free);
    const ramTop = crash.core.ram.reduce((m, r) => (r.end > m ? r.end : m), bounds.end);
    const slack = arch.crashSlackBytes(ramTop);
    if (left < slack) {
      fail(
        "layout",
        `the crash region ${hex(bounds.start)}-${hex(bounds.end - 1n)} would keep ${hex(left)} free bytes; ` +
          `the kernel needs ${hex(slack)} for its control and page-table pages: reserve more with crashkernel= or ` +
          "use a smaller initrd",
      );
    }
  }

  const hotplug = crash?.hotplugBytes !== undefined;
  const verified = sortRanges(segments.map((s) => ({ start: s.mem, end: s.mem + s.memsz, s })))
    .map((r) => r.s)
    .filter((s) => !(hotplug && s.role === "elfcorehdr"));
  const shaRegions = verified.map((s) => ({ start: s.mem, len: BigInt(s.buf.length) }));
  const digest = computeDigest(verified.map((s) => ({ buf: s.buf, len: BigInt(s.buf.length) })));
  const purgatory = buildPurgatory(purgatoryAddr, {
    kernelEntry: loaded.kernelEntry,
    bootParams: loaded.bootParams,
    shaRegions,
    digest,
    skipChecks: input.skipChecks,
    serialPort: input.serialPort,
  });
  segments.push({
    role: "purgatory",
    buf: purgatory.buf,
    mem: purgatoryAddr,
    memsz: alignUp(purgatory.memsz, PAGE_SIZE),
  });

  let flags = arch.kexecArch;
  if (crash) flags |= KEXEC_ON_CRASH;
  const notes = [...loaderNotes, ...planNotes];
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
  };
}
