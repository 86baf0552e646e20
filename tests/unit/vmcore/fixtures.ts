/**
 * The named synthetic dumps the vmcore-dmesg tests compare with kexec-tools' vmcore-dmesg: every log format, byte
 * order and pointer width, the printing corner cases, and corrupt or truncated dumps. `peer: false` marks the
 * cases kexec-tools does not detect (it would print garbage or loop forever): for those kexec-ts' own exit status
 * is the expectation and kexec-tools is not run.
 *
 * `deno run -A tests/unit/vmcore/update_goldens.ts` writes each fixture's golden output from the real binary.
 *
 * @module
 */

import { type Arch, buildCore, type CoreImage, I386, S390X, X86_64 } from "./core_builder.ts";
import { legacyCore, structuredCore } from "./log_buf_builder.ts";
import { INFO_6_12, ringCore, type RingRecord } from "./ring_builder.ts";

/** A fixture: how to build it and what it is for. */
export interface Fixture {
  name: string;
  build: () => CoreImage;
  /** false: kexec-tools misbehaves on it; `rc` is kexec-ts' expected exit status. */
  peer?: false;
  rc?: number;
}

const enc = new TextEncoder();
const bytes = (...parts: (string | number[])[]) =>
  new Uint8Array(parts.flatMap((p) => typeof p === "string" ? [...enc.encode(p)] : p));

/** Records that exercise every printing rule. */
export const CORNER_RECORDS: RingRecord[] = [
  { tsNsec: 0n, text: "Linux version 6.12.0-synthetic (kexec-ts tests) #1 SMP PREEMPT_DYNAMIC" },
  { tsNsec: 1_234_567_891n, text: "truncated, not rounded: 1.234567891 s" },
  { tsNsec: 123_456_000_001_999n, text: "more than five digits of seconds" },
  { tsNsec: 5n, text: bytes("ctl:\t|\x1b[0m|\x7f|", [0x80, 0xff], "|\r|\x0b|\x0c|end\nsecond line") },
  { tsNsec: 6n, text: bytes("utf-8: caf", [0xc3, 0xa9], " ", [0xe2, 0x9c, 0x93]) },
  { tsNsec: 7n, dataless: "failed" },
  { tsNsec: 8n, dataless: "empty" },
  { tsNsec: 9n, text: "reserved: never printed", state: 0 },
  { tsNsec: 10n, text: "reusable: never printed", state: 3 },
  { tsNsec: 11n, text: "committed, not finalized: printed", state: 1 },
  { tsNsec: 12n, text: "id mismatch: never printed", idMismatch: true },
  { tsNsec: 13n, text: "text_len past the block", textLen: 300 },
  { tsNsec: 14n, text: bytes("nul", [0], "inside") },
  { tsNsec: 15n, text: "" },
  { tsNsec: (1n << 64n) - 1_500_000_000n, text: "ts_nsec >= 2^63 prints through a signed division" },
  { tsNsec: 16_000_000_000n, text: "Kernel panic - not syncing: sysrq triggered crash" },
];

