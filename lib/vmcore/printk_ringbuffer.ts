/**
 * The lockless printk ring buffer of Linux 5.10 and later (kernel/printk/printk_ringbuffer.[ch]), read from a dump
 * through the sizes and offsets VMCOREINFO gives, as kexec-tools 2.0.25's vmcore-dmesg reads it:
 *
 *  - `SYMBOL(prb)` is the address of the `prb` pointer, which points at a `struct printk_ringbuffer`: a descriptor
 *    ring (`2^count_bits` descriptors and as many `printk_info`), and a text data ring of `2^size_bits` bytes;
 *  - records are walked by descriptor id from `tail_id` to `head_id` (not by sequence number); a record prints
 *    when its descriptor's state is committed or finalized and its id matches (state in the top two bits of
 *    `state_var`, the id in the rest, for the crashed kernel's `unsigned long`);
 *  - a text block starts with its id (an `unsigned long`); a block that wrapped starts at index 0; data-less
 *    records (`begin == next`) print an empty line; the text is `text_len` bytes, cut at the block's end.
 *
 * The whole descriptor ring, info array and text ring are read once (they are the log); nothing else.
 *
 * @module
 */

import { hex } from "../errors.ts";
import type { LogRecord } from "./format.ts";
import { coreFail, MAX_READ_BYTES } from "./source.ts";
import type { KernelMemory } from "./translate.ts";
import { type DmesgKeys, LOCKLESS_KEYS, type LocklessKey } from "./vmcoreinfo.ts";

/** desc_state values (printk_ringbuffer.h). */
const DESC_COMMITTED = 1n;
const DESC_FINALIZED = 2n;

/** The ring as read from the dump. */
export interface LocklessRing {
  /** Descriptors (and infos): 2^count_bits. */
  count: bigint;
  /** Bytes in the text data ring: 2^size_bits. */
  textBytes: bigint;
  tailId: bigint;
  headId: bigint;
  /** Records from tail to head that print (committed or finalized, id matching). */
  records: LogRecord[];
}

/** Fails (exit 70) unless every key is present and each field fits inside its structure. */
function checkKeys(keys: DmesgKeys, pointerBytes: number): (k: LocklessKey) => bigint {
  const missing = LOCKLESS_KEYS.filter((k) => !keys.lockless.has(k));
  if (missing.length) {
    coreFail(
      70,
      `VMCOREINFO has SYMBOL(prb) but lacks ${missing.join(", ")}: cannot read the lockless printk ring buffer`,
    );
  }
  const v = (k: LocklessKey) => keys.lockless.get(k)!;
  const P = BigInt(pointerBytes);
  const fits = (what: string, end: bigint, size: LocklessKey) => {
    if (end > v(size)) coreFail(70, `VMCOREINFO is inconsistent: ${what} ends at byte ${end}, past ${size}=${v(size)}`);
  };
  const counter = v("OFFSET(atomic_long_t.counter)");
  const descRing = v("OFFSET(printk_ringbuffer.desc_ring)");
  const dataRing = v("OFFSET(printk_ringbuffer.text_data_ring)");
  fits("prb_desc_ring.count_bits", descRing + v("OFFSET(prb_desc_ring.count_bits)") + 4n, "SIZE(printk_ringbuffer)");
  fits("prb_desc_ring.descs", descRing + v("OFFSET(prb_desc_ring.descs)") + P, "SIZE(printk_ringbuffer)");
  fits("prb_desc_ring.infos", v("OFFSET(prb_desc_ring.infos)") + P, "SIZE(printk_ringbuffer)");
  fits("prb_desc_ring.head_id", descRing + v("OFFSET(prb_desc_ring.head_id)") + counter + P, "SIZE(printk_ringbuffer)");
  fits("prb_desc_ring.tail_id", descRing + v("OFFSET(prb_desc_ring.tail_id)") + counter + P, "SIZE(printk_ringbuffer)");
  fits("prb_data_ring.size_bits", dataRing + v("OFFSET(prb_data_ring.size_bits)") + 4n, "SIZE(printk_ringbuffer)");
  fits("prb_data_ring.data", dataRing + v("OFFSET(prb_data_ring.data)") + P, "SIZE(printk_ringbuffer)");
  fits("prb_desc.state_var", v("OFFSET(prb_desc.state_var)") + counter + P, "SIZE(prb_desc)");
  const lpos = v("OFFSET(prb_desc.text_blk_lpos)");
  fits("prb_data_blk_lpos.begin", lpos + v("OFFSET(prb_data_blk_lpos.begin)") + P, "SIZE(prb_desc)");
  fits("prb_data_blk_lpos.next", lpos + v("OFFSET(prb_data_blk_lpos.next)") + P, "SIZE(prb_desc)");
  fits("printk_info.ts_nsec", v("OFFSET(printk_info.ts_nsec)") + 8n, "SIZE(printk_info)");
  fits("printk_info.text_len", v("OFFSET(printk_info.text_len)") + 2n, "SIZE(printk_info)");
  return v;
}

/** The byte count of `n` elements of `size` bytes; kexec-tools' calloc failure (exit 64) when implausible. */
function arrayBytes(n: bigint, size: bigint, what: string): bigint {
  const bytes = n * size;
  if (bytes > BigInt(MAX_READ_BYTES)) coreFail(64, `the ${what} would take ${bytes} bytes: the dump is corrupt`);
  return bytes;
}

/** The bit count of a ring (`count_bits`, `size_bits`), refused when no kernel could have it. */
function ringBits(bits: number, what: string): bigint {
  if (bits > 30) coreFail(64, `${what} is ${bits}: no kernel has a ring of 2^${bits} entries; the dump is corrupt`);
  return 1n << BigInt(bits);
}

