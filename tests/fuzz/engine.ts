/**
 * The fuzzer's engine: a seeded random source, the mutators, the target contract, and one case run and judged.
 *
 * A case is a pure function of (seed, target, case index): {@link caseInput} derives its own random stream from
 * the three, so any case can be regenerated alone (the runner does that to save a finding) without replaying the
 * cases before it. Cases 0..seeds-1 are the target's seeds unchanged; every later case is a seed with 1 to 16
 * mutations applied.
 *
 * A case fails (a "finding") when its target throws anything but a KexecError, takes more than
 * {@link CASE_TIME_LIMIT_MS}, or grows the V8 heap plus ArrayBuffer memory (Deno.memoryUsage heapUsed + external,
 * measured around the case) by more than the target's stated bound. A hang or a crash of the process (a runaway
 * allocation hitting the child's V8 heap limit) is caught by the runner (./main.ts).
 *
 * @module
 */

import { KexecError } from "../../lib/errors.ts";
import { concatBytes } from "../../lib/bytes.ts";

/** A case over this many milliseconds is a finding. */
export const CASE_TIME_LIMIT_MS = 1000;

/** A small, fast, seeded random source (sfc32), good enough for mutation and fully deterministic. */
export interface Rng {
  /** A uniform 32-bit unsigned integer. */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
  /** Random bytes. */
  bytes(n: number): Uint8Array;
  /** A 64-bit value biased towards the ones that break parsers: 0, all ones, powers of two and their neighbours. */
  interesting64(): bigint;
}

/** An sfc32 stream seeded from `seed` and any further numbers (target hash, case index). */
export function makeRng(seed: number, ...more: number[]): Rng {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  for (const m of more) d = (d ^ Math.imul(m >>> 0, 0x85ebca6b)) >>> 0;
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 15; i++) next();
  const int = (n: number): number =>
    n <= 1 ? 0 : n <= 0x100000000 ? next() % n : Math.floor((next() / 0x100000000) * n);
  const rng: Rng = {
    next,
    int,
    chance: (p) => next() / 0x100000000 < p,
    pick: (items) => items[int(items.length)],
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = next() & 0xff;
      return out;
    },
    interesting64() {
      switch (int(8)) {
        case 0:
          return 0n;
        case 1:
          return (1n << 64n) - 1n;
        case 2:
          return BigInt.asUintN(64, (1n << BigInt(int(64))) + BigInt(int(3)) - 1n);
        case 3:
          return BigInt(int(4096));
        case 4:
          return BigInt.asUintN(64, -BigInt(int(4096) + 1));
        case 5:
          return (1n << BigInt(rng.pick([7, 15, 31, 63]))) - BigInt(int(2));
        default:
          return (BigInt(next()) << 32n) | BigInt(next());
      }
    },
  };
  return rng;
}

