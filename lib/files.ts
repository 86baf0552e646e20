/**
 * Files kexec-ts reads whole (kernels, initrds: {@link InputFile}, opened once, mapped where possible) and state
 * it replaces atomically (the crash-load record, the udev rule). /proc and /sys are read through the SystemView,
 * not here.
 *
 * @module
 */

import { fail, KexecError } from "./errors.ts";
import { concatBytes } from "./bytes.ts";
import { closeFd, ffiGranted, openReadOnly } from "../ffi/libc.ts";
import {
  type FdKind,
  LEASE_REFUSED_WRITER,
  mapPrivate,
  readAll,
  releaseLease,
  statFd,
  takeReadLease,
} from "../ffi/fd.ts";
import { Errno, errnoName } from "../ffi/errno.ts";

export type { FdKind };

/** Why a file operation failed, in a few words. */
export function describeFsError(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file or directory";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.NotADirectory) return "not a directory";
  if (e instanceof Deno.errors.IsADirectory) return "it is a directory";
  if (e instanceof Deno.errors.AlreadyExists) return "it already exists";
  const message = (e as Error).message;
  if (/\(os error 28\)/.test(message)) return "the file system is full (ENOSPC)";
  if (/\(os error 30\)/.test(message)) return "the file system is read-only (EROFS)";
  return message;
}

/** Reads from `f` until `buf` is full or the file ends; returns the bytes read. */
export function readFully(f: Deno.FsFile, buf: Uint8Array): number {
  let got = 0;
  while (got < buf.length) {
    const n = f.readSync(buf.subarray(got));
    if (n === null || n === 0) break;
    got += n;
  }
  return got;
}

/** `cannot read initrd /x: no such file`: the one wording for unreadable inputs. */
function inputError(path: string, what: string, e: unknown): never {
  if (e instanceof KexecError) throw e;
  const why = e instanceof Deno.errors.NotFound ? "no such file" : describeFsError(e);
  return fail("io", `cannot read ${what} ${path}: ${why}`);
}

/** The same wording for an errno from libc. */
function errnoError(path: string, what: string, errno: number): never {
  const why = ERRNO_WORDS[errno] ?? `${errnoName(errno)} (errno ${errno})`;
  return fail("io", `cannot read ${what} ${path}: ${why}`);
}

const ERRNO_WORDS: Record<number, string> = {
  [Errno.ENOENT]: "no such file",
  [Errno.EACCES]: "permission denied",
  [Errno.EPERM]: "permission denied",
  20: "not a directory", // ENOTDIR
  21: "it is a directory", // EISDIR
  40: "too many levels of symbolic links", // ELOOP
  5: "input/output error", // EIO
};

/** How an input file's contents came to be in memory. */
export type InputSource = "mmap" | "read";

/**
 * An input file (a kernel, an initrd), opened once: the checks, the hashing and the syscall all use this one open
 * file, so what is checked is what is loaded, even if the path is replaced meanwhile (a package upgrade).
 *
 * Its contents are produced on first use of {@link InputFile.bytes} and never read again: a private mapping of the
 * file (opened read-only; a write to the bytes copies a page for this process, the file never changes) where it
 * can be mapped and a read lease keeps writers out until {@link InputFile.close} (so the mapping cannot change or
 * shrink under the hash and the syscall), else read into memory once (a pipe,
 * a special file, a file someone has open for writing, or no FFI permission: then the file is opened through
 * Deno and {@link InputFile.fd} is undefined). Both ways give the same bytes.
 */
export interface InputFile {
  /** The path as given. */
  readonly path: string;
  /** What the file is for, in messages ("kernel", "initrd"). */
  readonly what: string;
  /** The open descriptor (libc's), for kexec_file_load; undefined when opened without FFI (plans only). */
  readonly fd: number | undefined;
  /** What the open file is. */
  readonly kind: FdKind;
  /** Whether a read lease keeps writers (and truncation) out until {@link InputFile.close}. */
  readonly leased: boolean;
  /** Whether another process had it open for writing when we opened it (the lease was refused with EAGAIN). */
  readonly openForWriting: boolean;
  /** The contents (mapped or read on first use; never read twice). */
  readonly bytes: Uint8Array;
  /** Its length: st_size for a regular file, else the length of what was read. */
  readonly sizeBytes: number;
  /** How {@link InputFile.bytes} was obtained; undefined until it was first used. */
  readonly source: InputSource | undefined;
  /** Closes the file (ending the lease). The bytes stay valid, a mapping until no view of it is left. */
  close(): void;
}

/**
 * Opens an input file for reading, with a one-line error naming it when it cannot be opened or is a directory.
 * Its contents are read (or mapped) only when {@link InputFile.bytes} is first used.
 * @throws KexecError("io")
 */
export function openInput(path: string, what: string): InputFile {
  return ffiGranted() ? openThroughLibc(path, what) : openThroughDeno(path, what);
}

