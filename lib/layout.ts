/**
 * Layout policy, shared by every image type: where each segment goes, what the purgatory verifies, and the
 * LoadPlan that results. Pure: the same inputs give the same plan, byte for byte (the RNG seed is an input).
 *
 * Normal (reboot) loads, anywhere in RAM from the firmware memory map, within --mem-min/--mem-max:
 *  - kernel: at pref_address when it is free (the kernel then runs where it was linked), else the lowest
 *    kernel_alignment-aligned address at or above 1 MiB; below 4 GiB unless XLF_CAN_BE_LOADED_ABOVE_4G;
 *    memsz = init_size, the room it decompresses into;
 *  - boot_params (+ command line + setup_data) and purgatory: top-down below 640 KiB, like kexec-tools
 *    (they are consumed before the new kernel reserves low memory);
 *  - initrd: top-down below initrd_addr_max, above 4 GiB (ext_ramdisk_image) only if that fails.
 * Crash loads, all inside the main "Crash kernel" range, which the capture kernel gets as its RAM:
 *  - kernel bottom-up at the start of the region (aligned), the elfcorehdr at the very top, then initrd,
 *    boot_params and purgatory top-down below it; the gap between is the slack the kernel takes its
 *    control and page-table pages from, and it must be at least {@link crashSlackBytes}.
 *
 * Purgatory verifies SHA-256 over every segment but itself and, with hotplug, the elfcorehdr (which the kernel
 * rewrites in place). It hashes the bytes kexec-ts supplied (bufsz), not the zero fill up to memsz: the kernel
 * writes those zeros itself at load time, and for a bzImage they are the decompressor's scratch space
 * (init_size), 46 MiB for Debian's 6.12 kernel that purgatory would otherwise hash at every panic. The kernel's
 * kexec_file purgatory and kexec-tools hash memsz. Then purgatory enters the kernel at load address + 0x200
 * with %rsi = boot_params.
 *
 * @module
 */

import { fail, hex } from "./errors.ts";
import { E820_MAX_ZEROPAGE, type E820Entry, ramOf } from "./x86/e820.ts";
import {
  BP,
  buildBootParams,
  buildSetupData,
  e820ExtPayload,
  encodeCmdline,
  SETUP_E820_EXT,
  SETUP_RNG_SEED,
  type SetupData,
  setupDataSize,
} from "./x86/bootparams.ts";
import { type BzImage, STARTUP_64_OFFSET } from "./x86/bzimage.ts";
import { alignUp, clampRanges, PAGE_SIZE, type Range, sortRanges } from "./memory/ranges.ts";
import { freeBytes, freeList, place, type PlacementRequest } from "./memory/placement.ts";
import { buildElfcorehdr, type CoreInputs, elfcorehdrMemsz } from "./crash/elfcorehdr.ts";
import { captureMemmap } from "./crash/memmap.ts";
import type { CrashRegions } from "./crash/region.ts";
import type { IomemEntry } from "./memory/iomem.ts";
import { buildPurgatory, purgatoryLayout } from "./purgatory/purgatory.ts";
import { computeDigest } from "./purgatory/digest.ts";
import type { LoadPlan, PlanSegment } from "./plan.ts";
import { KEXEC_ARCH_X86_64, KEXEC_ON_CRASH, KEXEC_UPDATE_ELFCOREHDR } from "./abi.ts";

const MiB = 0x100000n;
const FOUR_GiB = 0x100000000n;
/** Lowest address for boot data: above the real-mode IVT and BIOS data area the next kernel still reads. */
const LOW_DATA_MIN = 0x10000n;
/** Top of conventional memory; boot data goes below it for normal loads. */
const LOW_DATA_MAX = 0xa0000n;

