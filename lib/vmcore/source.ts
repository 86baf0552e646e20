/**
 * Where a dump's bytes come from, read at offsets: a file through one descriptor (seek + read, the way
 * kexec-tools' vmcore-dmesg uses pread), or bytes in memory. A dump is never read whole: `/proc/vmcore` is as large
 * as the crashed machine's memory, and the commands here need its headers, notes and the pages holding the log.
 *
 * Every failure the user can meet is a {@link KexecError} carrying the exit status kexec-tools' vmcore-dmesg uses
 * for the same cause (see ./dmesg.ts), and a one-line message naming what is missing.
 *
 * @module
 */

import { hex, KexecError } from "../errors.ts";
import { describeFsError } from "../files.ts";

/** Random access to a dump's bytes. */
export interface CoreSource {
  /** The file name, for messages. */
  readonly name: string;
  /** The file's size when it is known (regular files and /proc/vmcore report it), for early, clear errors. */
  readonly sizeBytes: bigint | undefined;
  /**
   * Up to `length` bytes at `offset`: fewer only where the file ends.
   * @throws the platform's error when the read itself fails (EIO, EISDIR, ...)
   */
  read(offset: bigint, length: number): Uint8Array;
  /** Bytes handed out so far (what "reads only the pages it needs" is measured with). */
  readonly bytesRead: number;
  close(): void;
}

/** The largest single read a dump may ask for (a corrupt length must not become an allocation of that size). */
export const MAX_READ_BYTES = 1 << 30;

/** Throws the error of a dump problem: code `bad-elf`, kexec-tools' exit status `exitCode`. */
export function coreFail(exitCode: number, message: string): never {
  throw new KexecError("bad-elf", message, exitCode);
}

/**
 * Opens `path` for reading at offsets.
 * @throws KexecError("io", exit status 2, as kexec-tools' "Cannot open") when it cannot be opened
 */
export function openCoreFile(path: string): CoreSource {
  let file: Deno.FsFile;
  let sizeBytes: bigint | undefined;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (e) {
    const hint = e instanceof Deno.errors.NotFound && path === "/proc/vmcore"
      ? " (not running in a capture kernel? name a saved dump instead)"
      : "";
    throw new KexecError("io", `cannot open ${path}: ${describeFsError(e)}${hint}`, 2);
  }
  try {
    const st = file.statSync();
    // A character device or pipe reports 0; only a regular file's size (also /proc/vmcore's) says where it ends.
    if (st.isFile) sizeBytes = BigInt(st.size);
  } catch {
    sizeBytes = undefined;
  }
  let bytesRead = 0;
  return {
    name: path,
    sizeBytes,
    get bytesRead() {
      return bytesRead;
    },
    read(offset: bigint, length: number): Uint8Array {
      const buf = new Uint8Array(length);
      file.seekSync(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < length) {
        const n = file.readSync(buf.subarray(got));
        if (n === null || n === 0) break;
        got += n;
      }
      bytesRead += got;
      return buf.subarray(0, got);
    },
    close() {
      file.close();
    },
  };
}

/** A dump held in memory (tests, and cores a caller already has). */
export function memoryCoreSource(bytes: Uint8Array, name = "<memory>"): CoreSource {
  let bytesRead = 0;
  return {
    name,
    sizeBytes: BigInt(bytes.length),
    get bytesRead() {
      return bytesRead;
    },
    read(offset: bigint, length: number): Uint8Array {
      if (offset >= BigInt(bytes.length)) return new Uint8Array(0);
      const start = Number(offset);
      const out = bytes.slice(start, Math.min(bytes.length, start + length));
      bytesRead += out.length;
      return out;
    },
    close() {},
  };
}

/**
 * Exactly `length` bytes at `offset`, or a one-line error naming `what` with `exitCode`: the dump ends before them
 * (truncated), or the read failed. A length past {@link MAX_READ_BYTES} is refused before anything is allocated.
 */
export function readExact(
  src: CoreSource,
  offset: bigint,
  length: number | bigint,
  what: string,
  exitCode: number,
): Uint8Array {
  const len = BigInt(length);
  const where = `${len} bytes at file offset ${hex(offset)}`;
  if (len > BigInt(MAX_READ_BYTES)) coreFail(exitCode, `${src.name}: ${what} would be ${where}: implausibly large`);
  if (src.sizeBytes !== undefined && offset + len > src.sizeBytes) {
    coreFail(
      exitCode,
      `${src.name}: ${what} (${where}) lies past the end of the file (${src.sizeBytes} bytes): truncated dump`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = src.read(offset, Number(len));
  } catch (e) {
    return coreFail(exitCode, `${src.name}: cannot read ${what} (${where}): ${describeFsError(e)}`);
  }
  if (bytes.length !== Number(len)) {
    coreFail(exitCode, `${src.name}: ${what} (${where}) lies past the end of the file: truncated dump`);
  }
  return bytes;
}
