/**
 * The bzImage64 loader: the protected-mode kernel entered at its 64-bit entry point (load address + 0x200) with
 * %rsi = boot_params, as the kernel's own bzImage64_load does it:
 *  - kernel: at pref_address when it is free (the kernel then runs where it was linked), else the lowest
 *    kernel_alignment-aligned address at or above 1 MiB; below 4 GiB unless XLF_CAN_BE_LOADED_ABOVE_4G;
 *    memsz = init_size, the room it decompresses into;
 *  - initrd: top-down below initrd_addr_max, above it (ext_ramdisk_image) only if that fails and the kernel allows
 *    it; crash loads anywhere in the crash region; with EFI handed over and no initrd, an empty initramfs
 *    ({@link addInitrd});
 *  - boot_params + command line + EFI memory map + setup_data, one buffer: top-down below 640 KiB, like kexec-tools
 *    (it is consumed before the new kernel reserves low memory), else below 4 GiB; crash loads anywhere in the crash
 *    region.
 * On an EFI machine the next kernel gets EFI (./efi_handover.ts) unless --noefi or the machine rules it out.
 * Crash loads hand the capture kernel the memory map of ./capture_memmap.ts instead of the firmware's.
 *
 * @module
 */

import { hex } from "../../errors.ts";
import { alignUp, PAGE_SIZE } from "../../memory/ranges.ts";
import type { BufferRequest, ImageLoader, LoadContext, LoadedImage } from "../../load/contract.ts";
import type { FirmwareHandover } from "../../load/plan.ts";
import { type BzImage, parseBzImage, probeBzImage, STARTUP_64_OFFSET } from "./bzimage.ts";
import { BP, buildBootParams, e820ExtPayload, encodeCmdline } from "./boot_params.ts";
import {
  buildSetupData,
  SETUP_E820_EXT,
  SETUP_EFI,
  SETUP_RNG_SEED,
  type SetupData,
  setupDataSize,
} from "./setup_data.ts";
import { E820_MAX_ZEROPAGE } from "./e820.ts";
import { captureMemmap } from "./capture_memmap.ts";
import { BZIMAGE64_FILE_CHECKS, bzImageFileLoadCheck } from "./bzimage_file_load.ts";
import { require5LevelSupport } from "./firmware.ts";
import {
  decideEfiHandover,
  describeEfiHandover,
  EFI_NEEDS_INITRD,
  type EfiHandover,
  efiInfoBytes,
  efiMemmapBytes,
  efiMemmapSize,
  type EfiRefusal,
  efiRuntimeRanges,
  efiSetupDataBytes,
  NO_XLF_EFI_KEXEC,
} from "./efi_handover.ts";
import type { X86Machine } from "./machine.ts";
import type { AddressWindow } from "../types.ts";
import type { LoadKind } from "../../load/request.ts";
import { emptyInitramfs } from "../../load/initramfs.ts";

const MiB = 0x100000n;
const FOUR_GiB = 0x100000000n;
const NO_LIMIT = 1n << 64n;
/** Lowest address for boot data: above the real-mode IVT and BIOS data area the next kernel still reads. */
const LOW_DATA_MIN = 0x10000n;
/** Top of conventional memory; boot data goes below it for normal loads. */
const LOW_DATA_MAX = 0xa0000n;

/**
 * Where boot data (boot_params, purgatory) goes, windows tried in order, top-down: below 640 KiB, else below
 * 4 GiB; a crash load takes the top of the crash region (the planner keeps every buffer inside it).
 */
export function lowDataWindows(kind: LoadKind): readonly AddressWindow[] {
  return kind === "crash"
    ? [{ min: 0n, max: NO_LIMIT }]
    : [{ min: LOW_DATA_MIN, max: LOW_DATA_MAX }, { min: LOW_DATA_MIN, max: FOUR_GiB }];
}

/** Places `req` in the first of `windows` that has room; the last window's error if none has. */
export function addInWindows(
  ctx: LoadContext<unknown>,
  req: Omit<BufferRequest, "min" | "max">,
  windows: readonly AddressWindow[],
): bigint {
  for (let i = 0;; i++) {
    try {
      return ctx.addBuffer({ ...req, ...windows[i] });
    } catch (e) {
      if (i + 1 >= windows.length) throw e;
    }
  }
}

/** What placing the initrd needs of the kernel's setup header. */
export interface InitrdLimits {
  /** Highest address of the initrd's last byte (initrd_addr_max). */
  initrdAddrMax: bigint;
  /** The kernel takes an initrd above 4 GiB (XLF_CAN_BE_LOADED_ABOVE_4G, through ext_ramdisk_image). */
  above4G: boolean;
}