/** 32-bit FNV-1a of a string: target names into seeds. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

// ---------------------------------------------------------------------------------------------------------------
// Mutators

/** Writes `value` as a little-endian field of `width` bytes at `at` (clipped to the buffer). */
function writeLe(buf: Uint8Array, at: number, width: number, value: bigint): void {
  for (let i = 0; i < width && at + i < buf.length; i++) buf[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

/**
 * One random edit of binary input. `fields` are offsets of header fields (with their width) worth hitting with
 * interesting values: a plain bit-flipper almost never produces "2^46" in an 8-byte alignment field.
 */
export function mutateBytes(
  input: Uint8Array,
  rng: Rng,
  fields: readonly Field[] = [],
  splice?: Uint8Array,
): Uint8Array {
  let buf: Uint8Array = input.slice();
  switch (rng.int(fields.length ? 10 : 8)) {
    case 0: { // flip a bit
      if (buf.length) buf[rng.int(buf.length)] ^= 1 << rng.int(8);
      break;
    }
    case 1: { // a random byte
      if (buf.length) buf[rng.int(buf.length)] = rng.next() & 0xff;
      break;
    }
    case 2: { // an interesting value of 1, 2, 4 or 8 bytes anywhere
      if (buf.length) writeLe(buf, rng.int(buf.length), rng.pick([1, 2, 4, 8]), rng.interesting64());
      break;
    }
    case 3: { // truncate
      buf = buf.subarray(0, rng.int(buf.length + 1)).slice();
      break;
    }
    case 4: { // delete a span
      const at = rng.int(buf.length + 1), len = rng.int(Math.min(256, buf.length - at) + 1);
      buf = concatBytes([buf.subarray(0, at), buf.subarray(at + len)]);
      break;
    }
    case 5: { // duplicate or insert random bytes
      const at = rng.int(buf.length + 1);
      const piece = rng.chance(0.5) ? buf.slice(at, at + rng.int(64) + 1) : rng.bytes(rng.int(32) + 1);
      buf = concatBytes([buf.subarray(0, at), piece, buf.subarray(at)]);
      break;
    }
    case 6: { // overwrite a span with a copy of another part (or of another seed)
      const from = splice && rng.chance(0.5) ? splice : buf;
      if (from.length && buf.length) {
        const len = rng.int(Math.min(64, from.length)) + 1;
        const src = rng.int(from.length - len + 1), dst = rng.int(Math.max(1, buf.length - len + 1));
        buf.set(from.subarray(src, src + Math.min(len, buf.length - dst)), dst);
      }
      break;
    }
    case 7: { // add or subtract a little from a 4-byte word
      if (buf.length >= 4) {
        const at = rng.int(buf.length - 3);
        const dv = new DataView(buf.buffer, buf.byteOffset);
        dv.setUint32(at, (dv.getUint32(at, true) + rng.int(33) - 16) >>> 0, true);
      }
      break;
    }
    default: { // an interesting value in a known field
      const f = rng.pick(fields);
      if (f.at < buf.length) writeLe(buf, f.at, f.width, rng.interesting64());
    }
  }
  return buf;
}

/** A header field: its offset and width in bytes. */
export interface Field {
  at: number;
  width: number;
}

/**
 * Fields of a struct laid out as `{ name: offset }`, shifted by `base` (for arrays of structs): each field's width
 * from `widths`, else `defaultWidth`.
 */
export function fieldsOf(
  offsets: Record<string, number>,
  widths: Record<string, number> = {},
  base = 0,
  defaultWidth = 4,
): Field[] {
  return Object.entries(offsets).map(([name, at]) => ({ at: base + at, width: widths[name] ?? defaultWidth }));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Numbers text parsers choke on. */
function interestingNumberText(rng: Rng): string {
  const v = rng.interesting64();
  switch (rng.int(7)) {
    case 0:
      return v.toString();
    case 1:
      return "0x" + v.toString(16);
    case 2:
      return v.toString(16);
    case 3:
      return "-" + (v % 100000n).toString();
    case 4:
      return "9".repeat(rng.int(40) + 1);
    case 5:
      return rng.pick(["4294967295", "18446744073709551615", "18446744073709551616", "1e999", "NaN", "-0", "0x"]);
    default:
      return String(rng.int(100));
  }
}

/** Characters worth inserting into text inputs. */
const TEXT_NOISE = [
  " ",
  "\n",
  "\t",
  "\0",
  "-",
  ",",
  ":",
  "=",
  "0",
  "x",
  "[",
  "]",
  '"',
  "'",
  "\\",
  "/",
  "é",
  "\u2028",
  "\r",
];

/** One random edit of text input (numbers, separators, lines). */
export function mutateText(text: string, rng: Rng, splice?: string): string {
  switch (rng.int(10)) {
    case 0:
    case 1: { // replace a number with an interesting one
      const numbers = [...text.matchAll(/[0-9a-fA-F]+/g)];
      if (!numbers.length) return text + interestingNumberText(rng);
      const m = rng.pick(numbers);
      return text.slice(0, m.index!) + interestingNumberText(rng) + text.slice(m.index! + m[0].length);
    }
    case 2: { // insert noise
      const at = rng.int(text.length + 1);
      const piece = Array.from({ length: rng.int(4) + 1 }, () => rng.pick(TEXT_NOISE)).join("");
      return text.slice(0, at) + piece + text.slice(at);
    }
    case 3: { // delete a span
      const at = rng.int(text.length + 1);
      return text.slice(0, at) + text.slice(at + rng.int(32) + 1);
    }
    case 4: { // duplicate a line, or many
      const lines = text.split("\n");
      const i = rng.int(lines.length);
      const copies = rng.chance(0.1) ? rng.int(2000) + 1 : 1;
      lines.splice(i, 0, ...Array(copies).fill(lines[i]));
      return lines.join("\n");
    }
    case 5: { // drop or swap lines
      const lines = text.split("\n");
      const i = rng.int(lines.length), j = rng.int(lines.length);
      if (rng.chance(0.5)) lines.splice(i, 1);
      else [lines[i], lines[j]] = [lines[j], lines[i]];
      return lines.join("\n");
    }
    case 6: // truncate
      return text.slice(0, rng.int(text.length + 1));
    case 7: { // a line from another seed
      if (!splice) return text;
      const other = splice.split("\n");
      const lines = text.split("\n");
      lines.splice(rng.int(lines.length + 1), 0, rng.pick(other));
      return lines.join("\n");
    }
    case 8: { // indentation and spacing (iomem nests by two spaces)
      const lines = text.split("\n");
      const i = rng.int(lines.length);
      lines[i] = rng.chance(0.5) ? " ".repeat(rng.int(9)) + lines[i].trimStart() : lines[i].replace(/ /g, "");
      return lines.join("\n");
    }
    default: // a byte-level edit, decoded back (invalid UTF-8 becomes U+FFFD, as TextDecoder does for files)
      return decoder.decode(mutateBytes(encoder.encode(text), rng));
  }
}

/** One random edit of a JSON value: change a type, drop or add a key, replace a leaf with an extreme. */
export function mutateJson(value: unknown, rng: Rng): unknown {
  const extremes: unknown[] = [
    null,
    true,
    false,
    0,
    -1,
    1.5,
    2 ** 53,
    1e308,
    -1e308,
    "",
    "x",
    "0x",
    "0xffffffffffffffffff",
    "\n",
    "/a\nb",
    "relative/path",
    [],
    {},
    ["x", 1],
    { a: 1 },
    "1970-01-01T00:00:00Z",
    "not a time",
    "9".repeat(400),
  ];
  if (typeof value !== "object" || value === null || rng.chance(0.1)) return rng.pick(extremes);
  if (Array.isArray(value)) {
    const out = [...value];
    const i = rng.int(out.length + 1);
    switch (rng.int(3)) {
      case 0:
        out.splice(i, 1);
        break;
      case 1:
        out.splice(i, 0, rng.pick(extremes));
        break;
      default:
        if (out.length) out[i % out.length] = mutateJson(out[i % out.length], rng);
    }
    return out;
  }
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(out);
  switch (rng.int(4)) {
    case 0:
      if (keys.length) delete out[rng.pick(keys)];
      break;
    case 1:
      out[rng.pick(["extra", "__proto__", "constructor", "toString", ...keys])] = rng.pick(extremes);
      break;
    default:
      if (keys.length) {
        const k = rng.pick(keys);
        out[k] = mutateJson(out[k], rng);
      }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Targets and cases

/** Context a target's run gets. */
export interface FuzzContext {
  /** A scratch directory for the target (created before the first case, removed at the end). */
  tmp: string;
}

/**
 * A fuzz target: what it feeds (seeds and a mutator) and what it runs. Everything is bytes: text and JSON targets
 * encode as UTF-8. Register targets in ./targets.ts; see ./README.md.
 */
export interface FuzzTarget {
  /** Short name (`--target NAME`, the fixture folder tests/fixtures/fuzz/NAME/). */
  name: string;
  /** What it feeds to what, in one line. */
  about: string;
  /** A case may grow the V8 heap + ArrayBuffer memory by at most this many bytes. */
  memoryBoundBytes: number;
  /** Cases the CI slice (tests/unit/fuzz) runs; default {@link CI_CASES}. */
  ciCases?: number;
  /** Prepares what the seeds and runs need (files in `ctx.tmp`). */
  setup?(ctx: FuzzContext): void;
  /** Valid inputs to start from; all must run without a finding. */
  seeds(ctx: FuzzContext): Uint8Array[];
  /** One random edit of an input (`seeds` for splicing). */
  mutate(input: Uint8Array, rng: Rng, seeds: readonly Uint8Array[], ctx: FuzzContext): Uint8Array;
  /** Runs one case. Throwing a KexecError is a refusal (fine); anything else is a finding. */
  run(input: Uint8Array, ctx: FuzzContext): void;
}

/** Default CI slice per target. */
export const CI_CASES = 3000;

/** The input of case `index` of `target` under `seed`. */
export function caseInput(
  target: FuzzTarget,
  seeds: readonly Uint8Array[],
  seed: number,
  index: number,
  ctx: FuzzContext,
): Uint8Array {
  if (index < seeds.length) return seeds[index];
  const rng = makeRng(seed, hashString(target.name), index);
  let input = rng.pick(seeds);
  let n = 1;
  while (n < 16 && rng.chance(0.45)) n++;
  for (let i = 0; i < n; i++) input = target.mutate(input, rng, seeds, ctx);
  return input;
}

/** How one case went. */
export type CaseOutcome =
  | { kind: "ok" | "refused"; ms: number; grownBytes: number }
  | { kind: "exception" | "slow" | "memory"; ms: number; grownBytes: number; message: string };

function memoryNow(): number {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

/** Runs one case and judges it (exception, time, memory). */
export function runCase(target: FuzzTarget, input: Uint8Array, ctx: FuzzContext): CaseOutcome {
  const before = memoryNow();
  const t0 = performance.now();
  let failure: string | undefined;
  let refused = false;
  try {
    target.run(input, ctx);
  } catch (e) {
    if (e instanceof KexecError) refused = true;
    else failure = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : `non-Error thrown: ${String(e)}`;
  }
  const ms = performance.now() - t0;
  const grownBytes = memoryNow() - before;
  if (failure !== undefined) return { kind: "exception", ms, grownBytes, message: failure };
  if (ms > CASE_TIME_LIMIT_MS) {
    return { kind: "slow", ms, grownBytes, message: `took ${ms.toFixed(0)} ms (limit ${CASE_TIME_LIMIT_MS} ms)` };
  }
  if (grownBytes > target.memoryBoundBytes) {
    return {
      kind: "memory",
      ms,
      grownBytes,
      message: `grew the heap and buffers by ${(grownBytes / 2 ** 20).toFixed(1)} MiB (bound ${
        (target.memoryBoundBytes / 2 ** 20).toFixed(0)
      } MiB)`,
    };
  }
  return { kind: refused ? "refused" : "ok", ms, grownBytes };
}

/**
 * Runs one step of a case, treating a KexecError (a refusal) as done: later steps of the same case still run.
 * Anything else propagates and is a finding.
 */
export function step(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof KexecError)) throw e;
  }
}

/** Text and base64 helpers for targets. */
export const text = {
  encode: (s: string): Uint8Array => encoder.encode(s),
  decode: (b: Uint8Array): string => decoder.decode(b),
  toBase64(bytes: Uint8Array): string {
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(bin);
  },
  fromBase64(b64: string): Uint8Array {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  },
};
