/**
 * VMCOREINFO as kexec-tools reads it: C strtoull numbers, its line splitting, prefix matching and last-wins; and
 * the timestamp vmcore-dmesg prints.
 */

import assert from "node:assert/strict";
import { formatTimestamp, printsRaw } from "../../../lib/vmcore/format.ts";
import {
  dmesgKeys,
  entryNumber,
  strtoull,
  vmcoreinfoEntries,
  vmcoreinfoLines,
} from "../../../lib/vmcore/vmcoreinfo.ts";

const b = (s: string) => new TextEncoder().encode(s);
const dec = (u: Uint8Array) => new TextDecoder().decode(u);

Deno.test("strtoull: whitespace, sign, 0x prefix, stop at the first non-digit, saturation, no digits", () => {
  const cases: [string, 10 | 16, bigint, number][] = [
    ["ffffffff81000000", 16, 0xffffffff81000000n, 16],
    ["0xffff", 16, 0xffffn, 6],
    ["0X1f", 16, 0x1fn, 4],
    ["0xg", 16, 0n, 1], // "0" parsed, stops at x
    ["  \t42", 10, 42n, 5],
    ["+7", 10, 7n, 2],
    ["-1", 10, (1n << 64n) - 1n, 2],
    ["12abc", 10, 12n, 2],
    ["abc", 10, 0n, 0],
    ["", 16, 0n, 0],
    ["99999999999999999999999", 10, (1n << 64n) - 1n, 23],
    ["1f\u0000ff", 16, 0x1fn, 2],
  ];
  for (const [text, base, value, end] of cases) {
    assert.deepEqual(strtoull(b(text), 0, base), { value, end }, JSON.stringify(text));
  }
});

Deno.test("lines: split on \\n, a last line without \\n kept (at most 1023 bytes), no empty line after a final \\n", () => {
  assert.deepEqual(vmcoreinfoLines(b("A=1\nB=2\n")).map(dec), ["A=1", "B=2"]);
  assert.deepEqual(vmcoreinfoLines(b("A=1\nCRASHTIME=5")).map(dec), ["A=1", "CRASHTIME=5"]);
  assert.deepEqual(vmcoreinfoLines(b("\n\nX=1")).map(dec), ["", "", "X=1"]);
  assert.equal(vmcoreinfoLines(b("Y=" + "9".repeat(2000)))[0].length, 1023);
});

Deno.test("dmesg keys: prefixes at line start, last value wins across notes, offsets of printk_log truncated to 16 bits", () => {
  const k = dmesgKeys([
    b("SYMBOL(prb)=ffffffff82000000\nXSYMBOL(log_buf)=1\nOFFSET(printk_log.len)=65544\n"),
    b("SYMBOL(prb)=ffffffff83000000\nSIZE(log)=16\nOFFSET(log.ts_nsec)=0\nSIZE(prb_desc)=24"),
  ]);
  assert.equal(k.symbols.prb, 0xffffffff83000000n);
  assert.equal(k.symbols.log_buf, 0n);
  assert.equal(k.logLenOffset, 8);
  assert.equal(k.logSize, 16n);
  assert.equal(k.logTsOffset, 0n);
  assert.equal(k.logTextLenOffset, 0xffff);
  assert.equal(k.lockless.get("SIZE(prb_desc)"), 24n);
  assert.equal(k.lockless.has("SIZE(printk_info)"), false);
});

Deno.test("dmesg keys: NUMBER(PHYS_OFFSET) in decimal or 0x hex is fine; anything else ends that note", () => {
  const warnings: string[] = [];
  const k = dmesgKeys([b("NUMBER(PHYS_OFFSET)=0x80000000\nSYMBOL(prb)=1\n")], (w) => warnings.push(w));
  assert.equal(k.symbols.prb, 1n);
  assert.equal(warnings.length, 0);
  const k2 = dmesgKeys(
    [b("NUMBER(PHYS_OFFSET)=12q\nSYMBOL(prb)=1\n"), b("SYMBOL(log_buf)=2\n")],
    (w) => warnings.push(w),
  );
  assert.equal(k2.symbols.prb, 0n);
  assert.equal(k2.symbols.log_buf, 2n);
  assert.equal(warnings.length, 1);
  const k3 = dmesgKeys([b("NUMBER(PHYS_OFFSET)=9223372036854775807\nSYMBOL(prb)=1\n")], () => {});
  assert.equal(k3.symbols.prb, 0n, "LONG_MAX is refused too");
});

Deno.test("entries for the summary: last value wins, SYMBOL values hex, NUMBER signed decimal or 0x", () => {
  const e = vmcoreinfoEntries([
    b("OSRELEASE=6.12.1\nSYMBOL(x)=ff\nNUMBER(a)=-3\nNUMBER(VMALLOC_START)=0xffffc9\n"),
    b("OSRELEASE=6.12.2"),
  ]);
  assert.equal(e.get("OSRELEASE"), "6.12.2");
  assert.equal(entryNumber(e, "SYMBOL(x)"), 255n);
  assert.equal(entryNumber(e, "NUMBER(a)"), -3n);
  assert.equal(entryNumber(e, "NUMBER(VMALLOC_START)"), 0xffffc9n);
  assert.equal(entryNumber(e, "absent"), undefined);
});

Deno.test("timestamps: truncated, width 5 never cut, signed division printed unsigned", () => {
  assert.equal(formatTimestamp(0n), "[    0.000000] ");
  assert.equal(formatTimestamp(1_234_567_891n), "[    1.234567] ");
  assert.equal(formatTimestamp(123_456_000_001_999n), "[123456.000001] ");
  assert.equal(formatTimestamp((1n << 64n) - 1_500_000_000n), "[18446744073709551615.18446744073709051616] ");
  assert.deepEqual([0x08, 0x09, 0x0d, 0x0e, 0x1f, 0x20, 0x7e, 0x7f, 0x80].map(printsRaw), [
    false,
    true,
    true,
    false,
    false,
    true,
    true,
    false,
    false,
  ]);
});
