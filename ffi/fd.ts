/**
 * Open files as kexec-ts reads its inputs: what a descriptor is (statx), its contents mapped private (mmap,
 * copy-on-write: the file is never written; released when no view of it is left), read into memory where mapping cannot be used (a pipe, a special
 * file), and a read lease that keeps writers out while a load uses the mapping. Every function returns `-errno`
 * (or an `{ errno }`) instead of throwing; lib/files.ts turns that into messages.
 *
 * @module
 */

import { errnoNow, libc } from "./libc.ts";
import { concatBytes } from "../lib/bytes.ts";

/** `struct statx` (256 bytes, the same on every architecture): the fields read here, at their offsets. */
const STATX = { mask: 0, mode: 28, size: 40, bytes: 256 } as const;
/** statx(2) flags and mask bits. */
const AT_EMPTY_PATH = 0x1000;
const STATX_TYPE = 0x1;
const STATX_SIZE = 0x200;
/** File type bits of st_mode. */
const S_IFMT = 0o170000;
const FILE_TYPES = {
  [0o100000]: "file",
  [0o040000]: "directory",
  [0o010000]: "pipe",
  [0o020000]: "character device",
  [0o060000]: "block device",
  [0o140000]: "socket",
  [0o120000]: "symlink",
} as const satisfies Record<number, string>;

/** What a descriptor refers to. */
export type FdKind = (typeof FILE_TYPES)[keyof typeof FILE_TYPES] | "unknown";

/** The type and size of an open file. */
export interface FdStat {
  kind: FdKind;
  /** st_size: the length of a regular file; 0 or meaningless for pipes and special files. */
  sizeBytes: number;
}

const EMPTY_PATH = new Uint8Array(1);

/** `statx(fd, "", AT_EMPTY_PATH)`: the type and size of `fd`, or `-errno`. */
export function statFd(fd: number): FdStat | number {
  const buf = new Uint8Array(STATX.bytes);
  if (libc().statx(fd, EMPTY_PATH, AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE, buf) !== 0) return -errnoNow();
  const dv = new DataView(buf.buffer);
  const type = dv.getUint16(STATX.mode, true) & S_IFMT;
  return {
    kind: FILE_TYPES[type as keyof typeof FILE_TYPES] ?? "unknown",
    sizeBytes: Number(dv.getBigUint64(STATX.size, true)),
  };
}

/** mmap(2) protection and flags (x86_64 and the generic ABI share these values). */
const PROT_READ = 0x1;
const PROT_WRITE = 0x2;
const MAP_PRIVATE = 0x2;
/** Fill the page tables at once: the whole file is hashed anyway, and one call is cheaper than a fault per page. */
const MAP_POPULATE = 0x8000;
const MAP_FAILED = (1n << 64n) - 1n;

/**
 * How many mappings may be alive at once; past it {@link mapPrivate} declines (ENOMEM) and callers read instead.
 * Mappings are released by a finalizer, and finalizers run only when the event loop turns: a synchronous loop of
 * loads or plans (a script, the fuzzer) would otherwise pile up one mapping per input until mmap reaches
 * vm.max_map_count (65530) and V8 itself can no longer allocate. One load maps two or three files.
 */
export const MAX_LIVE_MAPPINGS = 256;
let liveMappings = 0;

/** Unmaps a mapping once nothing can reach its bytes (every view of it is garbage). */
const unmapper = new FinalizationRegistry<{ pointer: Deno.PointerObject; lengthBytes: number }>((m) => {
  libc().munmap(m.pointer, BigInt(m.lengthBytes));
  liveMappings--;
});

/** ENOMEM: what mapPrivate answers when {@link MAX_LIVE_MAPPINGS} are alive. */
const ENOMEM = 12;

/**
 * Maps `lengthBytes` of `fd` private, pages populated from the page cache (no copy). The returned bytes stay valid
 * for as long as any view of them is reachable; the mapping is released after that (never while a view exists).
 * They may be written: a write copies that page for this process only (the file never changes); a read-only
 * mapping would kill the process with SIGSEGV instead, which a library user writing into a plan's buffer could
 * not catch. Populated while still read-only: populating a writable private mapping would copy every page.
 * Returns `-errno` when the file cannot be mapped (procfs, pipes, some network file systems), and `-ENOMEM` while
 * {@link MAX_LIVE_MAPPINGS} mappings are alive.
 */
