/**
 * A synthetic lockless printk ring buffer (Linux 5.10+), written the way the kernel writes it: descriptor ids
 * from DESC0_ID, data blocks from BLK0_LPOS placed by get_next_lpos() (a block that would cross the end of the
 * ring goes to the start of the next wrap), old data made reusable when the text ring is full and the descriptor
 * tail pushed when the descriptor ring is; plus the VMCOREINFO lines that describe it.
 *
 * @module
 */

import type { Arch, CoreImage } from "./core_builder.ts";
import {
  type CoreExtras,
  type KernelSpace,
  kernelSpace,
  place,
  pointerVar,
  spaceCore,
  struct,
  symbolLine,
} from "./kernel_space.ts";

/** One record to log. */
export interface RingRecord {
  tsNsec: bigint;
  /** The text; absent for a data-less record. */
  text?: string | Uint8Array;
  /** Data-less kind: FAILED_LPOS (data lost) or EMPTY_LINE_LPOS. */
  dataless?: "failed" | "empty";
  /** desc_state: 0 reserved, 1 committed, 2 finalized (default), 3 reusable. */
  state?: number;
  /** Write another id into the descriptor (an id mismatch). */
  idMismatch?: boolean;
  /** info.text_len when it should differ from the text's length. */
  textLen?: number;
}

/** The printk_info layout (offsets), to show that offsets come from VMCOREINFO. */
export interface InfoLayout {
  size: number;
  seq: number;
  ts: number;
  textLen: number;
  callerId: number;
  /** dev_info (subsystem[16], device[48]), when the layout has it. */
  devInfo?: number;
}

/** x86_64 6.12's printk_info. */
export const INFO_6_12: InfoLayout = { size: 88, seq: 0, ts: 8, textLen: 16, callerId: 20, devInfo: 24 };

/** A ring buffer and the kernel around it. */
export interface RingSpec {
  arch: Arch;
  countBits: number;
  sizeBits: number;
  records: RingRecord[];
  release?: string;
  /** Buffers in the direct map (log_buf_len= on the command line) instead of the kernel image. */
  dynamic?: boolean;
  info?: InfoLayout;
  /** Leave these keys out of VMCOREINFO (whole `KEY` as written before `=`). */
  omit?: string[];
  /** More VMCOREINFO lines (before CRASHTIME). */
  extraVmcoreinfo?: string[];
  /** Override what the ring buffer says (corruption). */
  override?: { headId?: bigint; tailId?: bigint; countBits?: number; sizeBits?: number };
  extras?: Partial<CoreExtras>;
}

/** Builds the ring and its core. */
export function ringCore(spec: RingSpec): CoreImage {
  const space = kernelSpace(spec.arch);
  return spaceCore(space, { vmcoreinfo: [...buildRing(space, spec), "CRASHTIME=1764547200"], ...spec.extras });
}

