/**
 * Why the kernel crashed, from its log: VMCOREINFO has no panic string, so it is read from the records.
 *
 * panic() logs `Kernel panic - not syncing: <message>` (one trailing newline of the message dropped) before it
 * starts the crash kernel, so the last such line is the message (sysrq-c gives "sysrq triggered crash", a dying
 * init "Attempted to kill init! exitcode=0x..."). An oops with panic_on_oops, or in interrupt context, starts the
 * crash kernel from oops_end() before any panic(): then the log ends with the oops report, and the last line
 * starting `Oops:`, `BUG:`, `general protection fault`, `kernel BUG at` or `Unable to handle kernel` is taken.
 *
 * @module
 */

import type { LogRecord } from "./format.ts";

/** The crash's cause as the log states it. */
export interface PanicReport {
  /** `panic`: a panic() message; `oops`: the last oops/BUG line (the crash came from oops_end()). */
  kind: "panic" | "oops";
  /** The panic() message, or the whole oops line. */
  message: string;
  /** The record's timestamp, nanoseconds since boot (undefined for the legacy text log). */
  tsNsec?: bigint;
}

const PANIC = "Kernel panic - not syncing: ";
const OOPS = /(?:^|\] )(Oops: |BUG: |general protection fault|kernel BUG at |Unable to handle kernel )/;

/** Lines with their record's timestamp. */
interface Line {
  text: string;
  tsNsec?: bigint;
}

/** The lines of a log, from its records (a record may hold several lines) or from the legacy text. */
export function logLines(log: readonly LogRecord[] | Uint8Array): Line[] {
  const dec = new TextDecoder();
  if (log instanceof Uint8Array) return dec.decode(log).split("\n").map((text) => ({ text }));
  return log.flatMap((r) => dec.decode(r.text).split("\n").map((text) => ({ text, tsNsec: r.tsNsec })));
}

/** The panic message, else the last oops line; undefined when the log has neither. */
export function findPanic(lines: readonly Line[]): PanicReport | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const { text, tsNsec } = lines[i];
    const at = text.indexOf(PANIC);
    // panic()'s last line, "---[ end Kernel panic - not syncing: ... ]---", comes only when no crash kernel ran.
    if (at >= 0 && !text.includes("---[ end Kernel panic")) {
      return { kind: "panic", message: text.slice(at + PANIC.length), tsNsec };
    }
  }
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = OOPS.exec(lines[i].text);
    if (m) return { kind: "oops", message: lines[i].text.slice(m.index).replace(/^\] /, ""), tsNsec: lines[i].tsNsec };
  }
  return undefined;
}
