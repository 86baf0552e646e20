/**
 * The record of the last successful crash load, kept under `/run/kexec-ts/` (tmpfs: it dies with the boot, as the
 * loaded image does). `status` uses it to say how the loaded image was loaded; `kexec-ts reload` repeats it.
 *
 * Version 2 stores the LoadRequest as JSON (../load/request.ts); version 1 (kexec-ts 0.1.0) stored the argv of the
 * load, which is still read: {@link requestFromV1Argv} understands exactly the argv 0.1.0 wrote. Every field is
 * checked on read; a bad record is reported in one line naming the field and the fix, never half-used.
 *
 * The file is replaced atomically (write to a temporary file, fsync, rename), so a reader sees the old record or
 * the new one, never half of one. It is removed by `-p -u`.
 *
 * @module
 */

import { fail, KexecError } from "../errors.ts";
import { readText, type SystemView } from "../system.ts";
import { describeFsError, writeFileAtomic } from "../files.ts";
import { jsonFields } from "../json_fields.ts";
import { type LoadRequest, loadRequest, requestFromJson, requestToJson } from "../load/request.ts";
import type { ImageInfo } from "../load/image_info.ts";

/** Where kexec-ts keeps its state by default: tmpfs, gone with the boot like the loaded image. */
export const DEFAULT_RUN_DIR = "/run/kexec-ts";

/** Where records live. `KEXEC_TS_RUN_DIR` overrides it (tests); it must be an absolute path on one line. */
export function runDir(): string {
  const dir = Deno.env.get("KEXEC_TS_RUN_DIR");
  if (dir === undefined || dir === "") return DEFAULT_RUN_DIR;
  if (!dir.startsWith("/") || /[\n\r\0]/.test(dir)) {
    fail("usage", `KEXEC_TS_RUN_DIR=${JSON.stringify(dir)} is not an absolute path on one line`);
  }
  return dir;
}

/** Path of the crash-load record. */
export function crashRecordPath(): string {
  return runDir() + "/crash-load.json";
}

/** What we remember about a crash load. */
export interface CrashLoadRecord {
  /** Format version (1 was kexec-ts 0.1.0's argv form). */
  version: 2;
  /** The load, with its paths absolute, so `reload` can repeat it from anywhere. */
  request: LoadRequest;
  /** The syscall that loaded it. */
  syscall: "kexec_load" | "kexec_file_load";
  /** The flags passed to the syscall (a number: they fit in 32 bits). */
  flags: number;
  /** Whether the kernel was allowed to update the elfcorehdr (kexec_file_load images always are). */
  hotplug: boolean;
  /** `/proc/sys/kernel/random/boot_id` at load time: a record from an earlier boot is ignored. */
  bootId: string;
  /** ISO time of the load. */
  loadedAt: string;
  /** What a UKI or boot entry said about the loaded kernel (absent for a plain kernel file). */
  image?: ImageInfo;
}

/** Reading a record: absent (or from an earlier boot), valid, or unusable with the reason. */
export type RecordRead =
  | { kind: "none" }
  | { kind: "ok"; record: CrashLoadRecord }
  | { kind: "bad"; why: string };

/**
 * The request kexec-ts 0.1.0 recorded as argv: `[-s] -p [--initrd=P] [--append=S] [--reuse-cmdline] [--type=T]
 * [--mem-min=0xN] [--mem-max=0xN] [-i] [--hotplug|--no-hotplug] [--console-serial --serial=0xN] KERNEL`.
 * @throws KexecError("io") for anything else
 */
export function requestFromV1Argv(argv: readonly string[], where: string): LoadRequest {
  const bad = (what: string): never =>
    fail("io", `${where}: the recorded argv has ${what}; load again with kexec-ts -p`);
  // 0.1.0 handed the capture kernel no EFI: a reload repeats that load (noefi).
  const req = loadRequest({ kind: "crash", kernel: "", noefi: true });
  let sawPanic = false;
  for (const [i, a] of argv.entries()) {
    if (typeof a !== "string") bad(`a non-string element at ${i}`);
    const value = (prefix: string) => a.slice(prefix.length);
    const hexValue = (prefix: string) => {
      if (!/^0x[0-9a-f]{1,16}$/i.test(value(prefix))) bad(`a bad address in ${a}`);
      return BigInt(value(prefix));
    };
    if (a === "-s") req.syscall = "kexec_file_load";
    else if (a === "-p") sawPanic = true;
    else if (a.startsWith("--initrd=")) req.initrds = [value("--initrd=")];
    else if (a.startsWith("--append=")) req.append = value("--append=");
    else if (a === "--reuse-cmdline") req.reuseCmdline = true;
    else if (a.startsWith("--type=")) req.type = value("--type=");
    else if (a.startsWith("--mem-min=")) req.memMin = hexValue("--mem-min=");
    else if (a.startsWith("--mem-max=")) req.memMax = hexValue("--mem-max=");
    else if (a === "-i") req.noChecks = true;
    else if (a === "--hotplug") req.hotplug = "require";
    else if (a === "--no-hotplug") req.hotplug = "off";
    else if (a === "--console-serial") req.serialPort ||= 0x3f8;
    else if (a.startsWith("--serial=")) req.serialPort = Number(hexValue("--serial="));
    else if (i === argv.length - 1 && a.startsWith("/")) req.kernel = a;
    else bad(`an unexpected element ${JSON.stringify(a)}`);
  }
  if (!sawPanic || req.kernel === "") bad("no -p or no absolute kernel path");
  if (req.serialPort > 0xffff) bad("a serial port above 0xffff");
  return req;
}

