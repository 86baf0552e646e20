/** lib/memory/ranges.ts (half-open [start, end) arithmetic) and lib/memory/placement.ts (hole finding). */

import assert from "node:assert/strict";
import {
  alignDown,
  alignUp,
  clampRanges,
  contains,
  formatRange,
  isPowerOfTwo,
  mergeRanges,
  overlaps,
  type Range,
  rangeSize,
  sortRanges,
  subtractRanges,
} from "../../../lib/memory/ranges.ts";
import { findHole, freeBytes, freeList, place, type PlacementRequest } from "../../../lib/memory/placement.ts";
import { throwsKexec } from "../test_helpers.ts";

const r = (start: number | bigint, end: number | bigint): Range => ({ start: BigInt(start), end: BigInt(end) });

Deno.test("alignUp / alignDown / isPowerOfTwo", () => {
  assert.equal(alignUp(0n, 0x1000n), 0n);
  assert.equal(alignUp(1n, 0x1000n), 0x1000n);
  assert.equal(alignUp(0x1000n, 0x1000n), 0x1000n);
  assert.equal(alignUp(0x1001n, 0x1000n), 0x2000n);
  assert.equal(alignUp(0x100000001n, 0x200000n), 0x100200000n, "above 4 GiB: bigint, no 32-bit truncation");
  assert.equal(alignDown(0x1fffn, 0x1000n), 0x1000n);
  assert.equal(alignDown(0x7ffdf000n, 0x200000n), 0x7fe00000n);
  assert.deepEqual([0n, 1n, 2n, 3n, 0x1000n, 0x300000n, -4n].map(isPowerOfTwo), [
    false,
    true,
    true,
    false,
    true,
    false,
    false,
  ]);
});

Deno.test("overlaps / contains / rangeSize treat ranges as half-open", () => {
  assert.equal(overlaps(r(0, 10), r(10, 20)), false, "touching ranges share no byte");
  assert.equal(overlaps(r(0, 11), r(10, 20)), true);
  assert.equal(overlaps(r(5, 6), r(0, 100)), true);
  assert.equal(contains(r(0, 10), r(0, 10)), true);
  assert.equal(contains(r(0, 10), r(5, 11)), false);
  assert.equal(rangeSize(r(0x100000, 0x7ffdf000)), 0x7fedf000n);
});

Deno.test("sortRanges sorts by start, then end, without touching its input", () => {
  const input = [r(30, 40), r(10, 30), r(10, 20)];
  assert.deepEqual(sortRanges(input), [r(10, 20), r(10, 30), r(30, 40)]);
  assert.deepEqual(input, [r(30, 40), r(10, 30), r(10, 20)]);
});

Deno.test("mergeRanges merges overlapping and touching ranges and drops empty ones", () => {
  const input = [r(20, 30), r(0, 10), r(10, 15), r(25, 40), r(50, 50), r(60, 70), r(62, 65)];
  assert.deepEqual(mergeRanges(input), [r(0, 15), r(20, 40), r(60, 70)]);
  assert.deepEqual(input[1], r(0, 10), "input objects are not modified");
  assert.deepEqual(mergeRanges([]), []);
});

Deno.test("subtractRanges splits, trims and removes, keeping order and extra fields", () => {
  const ram = [{ ...r(0x100000, 0x7ffdf000), type: 1 }, { ...r(0x1000, 0x9fc00), type: 1 }];
  const out = subtractRanges(ram, [r(0, 0x100000), r(0x68000000, 0x78000000)]);
  assert.deepEqual(out, [
    { ...r(0x100000, 0x68000000), type: 1 },
    { ...r(0x78000000, 0x7ffdf000), type: 1 },
  ]);
  assert.deepEqual(subtractRanges([r(0, 100)], [r(0, 10)]), [r(10, 100)]);
  assert.deepEqual(subtractRanges([r(0, 100)], [r(90, 200)]), [r(0, 90)]);
  assert.deepEqual(subtractRanges([r(0, 100)], [r(0, 100)]), []);
  assert.deepEqual(subtractRanges([r(0, 100)], [r(100, 200)]), [r(0, 100)], "a touching hole removes nothing");
  assert.deepEqual(subtractRanges([r(0, 100)], [r(10, 20), r(30, 40)]), [r(0, 10), r(20, 30), r(40, 100)]);
});

Deno.test("clampRanges clamps to [min, max) and drops what falls outside", () => {
  const input = [{ ...r(0, 0x9fc00), type: 1 }, { ...r(0x100000, 0x7ffdf000), type: 1 }];
  assert.deepEqual(clampRanges(input, 0x80000n, 0x200000n), [
    { ...r(0x80000, 0x9fc00), type: 1 },
    { ...r(0x100000, 0x200000), type: 1 },
  ]);
  assert.deepEqual(clampRanges(input, 0x80000000n, 1n << 64n), []);
});

