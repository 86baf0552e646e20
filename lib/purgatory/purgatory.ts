/**
 * The purgatory: our relocatable object (./blob.ts, built from purgatory/ by scripts/build-purgatory), placed
 * at a load address and patched with the segment digest, the regions to hash and the kernel entry registers.
 *
 * Patched symbols (all global, in .data; st_size must match what we write):
 *
 * | symbol           | size | contents                                                              |
 * |------------------|------|-----------------------------------------------------------------------|
 * | `sha256_regions` | 256  | 16 × `{ u64 start; u64 len }`, physical; len 0 = unused               |
 * | `sha256_digest`  | 32   | expected SHA-256 of all regions, in order                             |
 * | `skip_checks`    | 1    | u8, non-zero = do not verify                                          |
 * | `serial_port`    | 2    | u16 8250 UART I/O port for messages, 0 = silent                       |
 * | `entry64_regs`   | 136  | u64 rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip ({@link ENTRY64_REGS}) |
 *
 * @module
 */

import { fail, hex } from "../errors.ts";
import { parseElf } from "../elf/reader.ts";
import type { ElfFile } from "../elf/types.ts";
import { layoutRelocatable, lookupSymbol, relocate, type RelocatedImage } from "../elf/relocate.ts";
import { PURGATORY_OBJECT } from "./blob.ts";

/** Name of the purgatory's entry point. */
export const PURGATORY_ENTRY_SYMBOL = "purgatory_start";

/** Number of `sha256_regions` entries (one per kexec segment, KEXEC_SEGMENT_MAX). */
export const SHA256_REGION_COUNT = 16;

/** `struct sha256_region { u64 start; u64 len; }` field offsets; 16 bytes. */
export const SHA256_REGION = { start: 0x00, len: 0x08 } as const;
/** sizeof(struct sha256_region) in bytes. */
export const SHA256_REGION_SIZE = 16;

/** SHA-256 digest size in bytes. */
export const SHA256_DIGEST_BYTES = 32;

/** `entry64_regs` field offsets (purgatory/entry.S keeps the same table); all u64. */
export const ENTRY64_REGS = {
  rax: 0x00,
  rbx: 0x08,
  rcx: 0x10,
  rdx: 0x18,
  rsi: 0x20,
  rdi: 0x28,
  rsp: 0x30,
  rbp: 0x38,
  r8: 0x40,
  r9: 0x48,
  r10: 0x50,
  r11: 0x58,
  r12: 0x60,
  r13: 0x68,
  r14: 0x70,
  r15: 0x78,
  rip: 0x80,
} as const;
/** sizeof(entry64_regs) in bytes. */
export const ENTRY64_REGS_SIZE = 0x88;

/** Sizes (st_size, bytes) the patched symbols must have. */
export const PATCHED_SYMBOL_SIZES = {
  sha256_regions: SHA256_REGION_COUNT * SHA256_REGION_SIZE,
  sha256_digest: SHA256_DIGEST_BYTES,
  skip_checks: 1,
  serial_port: 2,
  entry64_regs: ENTRY64_REGS_SIZE,
} as const;

/** A physical memory range the purgatory hashes. */
export interface ShaRegion {
  /** physical address */
  start: bigint;
  /** bytes */
  len: bigint;
}

/** What the purgatory needs to know about the loaded image. */
export interface PurgatoryConfig {
  /** physical address purgatory jumps to (-> entry64_regs.rip); bzImage: load address + 0x200 */
  kernelEntry: bigint;
  /** physical address of boot_params (-> entry64_regs.rsi) */
  bootParams: bigint;
  /** ranges to hash, in digest order; at most {@link SHA256_REGION_COUNT}, none may be empty */
  shaRegions: readonly ShaRegion[];
  /** expected SHA-256 of the regions (32 bytes), e.g. from computeDigest() */
  digest: Uint8Array;
  /** true: purgatory does not verify (kexec -i / --no-checks) */
  skipChecks: boolean;
  /** 8250 UART I/O port for purgatory messages (0x3f8 = COM1), 0 = silent */
  serialPort: number;
  /** initial rsp for the kernel; omitted or 0 = purgatory's own stack top */
  stackTop?: bigint;
}

/** The relocated, patched purgatory, ready to be a segment. */
export interface BuiltPurgatory {
  /** segment contents (file-backed part) */
  buf: Uint8Array;
  /** bytes of memory the purgatory occupies (its stack included); not page-rounded */
  memsz: bigint;
  /** physical address of purgatory_start: the kexec entry point */
  entry: bigint;
  /** the relocated image, for symbol lookups (e.g. `-d` output) */
  image: RelocatedImage;
}

let cachedObject: ElfFile | undefined;

/** The parsed embedded purgatory object (parsed once, on first use). */
export function purgatoryObject(): ElfFile {
  cachedObject ??= parseElf(PURGATORY_OBJECT);
  return cachedObject;
}

