/**
 * `runDir()/reload.inflight`: written by `kexec-ts reload` just before it repeats the recorded load, removed once
 * the new crash kernel is loaded and recorded (and by any successful `-p` or `-p -u`, which supersede it).
 *
 * It is how the next hotplug event knows that "no crash kernel is loaded" is kexec-ts' own doing: the kernel frees
 * the loaded crash kernel at the start of kexec_load, so a reload that failed (EBUSY, ENOMEM) or was killed after
 * that point leaves none; the next event must load one again instead of concluding that nothing is loaded. The udev
 * rule lets events through when the marker exists, and {@link readReloadInflight} lets `reload` retry.
 *
 * Content: JSON `{ "pid": N, "bootId": S, "startedAt": ISO }`, checked field by field; a marker from an earlier
 * boot is ignored (it lives on tmpfs, but KEXEC_TS_RUN_DIR may point elsewhere).
 *
 * @module
 */

import { KexecError } from "../errors.ts";
import { jsonFields } from "../json_fields.ts";
import { readText, type SystemView } from "../system.ts";
import { writeFileAtomic } from "../files.ts";
import { runDir } from "./record.ts";

/** The marker's name in the run directory. */
export const INFLIGHT_FILE = "reload.inflight";

/** A reload that started and has not finished. */
export interface ReloadInflight {
  pid: number;
  bootId: string;
  startedAt: string;
}

/** Reading the marker: none, this boot's, or unusable (with the reason, one line). */
export type InflightRead =
  | { kind: "none" }
  | { kind: "ok"; inflight: ReloadInflight }
  | { kind: "bad"; why: string };

/** Path of the marker. */
export function inflightPath(dir = runDir()): string {
  return `${dir}/${INFLIGHT_FILE}`;
}

/**
 * Checks every field of a parsed marker.
 * @throws KexecError("io") naming the first bad field
 */
export function inflightFromJson(value: unknown, where: string): ReloadInflight {
  const f = jsonFields(
    value,
    where,
    "marker",
    "remove it (the next event then loads only if a crash kernel is loaded)",
  );
  const startedAt = f.str("startedAt");
  if (Number.isNaN(Date.parse(startedAt))) f.bad("startedAt", "a time");
  return { pid: f.int("pid", 1, 2 ** 31 - 1, "a process id"), bootId: f.str("bootId"), startedAt };
}

/**
 * Reads the marker through `sys` (kexec-ts' own files: see reload.ts withRunDir). A malformed marker still means a
 * reload began (only kexec-ts writes it): `bad` carries why, and callers treat it as present.
 */
export function readReloadInflight(sys: SystemView, path = inflightPath()): InflightRead {
  const text = readText(sys, path);
  if (text === undefined) return { kind: "none" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: "bad", why: `${path} is not JSON` };
  }
  let m: ReloadInflight;
  try {
    m = inflightFromJson(parsed, path);
  } catch (e) {
    if (!(e instanceof KexecError)) throw e;
    return { kind: "bad", why: e.message };
  }
  const bootId = readText(sys, "/proc/sys/kernel/random/boot_id")?.trim();
  if (bootId !== undefined && m.bootId !== bootId) return { kind: "none" };
  return { kind: "ok", inflight: m };
}

/** Writes the marker (atomically). Returns a warning instead of throwing: a reload goes on without it. */
export function markReloadInflight(sys: SystemView, path = inflightPath()): string | undefined {
  const bootId = readText(sys, "/proc/sys/kernel/random/boot_id")?.trim() ?? "";
  try {
    writeFileAtomic(path, JSON.stringify({ pid: Deno.pid, bootId, startedAt: new Date().toISOString() }) + "\n");
    return undefined;
  } catch (e) {
    return `could not write ${path} (${(e as Error).message}): if this reload fails, the next event will not retry it`;
  }
}

/** Removes the marker; missing is fine, and so is failing (the marker only makes events retry). */
export function clearReloadInflight(path = inflightPath()): void {
  try {
    Deno.removeSync(path);
  } catch { /* absent, or unremovable: a later successful load tries again */ }
}