Deno.test("formatRange prints an inclusive end, 16 hex digits each, as kexec-tools -d does", () => {
  assert.equal(formatRange(r(0x100000, 0x7ffdf000)), "0000000000100000-000000007ffdefff");
  assert.equal(formatRange(r(0xfd00000000n, 0x10000000000n)), "000000fd00000000-000000ffffffffff");
});

const req = (over: Partial<PlacementRequest>): PlacementRequest => ({
  what: "thing",
  memsz: 0x3000n,
  align: 0x1000n,
  min: 0n,
  max: 1n << 64n,
  topDown: false,
  ...over,
});
const FREE = [r(0x1000, 0x10000), r(0x100000, 0x200000)];

Deno.test("findHole: bottom-up takes the lowest fit, top-down the highest", () => {
  assert.equal(findHole(FREE, req({})), 0x1000n);
  assert.equal(findHole(FREE, req({ topDown: true })), 0x1fd000n);
  // memsz is rounded up to whole pages before fitting.
  assert.equal(findHole(FREE, req({ memsz: 0x2001n, topDown: true })), 0x1fd000n);
  assert.equal(findHole([r(0x1000, 0x4000)], req({ memsz: 0x3001n })), undefined);
  // Top-down across ranges listed in any order still picks the highest.
  assert.equal(findHole([FREE[1], FREE[0]], req({ topDown: true, max: 0x180000n })), 0x17d000n);
});

Deno.test("findHole: alignment of the start, and sub-page alignment means a page", () => {
  assert.equal(findHole([r(0x100000, 0x800000)], req({ align: 0x200000n })), 0x200000n);
  assert.equal(findHole([r(0x100000, 0x7f0000)], req({ align: 0x200000n, topDown: true })), 0x600000n);
  assert.equal(findHole([r(0x100000, 0x201000)], req({ align: 0x200000n })), undefined, "aligned start too high");
  assert.equal(findHole([r(0x1800, 0x10000)], req({ align: 16n })), 0x2000n);
});

Deno.test("findHole: min and max bound the start and the end", () => {
  assert.equal(findHole(FREE, req({ min: 0x180000n })), 0x180000n);
  assert.equal(findHole(FREE, req({ max: 0x10000n, topDown: true })), 0xd000n);
  assert.equal(findHole(FREE, req({ min: 0xe000n, max: 0x10000n })), undefined);
  assert.equal(findHole(FREE, req({ min: 0x200000n })), undefined);
});

Deno.test("findHole: prefer is taken when aligned, free and inside [min, max); ignored otherwise", () => {
  assert.equal(findHole(FREE, req({ prefer: 0x150000n, topDown: true })), 0x150000n);
  assert.equal(findHole(FREE, req({ prefer: 0x150800n })), 0x1000n, "unaligned");
  assert.equal(findHole(FREE, req({ prefer: 0x1fe000n })), 0x1000n, "would run past the free range");
  assert.equal(findHole(FREE, req({ prefer: 0x20000n })), 0x1000n, "not free");
  assert.equal(findHole(FREE, req({ prefer: 0x2000n, min: 0x100000n })), 0x100000n, "below min");
  assert.equal(
    findHole([r(0x100000, 0x8000000)], req({ prefer: 0x1000000n, align: 0x200000n })),
    0x1000000n,
    "the kernel at its pref_address",
  );
});

Deno.test("place removes the placed pages from the free list", () => {
  const list = freeList(FREE);
  const before = freeBytes(list);
  assert.equal(before, 0xf000n + 0x100000n);
  const a = place(list, req({ memsz: 0x2800n, topDown: true }), "hint");
  assert.equal(a, 0x1fd000n);
  assert.equal(freeBytes(list), before - 0x3000n);
  assert.deepEqual(list.ranges, [r(0x1000, 0x10000), r(0x100000, 0x1fd000)]);
  // The next top-down request lands just below.
  assert.equal(place(list, req({ topDown: true }), "hint"), 0x1fa000n);
  // freeList copies its input.
  assert.deepEqual(FREE, [r(0x1000, 0x10000), r(0x100000, 0x200000)]);
});

Deno.test("place: the error names the segment, its size and alignment, the window, the largest piece and the hint", () => {
  const list = freeList(FREE);
  throwsKexec(
    () => place(list, req({ what: "initrd", memsz: 0xf001n, max: 0x10000n }), "use a smaller initrd"),
    "layout",
    /^no room for the initrd \(0x10000 bytes, aligned 0x1000\) in \[0x0, 0x10000\): the largest free piece there is 0xf000 bytes; use a smaller initrd$/,
  );
  throwsKexec(
    () => place(list, req({ what: "kernel", memsz: 0x200000n, align: 0x200000n }), "widen --mem-max"),
    "layout",
    /no room for the kernel \(0x200000 bytes, aligned 0x200000\) in \[0x0, 0x10000000000000000\): the largest free piece there is 0x100000 bytes; widen --mem-max/,
  );
  assert.equal(freeBytes(list), 0xf000n + 0x100000n, "a failed placement takes nothing");
});
