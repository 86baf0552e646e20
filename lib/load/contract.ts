/**
 * The loader contract, as the kernel's kexec_file_ops (probe / load) and kexec_add_buffer: a loader recognises
 * its image kind and, given the image and a {@link LoadContext}, states where each of its buffers may go; the
 * shared planner (./planner.ts) decides the addresses, places the crash headers, builds the purgatory and its
 * digest, sets the flags and validates the plan. Types only.
 *
 * An image that wraps a kernel (a UKI: a PE file carrying the kernel, initrds and a command line) is an
 * {@link ImageWrapper}: the registry (./loaders.ts) unwraps it first, and the kernel inside goes to the loader
 * that probes it, with the wrapper's initrds and command line added to the request's (./inputs.ts).
 *
 * @module
 */

import type { Range } from "../memory/ranges.ts";
import type { PlacementRequest } from "../memory/placement.ts";
import type { IomemEntry } from "../memory/iomem.ts";
import type { CrashRegions } from "../crash/region.ts";
import type { FirmwareHandover, SegmentRole } from "./plan.ts";
import type { LoadKind } from "./request.ts";
import type { ImageInfo } from "./image_info.ts";

export type { ImageInfo };

/**
 * Part of a buffer that keeps its place relative to the buffer's start: one segment from `offset` (page-aligned) to
 * the next piece's offset (the last one to the buffer's memsz). A kernel made of several ELF segments is loaded this
 * way without copying them into one array.
 */
export interface BufferPiece {
  /** Bytes from the buffer's start, page-aligned, increasing from piece to piece. */
  offset: bigint;
  bytes: Uint8Array;
}
import type { SystemView } from "../system.ts";

/**
 * One buffer a loader wants in memory: its contents and the constraints on its physical address (memsz, align,
 * min, max, topDown, prefer as in a placement request).
 */
export interface BufferRequest extends Omit<PlacementRequest, "what"> {
  role: SegmentRole;
  /** Words for messages ("kernel", "boot_params"); default: the role. */
  what?: string;
  /**
   * The contents, or a function of the chosen address giving them (boot data that points into itself), or pieces at
   * fixed offsets (one segment each).
   */
  bytes: Uint8Array | ((mem: bigint) => Uint8Array) | readonly BufferPiece[];
  /** Why the window is what it is, for the message when nothing fits in it ("below 4 GiB: no XLF_..."). */
  why?: string;
}

/** What a crash load adds to the context: the reservation and the already placed ELF core header. */
export interface CrashContext {
  regions: CrashRegions;
  iomem: readonly IomemEntry[];
  /** Where the planner put the elfcorehdr (the capture kernel must not use it as RAM). */
  elfcorehdr: Range;
}

/** What a loader gets: the request's inputs, the machine, and the placement call. */
export interface LoadContext<M = unknown> {
  kind: LoadKind;
  /** Name of the kernel file, for messages. */
  kernelName: string;
  /** The initial ramdisk (the request's initrds, concatenated), if any. */
  initrd?: Uint8Array;
  /** The command line, complete: for crash loads the planner has put `elfcorehdr=` and friends in front. */
  cmdline: string;
  /** The architecture's facts about the machine (memory map, firmware data), read through the SystemView. */
  machine: M;
  crash?: CrashContext;
  /** 32 random bytes for the next kernel's RNG seed (fixed in tests). */
  rngSeed: Uint8Array;
  /** `--noefi`: hand the next kernel no EFI, as on a BIOS machine. */
  noefi?: boolean;
  /**
   * Places a buffer and returns its physical address.
   * @throws KexecError("layout") naming the buffer, the window and the fix, when nothing fits
   */
  addBuffer(req: BufferRequest): bigint;
  /** Adds a remark for the plan's notes (why a choice was made). */
  note(text: string): void;
  /** Adds a warning: something about the load the user must know (printed for real loads too, unlike notes). */
  warn(text: string): void;
}

/** What a loader hands back: where purgatory enters the kernel, and the boot data it passes (%rsi on x86). */
export interface LoadedImage {
  kernelEntry: bigint;
  bootParams: bigint;
  /** What it passes about the firmware (EFI or not), for the plan. */
  firmware?: FirmwareHandover;
}

/**
 * One image kind: `I` is its parsed image, `M` the architecture's machine facts. Methods (not function-typed
 * fields), so loaders of different image types share one registry.
 */
