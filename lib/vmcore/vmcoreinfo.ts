/**
 * VMCOREINFO: the `KEY=VALUE` lines the crashed kernel wrote about itself (kernel/vmcore_info.c: `OSRELEASE=`,
 * `SYMBOL(name)=` bare hex addresses, `SIZE(struct)=`, `OFFSET(struct.field)=`, `LENGTH(array)=` decimal,
 * `NUMBER(name)=` signed decimal, and `CRASHTIME=` appended at the crash).
 *
 * Two readings of the same text:
 *  - {@link dmesgKeys}: exactly what kexec-tools 2.0.25's vmcore-dmesg takes from it (line splitting, prefix
 *    matching, C `strtoull` numbers, last value wins, and its quirk of abandoning a note after an invalid
 *    `NUMBER(PHYS_OFFSET)=`), so both choose the same log format and the same addresses;
 *  - {@link vmcoreinfoEntries}: every key with its last value, for the summary.
 *
 * @module
 */

/** The symbols vmcore-dmesg reads, by the name in `SYMBOL(name)=`. */
export const DMESG_SYMBOLS = [
  "prb",
  "log_buf",
  "log_end",
  "log_buf_len",
  "logged_chars",
  "log_first_idx",
  "log_next_idx",
] as const;
/** One of {@link DMESG_SYMBOLS}. */
export type DmesgSymbol = typeof DMESG_SYMBOLS[number];

/** The sizes and offsets the lockless ring buffer (Linux 5.10+) is read with; each must be present. */
export const LOCKLESS_KEYS = [
  "SIZE(printk_ringbuffer)",
  "SIZE(prb_desc)",
  "SIZE(printk_info)",
  "OFFSET(printk_ringbuffer.desc_ring)",
  "OFFSET(printk_ringbuffer.text_data_ring)",
  "OFFSET(prb_desc_ring.count_bits)",
  "OFFSET(prb_desc_ring.descs)",
  "OFFSET(prb_desc_ring.infos)",
  "OFFSET(prb_data_ring.size_bits)",
  "OFFSET(prb_data_ring.data)",
  "OFFSET(prb_desc_ring.head_id)",
  "OFFSET(prb_desc_ring.tail_id)",
  "OFFSET(atomic_long_t.counter)",
  "OFFSET(prb_desc.state_var)",
  "OFFSET(prb_desc.text_blk_lpos)",
  "OFFSET(prb_data_blk_lpos.begin)",
  "OFFSET(prb_data_blk_lpos.next)",
  "OFFSET(printk_info.ts_nsec)",
  "OFFSET(printk_info.text_len)",
] as const;
/** One of {@link LOCKLESS_KEYS}. */
export type LocklessKey = typeof LOCKLESS_KEYS[number];

/** What vmcore-dmesg takes from VMCOREINFO. Absent symbols are 0, as in kexec-tools (its format choice tests for 0). */
export interface DmesgKeys {
  symbols: Record<DmesgSymbol, bigint>;
  /** The lockless ring buffer's sizes and offsets that were present. */
  lockless: Map<LocklessKey, bigint>;
  /** `SIZE(printk_log)` (3.11-5.9) or `SIZE(log)` (3.5-3.10); 0 when absent. */
  logSize: bigint;
  /** `OFFSET(printk_log.ts_nsec)`; 2^64-1 when absent (kexec-tools' "missing" value). */
  logTsOffset: bigint;
  /** `OFFSET(printk_log.len)`, truncated to 16 bits; 0xffff when absent. */
  logLenOffset: number;
  /** `OFFSET(printk_log.text_len)`, truncated to 16 bits; 0xffff when absent. */
  logTextLenOffset: number;
}

const U64_MAX = (1n << 64n) - 1n;
const LONG_MAX = (1n << 63n) - 1n;
/** kexec-tools copies a last line without `\n` into a 1024-byte buffer. */
const LAST_LINE_MAX = 1023;
const NL = 0x0a;

/** The lines of one note's text, split as kexec-tools splits them (without their `\n`). */
export function vmcoreinfoLines(desc: Uint8Array): Uint8Array[] {
  const lines: Uint8Array[] = [];
  for (let pos = 0; pos < desc.length;) {
    const eol = desc.indexOf(NL, pos);
    if (eol < 0) {
      // A last line without '\n' (CRASHTIME in old kernels): kept, at most 1023 bytes.
      lines.push(desc.subarray(pos, Math.min(desc.length, pos + LAST_LINE_MAX)));
      break;
    }
    lines.push(desc.subarray(pos, eol));
    pos = eol + 1;
  }
  return lines;
}

const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return 99;
}

/** A C `strtoull` over bytes (stopping at a NUL or the end): the value and the index where parsing stopped. */
export function strtoull(bytes: Uint8Array, start: number, base: 10 | 16): { value: bigint; end: number } {
  const at = (i: number) => (i < bytes.length ? bytes[i] : 0);
  let i = start;
  while (isSpace(at(i))) i++;
  let negative = false;
  if (at(i) === 0x2b || at(i) === 0x2d) negative = at(i++) === 0x2d;
  if (base === 16 && at(i) === 0x30 && (at(i + 1) | 0x20) === 0x78 && digitValue(at(i + 2)) < 16) i += 2;
  const first = i;
  let value = 0n;
  let overflow = false;
  for (let d = digitValue(at(i)); d < base; d = digitValue(at(++i))) {
    value = value * BigInt(base) + BigInt(d);
    if (value > U64_MAX) overflow = true;
  }
  if (i === first) return { value: 0n, end: start }; // no digits: endptr is the string itself
  if (overflow) return { value: U64_MAX, end: i };
  return { value: negative ? BigInt.asUintN(64, -value) : value, end: i };
}

