/**
 * Synthetic ELF core dumps for the vmcore tests: an ELF header, one PT_NOTE holding CORE (NT_PRSTATUS) and
 * VMCOREINFO notes, and PT_LOAD segments standing for the crashed kernel's memory. A segment has a size and the
 * few pieces of content the test puts in it; the rest reads as zeros. A core is a list of (file offset, bytes)
 * pieces and a total size, so a dump of many GiB can be written as a sparse file (only its pieces take space).
 *
 * @module
 */

/** Byte order, pointer width and ELF class of a synthetic kernel. */
export interface Arch {
  elfClass: 32 | 64;
  littleEndian: boolean;
  /** The crashed kernel's `unsigned long` (EM_386 cores are ELF64 with 4-byte pointers). */
  pointerBytes: 4 | 8;
  machine: number;
}

/** x86_64. */
export const X86_64: Arch = { elfClass: 64, littleEndian: true, pointerBytes: 8, machine: 62 };
/** A big-endian 64-bit kernel (s390x). */
export const S390X: Arch = { elfClass: 64, littleEndian: false, pointerBytes: 8, machine: 22 };
/** i386 as ELF32. */
export const I386: Arch = { elfClass: 32, littleEndian: true, pointerBytes: 4, machine: 3 };

/** Writes integers into a byte buffer in an arch's byte order. */
export interface Writer {
  u8(at: number, v: number): void;
  u16(at: number, v: number): void;
  u32(at: number, v: number): void;
  u64(at: number, v: bigint): void;
  ulong(at: number, v: bigint): void;
  bytes(at: number, b: Uint8Array | string): void;
}

/** A {@link Writer} over `buf`. */
export function writer(buf: Uint8Array, arch: Pick<Arch, "littleEndian" | "pointerBytes">): Writer {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const le = arch.littleEndian;
  const w: Writer = {
    u8: (at, v) => dv.setUint8(at, v),
    u16: (at, v) => dv.setUint16(at, v, le),
    u32: (at, v) => dv.setUint32(at, v >>> 0, le),
    u64: (at, v) => dv.setBigUint64(at, BigInt.asUintN(64, v), le),
    ulong: (at, v) => arch.pointerBytes === 8 ? w.u64(at, v) : w.u32(at, Number(BigInt.asUintN(32, v))),
    bytes: (at, b) => buf.set(typeof b === "string" ? new TextEncoder().encode(b) : b, at),
  };
  return w;
}

/** A PT_LOAD: `memsz` bytes of the crashed kernel's memory at `vaddr`/`paddr`, zero but for `content`. */
export interface Segment {
  vaddr: bigint;
  paddr: bigint;
  memsz: bigint;
  /** Bytes at offsets inside the segment. */
  content: { at: bigint; bytes: Uint8Array }[];
  /** Bytes of the segment in the file, when fewer than memsz (a truncated or filtered dump). */
  filesz?: bigint;
}

/** A note. */
export interface Note {
  name: string;
  type: number;
  desc: Uint8Array;
}

/** A whole core. */
export interface CoreSpec {
  arch: Arch;
  notes: Note[];
  segments: Segment[];
  /** Cut the file after this many bytes (a truncated dump). */
  truncateAt?: bigint;
}

/** A core as file pieces. */
export interface CoreImage {
  sizeBytes: bigint;
  pieces: { offset: bigint; bytes: Uint8Array }[];
}

const PAGE = 4096n;
const align = (v: bigint, a: bigint) => (v + a - 1n) / a * a;
const align4 = (n: number) => Math.ceil(n / 4) * 4;

/** The bytes of notes, each name and descriptor padded to 4. */
export function noteBytes(arch: Arch, notes: readonly Note[]): Uint8Array {
  const size = notes.reduce((n, x) => n + 12 + align4(x.name.length + 1) + align4(x.desc.length), 0);
  const buf = new Uint8Array(size);
  const w = writer(buf, arch);
  let o = 0;
  for (const n of notes) {
    w.u32(o, n.name.length + 1);
    w.u32(o + 4, n.desc.length);
    w.u32(o + 8, n.type);
    w.bytes(o + 12, n.name);
    o += 12 + align4(n.name.length + 1);
    w.bytes(o, n.desc);
    o += align4(n.desc.length);
  }
  return buf;
}