/** Many records: both rings wrap, old data becomes reusable, the descriptor tail moves. */
export function manyRecords(n: number, seed = 1): RingRecord[] {
  let x = seed;
  const rnd = () => (x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32;
  return Array.from({ length: n }, (_, i) => ({
    tsNsec: BigInt(i) * 1_000_003_117n + BigInt(Math.floor(rnd() * 1e6)),
    text: `record ${i}: ${"abcdefghij".repeat(Math.floor(rnd() * 12))}`,
  }));
}

const ring = (arch: Arch, extra: Partial<Parameters<typeof ringCore>[0]> = {}) => () =>
  ringCore({ arch, countBits: 5, sizeBits: 12, records: CORNER_RECORDS, ...extra });

const ELF64_I386: Arch = { elfClass: 64, littleEndian: true, pointerBytes: 4, machine: 3 };
const STRUCTURED = [
  { tsNsec: 0n, text: "first" },
  { tsNsec: 1_500_000_000n, text: bytes("second ", [1], " ctl"), dict: "SUBSYSTEM=pci\0DEVICE=+pci:0000:00:01.0" },
  { tsNsec: 2_999_999_999n, text: "third" },
  { tsNsec: 4_000_000_000n, text: "y".repeat(100) },
  { tsNsec: 5_000_000_000n, text: "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000b00" },
];
const structured = (extra: Partial<Parameters<typeof structuredCore>[0]> = {}) => () =>
  structuredCore({ arch: X86_64, logBufLen: 512, startIdx: 300, records: STRUCTURED, ...extra });
const LEGACY = bytes("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\n", [1, 0x80]);
const legacy = (extra: Partial<Parameters<typeof legacyCore>[0]> = {}) => () =>
  legacyCore({ arch: X86_64, buffer: LEGACY, logEnd: 70, ...extra });

/** Edits the bytes of a built core (header corruption). */
function patched(build: () => CoreImage, edit: (head: Uint8Array) => void): () => CoreImage {
  return () => {
    const img = build();
    const head = img.pieces[0].bytes.slice();
    edit(head);
    return { ...img, pieces: [{ offset: 0n, bytes: head }, ...img.pieces.slice(1)] };
  };
}

/** Every fixture, by name. */
export const FIXTURES: Fixture[] = [
  { name: "lockless", build: ring(X86_64) },
  { name: "lockless-s390x", build: ring(S390X) },
  { name: "lockless-i386", build: ring(I386) },
  { name: "lockless-i386-elf64", build: ring(ELF64_I386) },
  { name: "lockless-dynamic", build: ring(X86_64, { dynamic: true }) },
  {
    name: "lockless-layout",
    build: ring(X86_64, { info: { size: 96, seq: 72, ts: 16, textLen: 40, callerId: 0 } }),
  },
  { name: "lockless-wrapped", build: ring(X86_64, { countBits: 4, sizeBits: 10, records: manyRecords(70) }) },
  { name: "lockless-wrapped-i386", build: ring(I386, { countBits: 4, sizeBits: 10, records: manyRecords(70, 7) }) },
  {
    name: "lockless-long",
    build: ring(X86_64, {
      sizeBits: 14,
      records: [{ tsNsec: 1n, text: new Uint8Array(5000).fill(1) }, { tsNsec: 2n, text: "after" }],
    }),
  },
  { name: "lockless-empty", build: ring(X86_64, { records: [] }) },
  { name: "lockless-one", build: ring(X86_64, { records: [{ tsNsec: 42n, text: "only" }] }) },
  {
    name: "vmcoreinfo-quirks",
    build: ring(X86_64, {
      extraVmcoreinfo: [
        "SIZE(printk_info)= +88",
        "OFFSET(printk_info.text_len)=16 and garbage",
        "SYMBOL(log_first_idx)=ffffffff81000000",
        "NUMBER(PHYS_OFFSET)=0x1000",
      ],
    }),
  },
  {
    name: "phys-offset-invalid",
    build: ring(X86_64, { extraVmcoreinfo: ["NUMBER(PHYS_OFFSET)=zz", "SYMBOL(prb)=0"] }),
  },
  { name: "structured", build: structured() },
  { name: "structured-old-names", build: structured({ oldNames: true }) },
  {
    name: "structured-wrapped",
    build: () => structuredCore({ arch: X86_64, logBufLen: 1024, records: manyRecords(60, 3) as never }),
  },
  { name: "structured-be", build: () => structuredCore({ arch: S390X, logBufLen: 512, records: STRUCTURED }) },
  {
    name: "structured-wrap-marker-text",
    build: structured({
      poke: [{ idx: 440, bytes: bytes([0, 0, 0, 0x80, 0, 0, 0, 0], [0, 0, 3, 0, 0, 0, 0, 0], "ABC") }],
    }),
  },
  { name: "structured-cycle", build: structured({ override: { nextIdx: 999 } }) },
  { name: "structured-outside", build: structured({ override: { logBufLen: 200 } }) },
  { name: "structured-without-log-buf-len", build: structured({ omit: ["SYMBOL(log_buf_len)"] }) },
  { name: "structured-without-log-next-idx", build: structured({ omit: ["SYMBOL(log_next_idx)"] }) },
  { name: "structured-without-size", build: structured({ omit: ["SIZE(printk_log)"] }) },
  { name: "structured-without-ts", build: structured({ omit: ["OFFSET(printk_log.ts_nsec)"] }) },
  { name: "structured-without-len", build: structured({ omit: ["OFFSET(printk_log.len)"] }) },
  { name: "structured-without-text-len", build: structured({ omit: ["OFFSET(printk_log.text_len)"] }) },
  { name: "structured-truncated", build: structured({ extras: { truncateAt: 4096n * 2n + 400n } }) },
  {
    // kexec-tools passes 4035 bytes to write(2) inside the long record, then dies on the third header: only those.
    name: "structured-long-truncated",
    build: () =>
      structuredCore({
        arch: X86_64,
        logBufLen: 4096,
        records: [{ tsNsec: 1000n, text: new Uint8Array(1500).fill(1) }, { tsNsec: 2000n, text: "b" }, {
          tsNsec: 3000n,
          text: "c",
        }],
        extras: { truncateAt: 4096n * 2n + 1550n },
      }),
  },
  { name: "legacy", build: legacy() },
  { name: "legacy-unwrapped", build: legacy({ logEnd: 20 }) },
  { name: "legacy-without-log-end", build: legacy({ omit: ["SYMBOL(log_end)"] }) },
  { name: "legacy-without-logged-chars", build: legacy({ omit: ["SYMBOL(logged_chars)"] }) },
  { name: "no-vmcoreinfo", build: legacy({ extras: { noVmcoreinfo: true } }) },
  { name: "no-segments", build: () => buildCore({ arch: X86_64, notes: [], segments: [] }) },
  { name: "prb-unmapped", build: ring(X86_64, { extraVmcoreinfo: ["SYMBOL(prb)=ffff888012345678"] }) },
  { name: "truncated-in-text", build: ring(X86_64, { extras: { truncateAt: 4096n + 3000n } }) },
  { name: "truncated-in-ram", build: ring(X86_64, { dynamic: true, extras: { truncateAt: 4096n * 2n + 100n } }) },
  { name: "truncated-notes", build: ring(X86_64, { extras: { truncateAt: 300n } }) },
  { name: "truncated-phdrs", build: ring(X86_64, { extras: { truncateAt: 100n } }) },
  { name: "truncated-ehdr", build: ring(X86_64, { extras: { truncateAt: 40n } }) },
  { name: "truncated-ident", build: ring(X86_64, { extras: { truncateAt: 10n } }) },
  { name: "empty-file", build: ring(X86_64, { extras: { truncateAt: 0n } }) },
  { name: "bad-magic", build: patched(ring(X86_64), (h) => h[1] = 0x46) },
  { name: "bad-ident-version", build: patched(ring(X86_64), (h) => h[6] = 2) },
  { name: "bad-class", build: patched(ring(X86_64), (h) => h[4] = 3) },
  { name: "bad-data", build: patched(ring(X86_64), (h) => h[5] = 5) },
  { name: "bad-version", build: patched(ring(X86_64), (h) => h[0x14] = 0) },
  { name: "bad-phentsize", build: patched(ring(X86_64), (h) => h[0x36] = 55) },
  // kexec-tools does not detect these; kexec-ts refuses them with its own statuses.
  {
    name: "lockless-without-offset",
    build: ring(X86_64, { omit: ["OFFSET(prb_desc.text_blk_lpos)"] }),
    peer: false,
    rc: 70,
  },
  {
    name: "lockless-offset-outside",
    build: ring(X86_64, { info: { ...INFO_6_12, ts: 84 } }),
    peer: false,
    rc: 70,
  },
  { name: "lockless-head-unreachable", build: ring(X86_64, { override: { headId: 5n } }), peer: false, rc: 71 },
  { name: "lockless-count-bits-huge", build: ring(X86_64, { override: { countBits: 40 } }), peer: false, rc: 64 },
];
