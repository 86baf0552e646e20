/**
 * Synthetic logs of older kernels: the structured log_buf of Linux 3.5-5.9 (struct printk_log records appended as
 * log_store() did, dropping the oldest records when full, with a zeroed header marking each wrap), and the legacy
 * character buffer of Linux before 3.5.
 *
 * @module
 */

import type { Arch, CoreImage } from "./core_builder.ts";
import {
  type CoreExtras,
  kernelSpace,
  place,
  pointerVar,
  spaceCore,
  struct,
  symbolLine,
  u32Var,
} from "./kernel_space.ts";

/** One structured record. */
export interface LogRecordSpec {
  tsNsec: bigint;
  text: string | Uint8Array;
  /** Dictionary bytes after the text (not printed). */
  dict?: string;
}

/** A structured log buffer. */
export interface StructuredSpec {
  arch: Arch;
  logBufLen: number;
  records: LogRecordSpec[];
  /** 3.5-3.10 named the struct `log` (`SIZE(log)`, `OFFSET(log.*)`). */
  oldNames?: boolean;
  /** Where the first record goes (log_next_idx before any record). */
  startIdx?: number;
  release?: string;
  omit?: string[];
  /** Override the indexes the kernel variables hold (corruption). */
  override?: { firstIdx?: number; nextIdx?: number; logBufLen?: number };
  /** Write these bytes into the buffer at an index after the records (corruption). */
  poke?: { idx: number; bytes: Uint8Array }[];
  extras?: Partial<CoreExtras>;
}

/** struct printk_log (16 bytes, LOG_ALIGN 8): ts_nsec, len, text_len, dict_len, facility, flags:5/level:3. */
const HDR = { size: 16, ts: 0, len: 8, textLen: 10, dictLen: 12, facility: 14, flagsLevel: 15 } as const;
const LOG_ALIGN = 8;

/** Builds a structured log_buf and its core. */
export function structuredCore(spec: StructuredSpec): CoreImage {
  const space = kernelSpace(spec.arch);
  const len = spec.logBufLen;
  const buf = struct(space, len);
  const enc = new TextEncoder();
  let first = spec.startIdx ?? 0, next = first;
  let count = 0; // records between first and next
  const dv = new DataView(buf.buf.buffer);
  const u16At = (idx: number) => dv.getUint16(idx + HDR.len, spec.arch.littleEndian);
  const logNext = (idx: number) => (u16At(idx) === 0 ? u16At(0) : idx + u16At(idx));
  const hasSpace = (size: number) => {
    const free = next > first || count === 0 ? Math.max(len - next, first) : first - next;
    return free >= size + HDR.size;
  };
  for (const r of spec.records) {
    const text = typeof r.text === "string" ? enc.encode(r.text) : r.text;
    const dict = enc.encode(r.dict ?? "");
    const size = Math.ceil((HDR.size + text.length + dict.length) / LOG_ALIGN) * LOG_ALIGN;
    while (count > 0 && !hasSpace(size)) {
      first = logNext(first);
      count--;
    }
    if (next + size + HDR.size > len) {
      buf.buf.fill(0, next, next + HDR.size); // the wrap marker
      next = 0;
    }
    buf.w.u64(next + HDR.ts, r.tsNsec);
    buf.w.u16(next + HDR.len, size);
    buf.w.u16(next + HDR.textLen, text.length);
    buf.w.u16(next + HDR.dictLen, dict.length);
    buf.w.u8(next + HDR.flagsLevel, 6 << 5);
    buf.buf.set(text, next + HDR.size);
    buf.buf.set(dict, next + HDR.size + text.length);
    next += size;
    count++;
  }
  for (const p of spec.poke ?? []) buf.buf.set(p.bytes, p.idx);
  const o = spec.override ?? {};
  const bufAt = place(space.ram, buf.buf);
  const logBuf = pointerVar(space, bufAt);
  const logBufLen = u32Var(space, o.logBufLen ?? len);
  const firstIdx = u32Var(space, o.firstIdx ?? first);
  const nextIdx = u32Var(space, o.nextIdx ?? next);
  const clearIdx = u32Var(space, 0);
  const st = spec.oldNames ? "log" : "printk_log";
  const lines = [
    `OSRELEASE=${spec.release ?? "5.4.0-synthetic"}`,
    "PAGESIZE=4096",
    symbolLine("log_buf", logBuf),
    symbolLine("log_buf_len", logBufLen),
    symbolLine("log_first_idx", firstIdx),
    symbolLine("clear_idx", clearIdx),
    symbolLine("log_next_idx", nextIdx),
    `SIZE(${st})=${HDR.size}`,
    `OFFSET(${st}.ts_nsec)=${HDR.ts}`,
    `OFFSET(${st}.len)=${HDR.len}`,
    `OFFSET(${st}.text_len)=${HDR.textLen}`,
    `OFFSET(${st}.dict_len)=${HDR.dictLen}`,
    "CRASHTIME=1600000000",
  ].filter((l) => !(spec.omit ?? []).includes(l.slice(0, l.indexOf("="))));
  // Kernels of this age appended CRASHTIME without a final newline.
  return spaceCore(space, { vmcoreinfo: lines, noFinalNewline: true, ...spec.extras });
}

/** A legacy character log buffer. */
export interface LegacySpec {
  arch: Arch;
  /** The buffer's bytes (its length is log_buf_len). */
  buffer: Uint8Array;
  /** Total characters ever logged (log_end). */
  logEnd: number;
  omit?: string[];
  override?: { logBufLen?: number };
  extras?: Partial<CoreExtras>;
}

/** Builds a legacy log_buf and its core. */
export function legacyCore(spec: LegacySpec): CoreImage {
  const space = kernelSpace(spec.arch);
  const bufAt = place(space.ram, spec.buffer);
  const lines = [
    "OSRELEASE=2.6.32-synthetic",
    symbolLine("log_buf", pointerVar(space, bufAt)),
    symbolLine("log_end", u32Var(space, spec.logEnd)),
    symbolLine("log_buf_len", u32Var(space, spec.override?.logBufLen ?? spec.buffer.length)),
    symbolLine("logged_chars", u32Var(space, Math.min(spec.logEnd, spec.buffer.length))),
  ].filter((l) => !(spec.omit ?? []).includes(l.slice(0, l.indexOf("="))));
  return spaceCore(space, { vmcoreinfo: lines, ...spec.extras });
}
