/**
 * The record of the last successful crash load, kept under `/run/kexec-ts/` (tmpfs: it dies with the boot, as the
 * loaded image does). `status` uses it to say how the loaded image was loaded; `kexec-ts reload` repeats it.
 *
 * The file is replaced atomically (write to a temporary file, fsync, rename), so a reader sees the old record or
 * the new one, never half of one. It is removed by `-p -u`.
 *
 * @module
 */

import { readText, type SystemView } from "../system.ts";
import { writeFileAtomic } from "../files.ts";

/** Where kexec-ts keeps its state by default: tmpfs, gone with the boot like the loaded image. */
export const DEFAULT_RUN_DIR = "/run/kexec-ts";

/** Where records live. `KEXEC_TS_RUN_DIR` overrides it (tests). */
export function runDir(): string {
  return Deno.env.get("KEXEC_TS_RUN_DIR") ?? DEFAULT_RUN_DIR;
}

/** Path of the crash-load record. */
export function crashRecordPath(): string {
  return runDir() + "/crash-load.json";
}

/** What we remember about a crash load. */
export interface CrashLoadRecord {
  version: 1;
  /** argv of the load, with file paths made absolute, so `reload` can repeat it from anywhere. */
  argv: string[];
  syscall: "kexec_load" | "kexec_file_load";
  /** The flags passed to the syscall (number: they fit in 32 bits). */
  flags: number;
  /** Whether KEXEC_UPDATE_ELFCOREHDR was passed (kexec_file_load images always support hotplug). */
  hotplug: boolean;
  /** `/proc/sys/kernel/random/boot_id` at load time: a record from an earlier boot is ignored. */
  bootId: string;
  /** ISO time of the load. */
  loadedAt: string;
}

/** Reads the record if it exists, is well-formed and belongs to this boot. */
export function readCrashRecord(sys: SystemView, path = crashRecordPath()): CrashLoadRecord | undefined {
  const text = readText(sys, path);
  if (text === undefined) return undefined;
  let rec: CrashLoadRecord;
  try {
    rec = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (rec?.version !== 1 || !Array.isArray(rec.argv)) return undefined;
  const bootId = readText(sys, "/proc/sys/kernel/random/boot_id")?.trim();
  if (bootId !== undefined && rec.bootId !== bootId) return undefined;
  return rec;
}

/** Writes the record atomically (temp file + fsync + rename). Failures are returned, not thrown: a load that worked stays a success. */
export function writeCrashRecord(rec: CrashLoadRecord, path = crashRecordPath()): string | undefined {
  try {
    writeFileAtomic(path, JSON.stringify(rec, null, 2) + "\n");
    return undefined;
  } catch (e) {
    return `could not record the load in ${path}: ${(e as Error).message}`;
  }
}

/** Removes the record (after an unload). Missing is fine. */
export function removeCrashRecord(path = crashRecordPath()): void {
  try {
    Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