export interface ImageLoader<I = unknown, M = unknown> {
  /** The name `-t` selects and plans report. */
  name: string;
  /** Other names `-t` accepts (kexec-tools' spellings). */
  aliases: readonly string[];
  /** Cheap check of the file's magic; never throws. */
  probe(bytes: Uint8Array): boolean;
  /**
   * Every check of the image that needs nothing but its bytes.
   * @throws KexecError("bad-image") naming the field, its offset and what was expected
   */
  parse(bytes: Uint8Array, name: string): I;
  /**
   * Places the image's buffers through `ctx` and says where to enter it.
   * @throws KexecError("bad-image") when the machine rules the image out, KexecError("layout") when it does not fit
   */
  load(image: I, ctx: LoadContext<M>): LoadedImage;
  /**
   * What kexec_file_load's loader for this kind refuses, checked before the syscall (which frees a loaded crash
   * kernel first). Absent: the kernel's kexec_file_load has no loader for this kind.
   * @throws KexecError("bad-image") for what the kernel's probe and loader refuse (ENOEXEC, EINVAL),
   *   KexecError("layout") for what would not fit (EADDRNOTAVAIL, ENOMEM, EINVAL), each naming the check
   */
  fileLoadCheck?(image: I, input: FileLoadInput): void;
  /** The kernel's checks on this kind's kexec_file_load path, each with kexec-ts' counterpart (a test lists them). */
  fileLoadChecks?: readonly KernelCheck[];
}

/** What a loader's {@link ImageLoader.fileLoadCheck} gets besides the image. */
export interface FileLoadInput {
  kind: LoadKind;
  /** The command line as passed to kexec_file_load (the kernel adds `elfcorehdr=` for crash loads). */
  cmdline: string;
  /** Size of the initrd in bytes; 0 for none. */
  initrdBytes: bigint;
  /** The machine, for the facts the kernel's loader looks at (paging mode, firmware). */
  sys: SystemView;
  /** Crash loads: the main crash region and what else the kernel will put there. */
  crash?: {
    region: Range;
    /** memsz of the elfcorehdr the kernel reserves (crash_load_segments). */
    elfcorehdrBytes: bigint;
    /** Bytes the region must keep free for the kernel's control and page-table pages. */
    slackBytes: bigint;
  };
  /** MemTotal (the kernel's totalram_pages), when known. */
  totalRamBytes?: bigint;
}

/**
 * One check of the kernel's kexec_file_load path (kernel/kexec_file.c, fs/kernel_read_file.c, kernel/kexec_core.c
 * and the image's loader), with kexec-ts' counterpart made before the syscall, or why it cannot be made.
 */
export interface KernelCheck {
  /** `file:line` in Linux 6.12.117 (Debian linux-source-6.12 6.12.117-1~deb12u1, the kernel the VM tests boot). */
  source: string;
  /** The kernel's condition for refusing, in its terms. */
  kernel: string;
  /** What the syscall then returns. */
  errno: string;
  /** True when the kernel has already freed the loaded crash kernel when it makes this check. */
  afterFree: boolean;
  /** kexec-ts' check before the syscall, in words naming the function; undefined when it cannot make it. */
  ours?: string;
  /** Why kexec-ts cannot check it; said before a crash kexec_file_load when `afterFree`. */
  unchecked?: string;
}

/** One piece of a wrapped image: what it is called (`.linux`) and its bytes. */
export interface ImagePart {
  what: string;
  bytes: Uint8Array;
}

/** What a wrapper yields: the kernel inside and what it carries for the kernel. */
export interface UnwrappedImage {
  /** The kernel (on x86, a bzImage), handed to the loaders as if it were the file. */
  kernel: ImagePart;
  /** Initrds that go before the request's own, in order (a UKI's `.ucode`). */
  initrdsBefore: ImagePart[];
  /** Initrds that go after the request's own, in order (a UKI's `.initrd`). */
  initrdsAfter: ImagePart[];
  /** The command line it carries, used when the request gives none (a UKI's `.cmdline`). */
  cmdline?: { what: string; text: string };
  info: ImageInfo;
}

/** How to unwrap. */
export interface UnwrapOptions {
  /** The profile of a multi-profile image (default 0). */
  profile?: number;
}

/** An image kind that carries a kernel rather than being one (a UKI). Arch-neutral. */
export interface ImageWrapper {
  /** The name `-t` selects. */
  name: string;
  /** Other names `-t` accepts. */
  aliases: readonly string[];
  /** Cheap check of the file's magic; never throws. Probed after the kernels' loaders. */
  probe(bytes: Uint8Array): boolean;
  /**
   * Checks the file and takes out the kernel and what comes with it.
   * @throws KexecError("bad-image") naming the structure or section, its offset and what was expected
   */
  unwrap(bytes: Uint8Array, name: string, opts: UnwrapOptions): UnwrappedImage;
}
