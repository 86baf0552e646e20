/**
 * The kexec syscalls and reboot(LINUX_REBOOT_CMD_KEXEC), with errno turned into {@link KernelCallError}s.
 *
 * @module
 */

import { addressOf, closeFd, memfdWithBytes, rawSyscall, rebootRaw } from "./libc.ts";
import { type ErrnoContext, explainErrno, KernelCallError } from "./errno.ts";
import { KEXEC_FILE_NO_INITRAMFS, KEXEC_FILE_UNLOAD } from "../lib/abi.ts";
import { kexecSyscalls } from "../lib/arch/abi.ts";

/** LINUX_REBOOT_CMD_KEXEC for reboot(2). */
export const LINUX_REBOOT_CMD_KEXEC = 0x45584543;

/** `struct kexec_segment` (32 bytes, LP64): field offsets. */
const SEGMENT = { buf: 0, bufsz: 8, mem: 16, memsz: 24, size: 32 } as const;

/** One segment as the syscall takes it. */
export interface SyscallSegment {
  buf: Uint8Array;
  mem: bigint;
  memsz: bigint;
}

/** Encodes the segment array; the returned buffers must stay referenced until the syscall returns. */
export function encodeSegments(segments: readonly SyscallSegment[]): Uint8Array {
  const table = new Uint8Array(Math.max(1, segments.length) * SEGMENT.size);
  const dv = new DataView(table.buffer);
  segments.forEach((s, i) => {
    const o = i * SEGMENT.size;
    dv.setBigUint64(o + SEGMENT.buf, addressOf(s.buf), true);
    dv.setBigUint64(o + SEGMENT.bufsz, BigInt(s.buf.byteLength), true);
    dv.setBigUint64(o + SEGMENT.mem, s.mem, true);
    dv.setBigUint64(o + SEGMENT.memsz, s.memsz, true);
  });
  return table;
}

/**
 * `kexec_load(entry, nr, segments, flags)`. With no segments it unloads.
 * @throws KernelCallError with an actionable message
 */
export function kexecLoad(
  entry: bigint,
  segments: readonly SyscallSegment[],
  flags: bigint,
  ctx: ErrnoContext,
  trace?: (text: string) => void,
): void {
  const table = encodeSegments(segments);
  if (trace) trace(traceSegments(entry, segments, flags));
  const held = [table, segments]; // the table holds raw addresses of the segment buffers
  inFlight.add(held);
  const r = rawSyscall(
    kexecSyscalls().kexecLoad,
    entry,
    BigInt(segments.length),
    segments.length ? addressOf(table) : 0n,
    flags,
  );
  inFlight.delete(held);
  if (r.ret !== 0n) {
    const op = segments.length === 0 ? "unload" : "kexec_load";
    throw new KernelCallError(op, r.errno, explainErrno(op, r.errno, ctx));
  }
}

/** Contents kexec_file_load reads from an anonymous memory file (memfd) rather than from a file of their own. */
export interface MemoryFile {
  /** The memfd's name (shows in /proc/PID/fd), e.g. `uki.efi:.linux`. */
  name: string;
  /** The contents. */
  bytes: Uint8Array;
}

/**
 * A kexec_file_load input: a descriptor the caller opened and checked (it stays the caller's to close: what was
 * checked is what the kernel reads), or contents passed through a memfd.
 */
export type FileInput = number | MemoryFile;

/**
 * `kexec_file_load(kernel_fd, initrd_fd, cmdline_len, cmdline, flags)`; `kernel` undefined with KEXEC_FILE_UNLOAD
 * unloads. Descriptors are used as they are; {@link MemoryFile}s become memfds (never temporary files), closed
 * after the call.
 * @throws KernelCallError
 */
export function kexecFileLoad(
  kernel: FileInput | undefined,
  initrd: FileInput | undefined,
  cmdline: string,
  flags: bigint,
  ctx: ErrnoContext,
): void {
  const memfds: number[] = [];
  const fdOf = (input: FileInput) => {
    if (typeof input === "number") return input;
    const fd = memfdWithBytes(input.name, input.bytes);
    if (fd < 0) {
      throw new KernelCallError("kexec_file_load", -fd, `cannot create a memfd for ${input.name} (errno ${-fd})`);
    }
    memfds.push(fd);
    return fd;
  };
  try {
    const kfd = kernel === undefined ? -1 : fdOf(kernel);
    const ifd = initrd === undefined ? -1 : fdOf(initrd);
    const unload = (flags & KEXEC_FILE_UNLOAD) !== 0n;
    const cbytes = new TextEncoder().encode(cmdline + "\0");
    inFlight.add(cbytes);
    const len = unload ? 0n : BigInt(cbytes.byteLength);
    const r = rawSyscall(
      kexecSyscalls().kexecFileLoad,
      BigInt.asUintN(64, BigInt(kfd)),
      BigInt.asUintN(64, BigInt(ifd)),
      len,
      unload ? 0n : addressOf(cbytes),
      flags | (initrd === undefined && !unload ? KEXEC_FILE_NO_INITRAMFS : 0n),
    );
    inFlight.delete(cbytes);
    if (r.ret !== 0n) {
      const op = unload ? "unload" : "kexec_file_load";
      throw new KernelCallError(op, r.errno, explainErrno(op, r.errno, ctx));
    }
  } finally {
    memfds.forEach(closeFd);
  }
}

/**
 * reboot(LINUX_REBOOT_CMD_KEXEC): jumps into the loaded kernel. Returns only on failure.
 * @throws KernelCallError
 */
export function rebootIntoKexec(ctx: ErrnoContext): never {
  const errno = rebootRaw(LINUX_REBOOT_CMD_KEXEC);
  throw new KernelCallError("reboot", errno, explainErrno("reboot", errno, ctx));
}

/** kexec-tools' `-d` dump (kexec/kexec.c print_segments), with the real buffer addresses passed to the kernel. */
export function traceSegments(entry: bigint, segments: readonly SyscallSegment[], flags: bigint): string {
  const h = (v: bigint | number) => "0x" + v.toString(16);
  const lines = [`kexec_load: entry = ${h(entry)} flags = ${h(flags)}`, `nr_segments = ${segments.length}`];
  segments.forEach((s, i) => {
    lines.push(`segment[${i}].buf   = ${h(addressOf(s.buf))}`);
    lines.push(`segment[${i}].bufsz = ${h(s.buf.byteLength)}`);
    lines.push(`segment[${i}].mem   = ${h(s.mem)}`);
    lines.push(`segment[${i}].memsz = ${h(s.memsz)}`);
  });
  return lines.join("\n");
}

/** Buffers the kernel is reading right now: held here so nothing can free them while the call runs. */
const inFlight = new Set<unknown>();
