/**
 * The kernel log before the lockless ring buffer, read as kexec-tools 2.0.25's vmcore-dmesg reads it:
 *
 *  - structured log_buf (Linux 3.5 to 5.9): `struct printk_log` records (`SIZE(printk_log)`, `SIZE(log)` before
 *    3.11) from `log_first_idx` to `log_next_idx`, each a header, `text_len` bytes of text, a dictionary and padding,
 *    `len` bytes in all; a header with `len == 0` marks the wrap to index 0 (and is itself printed: an empty line);
 *  - the legacy character buffer (before 3.5): the last `min(log_end, log_buf_len)` bytes up to `log_end`, raw.
 *
 * Records are read one at a time at file offsets counted from the start of the buffer, as kexec-tools does.
 *
 * @module
 */

import { hex } from "../errors.ts";
import type { LogRecord } from "./format.ts";
import { coreFail, MAX_READ_BYTES, readExact } from "./source.ts";
import type { KernelMemory } from "./translate.ts";
import type { DmesgKeys } from "./vmcoreinfo.ts";

const U64_MAX = (1n << 64n) - 1n;

/**
 * The records of a structured log_buf, yielded one by one: the record that wraps a second time, or steps outside
 * the buffer, is yielded before the error (kexec-tools prints it, then stops).
 * @throws KexecError with kexec-tools' exit statuses: 60-67 missing symbols and exports, 30/40/41 translation and
 *   reads, 64/65 records, 68 a second wrap, 69 an index outside log_buf; 70 for offsets outside the record header,
 *   71 for a walk that never reaches log_next_idx
 */
export function* structuredRecords(mem: KernelMemory, keys: DmesgKeys): Generator<LogRecord> {
  const s = keys.symbols;
  if (!s.log_buf) coreFail(60, "VMCOREINFO lacks SYMBOL(log_buf): cannot find the structured log buffer");
  if (!s.log_buf_len) coreFail(61, "VMCOREINFO lacks SYMBOL(log_buf_len): cannot size the structured log buffer");
  if (!s.log_first_idx) coreFail(62, "VMCOREINFO lacks SYMBOL(log_first_idx)");
  if (!s.log_next_idx) coreFail(63, "VMCOREINFO lacks SYMBOL(log_next_idx)");
  if (!keys.logSize) coreFail(64, "VMCOREINFO lacks SIZE(printk_log) (or SIZE(log)): the record header's size");
  if (keys.logTsOffset === U64_MAX) coreFail(65, "VMCOREINFO lacks OFFSET(printk_log.ts_nsec)");
  if (keys.logLenOffset === 0xffff) coreFail(66, "VMCOREINFO lacks OFFSET(printk_log.len)");
  if (keys.logTextLenOffset === 0xffff) coreFail(67, "VMCOREINFO lacks OFFSET(printk_log.text_len)");
  const hdrSize = keys.logSize;
  for (
    const [what, end] of [
      ["ts_nsec", keys.logTsOffset + 8n],
      ["len", BigInt(keys.logLenOffset) + 2n],
      ["text_len", BigInt(keys.logTextLenOffset) + 2n],
    ] as const
  ) {
    if (end > hdrSize) {
      coreFail(70, `VMCOREINFO is inconsistent: printk_log.${what} ends past SIZE(printk_log)=${hdrSize}`);
    }
  }

  const f = mem.elf.fields;
  const logBuf = mem.readPointer(s.log_buf, "the log_buf pointer (SYMBOL(log_buf))");
  const logBufLen = mem.readU32(s.log_buf_len, "log_buf_len");
  const first = mem.readU32(s.log_first_idx, "log_first_idx");
  const next = mem.readU32(s.log_next_idx, "log_next_idx");
  const base = mem.offsetOf(logBuf, "the log buffer");
  const limit = BigInt.asUintN(64, BigInt(logBufLen) - hdrSize);
  const corrupt = (exitCode: number, why: string, idx: number): never =>
    coreFail(exitCode, `the log buffer at ${hex(logBuf)} is corrupt: ${why} (index ${hex(idx)})`);

  let idx = first;
  let wrapped = false;
  // Between wraps the index only grows, so a sound buffer needs at most log_buf_len records per pass.
  const maxRecords = 2 * Math.max(logBufLen, 1) + 2;
  for (let n = 0; idx !== next; n++) {
    if (n > maxRecords) corrupt(71, "the records never reach log_next_idx", idx);
    const hdr = readExact(mem.src, base + BigInt(idx), hdrSize, `the log record header at index ${hex(idx)}`, 65);
    const textLen = f.u16(hdr, keys.logTextLenOffset);
    const text = readExact(mem.src, base + BigInt(idx) + hdrSize, textLen, `the text at index ${hex(idx)}`, 65);
    yield { tsNsec: f.u64(hdr, Number(keys.logTsOffset)), text };
    const len = f.u16(hdr, keys.logLenOffset);
    if (len === 0) {
      if (wrapped) corrupt(68, "it wraps a second time", idx);
      idx = 0;
      wrapped = true;
    } else {
      idx = (idx + len) >>> 0;
      if (BigInt(idx) > limit) corrupt(69, "a record lies outside log_buf", idx);
    }
  }
}

/**
 * The legacy character log (before 3.5): the bytes kexec-tools writes, raw.
 * @throws KexecError with kexec-tools' exit statuses: 50-53 missing symbols, 30/40/41 reads, 51 an impossible
 *   log_buf_len, 52/53 the two halves of the buffer
 */
export function legacyLog(mem: KernelMemory, keys: DmesgKeys, hasVmcoreinfo: boolean): Uint8Array {
  const s = keys.symbols;
  if (!s.log_buf) {
    coreFail(
      50,
      hasVmcoreinfo
        ? "VMCOREINFO has none of SYMBOL(prb), SYMBOL(log_first_idx), SYMBOL(log_buf): no kernel log to read"
        : `${mem.src.name} has no VMCOREINFO note: not a kernel crash dump (or its kernel lacks CONFIG_VMCORE_INFO)`,
    );
  }
  if (!s.log_end) coreFail(51, "VMCOREINFO lacks SYMBOL(log_end): cannot read the legacy log buffer");
  if (!s.log_buf_len) coreFail(52, "VMCOREINFO lacks SYMBOL(log_buf_len): cannot size the legacy log buffer");
  if (!s.logged_chars) coreFail(53, "VMCOREINFO lacks SYMBOL(logged_chars)");
  const logBuf = mem.readPointer(s.log_buf, "the log_buf pointer (SYMBOL(log_buf))");
  const logEnd = mem.readU32(s.log_end, "log_end");
  const lenSigned = mem.readU32(s.log_buf_len, "log_buf_len") | 0;
  mem.readU32(s.logged_chars, "logged_chars"); // read as kexec-tools does (it must be mapped), then recomputed
  const base = mem.offsetOf(logBuf, "the log buffer");
  if (lenSigned <= 0) coreFail(51, `log_buf_len is ${lenSigned}: the dump is corrupt`);
  const len = lenSigned;
  if (len > MAX_READ_BYTES) {
    coreFail(51, `log_buf_len is ${len} bytes, more than any kernel's log: the dump is corrupt`);
  }
  const wrapAt = logEnd % len;
  const toWrap = len - wrapAt;
  const buf = new Uint8Array(len);
  buf.set(readExact(mem.src, base + BigInt(wrapAt), toWrap, "the log buffer (from log_end to its end)", 52));
  buf.set(readExact(mem.src, base, wrapAt, "the log buffer (from its start to log_end)", 53), toWrap);
  const logged = logEnd < len ? logEnd : len;
  return buf.subarray(len - logged);
}
