/**
 * `runDir()/reload.log`: one line per crash-kernel reload that `kexec-ts reload` actually performed, for people
 * and for the hotplug benchmark (reloads performed, time spent reloading, longest window without a crash kernel).
 *
 * Line format (space-separated `key=value` after the time; `error` is last and JSON-quoted):
 * ```
 * 2026-11-25T02:35:03.123Z outcome=ok total_ms=412.6 window_ms=31.0 syscall=kexec_load loaded_after=1
 * 2026-11-25T02:35:09.020Z outcome=failed total_ms=80.2 window_ms=2.1 syscall=kexec_load loaded_after=0 error="…"
 * ```
 * - time: when the reload started (after the settle time), ISO 8601 UTC;
 * - `total_ms`: the whole reload: reading the record and the machine, planning, the syscall, the new record;
 * - `window_ms`: from the start of the first kexec syscall to the end of the last one. The kernel frees the loaded
 *   crash image at the start of kexec_load / kexec_file_load (ON_CRASH) and installs the new one at the end, so
 *   this is the time with no crash kernel (0 when the reload failed before reaching the kernel);
 * - `loaded_after`: `/sys/kernel/kexec_crash_loaded` after the reload (a failed syscall leaves nothing loaded).
 *
 * @module
 */

import { runDir } from "./record.ts";

/** One performed reload. */
export interface ReloadLogEntry {
  /** ISO 8601 time the reload started. */
  time: string;
  /** Whether the crash kernel was reloaded. */
  outcome: "ok" | "failed";
  /** Milliseconds for the whole reload. */
  totalMs: number;
  /** Milliseconds without a crash kernel (from the first kexec syscall to the end of the last). */
  windowMs: number;
  /** The syscall the reload used. */
  syscall: "kexec_load" | "kexec_file_load";
  /** `kexec_crash_loaded` after the reload; undefined when unreadable. */
  loadedAfter?: boolean;
  /** The error message of a failed reload. */
  error?: string;
}

/** Path of the log. */
export function reloadLogPath(): string {
  return runDir() + "/reload.log";
}

/** Formats one entry as a line (with the newline). */
export function formatReloadLogLine(e: ReloadLogEntry): string {
  const fields = [
    e.time,
    `outcome=${e.outcome}`,
    `total_ms=${e.totalMs.toFixed(1)}`,
    `window_ms=${e.windowMs.toFixed(1)}`,
    `syscall=${e.syscall}`,
    `loaded_after=${e.loadedAfter === undefined ? "unknown" : e.loadedAfter ? 1 : 0}`,
  ];
  if (e.error !== undefined) fields.push(`error=${JSON.stringify(e.error)}`);
  return fields.join(" ") + "\n";
}

const LINE =
  /^(\S+) outcome=(ok|failed) total_ms=(\d{1,12}(?:\.\d{1,6})?) window_ms=(\d{1,12}(?:\.\d{1,6})?) syscall=(kexec_load|kexec_file_load) loaded_after=(0|1|unknown)(?: error=(".*"))?$/;

/** A parsed log: the entries, and one line per line that could not be used (number and why). */
export interface CheckedReloadLog {
  entries: ReloadLogEntry[];
  /** `reload.log line 3: ...`, for lines that are not entries (a crash mid-write, an edit by hand). */
  problems: string[];
}

/** Parses the log, checking every field; bad lines are reported, not used. */
export function parseReloadLogChecked(text: string, where = "reload.log"): CheckedReloadLog {
  const entries: ReloadLogEntry[] = [];
  const problems: string[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "") continue;
    const bad = (why: string) => problems.push(`${where} line ${i + 1}: ${why}`);
    const m = LINE.exec(line);
    if (!m) {
      bad('not time outcome=ok|failed total_ms=N window_ms=N syscall=... loaded_after=0|1|unknown [error="..."]');
      continue;
    }
    if (Number.isNaN(Date.parse(m[1]))) {
      bad(`the time ${JSON.stringify(m[1].slice(0, 40))} is not an ISO time`);
      continue;
    }
    const entry: ReloadLogEntry = {
      time: m[1],
      outcome: m[2] as ReloadLogEntry["outcome"],
      totalMs: Number(m[3]),
      windowMs: Number(m[4]),
      syscall: m[5] as ReloadLogEntry["syscall"],
    };
    if (m[6] !== "unknown") entry.loadedAfter = m[6] === "1";
    if (m[7] !== undefined) {
      try {
        const error = JSON.parse(m[7]);
        if (typeof error !== "string") throw new Error();
        entry.error = error;
      } catch {
        bad("error= is not a JSON string");
        continue;
      }
    }
    entries.push(entry);
  }
  return { entries, problems };
}

/** Parses the log; lines that are not entries are skipped (see {@link parseReloadLogChecked} for why). */
export function parseReloadLog(text: string): ReloadLogEntry[] {
  return parseReloadLogChecked(text).entries;
}

/** What the benchmark reports from a log. */
export interface ReloadLogSummary {
  reloads: number;
  failures: number;
  /** Sum of `total_ms`. */
  totalMs: number;
  /** Largest `window_ms`. */
  longestWindowMs: number;
}

/** Sums up a parsed log. */
export function summarizeReloadLog(entries: readonly ReloadLogEntry[]): ReloadLogSummary {
  return {
    reloads: entries.length,
    failures: entries.filter((e) => e.outcome === "failed").length,
    totalMs: entries.reduce((sum, e) => sum + e.totalMs, 0),
    longestWindowMs: entries.reduce((max, e) => Math.max(max, e.windowMs), 0),
  };
}

/** Whether the file at `path` is non-empty and its last byte is not a newline (a write cut short). */
function endsMidLine(path: string): boolean {
  try {
    const f = Deno.openSync(path, { read: true });
    try {
      const size = f.statSync().size;
      if (size === 0) return false;
      f.seekSync(size - 1, Deno.SeekMode.Start);
      const last = new Uint8Array(1);
      return f.readSync(last) === 1 && last[0] !== 0x0a;
    } finally {
      f.close();
    }
  } catch {
    return false;
  }
}

/**
 * Appends one entry (one write with O_APPEND). A line left unfinished by a killed writer is ended first, so it
 * spoils only itself. Failures are returned as a warning, not thrown.
 */
export function appendReloadLog(e: ReloadLogEntry, path = reloadLogPath()): string | undefined {
  try {
    const line = (endsMidLine(path) ? "\n" : "") + formatReloadLogLine(e);
    Deno.writeTextFileSync(path, line, { append: true, create: true, mode: 0o644 });
    return undefined;
  } catch (err) {
    return `could not append to ${path}: ${(err as Error).message}`;
  }
}