/** Checks every field of a parsed record; converts version 1. */
export function recordFromJson(value: unknown, where: string): CrashLoadRecord {
  const f = jsonFields(value, where, "record", "load again with kexec-ts -p");
  const version = f.int("version", 1, 2, "1 or 2");
  const request = version === 1
    ? requestFromV1Argv(f.strings("argv", "a list"), where)
    : requestFromJson(f.raw.request, where);
  if (request.kind !== "crash") f.bad("request.kind", '"crash"');
  const loadedAt = f.raw.loadedAt;
  if (typeof loadedAt !== "string" || Number.isNaN(Date.parse(loadedAt))) f.bad("loadedAt", "a time");
  const record: CrashLoadRecord = {
    version: 2,
    request,
    syscall: f.oneOf("syscall", ["kexec_load", "kexec_file_load"] as const),
    flags: f.int("flags", 0, 0xffffffff, "a 32-bit number"),
    hotplug: f.bool("hotplug"),
    bootId: f.str("bootId"),
    loadedAt: loadedAt as string,
  };
  if (f.raw.image !== undefined) record.image = imageFromJson(f.raw.image, where);
  return record;
}

/** The record's `image`, every field checked (strings, small numbers, a list of text). */
function imageFromJson(value: unknown, where: string): ImageInfo {
  const f = jsonFields(value, `${where} (image)`, "image", "load again with kexec-ts -p");
  const num = (k: string) => (f.raw[k] === undefined ? undefined : f.int(k, 0, 0xffff, "a small number"));
  const info: ImageInfo = {
    format: f.str("format"),
    title: f.optionalStr("title"),
    version: f.optionalStr("version"),
    uname: f.optionalStr("uname"),
    profile: num("profile"),
    profileCount: num("profileCount"),
    profileId: f.optionalStr("profileId"),
    profileTitle: f.optionalStr("profileTitle"),
    machine: f.optionalStr("machine"),
    bootEntry: f.optionalStr("bootEntry"),
    parts: f.strings("parts", "a list of text"),
  };
  for (const k of Object.keys(info) as (keyof ImageInfo)[]) if (info[k] === undefined) delete info[k];
  return info;
}

/**
 * Reads the record: `none` when there is none or it belongs to an earlier boot, `bad` (with the reason, one line)
 * when it cannot be used.
 */
export function readCrashRecord(sys: SystemView, path = crashRecordPath()): RecordRead {
  const text = readText(sys, path);
  if (text === undefined) return { kind: "none" };
  let record: CrashLoadRecord;
  try {
    record = recordFromJson(JSON.parse(text), path);
  } catch (e) {
    const why = e instanceof KexecError ? e.message : `${path} is not JSON; load again with kexec-ts -p`;
    return { kind: "bad", why };
  }
  const bootId = readText(sys, "/proc/sys/kernel/random/boot_id")?.trim();
  if (bootId !== undefined && record.bootId !== bootId) return { kind: "none" };
  return { kind: "ok", record };
}

/** The record as the JSON text written to disk. */
export function recordText(rec: CrashLoadRecord): string {
  return JSON.stringify({ ...rec, request: requestToJson(rec.request) }, null, 2) + "\n";
}

/** Writes the record atomically (temp file + fsync + rename). Failures are returned, not thrown: a load that worked stays a success. */
export function writeCrashRecord(rec: CrashLoadRecord, path = crashRecordPath()): string | undefined {
  try {
    writeFileAtomic(path, recordText(rec));
    return undefined;
  } catch (e) {
    return `could not record the load in ${path}: ${describeFsError(e)}`;
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
