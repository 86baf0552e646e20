/**
 * libc through Deno FFI: `syscall()`, `__errno_location()`, `reboot()`, `sync()`, `open()`/`close()`, `flock()`,
 * `memfd_create()`/`write()`, and what ./fd.ts needs for input files (`statx()`, `mmap()`/`munmap()`/`mprotect()`,
 * `read()`/`pread()`, `fcntl()`).
 * This folder is the only place in kexec-ts with `Deno.dlopen`, pointers and errno.
 *
 * The library is opened lazily on first use, so commands that never call the kernel (`plan`, `status`,
 * `--help`) run without `--allow-ffi`.
 *
 * @module
 */

const SYMBOLS = {
  syscall: { parameters: ["i64", "u64", "u64", "u64", "u64", "u64"], result: "i64" },
  __errno_location: { parameters: [], result: "pointer" },
  reboot: { parameters: ["i32"], result: "i32" },
  sync: { parameters: [], result: "void" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  mprotect: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Libc | undefined;

/** The libc symbols; opens libc.so.6 on first call. */
export function libc(): Libc {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return lib;
}

/** The result of a raw call: the return value and, when it is -1, errno read right after the call. */
export interface RawResult {
  ret: bigint;
  errno: number;
}

/** errno as the last libc call left it. */
export function errnoNow(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32(0);
}

/** `syscall(nr, a0..a4)`: every argument is an unsigned 64-bit value (pointers as their address). */
export function rawSyscall(nr: number, ...args: bigint[]): RawResult {
  const a = [...args, 0n, 0n, 0n, 0n, 0n].slice(0, 5);
  const ret = libc().syscall(BigInt(nr), a[0], a[1], a[2], a[3], a[4]) as bigint;
  return { ret, errno: ret === -1n ? errnoNow() : 0 };
}

/** The address of a buffer, for passing to the kernel inside a struct; the caller keeps `buf` alive across the call. */
export function addressOf(buf: Uint8Array): bigint {
  if (buf.byteLength === 0) return 0n;
  const p = Deno.UnsafePointer.of(buf as Uint8Array<ArrayBuffer>);
  return p === null ? 0n : BigInt(Deno.UnsafePointer.value(p));
}

/** `sync()`. */
export function syncFilesystems(): void {
  libc().sync();
}

/** `reboot(cmd)`; returns errno on failure (it does not return on success for KEXEC). */
export function rebootRaw(cmd: number): number {
  const r = libc().reboot(cmd);
  return r === -1 ? errnoNow() : 0;
}

/** O_RDONLY | O_CLOEXEC */
const O_RDONLY_CLOEXEC = 0o2000000;
/** O_RDWR | O_CREAT | O_CLOEXEC */
const O_RDWR_CREAT_CLOEXEC = 0o2000000 | 0o100 | 0o2;

/** `open(path, O_RDONLY|O_CLOEXEC)`; returns the fd or `-errno`. */
export function openReadOnly(path: string): number {
  return openRaw(path, O_RDONLY_CLOEXEC, 0);
}

/** `open(path, O_RDWR|O_CREAT|O_CLOEXEC, 0600)`; returns the fd or `-errno`. */
export function openLockFile(path: string): number {
  return openRaw(path, O_RDWR_CREAT_CLOEXEC, 0o600);
}

function openRaw(path: string, flags: number, mode: number): number {
  const cpath = new TextEncoder().encode(path + "\0");
  const fd = libc().open(cpath, flags, mode);
  return fd < 0 ? -errnoNow() : fd;
}

/**
 * Whether libc can be reached through FFI without asking: true when `--allow-ffi` was granted. Paths that can
 * do without it (reading input files for a plan) test this first instead of letting Deno prompt.
 */
export function ffiGranted(): boolean {
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

/** `close(fd)`. */
export function closeFd(fd: number): void {
  libc().close(fd);
}

const LOCK_EX = 2;
const LOCK_NB = 4;

/** `flock(fd, LOCK_EX | LOCK_NB)`: true when the lock was taken, false when another process holds it. */
export function tryLockExclusive(fd: number): boolean {
  return libc().flock(fd, LOCK_EX | LOCK_NB) === 0;
}

/** `flock(fd, LOCK_EX)`: waits for the lock. */
export function lockExclusive(fd: number): void {
  libc().flock(fd, LOCK_EX);
}

/** MFD_CLOEXEC */
const MFD_CLOEXEC = 1;

/**
 * An anonymous memory file (memfd_create(2)) holding `bytes`, for kexec_file_load of contents that are not a file of
 * their own (a UKI's kernel and initrds). It lives until its fd is closed; nothing is written to any filesystem.
 * @returns the fd, or `-errno`
 */
export function memfdWithBytes(name: string, bytes: Uint8Array): number {
  const cname = new TextEncoder().encode(name.slice(0, 200) + "\0");
  const fd = libc().memfd_create(cname, MFD_CLOEXEC);
  if (fd < 0) return -errnoNow();
  const written = writeAll(bytes, (chunk) => {
    const n = Number(libc().write(fd, chunk as Uint8Array<ArrayBuffer>, BigInt(chunk.length)));
    return n < 0 ? -errnoNow() : n;
  });
  if (written < 0) {
    closeFd(fd);
    return written;
  }
  return fd;
}

const EINTR = 4;
const EIO = 5;

/**
 * Writes all of `bytes` through `write` (write(2): bytes written, or `-errno`), in chunks of at most 1 GiB (write(2)
 * moves at most 0x7ffff000 bytes a call anyway), retrying on EINTR. A write that moves nothing is an error (EIO):
 * looping on it would never end.
 * @returns 0, or `-errno`
 */
export function writeAll(bytes: Uint8Array, write: (chunk: Uint8Array) => number): number {
  let off = 0;
  while (off < bytes.length) {
    const n = write(bytes.subarray(off, Math.min(bytes.length, off + 0x40000000)));
    if (n === -EINTR) continue;
    if (n < 0) return n;
    if (n === 0) return -EIO;
    off += n;
  }
  return 0;
}
