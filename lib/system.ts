/**
 * SystemView: the one way this program reads the machine (`/proc`, `/sys`, and the udev rules directories).
 *
 * The real view reads files under `/`; a fixture view reads the same paths under a saved directory
 * (`--system-root DIR`, tests) or from an in-memory record. Nothing else in the program opens `/proc` or `/sys`.
 *
 * Reads never throw for the ordinary cases: a missing file is `absent`, an unreadable one `denied`
 * (non-root, or 0400 nodes such as 6.6's `cpu/crash_hotplug`). Callers decide what that means.
 *
 * @module
 */

import { readFully } from "./files.ts";

/** The outcome of reading one file. */
export type ReadResult =
  | { kind: "ok"; bytes: Uint8Array }
  | { kind: "absent" }
  | { kind: "denied" };

/** Read-only access to the machine's kernel interfaces. Paths are absolute (`/proc/iomem`). */
export interface SystemView {
  /** Reads a whole file, or its first `maxBytes` bytes (for `/proc/kcore`, whose size is virtual). */
  read(path: string, maxBytes?: number): ReadResult;
  /** Lists a directory's entry names, sorted; `undefined` when it does not exist or cannot be read. */
  list(path: string): string[] | undefined;
  /** Where the view reads from, for messages: `/` or the fixture directory. */
  readonly origin: string;
}

const decoder = new TextDecoder();

/** Reads a text file; `undefined` when absent or denied. */
export function readText(sys: SystemView, path: string): string | undefined {
  const r = sys.read(path);
  return r.kind === "ok" ? decoder.decode(r.bytes) : undefined;
}

/** Reads a text file and trims it; `undefined` when absent or denied. */
export function readTrimmed(sys: SystemView, path: string): string | undefined {
  return readText(sys, path)?.trim();
}

/** Whether a file exists (readable or not). */
export function exists(sys: SystemView, path: string): boolean {
  return sys.read(path, 1).kind !== "absent";
}

/**
 * Reads a file holding one integer: decimal, or hex with `0x`, or bare hex when `radix` is 16.
 * `undefined` when absent, denied or not a number.
 */
export function readInteger(sys: SystemView, path: string, radix: 10 | 16 = 10): bigint | undefined {
  const text = readTrimmed(sys, path);
  if (text === undefined) return undefined;
  return parseInteger(text, radix);
}

/** Where efivarfs shows the EFI variables (an EFI boot, efivarfs mounted). */
const EFIVARS_DIR = "/sys/firmware/efi/efivars";

/** An EFI variable as efivarfs shows it: the attributes, then the value. */
export interface EfiVariable {
  /** EFI_VARIABLE_* bits (NON_VOLATILE 0x1, BOOTSERVICE_ACCESS 0x2, RUNTIME_ACCESS 0x4, ...). */
  attributes: number;
  /** The raw value. */
  value: Uint8Array;
}

/**
 * The EFI variable `name` of vendor `guid` (efivarfs file `NAME-GUID`: a little-endian u32 of attributes, then the
 * value); undefined when unset, unreadable, not an EFI boot, or shorter than its attributes.
 */
export function readEfiVariable(sys: SystemView, name: string, guid: string): EfiVariable | undefined {
  const r = sys.read(`${EFIVARS_DIR}/${name}-${guid}`);
  if (r.kind !== "ok" || r.bytes.length < 4) return undefined;
  const attributes = new DataView(r.bytes.buffer, r.bytes.byteOffset, 4).getUint32(0, true);
  return { attributes, value: r.bytes.subarray(4) };
}

/** Parses `123`, `-1`, `0x1f` or (radix 16) `1f`; `undefined` if it is not a whole number. */
export function parseInteger(text: string, radix: 10 | 16 = 10): bigint | undefined {
  const t = text.trim();
  if (/^-?[0-9]+$/.test(t) && radix === 10) return BigInt(t);
  if (/^0x[0-9a-f]+$/i.test(t)) return BigInt(t);
  if (radix === 16 && /^[0-9a-f]+$/i.test(t)) return BigInt("0x" + t);
  return undefined;
}

/** The lockdown mode from securityfs: the bracketed word of `none [integrity] confidentiality`; undefined if unknown. */
export function readLockdown(sys: SystemView): string | undefined {
  const text = readTrimmed(sys, "/sys/kernel/security/lockdown");
  return text === undefined ? undefined : /\[(\w+)\]/.exec(text)?.[1];
}

/** A view over the files under `root` (`/` for the running machine, a directory for a saved snapshot). */
export function fsSystemView(root = "/"): SystemView {
  const prefix = root === "/" ? "" : root.replace(/\/+$/, "");
  return {
    origin: root,
    read(path: string, maxBytes?: number): ReadResult {
      const full = prefix + path;
      try {
        if (maxBytes === undefined) {
          // Deno reads to EOF, so procfs/sysfs files (st_size 0 or 4096) come back whole.
          return { kind: "ok", bytes: Deno.readFileSync(full) };
        }
        const file = Deno.openSync(full, { read: true });
        try {
          const buf = new Uint8Array(maxBytes);
          return { kind: "ok", bytes: buf.subarray(0, readFully(file, buf)) };
        } finally {
          file.close();
        }
      } catch (e) {
        if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return { kind: "absent" };
        if (e instanceof Deno.errors.PermissionDenied) return { kind: "denied" };
        // sysfs attributes can fail with EIO/EINVAL/ENODEV when the kernel has nothing to report.
        return { kind: "denied" };
      }
    },
    list(path: string): string[] | undefined {
      try {
        return [...Deno.readDirSync(prefix + path)].map((e) => e.name).sort();
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * An in-memory view for unit tests: `files` maps absolute paths to contents; the string `"<denied>"` simulates
 * an unreadable file. Directories are implied by the paths.
 */
export function recordSystemView(files: Record<string, string | Uint8Array>): SystemView {
  const encoder = new TextEncoder();
  return {
    origin: "<fixture>",
    read(path: string, maxBytes?: number): ReadResult {
      const v = files[path];
      if (v === undefined) return { kind: "absent" };
      if (v === "<denied>") return { kind: "denied" };
      const bytes = typeof v === "string" ? encoder.encode(v) : v;
      return { kind: "ok", bytes: maxBytes === undefined ? bytes : bytes.subarray(0, maxBytes) };
    },
    list(path: string): string[] | undefined {
      const dir = path.endsWith("/") ? path : path + "/";
      const names = new Set<string>();
      for (const p of Object.keys(files)) {
        if (p.startsWith(dir)) names.add(p.slice(dir.length).split("/")[0]);
      }
      return names.size ? [...names].sort() : undefined;
    },
  };
}
