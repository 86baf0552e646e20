/**
 * The text vmcore-dmesg prints for a log record, byte for byte as kexec-tools 2.0.25 prints it:
 * `[%5llu.%06llu] ` (seconds and microseconds, truncated, from a signed 64-bit division), the text with every byte
 * that is neither printable nor white space in the C locale written as `\xNN`, and one `\n`. No log level, no
 * caller id, no device info, no merging of continuation records: that version prints none of them.
 *
 * It also reproduces when kexec-tools hands the bytes on (its 4096-byte buffer is passed to write(2) once 4032
 * bytes are in it, inside a record's text, and at the end of each record or of the log): that decides what reaches
 * stdout before a corrupt structured log_buf makes it stop.
 *
 * @module
 */

/** One record of the kernel log. */
export interface LogRecord {
  /** `ts_nsec`: nanoseconds since boot (local clock). */
  tsNsec: bigint;
  /** The text bytes kexec-tools prints for the record (already cut to what it reads). */
  text: Uint8Array;
}

const NS_PER_S = 1_000_000_000n;
const NS_PER_US = 1000n;

/** `[    1.234567] `: imaxdiv on the signed value, both quotients printed as unsigned 64-bit numbers. */
export function formatTimestamp(tsNsec: bigint): string {
  const s = BigInt.asIntN(64, tsNsec);
  const sec = BigInt.asUintN(64, s / NS_PER_S);
  const usec = BigInt.asUintN(64, (s % NS_PER_S) / NS_PER_US);
  return `[${sec.toString().padStart(5, " ")}.${usec.toString().padStart(6, "0")}] `;
}

/** isprint() || isspace() in the C locale: 0x20-0x7e and \t \n \v \f \r. */
export function printsRaw(c: number): boolean {
  return (c >= 0x20 && c <= 0x7e) || (c >= 0x09 && c <= 0x0d);
}

const HEX = "0123456789abcdef";
/** kexec-tools passes its buffer on once this many bytes are in it. */
const FLUSH_AT = 4096 - 64;

/** Collects printed records and hands bytes to `commit` where kexec-tools calls write(2). */
export interface DmesgPrinter {
  /** Prints one record (and, per record mode, hands it on). */
  record(rec: LogRecord): void;
  /** Hands on what is pending (the end of the log, or before a corrupt-log message). */
  flush(): void;
}

/**
 * A printer. `perRecord`: hand on at the end of every record (the lockless ring buffer's dump_record); otherwise
 * keep one buffer across records (the structured log_buf's loop).
 */
export function dmesgPrinter(commit: (bytes: Uint8Array) => void, perRecord: boolean): DmesgPrinter {
  let buf = new Uint8Array(8192);
  let len = 0;
  const room = (n: number) => {
    if (len + n <= buf.length) return;
    const bigger = new Uint8Array(Math.max(buf.length * 2, len + n));
    bigger.set(buf.subarray(0, len));
    buf = bigger;
  };
  const flush = () => {
    if (len === 0) return;
    commit(buf.slice(0, len));
    len = 0;
  };
  const ascii = (s: string) => {
    room(s.length);
    for (let i = 0; i < s.length; i++) buf[len++] = s.charCodeAt(i);
  };
  return {
    record(rec: LogRecord) {
      ascii(formatTimestamp(rec.tsNsec));
      for (const c of rec.text) {
        if (printsRaw(c)) {
          room(1);
          buf[len++] = c;
        } else {
          ascii(`\\x${HEX[c >> 4]}${HEX[c & 15]}`);
        }
        if (len >= FLUSH_AT) flush();
      }
      room(1);
      buf[len++] = 0x0a;
      if (perRecord) flush();
    },
    flush,
  };
}