/** Where the initrd went and how long it is (boot_params.ramdisk_image and ramdisk_size). */
export interface PlacedInitrd {
  addr: bigint;
  sizeBytes: bigint;
}

/** Why a load with EFI handed over and no initrd gets an empty initramfs (see {@link addInitrd}). */
export const EMPTY_INITRAMFS_NOTE = "no initrd: an empty initramfs (a 512-byte cpio trailer) is passed instead, " +
  `because ${EFI_NEEDS_INITRD}`;

/**
 * What the next kernel gets about EFI: decided before anything is placed, because an EFI handover needs an initrd
 * ({@link addInitrd}).
 */
export function decideEfi(ctx: LoadContext<X86Machine>, refusesEfi?: EfiRefusal): EfiHandover {
  return decideEfiHandover(ctx.machine.efi, { noefi: ctx.noefi ?? false, imageRefusesEfi: refusesEfi });
}

/**
 * Places `ctx.initrd`: top-down below initrd_addr_max, above it (ext_ramdisk_image) only if that fails and the kernel
 * allows it; crash loads anywhere in the crash region when the kernel allows it.
 *
 * Without one, when EFI is handed over, an empty initramfs goes in its place ({@link EFI_NEEDS_INITRD}: a kernel
 * handed EFI with ramdisk_size 0 takes a stale EFI table for its initrd and panics). The empty archive changes
 * nothing else: with no /init in it the kernel mounts `root=` as without an initrd.
 */
export function addInitrd(
  ctx: LoadContext<X86Machine>,
  image: InitrdLimits,
  efi: EfiHandover,
): PlacedInitrd | undefined {
  const crash = ctx.kind === "crash";
  let bytes = ctx.initrd;
  if (!bytes && efi.kind === "efi") {
    bytes = emptyInitramfs();
    ctx.note(EMPTY_INITRAMFS_NOTE);
  }
  if (!bytes) return undefined;
  const req: BufferRequest = {
    role: "initrd",
    what: ctx.initrd ? "initrd" : "empty initramfs",
    bytes,
    memsz: BigInt(bytes.length),
    align: PAGE_SIZE,
    min: MiB,
    max: crash && image.above4G ? NO_LIMIT : image.initrdAddrMax + 1n,
    topDown: true,
    why: crash && image.above4G ? undefined : `below initrd_addr_max ${hex(image.initrdAddrMax)}`,
  };
  let addr: bigint;
  try {
    addr = ctx.addBuffer(req);
  } catch (e) {
    if (crash || !image.above4G) throw e;
    addr = ctx.addBuffer({ ...req, max: NO_LIMIT });
    ctx.note("initrd placed above initrd_addr_max through ext_ramdisk_image (XLF_CAN_BE_LOADED_ABOVE_4G)");
  }
  return { addr, sizeBytes: BigInt(bytes.length) };
}

/** What boot_params needs of the kernel's setup header. */
export interface BootHeader {
  /** The setup header as it is copied into boot_params. */
  setupHeader: Uint8Array;
  /** Where it starts in boot_params (0x1f1). */
  setupHeaderOffset: number;
  /** Longest command line the kernel accepts, excluding the NUL. */
  cmdlineSize: number;
}

/**
 * Places boot_params, the command line, the EFI memory map and the setup_data chain (RNG seed, e820 entries beyond
 * 128, SETUP_EFI) in one buffer that points into itself, in the low-data windows; crash loads hand the capture
 * kernel the memory map of ./capture_memmap.ts. Returns the address of boot_params and what was said about the
 * firmware.
 */