/**
 * Sizes of our purgatory, independent of where it goes.
 *
 * @returns bufLen (bytes with contents), memsz (bytes of memory, stack included; not page-rounded) and align
 *   (the load address must be a multiple of it)
 */
export function purgatoryLayout(): { bufLen: number; memsz: bigint; align: bigint } {
  const { bufLen, memsz, align } = layoutRelocatable(purgatoryObject());
  return { bufLen, memsz, align };
}

/**
 * Relocates the embedded purgatory object to `loadAddr` and patches its symbols from `cfg`.
 *
 * @param loadAddr physical address of the purgatory segment; a multiple of purgatoryLayout().align
 * @throws KexecError("relocation") if the object cannot be relocated there, a patched symbol is missing or has
 *   an unexpected size, or `cfg` is out of range (too many regions, digest not 32 bytes, bad port, ...)
 */
export function buildPurgatory(loadAddr: bigint, cfg: PurgatoryConfig): BuiltPurgatory {
  checkConfig(cfg);
  const image = relocate(purgatoryObject(), loadAddr, PURGATORY_ENTRY_SYMBOL);
  const view = new DataView(image.buf.buffer, image.buf.byteOffset, image.buf.byteLength);

  const regions = symbolOffset(image, "sha256_regions");
  cfg.shaRegions.forEach((region, i) => {
    const at = regions + i * SHA256_REGION_SIZE;
    view.setBigUint64(at + SHA256_REGION.start, region.start, true);
    view.setBigUint64(at + SHA256_REGION.len, region.len, true);
  });
  image.buf.set(cfg.digest, symbolOffset(image, "sha256_digest"));
  view.setUint8(symbolOffset(image, "skip_checks"), cfg.skipChecks ? 1 : 0);
  view.setUint16(symbolOffset(image, "serial_port"), cfg.serialPort, true);

  const regs = symbolOffset(image, "entry64_regs");
  image.buf.fill(0, regs, regs + ENTRY64_REGS_SIZE);
  view.setBigUint64(regs + ENTRY64_REGS.rsi, cfg.bootParams, true);
  view.setBigUint64(regs + ENTRY64_REGS.rsp, cfg.stackTop ?? 0n, true);
  view.setBigUint64(regs + ENTRY64_REGS.rip, cfg.kernelEntry, true);

  return { buf: image.buf, memsz: image.memsz, entry: image.entry, image };
}

const U64_MAX = (1n << 64n) - 1n;

function checkConfig(cfg: PurgatoryConfig): void {
  const bad = (message: string): never => fail("relocation", `purgatory: ${message}`);
  if (cfg.shaRegions.length > SHA256_REGION_COUNT) {
    bad(`${cfg.shaRegions.length} regions to hash, but sha256_regions holds ${SHA256_REGION_COUNT}`);
  }
  cfg.shaRegions.forEach((r, i) => {
    if (r.len <= 0n || r.start < 0n || r.start + r.len - 1n > U64_MAX) {
      bad(`region ${i} (start ${hex(r.start)}, len ${hex(r.len)}) is empty or outside the 64-bit address space`);
    }
  });
  if (cfg.digest.length !== SHA256_DIGEST_BYTES) {
    bad(`digest is ${cfg.digest.length} bytes, expected ${SHA256_DIGEST_BYTES}`);
  }
  if (!Number.isInteger(cfg.serialPort) || cfg.serialPort < 0 || cfg.serialPort > 0xffff) {
    bad(`serial port ${cfg.serialPort} is not a 16-bit I/O port`);
  }
  for (const [name, value] of [["kernelEntry", cfg.kernelEntry], ["bootParams", cfg.bootParams]] as const) {
    if (value < 0n || value > U64_MAX) bad(`${name} ${hex(value)} is not a 64-bit address`);
  }
  const stackTop = cfg.stackTop ?? 0n;
  if (stackTop < 0n || stackTop > U64_MAX) bad(`stackTop ${hex(stackTop)} is not a 64-bit address`);
}

/** Offset in the image of a patched symbol, after checking its size and that it has file contents. */
function symbolOffset(image: RelocatedImage, name: keyof typeof PATCHED_SYMBOL_SIZES): number {
  const symbol = lookupSymbol(image, name);
  const expected = BigInt(PATCHED_SYMBOL_SIZES[name]);
  if (symbol.size !== expected) {
    fail("relocation", `purgatory: symbol "${name}" is ${symbol.size} bytes, expected ${expected}`);
  }
  if (symbol.offset === undefined || symbol.nobits || symbol.offset + expected > BigInt(image.buf.length)) {
    fail("relocation", `purgatory: symbol "${name}" has no initialized bytes in the image (NOBITS or absolute)`);
  }
  return Number(symbol.offset);
}