/** Writes the ring into `space`; returns its VMCOREINFO lines (OSRELEASE first, no CRASHTIME). */
export function buildRing(space: KernelSpace, spec: Omit<RingSpec, "arch" | "extras"> & { arch?: Arch }): string[] {
  const a = space.arch;
  const P = a.pointerBytes;
  const bits = BigInt(P * 8);
  const ulong = (v: bigint) => BigInt.asUintN(P * 8, v);
  const idMask = (1n << (bits - 2n)) - 1n;
  const count = 1n << BigInt(spec.countBits);
  const dataSize = 1n << BigInt(spec.sizeBits);
  const info = spec.info ?? INFO_6_12;
  const descSize = 3 * P;

  const descs = struct(space, Number(count) * descSize);
  const infos = struct(space, Number(count) * info.size);
  const data = struct(space, Number(dataSize));
  const sv = (id: bigint, state: number) => ulong((BigInt(state) << (bits - 2n)) | id);
  const setDesc = (id: bigint, state: number, begin: bigint, next: bigint, svId = id) => {
    const o = Number(id % count) * descSize;
    descs.w.ulong(o, sv(svId, state));
    descs.w.ulong(o + P, ulong(begin));
    descs.w.ulong(o + 2 * P, ulong(next));
  };
  const desc0 = ulong(-(count + 1n)) & idMask;
  setDesc(desc0, 3, 1n, 1n);
  let headId = desc0, tailId = desc0;
  let headLpos = ulong(-dataSize), tailLpos = headLpos;
  const live: { id: bigint; begin: bigint; next: bigint; state: number }[] = [];
  const wraps = (lpos: bigint) => ulong(lpos) >> BigInt(spec.sizeBits);
  /** data_make_reusable(): the oldest block's descriptor becomes reusable and the data tail moves past it. */
  const dropOldest = () => {
    const old = live.shift()!;
    setDesc(old.id, 3, old.begin, old.next);
    tailLpos = old.next;
  };

  spec.records.forEach((r, seq) => {
    const id = (headId + 1n) & idMask;
    if (((id - tailId) & idMask) >= count) {
      // desc_push_tail(): the tail descriptor is recycled; its data (and any older) is made reusable first.
      const k = live.findIndex((l) => l.id === tailId);
      for (let i = 0; i <= k; i++) dropOldest();
      tailId = (tailId + 1n) & idMask;
    }
    let begin = 1n, next = 1n;
    const text = typeof r.text === "string" ? new TextEncoder().encode(r.text) : r.text;
    if (r.dataless === "empty") begin = next = 3n;
    else if (text !== undefined && !r.dataless) {
      const size = BigInt(Math.ceil((P + text.length) / P) * P);
      begin = headLpos;
      const end = ulong(begin + size);
      const wrapped = wraps(begin) !== wraps(end);
      next = wrapped ? ulong((end & ~(dataSize - 1n)) + size) : end;
      while (ulong(next - tailLpos) > dataSize && live.length) dropOldest();
      const at = wrapped ? 0 : Number(begin % dataSize);
      data.w.ulong(at, id);
      data.buf.set(text.subarray(0, Math.max(0, Number(dataSize) - at - P)), at + P);
      headLpos = next;
      live.push({ id, begin, next, state: r.state ?? 2 });
    }
    setDesc(id, r.state ?? 2, begin, next, r.idMismatch ? (id + count) & idMask : id);
    const io = Number(id % count) * info.size;
    infos.w.u64(io + info.seq, BigInt(seq));
    infos.w.u64(io + info.ts, r.tsNsec);
    infos.w.u16(io + info.textLen, r.textLen ?? text?.length ?? 0);
    infos.w.u32(io + info.callerId, 0x80000000 | seq);
    // Device info, which kexec-tools 2.0.25 never prints.
    if (info.devInfo !== undefined) {
      infos.w.bytes(io + info.devInfo, "pci");
      infos.w.bytes(io + info.devInfo + 16, "+pci:0000:00:01.0");
    }
    headId = id;
  });

  const region = spec.dynamic ? space.ram : space.text;
  const descsAt = place(region, descs.buf);
  const infosAt = place(region, infos.buf);
  const dataAt = place(region, data.buf);
  const o = spec.override ?? {};
  // struct printk_ringbuffer: desc_ring {count_bits, descs, infos, head_id, tail_id, last_finalized_seq},
  // text_data_ring {size_bits, data, head_lpos, tail_lpos}, fail.
  const rb = struct(space, 11 * P);
  rb.w.u32(0, o.countBits ?? spec.countBits);
  rb.w.ulong(P, descsAt);
  rb.w.ulong(2 * P, infosAt);
  rb.w.ulong(3 * P, o.headId ?? headId);
  rb.w.ulong(4 * P, o.tailId ?? tailId);
  rb.w.u32(6 * P, o.sizeBits ?? spec.sizeBits);
  rb.w.ulong(7 * P, dataAt);
  rb.w.ulong(8 * P, headLpos);
  rb.w.ulong(9 * P, tailLpos);
  const rbAt = place(space.text, rb.buf);
  const prb = pointerVar(space, rbAt);

  const lines = [
    `OSRELEASE=${spec.release ?? "6.12.0-synthetic"}`,
    "PAGESIZE=4096",
    symbolLine("prb", prb),
    symbolLine("printk_rb_static", rbAt),
    `SIZE(printk_ringbuffer)=${11 * P}`,
    "OFFSET(printk_ringbuffer.desc_ring)=0",
    `OFFSET(printk_ringbuffer.text_data_ring)=${6 * P}`,
    `OFFSET(printk_ringbuffer.fail)=${10 * P}`,
    `SIZE(prb_desc_ring)=${6 * P}`,
    "OFFSET(prb_desc_ring.count_bits)=0",
    `OFFSET(prb_desc_ring.descs)=${P}`,
    `OFFSET(prb_desc_ring.infos)=${2 * P}`,
    `OFFSET(prb_desc_ring.head_id)=${3 * P}`,
    `OFFSET(prb_desc_ring.tail_id)=${4 * P}`,
    `SIZE(prb_desc)=${descSize}`,
    "OFFSET(prb_desc.state_var)=0",
    `OFFSET(prb_desc.text_blk_lpos)=${P}`,
    `SIZE(prb_data_blk_lpos)=${2 * P}`,
    "OFFSET(prb_data_blk_lpos.begin)=0",
    `OFFSET(prb_data_blk_lpos.next)=${P}`,
    `SIZE(printk_info)=${info.size}`,
    `OFFSET(printk_info.seq)=${info.seq}`,
    `OFFSET(printk_info.ts_nsec)=${info.ts}`,
    `OFFSET(printk_info.text_len)=${info.textLen}`,
    `OFFSET(printk_info.caller_id)=${info.callerId}`,
    ...(info.devInfo === undefined ? [] : [
      `OFFSET(printk_info.dev_info)=${info.devInfo}`,
      "SIZE(dev_printk_info)=64",
      "OFFSET(dev_printk_info.subsystem)=0",
      "LENGTH(printk_info_subsystem)=16",
      "OFFSET(dev_printk_info.device)=16",
      "LENGTH(printk_info_device)=48",
    ]),
    `SIZE(prb_data_ring)=${4 * P}`,
    "OFFSET(prb_data_ring.size_bits)=0",
    `OFFSET(prb_data_ring.data)=${P}`,
    `OFFSET(prb_data_ring.head_lpos)=${2 * P}`,
    `OFFSET(prb_data_ring.tail_lpos)=${3 * P}`,
    `SIZE(atomic_long_t)=${P}`,
    "OFFSET(atomic_long_t.counter)=0",
    ...(spec.extraVmcoreinfo ?? []),
  ];
  return lines.filter((l) => !(spec.omit ?? []).includes(l.slice(0, l.indexOf("="))));
}