/** Lays the core out as /proc/vmcore does: headers, the notes, then each segment page-aligned. */
export function buildCore(spec: CoreSpec): CoreImage {
  const a = spec.arch;
  const is64 = a.elfClass === 64;
  const ehSize = is64 ? 64 : 52, phSize = is64 ? 56 : 32;
  const phnum = 1 + spec.segments.length;
  const notes = noteBytes(a, spec.notes);
  const notesAt = BigInt(align4(ehSize + phnum * phSize));
  const head = new Uint8Array(Number(notesAt) + notes.length);
  const w = writer(head, a);
  w.bytes(0, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, a.littleEndian ? 1 : 2, 1]));
  w.u16(0x10, 4); // ET_CORE
  w.u16(0x12, a.machine);
  w.u32(0x14, 1);
  if (is64) {
    w.u64(0x20, BigInt(ehSize));
    w.u16(0x34, ehSize);
    w.u16(0x36, phSize);
    w.u16(0x38, phnum);
  } else {
    w.u32(0x1c, ehSize);
    w.u16(0x28, ehSize);
    w.u16(0x2a, phSize);
    w.u16(0x2c, phnum);
  }
  const phdr = (i: number, type: number, off: bigint, vaddr: bigint, paddr: bigint, filesz: bigint, memsz: bigint) => {
    const o = ehSize + i * phSize;
    if (is64) {
      w.u32(o, type);
      w.u32(o + 4, type === 1 ? 7 : 0);
      w.u64(o + 8, off);
      w.u64(o + 16, vaddr);
      w.u64(o + 24, paddr);
      w.u64(o + 32, filesz);
      w.u64(o + 40, memsz);
    } else {
      w.u32(o, type);
      w.u32(o + 4, Number(off));
      w.u32(o + 8, Number(BigInt.asUintN(32, vaddr)));
      w.u32(o + 12, Number(paddr));
      w.u32(o + 16, Number(filesz));
      w.u32(o + 20, Number(memsz));
      w.u32(o + 24, type === 1 ? 7 : 0);
    }
  };
  phdr(0, 4, notesAt, 0n, 0n, BigInt(notes.length), BigInt(notes.length));
  head.set(notes, Number(notesAt));
  const pieces: CoreImage["pieces"] = [{ offset: 0n, bytes: head }];
  let off = align(BigInt(head.length), PAGE);
  spec.segments.forEach((s, i) => {
    const filesz = s.filesz ?? s.memsz;
    phdr(1 + i, 1, off, s.vaddr, s.paddr, filesz, s.memsz);
    for (const c of s.content) pieces.push({ offset: off + c.at, bytes: c.bytes });
    off = align(off + filesz, PAGE);
  });
  const sizeBytes = spec.truncateAt !== undefined && spec.truncateAt < off ? spec.truncateAt : off;
  return { sizeBytes, pieces };
}

/** A core image as one buffer (small cores). */
export function coreBytes(img: CoreImage): Uint8Array {
  const out = new Uint8Array(Number(img.sizeBytes));
  for (const p of img.pieces) {
    if (p.offset >= img.sizeBytes) continue;
    out.set(p.bytes.subarray(0, Number(img.sizeBytes - p.offset)), Number(p.offset));
  }
  return out;
}

/** Writes a core image as a sparse file (only its pieces take space). */
export function writeSparseCore(path: string, img: CoreImage): void {
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  try {
    for (const p of img.pieces) {
      if (p.offset >= img.sizeBytes) continue;
      f.seekSync(p.offset, Deno.SeekMode.Start);
      const b = p.bytes.subarray(0, Number(img.sizeBytes - p.offset));
      for (let o = 0; o < b.length;) o += f.writeSync(b.subarray(o));
    }
    f.truncateSync(Number(img.sizeBytes));
  } finally {
    f.close();
  }
}

/** VMCOREINFO text from `KEY=VALUE` lines (a `\n` after each, unless `noFinalNewline`). */
export function vmcoreinfoText(lines: readonly string[], noFinalNewline = false): Uint8Array {
  return new TextEncoder().encode(lines.join("\n") + (noFinalNewline ? "" : "\n"));
}

/** An NT_PRSTATUS descriptor for a 64-bit (336 bytes) or 32-bit (144 bytes) kernel, with its pid. */
export function prstatus(arch: Arch, pid: number): Uint8Array {
  const desc = new Uint8Array(arch.pointerBytes === 8 ? 336 : 144);
  writer(desc, arch).u32(16 + 2 * arch.pointerBytes, pid);
  return desc;
}

/** The kernel-text and direct-map bases of a synthetic kernel. */
export function kernelBases(arch: Arch): { text: bigint; directMap: bigint } {
  return arch.pointerBytes === 8
    ? { text: 0xffffffff81000000n, directMap: 0xffff888000000000n }
    : { text: 0xc1000000n, directMap: 0xc0000000n };
}

/** The number of bytes `page` rounds up to. */
export function pageAlign(v: bigint): bigint {
  return align(v, PAGE);
}
