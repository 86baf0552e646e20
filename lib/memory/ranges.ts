/**
 * Physical address ranges. A {@link Range} is half-open, `[start, end)`, in bytes; `/proc/iomem`'s inclusive ends
 * are converted where they are parsed. All arithmetic is bigint.
 *
 * @module
 */

/** A half-open physical range `[start, end)`. */
export interface Range {
  /** First byte (physical address). */
  start: bigint;
  /** One past the last byte. */
  end: bigint;
}

/** Page size of x86_64 kexec segments, in bytes. */
export const PAGE_SIZE = 4096n;

/** Rounds `value` up to a multiple of `align` (a power of two). */
export function alignUp(value: bigint, align: bigint): bigint {
  return (value + align - 1n) & ~(align - 1n);
}

/** Rounds `value` down to a multiple of `align` (a power of two). */
export function alignDown(value: bigint, align: bigint): bigint {
  return value & ~(align - 1n);
}

/** Whether `value` is a power of two (and positive). */
export function isPowerOfTwo(value: bigint): boolean {
  return value > 0n && (value & (value - 1n)) === 0n;
}

/** Size of a range in bytes. */
export function rangeSize(r: Range): bigint {
  return r.end - r.start;
}

/** Whether two ranges share at least one byte. */
export function overlaps(a: Range, b: Range): boolean {
  return a.start < b.end && b.start < a.end;
}

/** Whether `inner` lies entirely inside `outer`. */
export function contains(outer: Range, inner: Range): boolean {
  return inner.start >= outer.start && inner.end <= outer.end;
}

/** Sorts by start (then end) without modifying the input. */
export function sortRanges<T extends Range>(ranges: readonly T[]): T[] {
  return [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.end < b.end ? -1 : 1));
}

/** Sorts and merges overlapping or touching ranges. */
export function mergeRanges(ranges: readonly Range[]): Range[] {
  const out: Range[] = [];
  for (const r of sortRanges(ranges)) {
    if (r.end <= r.start) continue;
    const last = out[out.length - 1];
    if (last && r.start <= last.end) {
      if (r.end > last.end) last.end = r.end;
    } else {
      out.push({ start: r.start, end: r.end });
    }
  }
  return out;
}

/**
 * Removes every byte of `holes` from each range of `ranges`, keeping the ranges separate (a range split by a hole
 * becomes two). The order of `ranges` is kept; empty pieces are dropped.
 */
export function subtractRanges<T extends Range>(ranges: readonly T[], holes: readonly Range[]): T[] {
  let pieces: T[] = ranges.map((r) => ({ ...r }));
  for (const h of holes) {
    const next: T[] = [];
    for (const p of pieces) {
      if (!overlaps(p, h)) {
        next.push(p);
        continue;
      }
      if (p.start < h.start) next.push({ ...p, end: h.start });
      if (h.end < p.end) next.push({ ...p, start: h.end });
    }
    pieces = next;
  }
  return pieces;
}

/** Clamps each range to `[min, max)`, dropping ranges that fall outside. */
export function clampRanges<T extends Range>(ranges: readonly T[], min: bigint, max: bigint): T[] {
  const out: T[] = [];
  for (const r of ranges) {
    const start = r.start > min ? r.start : min;
    const end = r.end < max ? r.end : max;
    if (start < end) out.push({ ...r, start, end });
  }
  return out;
}

/** Formats a range the way kexec-tools' debug output does: `0000000000100000-000000003ffdefff` (inclusive end). */
export function formatRange(r: Range): string {
  return `${r.start.toString(16).padStart(16, "0")}-${(r.end - 1n).toString(16).padStart(16, "0")}`;
}