/** Everything layout needs; gathered by the caller through the SystemView. */
export interface LayoutInput {
  loader: string;
  image: BzImage;
  initrd?: Uint8Array;
  /** The command line the user asked for (crash loads get {@link captureParams} prepended here). */
  cmdline: string;
  /** Normal loads: the next kernel's memory map (firmware memmap). Crash loads ignore it. */
  memmap: readonly E820Entry[];
  /** The running kernel's /sys/kernel/boot_params/data, for firmware fields. */
  firmwareBootParams?: Uint8Array;
  /** The ACPI RSDP for boot_params.acpi_rsdp_addr (0: the next kernel scans the BIOS area). */
  acpiRsdpAddr?: bigint;
  memMin?: bigint;
  memMax?: bigint;
  crash?: {
    regions: CrashRegions;
    iomem: readonly IomemEntry[];
    core: CoreInputs;
    /** `/sys/kernel/crash_elfcorehdr_size` when hotplug is on; undefined = no hotplug. */
    hotplugBytes?: bigint;
  };
  skipChecks: boolean;
  serialPort: number;
  /** 32 bytes for SETUP_RNG_SEED (random in the CLI, fixed in tests). */
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
 * Free pages the crash region must keep after our segments: the kernel allocates the control page, the
 * vmcoreinfo safecopy page and the identity-map page tables from it (machine_kexec_prepare). The identity map
 * covers all RAM; with 2 MiB pages that is one page-table page per GiB, plus upper levels and margin.
 */
export function crashSlackBytes(ramTop: bigint): bigint {
  const gib = (ramTop + (1n << 30n) - 1n) >> 30n;
  const pages = 64n + gib * 2n;
  const bytes = pages * PAGE_SIZE;
  return bytes > MiB ? bytes : MiB;
}

/**
 * Lays out segments and builds the LoadPlan.
 * @throws KexecError("layout") when something does not fit (the message names it and the fix)
 */
export function layoutPlan(input: LayoutInput): LoadPlan {
  const { image } = input;
  const crash = input.crash;
  const memMin = input.memMin ?? 0n;
  const memMax = input.memMax !== undefined ? input.memMax + 1n : 1n << 64n;
  const allowed = clampRanges(crash ? [crash.regions.main] : ramOf(input.memmap), memMin, memMax);
  if (allowed.length === 0) {
    fail("layout", crash ? "--mem-min/--mem-max exclude the whole crash region" : "no RAM inside --mem-min/--mem-max");
  }
  const free = freeList(allowed);
  const hint = crash
    ? "reserve more memory with crashkernel= or use a smaller initrd"
    : "widen --mem-min/--mem-max or use a smaller initrd";
  const region: Range = crash ? crash.regions.main : { start: 0n, end: 1n << 64n };
  const notes: string[] = [];

  // Kernel first: it wants the lowest, aligned, largest block.
  const kernelReq: PlacementRequest = {
    what: "kernel",
    memsz: image.memsz,
    align: image.alignment,
    min: crash ? region.start : MiB,
    max: image.above4G ? region.end : (region.end < FOUR_GiB ? region.end : FOUR_GiB),
    topDown: false,
    prefer: image.prefAddress,
  };
  if (!image.relocatable) {
    kernelReq.min = image.prefAddress;
    kernelReq.max = image.prefAddress + image.memsz;
    notes.push(`non-relocatable kernel: loaded at its pref_address ${hex(image.prefAddress)}`);
  }
  const kernelAddr = place(free, kernelReq, hint);

  // The elfcorehdr at the top of the crash region, then the command line that names it.
  let elfcorehdr: { buf: Uint8Array; mem: bigint; memsz: bigint } | undefined;
  let cmdline = input.cmdline;
  if (crash) {
    const buf = buildElfcorehdr(crash.core);
    const memsz = elfcorehdrMemsz(crash.core, crash.hotplugBytes);
    const mem = place(free, {
      what: "elfcorehdr",
      memsz,
      align: PAGE_SIZE,
      min: region.start,
      max: region.end,
      topDown: true,
    }, hint);
    elfcorehdr = { buf, mem, memsz };
    cmdline = `${captureParams(mem, cmdline)} ${cmdline}`.trim();
    if (crash.core.missingCpus.length) {
      notes.push(
        `possible CPUs ${
          crash.core.missingCpus.join(",")
        } have no crash_notes node (not present); the kernel adds their notes on its first hotplug rewrite`,
      );
    }
  }

  // Initrd.
  let initrdAddr: bigint | undefined;
  if (input.initrd) {
    const size = BigInt(input.initrd.length);
    const req: PlacementRequest = {
      what: "initrd",
      memsz: size,
      align: PAGE_SIZE,
      min: crash ? region.start : MiB,
      max: crash ? region.end : image.initrdAddrMax + 1n,
      topDown: true,
    };
    try {
      initrdAddr = place(free, req, hint);
    } catch (e) {
      if (crash || !image.above4G) throw e;
      initrdAddr = place(free, { ...req, max: region.end }, hint);
      notes.push("initrd placed above initrd_addr_max through ext_ramdisk_image (XLF_CAN_BE_LOADED_ABOVE_4G)");
    }
  }

  // boot_params + command line + setup_data, in one segment.
  const cmdlineBytes = encodeCmdline(cmdline, image.cmdlineSize);
  const e820 = crash
    ? captureMemmap(crash.iomem, crash.regions, { start: elfcorehdr!.mem, end: elfcorehdr!.mem + elfcorehdr!.memsz })
    : [...input.memmap];
  const records: SetupData[] = [{ type: SETUP_RNG_SEED, data: input.rngSeed }];
  if (e820.length > E820_MAX_ZEROPAGE) {
    records.push({ type: SETUP_E820_EXT, data: e820ExtPayload(e820.slice(E820_MAX_ZEROPAGE)) });
    notes.push(`${e820.length} e820 entries: ${e820.length - E820_MAX_ZEROPAGE} passed in SETUP_E820_EXT`);
  }
  const setupDataOffset = alignUp(BigInt(BP.size + cmdlineBytes.length), 16n);
  const bpLen = Number(setupDataOffset) + setupDataSize(records);
  const lowData = (what: string, memsz: bigint, align: bigint) => {
    const req: PlacementRequest = crash
      ? { what, memsz, align, min: region.start, max: region.end, topDown: true }
      : { what, memsz, align, min: LOW_DATA_MIN, max: LOW_DATA_MAX, topDown: true };
    try {
      return place(free, req, hint);
    } catch (e) {
      if (crash) throw e;
      return place(free, { ...req, max: FOUR_GiB }, hint);
    }
  };
  const bpAddr = lowData("boot_params", BigInt(bpLen), PAGE_SIZE);
  const setupDataAddr = bpAddr + setupDataOffset;
  const bootParamsBuf = new Uint8Array(bpLen);
  bootParamsBuf.set(
    buildBootParams({
      setupHeader: image.setupHeader,
      setupHeaderOffset: image.setupHeaderOffset,
      cmdlineAddr: bpAddr + BigInt(BP.size),
      initrd: initrdAddr !== undefined ? { addr: initrdAddr, sizeBytes: BigInt(input.initrd!.length) } : undefined,
      e820: e820.slice(0, E820_MAX_ZEROPAGE),
      firmware: input.firmwareBootParams,
      acpiRsdpAddr: input.acpiRsdpAddr,
      setupDataAddr,
    }),
  );
  bootParamsBuf.set(cmdlineBytes, BP.size);
  bootParamsBuf.set(buildSetupData(records, setupDataAddr), Number(setupDataOffset));

  // Purgatory last: its contents depend on every other segment.
  const pl = purgatoryLayout();
  const purgatoryAddr = lowData("purgatory", pl.memsz, pl.align > PAGE_SIZE ? pl.align : PAGE_SIZE);

  if (crash) {
    const left = freeBytes(free);
    const ramTop = crash.core.ram.reduce((m, r) => (r.end > m ? r.end : m), region.end);
    const slack = crashSlackBytes(ramTop);
    if (left < slack) {
      fail(
        "layout",
        `the crash region ${hex(region.start)}-${hex(region.end - 1n)} would keep ${
          hex(left)
        } free bytes; the kernel needs ` +
          `${hex(slack)} for its control and page-table pages: reserve more with crashkernel= or use a smaller initrd`,
      );
    }
  }

  const others: PlanSegment[] = [
    { role: "kernel", buf: image.kernel, mem: kernelAddr, memsz: alignUp(image.memsz, PAGE_SIZE) },
    { role: "boot-params", buf: bootParamsBuf, mem: bpAddr, memsz: alignUp(BigInt(bpLen), PAGE_SIZE) },
  ];
  if (input.initrd && initrdAddr !== undefined) {
    others.push({
      role: "initrd",
      buf: input.initrd,
      mem: initrdAddr,
      memsz: alignUp(BigInt(input.initrd.length), PAGE_SIZE),
    });
  }
  if (elfcorehdr) others.push({ role: "elfcorehdr", ...elfcorehdr });

  const hotplug = crash?.hotplugBytes !== undefined;
  const verified = sortRanges(others.map((s) => ({ start: s.mem, end: s.mem + s.memsz, s })))
    .map((r) => r.s)
    .filter((s) => !(hotplug && s.role === "elfcorehdr"));
  const shaRegions = verified.map((s) => ({ start: s.mem, len: BigInt(s.buf.length) }));
  const digest = computeDigest(verified.map((s) => ({ buf: s.buf, len: BigInt(s.buf.length) })));
  const kernelEntry = kernelAddr + STARTUP_64_OFFSET;
  const purgatory = buildPurgatory(purgatoryAddr, {
    kernelEntry,
    bootParams: bpAddr,
    shaRegions,
    digest,
    skipChecks: input.skipChecks,
    serialPort: input.serialPort,
  });
  const segments = sortRanges(
    [...others, {
      role: "purgatory" as const,
      buf: purgatory.buf,
      mem: purgatoryAddr,
      memsz: alignUp(purgatory.memsz, PAGE_SIZE),
    }]
      .map((s) => ({ ...s, start: s.mem, end: s.mem + s.memsz })),
  ).map(({ role, buf, mem, memsz }) => ({ role, buf, mem, memsz }));

  let flags = KEXEC_ARCH_X86_64;
  if (crash) flags |= KEXEC_ON_CRASH;
  if (hotplug) flags |= KEXEC_UPDATE_ELFCOREHDR;
  if (input.skipChecks) notes.push("purgatory will not verify the segments (-i)");
  if (hotplug) notes.push("elfcorehdr left out of the purgatory digest: the kernel rewrites it on hotplug");

  return {
    kind: crash ? "crash" : "reboot",
    loader: input.loader,
    entry: purgatory.entry,
    flags,
    segments,
    cmdline,
    kernelEntry,
    bootParams: bpAddr,
    hotplug,
    shaRegions,
    digest,
    notes,
  };
}