/**
 * Reads the lockless ring buffer at `SYMBOL(prb)` and returns its printable records, in kexec-tools' order.
 * @throws KexecError with kexec-tools' exit status (30, 40, 64, 65), 70 when VMCOREINFO lacks what the ring needs,
 *   71 when the descriptor ids from tail to head cannot all be in the ring (kexec-tools would walk them forever)
 */
export function readLocklessRing(mem: KernelMemory, keys: DmesgKeys): LocklessRing {
  const f = mem.elf.fields;
  const P = BigInt(f.pointerBytes);
  const v = checkKeys(keys, f.pointerBytes);
  const rbAddr = mem.readPointer(keys.symbols.prb, "the prb pointer (SYMBOL(prb))");
  const rb = mem.readBytes(rbAddr, v("SIZE(printk_ringbuffer)"), "struct printk_ringbuffer", 65);
  const at = (k: LocklessKey, ...more: LocklessKey[]) => Number(more.reduce((s, m) => s + v(m), v(k)));

  const count = ringBits(
    f.u32(rb, at("OFFSET(printk_ringbuffer.desc_ring)", "OFFSET(prb_desc_ring.count_bits)")),
    "count_bits",
  );
  const descSize = v("SIZE(prb_desc)");
  const infoSize = v("SIZE(printk_info)");
  const descsAddr = f.ulong(rb, at("OFFSET(printk_ringbuffer.desc_ring)", "OFFSET(prb_desc_ring.descs)"));
  const descs = mem.readBytes(descsAddr, arrayBytes(count, descSize, "descriptor ring"), "the descriptor ring", 65);
  // kexec-tools takes infos relative to the ring buffer, not to its desc_ring (the same while desc_ring is at 0).
  const infosAddr = f.ulong(rb, at("OFFSET(prb_desc_ring.infos)"));
  const infos = mem.readBytes(infosAddr, arrayBytes(count, infoSize, "printk_info array"), "the printk_info array", 65);
  const dataRing = "OFFSET(printk_ringbuffer.text_data_ring)";
  const textBytes = ringBits(f.u32(rb, at(dataRing, "OFFSET(prb_data_ring.size_bits)")), "size_bits");
  const textAddr = f.ulong(rb, at(dataRing, "OFFSET(prb_data_ring.data)"));
  const text = mem.readBytes(textAddr, arrayBytes(textBytes, 1n, "text data ring"), "the text data ring", 65);
  const counter = "OFFSET(atomic_long_t.counter)";
  const tailId = f.ulong(rb, at("OFFSET(printk_ringbuffer.desc_ring)", "OFFSET(prb_desc_ring.tail_id)", counter));
  const headId = f.ulong(rb, at("OFFSET(printk_ringbuffer.desc_ring)", "OFFSET(prb_desc_ring.head_id)", counter));

  // The descriptor id lives below the two state bits of an unsigned long (kexec-tools' DESC_ID_MASK and, for
  // 32-bit kernels, its DESC32_ID_MASK = ~(3UL << 30) taken as a 64-bit unsigned long).
  const stateShift = P * 8n - 2n;
  const idMask = f.pointerBytes === 8 ? (1n << 62n) - 1n : 0xffff_ffff_3fff_ffffn;
  const idInc = (id: bigint) => BigInt.asUintN(64, id + 1n) & idMask;

  let steps = 0n;
  for (let id = tailId; id !== headId; id = idInc(id)) {
    if (++steps > count) {
      coreFail(
        71,
        `the printk ring buffer is corrupt: head id ${hex(headId)} is not within ${count} descriptors of ` +
          `tail id ${hex(tailId)}`,
      );
    }
  }

  const o = {
    state: Number(v("OFFSET(prb_desc.state_var)") + v(counter)),
    begin: Number(v("OFFSET(prb_desc.text_blk_lpos)") + v("OFFSET(prb_data_blk_lpos.begin)")),
    next: Number(v("OFFSET(prb_desc.text_blk_lpos)") + v("OFFSET(prb_data_blk_lpos.next)")),
    ts: Number(v("OFFSET(printk_info.ts_nsec)")),
    textLen: Number(v("OFFSET(printk_info.text_len)")),
  };
  const records: LogRecord[] = [];
  const visit = (id: bigint) => {
    const slot = id % count;
    const desc = descs.subarray(Number(slot * descSize));
    const info = infos.subarray(Number(slot * infoSize));
    const sv = f.ulong(desc, o.state);
    const state = (sv >> stateShift) & 3n;
    if ((sv & idMask) !== id || (state !== DESC_COMMITTED && state !== DESC_FINALIZED)) return;
    let begin = f.ulong(desc, o.begin) % textBytes;
    const next = f.ulong(desc, o.next) % textBytes;
    const tsNsec = f.u64(info, o.ts);
    if (begin === next) {
      records.push({ tsNsec, text: new Uint8Array(0) }); // data-less: FAILED_LPOS or EMPTY_LINE_LPOS
      return;
    }
    let len = BigInt(f.u16(info, o.textLen));
    if (begin > next) begin = 0n; // a wrapped block's data starts at the ring's beginning
    begin += P; // past the block's id
    const room = BigInt.asUintN(64, next - begin);
    if (room < len) len = room;
    // kexec-tools reads on past the ring when a corrupt length says so; stop at its end.
    const start = Number(begin < textBytes ? begin : textBytes);
    records.push({ tsNsec, text: text.subarray(start, Math.min(Number(textBytes), start + Number(len))) });
  };
  let id = tailId;
  for (; id !== headId; id = idInc(id)) visit(id);
  visit(id);
  return { count, textBytes, tailId, headId, records };
}
