/**
 * Placing segments in free memory: the free list is "allowed ranges minus what is already placed", and each
 * request names its size, alignment, bounds and direction (top-down for data that should stay out of the
 * kernel's way, bottom-up for the kernel).
 *
 * @module
 */

import { fail, hex } from "../errors.ts";
import { alignDown, alignUp, mergeRanges, PAGE_SIZE, type Range, rangeSize, subtractRanges } from "./ranges.ts";

/** One placement request. Sizes and addresses in bytes. */
export interface PlacementRequest {
  /** Used in error messages: "initrd", "kernel". */
  what: string;
  /** Bytes to reserve; rounded up to pages. */
  memsz: bigint;
  /** Alignment of the start (power of two, at least a page). */
  align: bigint;
  /** Lowest allowed start. */
  min: bigint;
  /** Highest allowed end (exclusive). */
  max: bigint;
  topDown: boolean;
  /** Try exactly this start first. */
  prefer?: bigint;
}

/** A free list that shrinks as segments are placed. */
export interface FreeList {
  ranges: Range[];
}

/** A free list over `allowed`; touching ranges (adjacent memmap entries, hot-added blocks) become one. */
export function freeList(allowed: readonly Range[]): FreeList {
  return { ranges: mergeRanges(allowed) };
}

/** The start address for `req` in `free`, or `undefined` if nothing fits. Pure. */
export function findHole(free: readonly Range[], req: PlacementRequest): bigint | undefined {
  const size = alignUp(req.memsz, PAGE_SIZE);
  const align = req.align < PAGE_SIZE ? PAGE_SIZE : req.align;
  const fits = (start: bigint) =>
    start >= req.min && start + size <= req.max &&
    free.some((r) => start >= r.start && start + size <= r.end);
  if (req.prefer !== undefined && req.prefer % align === 0n && fits(req.prefer)) return req.prefer;
  const candidates: bigint[] = [];
  for (const r of free) {
    const lo = r.start > req.min ? r.start : req.min;
    const hi = r.end < req.max ? r.end : req.max;
    if (hi <= lo || hi - lo < size) continue;
    if (req.topDown) {
      const start = alignDown(hi - size, align);
      if (start >= lo) candidates.push(start);
    } else {
      const start = alignUp(lo, align);
      if (start + size <= hi) candidates.push(start);
    }
  }
  if (candidates.length === 0) return undefined;
  return candidates.reduce((best, c) => (req.topDown ? (c > best ? c : best) : (c < best ? c : best)));
}

/**
 * Places `req` and removes its pages from the free list.
 * @throws KexecError("layout") naming the segment, its size, the window, the largest free piece, and `hint`
 */
export function place(list: FreeList, req: PlacementRequest, hint: string): bigint {
  const start = findHole(list.ranges, req);
  const size = alignUp(req.memsz, PAGE_SIZE);
  if (start === undefined) {
    const window = list.ranges
      .map((r) => ({ start: r.start > req.min ? r.start : req.min, end: r.end < req.max ? r.end : req.max }))
      .filter((r) => r.end > r.start);
    const largest = window.reduce((m, r) => (rangeSize(r) > m ? rangeSize(r) : m), 0n);
    fail(
      "layout",
      `no room for the ${req.what} (${hex(size)} bytes, aligned ${hex(req.align)}) in [${hex(req.min)}, ${
        hex(req.max)
      }): ` +
        `the largest free piece there is ${hex(largest)} bytes; ${hint}`,
    );
  }
  list.ranges = subtractRanges(list.ranges, [{ start, end: start + size }]);
  return start;
}

/** Total free bytes left. */
export function freeBytes(list: FreeList): bigint {
  return list.ranges.reduce((n, r) => n + rangeSize(r), 0n);
}