function openThroughLibc(path: string, what: string): InputFile {
  const fd = openReadOnly(path);
  if (fd < 0) return errnoError(path, what, -fd);
  const st = statFd(fd);
  if (typeof st === "number" || (st.kind !== "file" && st.kind !== "pipe")) {
    closeFd(fd);
    return typeof st === "number" ? errnoError(path, what, -st) : notAFile(path, what, st.kind);
  }
  const regular = st.kind === "file";
  const leaseErrno = regular ? takeReadLease(fd) : -1;
  let open = true;
  let bytes: Uint8Array | undefined;
  let source: InputSource | undefined;
  const contents = (): Uint8Array => {
    if (bytes) return bytes;
    if (!open) fail("io", `${what} ${path} was closed before it was read (a kexec-ts bug; please report it)`);
    if (leaseErrno === 0 && st.sizeBytes > 0) {
      const mapped = mapPrivate(fd, st.sizeBytes);
      if (typeof mapped !== "number") {
        source = "mmap";
        return bytes = mapped;
      }
    }
    // procfs and sysfs files say 0 (or a page) whatever they hold: read those to their end, as pipes.
    const read = readAll(fd, regular && st.sizeBytes > 0 ? st.sizeBytes : undefined);
    if (!(read instanceof Uint8Array)) {
      if (read.errno !== 0) errnoError(path, what, read.errno);
      fail(
        "io",
        `cannot read ${what} ${path}: it changed size while being read (${st.sizeBytes} bytes when opened)`,
      );
    }
    source = "read";
    return bytes = read;
  };
  return {
    path,
    what,
    fd,
    kind: st.kind,
    leased: leaseErrno === 0,
    openForWriting: leaseErrno === LEASE_REFUSED_WRITER,
    get bytes() {
      return contents();
    },
    get sizeBytes() {
      return regular && st.sizeBytes > 0 ? st.sizeBytes : contents().length;
    },
    get source() {
      return source;
    },
    close() {
      if (!open) return;
      if (leaseErrno === 0) releaseLease(fd);
      closeFd(fd);
      open = false;
    },
  };
}

/**
 * Kernels and initrds are regular files or pipes (a process substitution): a device has no end to read to
 * (/dev/zero) or is not an image at all.
 * @throws KexecError("io")
 */
function notAFile(path: string, what: string, kind: string): never {
  return fail("io", `cannot read ${what} ${path}: it is a ${kind}, not a file; give a regular file or a pipe`);
}

/** Without FFI (a plan run without --allow-ffi): opened through Deno, read whole on first use. */
function openThroughDeno(path: string, what: string): InputFile {
  let file: Deno.FsFile;
  let info: Deno.FileInfo;
  try {
    file = Deno.openSync(path, { read: true });
    info = file.statSync();
  } catch (e) {
    return inputError(path, what, e);
  }
  if (!info.isFile && !info.isFifo) {
    file.close();
    notAFile(path, what, info.isDirectory ? "directory" : info.isCharDevice ? "character device" : "special file");
  }
  let open = true;
  let bytes: Uint8Array | undefined;
  const contents = (): Uint8Array => {
    if (bytes) return bytes;
    if (!open) fail("io", `${what} ${path} was closed before it was read (a kexec-ts bug; please report it)`);
    try {
      bytes = info.isFile && info.size > 0 ? readSized(file, info.size, path, what) : readToEnd(file);
    } catch (e) {
      inputError(path, what, e);
    }
    return bytes!;
  };
  return {
    path,
    what,
    fd: undefined,
    kind: info.isFile ? "file" : info.isFifo ? "pipe" : info.isCharDevice ? "character device" : "unknown",
    leased: false,
    openForWriting: false,
    get bytes() {
      return contents();
    },
    get sizeBytes() {
      return info.isFile && info.size > 0 ? info.size : contents().length;
    },
    get source() {
      return bytes ? "read" : undefined;
    },
    close() {
      if (open) file.close();
      open = false;
    },
  };
}

/** Reads a regular file of `size` bytes into one buffer of that size (Deno.readFileSync peaks at twice it). */
function readSized(f: Deno.FsFile, size: number, path: string, what: string): Uint8Array {
  const buf = new Uint8Array(size);
  const got = readFully(f, buf);
  if (got !== size) {
    fail("io", `cannot read ${what} ${path}: it changed size while being read (${size} bytes when opened)`);
  }
  return buf;
}

function readToEnd(f: Deno.FsFile): Uint8Array {
  const parts: Uint8Array[] = [];
  for (;;) {
    const chunk = new Uint8Array(1 << 20);
    const n = readFully(f, chunk);
    parts.push(chunk.subarray(0, n));
    if (n < chunk.length) break;
  }
  return concatBytes(parts);
}

/**
 * Replaces `path` with `text` atomically: the parent directory is created if needed, then a temporary file in it
 * is written, fsynced, given `mode` (whatever the umask), renamed over `path`, and the directory is fsynced.
 * A reader sees the old file or the new one, never part of one. On failure the temporary file is removed and the
 * Deno error is rethrown.
 */
export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  Deno.mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    const f = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode });
    try {
      const bytes = new TextEncoder().encode(text);
      for (let off = 0; off < bytes.length;) off += f.writeSync(bytes.subarray(off));
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.chmodSync(tmp, mode);
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* it may not exist */ }
    throw e;
  }
  try {
    const d = Deno.openSync(dir, { read: true });
    try {
      d.syncSync();
    } finally {
      d.close();
    }
  } catch { /* the rename is done; a directory that cannot be fsynced is no reason to fail */ }
}