export function addBootParams(
  ctx: LoadContext<X86Machine>,
  image: BootHeader,
  initrd: PlacedInitrd | undefined,
  efi: EfiHandover,
): { bootParams: bigint; firmware: FirmwareHandover } {
  // boot_params + command line + EFI memory map + setup_data, in one buffer that points into itself.
  const cmdlineBytes = encodeCmdline(ctx.cmdline, image.cmdlineSize);
  const e820 = ctx.crash
    ? captureMemmap(ctx.crash.iomem, ctx.crash.regions, ctx.crash.elfcorehdr, efiRuntimeRanges(efi))
    : [...ctx.machine.memmap];
  const records: SetupData[] = [{ type: SETUP_RNG_SEED, data: ctx.rngSeed }];
  if (e820.length > E820_MAX_ZEROPAGE) {
    records.push({ type: SETUP_E820_EXT, data: e820ExtPayload(e820.slice(E820_MAX_ZEROPAGE)) });
    ctx.note(`${e820.length} e820 entries: ${e820.length - E820_MAX_ZEROPAGE} passed in SETUP_E820_EXT`);
  }
  if (efi.kind === "efi") records.push({ type: SETUP_EFI, data: efiSetupDataBytes(efi) });
  // The EFI memory map follows the command line, 16-byte aligned like the kernel's (empty without EFI, which leaves
  // the layout exactly as it was before EFI was handed over).
  const memmapOffset = alignUp(BigInt(BP.size + cmdlineBytes.length), 16n);
  const setupDataOffset = alignUp(memmapOffset + BigInt(efiMemmapSize(efi)), 16n);
  const bpLen = Number(setupDataOffset) + setupDataSize(records);
  const efiSetupDataOffset = setupDataOffset + BigInt(setupDataSize(records.slice(0, -1)));
  const bootParamsAt = (bpAddr: bigint) => {
    const buf = new Uint8Array(bpLen);
    const setupDataAddr = bpAddr + setupDataOffset;
    buf.set(
      buildBootParams({
        setupHeader: image.setupHeader,
        setupHeaderOffset: image.setupHeaderOffset,
        cmdlineAddr: bpAddr + BigInt(BP.size),
        initrd,
        e820: e820.slice(0, E820_MAX_ZEROPAGE),
        firmware: ctx.machine.firmwareBootParams,
        acpiRsdpAddr: ctx.machine.acpiRsdpAddr,
        setupDataAddr,
        efi: efi.kind === "efi"
          ? { info: efiInfoBytes(efi, bpAddr + memmapOffset), secureBoot: efi.secureBoot }
          : undefined,
      }),
    );
    buf.set(cmdlineBytes, BP.size);
    if (efi.kind === "efi") buf.set(efiMemmapBytes(efi.memmap), Number(memmapOffset));
    buf.set(buildSetupData(records, setupDataAddr), Number(setupDataOffset));
    return buf;
  };
  const bootParams = addInWindows(ctx, {
    role: "boot-params",
    what: "boot_params",
    bytes: bootParamsAt,
    memsz: BigInt(bpLen),
    align: PAGE_SIZE,
    topDown: true,
  }, lowDataWindows(ctx.kind));

  const firmware = describeEfiHandover(efi, {
    memmapAddr: bootParams + memmapOffset,
    setupDataAddr: bootParams + efiSetupDataOffset,
    acpiRsdpAddr: ctx.machine.acpiRsdpAddr,
  });
  return { bootParams, firmware };
}

function loadBzImage(image: BzImage, ctx: LoadContext<X86Machine>): LoadedImage {
  require5LevelSupport(ctx.machine.la57, image.supports5Level, ctx.kernelName);

  // Never below pref_address (as the kernel's bzImage64_load since 6.6): the decompressor moves itself up to
  // LOAD_PHYSICAL_ADDR and uses init_size from there, outside a segment placed lower, which in a crash region would
  // let a panic overwrite first-kernel memory.
  const min = image.prefAddress > MiB ? image.prefAddress : MiB;
  const kernelReq: BufferRequest = {
    role: "kernel",
    bytes: image.kernel,
    memsz: image.memsz,
    align: image.alignment,
    min,
    max: image.above4G ? NO_LIMIT : FOUR_GiB,
    topDown: false,
    prefer: image.prefAddress,
    why: `at or above pref_address ${hex(min)}, where its decompressor runs` +
      (image.above4G ? "" : "; below 4 GiB: the kernel lacks XLF_CAN_BE_LOADED_ABOVE_4G"),
  };
  if (!image.relocatable) {
    kernelReq.min = image.prefAddress;
    kernelReq.max = image.prefAddress + image.memsz;
    kernelReq.why = "exactly at pref_address: the kernel is not relocatable";
    ctx.note(`non-relocatable kernel: loaded at its pref_address ${hex(image.prefAddress)}`);
  }
  const kernelAddr = ctx.addBuffer(kernelReq);

  const efi = decideEfi(ctx, image.efiKexec ? undefined : NO_XLF_EFI_KEXEC);
  const initrd = addInitrd(ctx, image, efi);
  const { bootParams, firmware } = addBootParams(ctx, image, initrd, efi);
  return { kernelEntry: kernelAddr + STARTUP_64_OFFSET, bootParams, firmware };
}

/** The bzImage64 loader (`-t bzImage64`, alias `bzImage`). */
export const bzImageLoader: ImageLoader<BzImage, X86Machine> = {
  name: "bzImage64",
  aliases: ["bzImage", "bzimage64", "bzimage"],
  probe: probeBzImage,
  parse: parseBzImage,
  load: loadBzImage,
  fileLoadCheck: bzImageFileLoadCheck,
  fileLoadChecks: BZIMAGE64_FILE_CHECKS,
};
