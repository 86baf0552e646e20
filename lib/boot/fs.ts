/**
 * BootFs: the one way boot-entry discovery reads the boot partitions (the ESP and XBOOTLDR: `loader/loader.conf`,
 * `loader/entries/*.conf`, `EFI/Linux/*.efi`). Not /proc or /sys (the SystemView reads those: the mount table, udev
 * data, EFI variables). The real one reads files; tests pass a fixture tree or an in-memory record.
 *
 * @module
 */

import { fail } from "../errors.ts";
import { readFully } from "../files.ts";
import type { ByteSource } from "../images/pe.ts";

/** What a path is, not following symlinks. */
export type BootFsKind = "file" | "dir" | "symlink" | "other";

/** A directory entry or a path's status. */
export interface BootFsStat {
  kind: BootFsKind;
  /** Bytes (files). */
  size: number;
  /** Device and inode, to notice one file reached twice (bind mounts); absent when unknown. */
  dev?: number;
  ino?: number;
}

/** Read-only access to the boot partitions. Paths are absolute. */
export interface BootFs {
  /** A path's status without following a final symlink; undefined when it does not exist or cannot be read. */
  stat(path: string): BootFsStat | undefined;
  /** A directory's entry names, sorted; undefined when it is missing or unreadable. */
  list(path: string): string[] | undefined;
  /** A whole small file (at most `maxBytes`); undefined when missing, unreadable or larger. */
  readSmall(path: string, maxBytes: number): Uint8Array | undefined;
  /**
   * Opens a file for random reads (a UKI's headers and text sections); the caller closes it. Its reads throw
   * KexecError("io") on a short read.
   * @throws KexecError("io") when it cannot be opened
   */
  open(path: string): ByteSource & { close(): void };
}

/** The real boot partitions, under `root` (`/`, or a directory standing in for it). */
export function realBootFs(root = "/"): BootFs {
  const prefix = root === "/" ? "" : root.replace(/\/+$/, "");
  return {
    stat(path) {
      try {
        const st = Deno.lstatSync(prefix + path);
        const kind: BootFsKind = st.isSymlink ? "symlink" : st.isFile ? "file" : st.isDirectory ? "dir" : "other";
        return { kind, size: st.size, dev: st.dev ?? undefined, ino: st.ino ?? undefined };
      } catch {
        return undefined;
      }
    },
    list(path) {
      try {
        return [...Deno.readDirSync(prefix + path)].map((e) => e.name).sort();
      } catch {
        return undefined;
      }
    },
    readSmall(path, maxBytes) {
      try {
        const f = Deno.openSync(prefix + path, { read: true });
        try {
          const buf = new Uint8Array(maxBytes + 1);
          const got = readFully(f, buf);
          return got > maxBytes ? undefined : buf.subarray(0, got);
        } finally {
          f.close();
        }
      } catch {
        return undefined;
      }
    },
    open(path) {
      let f: Deno.FsFile;
      let size: number;
      try {
        f = Deno.openSync(prefix + path, { read: true });
        size = f.statSync().size;
      } catch (e) {
        return fail("io", `${path}: cannot open (${(e as Error).message})`);
      }
      return {
        size,
        read(offset, length) {
          const buf = new Uint8Array(length);
          f.seekSync(offset, Deno.SeekMode.Start);
          const got = readFully(f, buf);
          if (got !== length) fail("io", `${path}: short read at ${offset} (${got} of ${length} bytes)`);
          return buf;
        },
        close: () => f.close(),
      };
    },
  };
}

/**
 * An in-memory tree for tests: `files` maps absolute paths to contents; directories are implied by the paths.
 * Every file gets its own inode number.
 */
export function memoryBootFs(files: Record<string, string | Uint8Array>): BootFs {
  const encoder = new TextEncoder();
  const paths = Object.keys(files);
  const bytesOf = (p: string) => (typeof files[p] === "string" ? encoder.encode(files[p] as string) : files[p]);
  const isDir = (p: string) => {
    const dir = p.endsWith("/") ? p : p + "/";
    return paths.some((f) => f.startsWith(dir));
  };
  return {
    stat(path) {
      if (path in files) return { kind: "file", size: bytesOf(path).length, dev: 1, ino: paths.indexOf(path) + 2 };
      return isDir(path) ? { kind: "dir", size: 0, dev: 1, ino: 1 } : undefined;
    },
    list(path) {
      const dir = path.endsWith("/") ? path : path + "/";
      const names = new Set<string>();
      for (const p of paths) if (p.startsWith(dir)) names.add(p.slice(dir.length).split("/")[0]);
      return names.size ? [...names].sort() : undefined;
    },
    readSmall(path, maxBytes) {
      if (!(path in files)) return undefined;
      const b = bytesOf(path);
      return b.length > maxBytes ? undefined : b;
    },
    open(path) {
      if (!(path in files)) fail("io", `${path}: cannot open (no such file)`);
      const b = bytesOf(path);
      return { size: b.length, read: (o, l) => b.subarray(o, o + l), close() {} };
    },
  };
}
