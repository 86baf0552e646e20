/**
 * Files kexec-ts reads whole (kernels, initrds) and state it replaces atomically (the crash-load record, the
 * udev rule). /proc and /sys are read through the SystemView, not here.
 *
 * @module
 */

import { fail, KexecError } from "./errors.ts";

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

/**
 * Checks that an input file can be opened for reading, without reading it (the kernel reads it itself).
 * @throws KexecError("io")
 */
export function checkReadable(path: string, what: string): void {
  try {
    const f = Deno.openSync(path, { read: true });
    const isFile = f.statSync().isFile;
    f.close();
    if (!isFile) throw new Deno.errors.IsADirectory();
  } catch (e) {
    inputError(path, what, e);
  }
}

/**
 * Reads an input file whole, with a one-line error naming it. Reads into one buffer of the file's size:
 * Deno.readFileSync peaks at twice the size, which for a 64 MiB initrd is 64 MiB of RSS for nothing.
 * @throws KexecError("io")
 */
export function readInputFile(path: string, what: string): Uint8Array {
  try {
    const f = Deno.openSync(path, { read: true });
    try {
      const size = f.statSync().size;
      const buf = new Uint8Array(size);
      const got = readFully(f, buf);
      if (got !== size) fail("io", `cannot read ${what} ${path}: it shrank while being read (${got} of ${size} bytes)`);
      return buf;
    } finally {
      f.close();
    }
  } catch (e) {
    return inputError(path, what, e);
  }
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
