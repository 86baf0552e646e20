/**
 * A newc (SVR4, no CRC) cpio writer: the initramfs format the kernel unpacks. Written here so the VM harness
 * needs no cpio binary and builds byte-identical archives from the same inputs.
 *
 * @module
 */

import { concatBytes } from "../../lib/bytes.ts";

/** One archive member. Directories and symlinks have no data (a symlink's target is its data). */
export interface CpioEntry {
  path: string; // without leading "/"
  kind: "file" | "dir" | "symlink" | "char";
  mode: number; // permission bits
  data?: Uint8Array;
  target?: string;
  /** Device numbers for `char`. */
  rdev?: [number, number];
}

const TYPE_BITS = { file: 0o100000, dir: 0o040000, symlink: 0o120000, char: 0o020000 } as const;
const encoder = new TextEncoder();

function field(n: number): string {
  return n.toString(16).padStart(8, "0");
}

/** Serialises entries (in the given order) followed by the TRAILER!!! record. */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const push = (b: Uint8Array) => {
    chunks.push(b);
    size += b.length;
    const pad = (4 - (size % 4)) % 4;
    if (pad) {
      chunks.push(new Uint8Array(pad));
      size += pad;
    }
  };
  let ino = 1;
  const record = (e: CpioEntry) => {
    const data = e.kind === "symlink" ? encoder.encode(e.target ?? "") : e.data ?? new Uint8Array();
    const name = encoder.encode(e.path + "\0");
    const [maj, min] = e.rdev ?? [0, 0];
    const header = "070701" + field(ino++) + field(TYPE_BITS[e.kind] | e.mode) + field(0) + field(0) +
      field(e.kind === "dir" ? 2 : 1) + field(0) + field(data.length) + field(0) + field(0) + field(maj) + field(min) +
      field(name.length) + field(0);
    const head = new Uint8Array(header.length + name.length);
    head.set(encoder.encode(header));
    head.set(name, header.length);
    push(head);
    if (data.length) push(data);
  };
  for (const e of entries) record(e);
  record({ path: "TRAILER!!!", kind: "file", mode: 0 });
  return concatBytes(chunks);
}