export function mapPrivate(fd: number, lengthBytes: number): Uint8Array | number {
  if (lengthBytes <= 0) return new Uint8Array(0);
  if (liveMappings >= MAX_LIVE_MAPPINGS) return -ENOMEM;
  const c = libc();
  const length = BigInt(lengthBytes);
  const p = c.mmap(null, length, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0n);
  if (p === null || BigInt(Deno.UnsafePointer.value(p)) === MAP_FAILED) return -errnoNow();
  if (c.mprotect(p, length, PROT_READ | PROT_WRITE) !== 0) {
    const errno = errnoNow();
    c.munmap(p, length);
    return -errno;
  }
  const buffer = Deno.UnsafePointerView.getArrayBuffer(p, lengthBytes);
  unmapper.register(buffer, { pointer: p, lengthBytes });
  liveMappings++;
  return new Uint8Array(buffer);
}

/** Bytes asked of read(2) at a time when the length is not known in advance (pipes). */
const READ_CHUNK_BYTES = 1 << 20;

/**
 * Reads `fd` to its end. With `expectedBytes` (a regular file's size) it reads into one buffer of that size from
 * offset 0 with pread(2) and reports a file that changed length as `{ errno: 0, got }`; without it (a pipe, a
 * special file) it reads until read(2) returns 0.
 */
export function readAll(fd: number, expectedBytes?: number): Uint8Array | { errno: number; got?: number } {
  const c = libc();
  if (expectedBytes !== undefined) {
    const buf = new Uint8Array(expectedBytes);
    let got = 0;
    while (got < expectedBytes) {
      const n = Number(c.pread(fd, buf.subarray(got), BigInt(expectedBytes - got), BigInt(got)));
      if (n < 0) {
        const errno = errnoNow();
        if (errno === EINTR) continue;
        return { errno };
      }
      if (n === 0) return { errno: 0, got };
      got += n;
    }
    // One byte more means the file grew while being read: what was read is not the file.
    const probe = new Uint8Array(1);
    if (Number(c.pread(fd, probe, 1n, BigInt(expectedBytes))) > 0) return { errno: 0, got: expectedBytes + 1 };
    return buf;
  }
  const parts: Uint8Array[] = [];
  for (;;) {
    const chunk = new Uint8Array(READ_CHUNK_BYTES);
    let used = 0;
    while (used < chunk.length) {
      const n = Number(c.read(fd, chunk.subarray(used), BigInt(chunk.length - used)));
      if (n < 0) {
        const errno = errnoNow();
        if (errno === EINTR) continue;
        return { errno };
      }
      if (n === 0) break;
      used += n;
    }
    if (used > 0) parts.push(chunk.subarray(0, used));
    if (used < chunk.length) break;
  }
  return concatBytes(parts);
}

const EINTR = 4;

/** fcntl(2) commands and arguments for leases. */
const F_SETSIG = 10;
const F_SETLEASE = 1024;
const F_RDLCK = 0;
const F_UNLCK = 2;
/**
 * The signal a lease break sends us: SIGURG, whose default action is to ignore it (the default, SIGIO, would kill
 * the process). 23 on x86_64 and the generic ABI (arm64, riscv64).
 */
const SIGURG = 23;

/** takeReadLease's errno when another process has the file open for writing (EAGAIN). */
export const LEASE_REFUSED_WRITER = 11;

/**
 * Takes a read lease on `fd` (opened read-only): until `fd` is closed, anyone who opens the file for writing or
 * truncates it waits (up to /proc/sys/fs/lease-break-time, 45 s by default), so a mapping of it cannot change
 * under us. Returns 0, or the errno: EAGAIN when someone has it open for writing already, EACCES when we neither
 * own it nor have CAP_LEASE, EINVAL where leases are off (fs.leases-enable = 0) or unsupported.
 */
export function takeReadLease(fd: number): number {
  const c = libc();
  if (c.fcntl(fd, F_SETSIG, SIGURG) !== 0) return errnoNow();
  return c.fcntl(fd, F_SETLEASE, F_RDLCK) === 0 ? 0 : errnoNow();
}

/**
 * Gives up the lease on `fd`. Needed before close: a mapping of the file holds the open file too, and the kernel
 * drops a lease only with the open file's last reference, so a writer would otherwise wait the whole
 * lease-break-time after the load was done.
 */
export function releaseLease(fd: number): void {
  libc().fcntl(fd, F_SETLEASE, F_UNLCK);
}
