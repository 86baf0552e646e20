/** computeDigest: SHA-256 of each part's bytes padded with zeros to its len, in order. */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { KexecError } from "../../../lib/errors.ts";
import { computeDigest } from "../../../lib/purgatory/digest.ts";

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 131 + seed * 17 + (i >> 8)) & 0xff);
}

/** The definition, done the memory-hungry way. */
function concatenated(parts: { buf: Uint8Array; len: bigint }[]): Uint8Array {
  const total = parts.reduce((sum, p) => sum + Number(p.len), 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    all.set(part.buf, at);
    at += Number(part.len);
  }
  return all;
}

const sha256 = (bytes: Uint8Array) => new Uint8Array(createHash("sha256").update(bytes).digest());

Deno.test("computeDigest: no parts is the digest of the empty message", () => {
  assert.deepEqual(computeDigest([]), sha256(new Uint8Array(0)));
  assert.equal(computeDigest([]).length, 32);
});

Deno.test("computeDigest: equals SHA-256 of the explicit concatenation", () => {
  const cases: { buf: Uint8Array; len: bigint }[][] = [
    [{ buf: pattern(100, 1), len: 100n }],
    [{ buf: pattern(100, 1), len: 4096n }],
    [{ buf: new Uint8Array(0), len: 4096n }, { buf: pattern(1, 2), len: 1n }],
    [
      { buf: pattern(5000, 3), len: 8192n },
      { buf: pattern(0, 4), len: 0n },
      { buf: pattern(63, 5), len: 64n },
      { buf: pattern(4096, 6), len: 4096n },
    ],
    // padding longer than the 1 MiB zero chunk
    [{ buf: pattern(12345, 7), len: (3n << 20n) + 5n }, { buf: pattern(77, 8), len: 4096n }],
  ];
  for (const parts of cases) assert.deepEqual(computeDigest(parts), sha256(concatenated(parts)));
});

Deno.test("computeDigest: part order matters", () => {
  const a = { buf: pattern(10, 1), len: 16n };
  const b = { buf: pattern(10, 2), len: 16n };
  assert.notDeepEqual(computeDigest([a, b]), computeDigest([b, a]));
});

Deno.test("computeDigest: len shorter than the buffer is an error", () => {
  assert.throws(
    () => computeDigest([{ buf: pattern(10, 1), len: 10n }, { buf: pattern(10, 1), len: 9n }]),
    (e: unknown) =>
      e instanceof KexecError && e.code === "invalid-plan" &&
      e.message === "digest part 1: len 0x9 is shorter than its 0xa bytes",
  );
});