function startsWith(line: Uint8Array, prefix: Uint8Array): boolean {
  return line.length >= prefix.length && prefix.every((b, i) => line[i] === b);
}

const enc = new TextEncoder();
const SYMBOL_PREFIXES = DMESG_SYMBOLS.map((s) => [s, enc.encode(`SYMBOL(${s})=`)] as const);
const LOCKLESS_PREFIXES = LOCKLESS_KEYS.map((k) => [k, enc.encode(`${k}=`)] as const);
const STRUCTURED_PREFIXES = [
  ["size", "SIZE(log)="],
  ["size", "SIZE(printk_log)="],
  ["ts", "OFFSET(log.ts_nsec)="],
  ["ts", "OFFSET(printk_log.ts_nsec)="],
  ["len", "OFFSET(log.len)="],
  ["len", "OFFSET(printk_log.len)="],
  ["textLen", "OFFSET(log.text_len)="],
  ["textLen", "OFFSET(printk_log.text_len)="],
].map(([slot, key]) => [slot, enc.encode(key)] as const);
const PHYS_OFFSET = enc.encode("NUMBER(PHYS_OFFSET)=");

/** Whether the text from `i` on (up to a NUL) is empty: C's `strlen(endp) == 0`. */
const restEmpty = (line: Uint8Array, i: number) => i >= line.length || line[i] === 0;

/**
 * What kexec-tools 2.0.25's vmcore-dmesg takes from the VMCOREINFO notes, in order. `warn` gets kexec-tools'
 * non-fatal complaint: an invalid `NUMBER(PHYS_OFFSET)=` makes it ignore the rest of that note, and so do we.
 */
export function dmesgKeys(descs: readonly Uint8Array[], warn: (message: string) => void = () => {}): DmesgKeys {
  const keys: DmesgKeys = {
    symbols: Object.fromEntries(DMESG_SYMBOLS.map((s) => [s, 0n])) as Record<DmesgSymbol, bigint>,
    lockless: new Map(),
    logSize: 0n,
    logTsOffset: U64_MAX,
    logLenOffset: 0xffff,
    logTextLenOffset: 0xffff,
  };
  for (const desc of descs) {
    for (const line of vmcoreinfoLines(desc)) {
      for (const [sym, p] of SYMBOL_PREFIXES) {
        if (startsWith(line, p)) keys.symbols[sym] = strtoull(line, p.length, 16).value;
      }
      for (const [key, p] of LOCKLESS_PREFIXES) {
        if (startsWith(line, p)) keys.lockless.set(key, strtoull(line, p.length, 10).value);
      }
      for (const [slot, p] of STRUCTURED_PREFIXES) {
        if (!startsWith(line, p)) continue;
        const v = strtoull(line, p.length, 10).value;
        if (slot === "size") keys.logSize = v;
        else if (slot === "ts") keys.logTsOffset = v;
        else if (slot === "len") keys.logLenOffset = Number(v & 0xffffn);
        else keys.logTextLenOffset = Number(v & 0xffffn);
      }
      if (startsWith(line, PHYS_OFFSET)) {
        let r = strtoull(line, PHYS_OFFSET.length, 10);
        if (!restEmpty(line, r.end)) r = strtoull(line, PHYS_OFFSET.length, 16);
        if (r.value === LONG_MAX || !restEmpty(line, r.end)) {
          warn(
            `VMCOREINFO line "${new TextDecoder().decode(line)}" is invalid; ` +
              "the rest of that note is ignored (as kexec-tools does)",
          );
          break;
        }
      }
    }
  }
  return keys;
}

/** Every `KEY=VALUE` line of the VMCOREINFO notes, the last value of each key winning. */
export function vmcoreinfoEntries(descs: readonly Uint8Array[]): Map<string, string> {
  const out = new Map<string, string>();
  const dec = new TextDecoder();
  for (const desc of descs) {
    for (const raw of vmcoreinfoLines(desc)) {
      const nul = raw.indexOf(0);
      const line = dec.decode(nul < 0 ? raw : raw.subarray(0, nul));
      const eq = line.indexOf("=");
      if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
    }
  }
  return out;
}

/** A VMCOREINFO number: `SYMBOL(...)` values are bare hex, the rest decimal (or `0x` hex); undefined if absent. */
export function entryNumber(entries: Map<string, string>, key: string): bigint | undefined {
  const v = entries.get(key)?.trim();
  if (v === undefined) return undefined;
  if (key.startsWith("SYMBOL(") || key === "KERNELOFFSET") return /^[0-9a-f]+$/i.test(v) ? BigInt("0x" + v) : undefined;
  if (/^0x[0-9a-f]+$/i.test(v)) return BigInt(v);
  return /^-?[0-9]+$/.test(v) ? BigInt(v) : undefined;
}
