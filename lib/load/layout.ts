/**
 * The planner's memory: placement inside the allowed ranges (RAM, or the crash region) and the bounds of the load,
 * with errors that name the cause: a window that cannot hold a buffer even in empty memory ("the crash region does
 * not reach into that window") apart from memory that is merely full ("reserve more memory").
 *
 * @module
 */

import { fail, hex } from "../errors.ts";
import { alignUp, PAGE_SIZE, type Range } from "../memory/ranges.ts";
import { freeBytes, freeList, place } from "../memory/placement.ts";
import type { AddressWindow } from "../arch/types.ts";
import type { BufferPiece, BufferRequest } from "./contract.ts";
import type { PlanSegment } from "./plan.ts";

/** The highest address + 1 of the 64-bit space: "no upper limit". */
export const NO_LIMIT = 1n << 64n;

/** Placement state of one plan. */
export interface Layout {
  /** Every buffer placed so far with its contents, in placement order. */
  readonly segments: PlanSegment[];
  /** Reserves memory for a buffer (contents to come) inside the bounds; returns its address. */
  reserve(req: Omit<BufferRequest, "bytes">): bigint;
  /** Reserves memory for a buffer and records it as a segment (memsz page-aligned); returns its address. */
  addBuffer(req: BufferRequest): bigint;
  /** Reserves in the first of `windows` that has room, top-down; the last window's error if none has. */
  reserveInWindows(
    req: Omit<BufferRequest, "bytes" | "min" | "max" | "topDown">,
    windows: readonly AddressWindow[],
  ): bigint;
  /** Bytes still free. */
  freeBytes(): bigint;
}

/** What a layout is made of. */
export interface LayoutOptions {
  /** Memory segments may use (already clamped to --mem-min/--mem-max). */
  allowed: readonly Range[];
  /** Every buffer lies inside these bounds (the main crash region for crash loads). */
  bounds: Range;
  crash: boolean;
  /** --mem-min or --mem-max was given (for messages). */
  memLimited: boolean;
}

function isPieces(b: BufferRequest["bytes"]): b is readonly BufferPiece[] {
  return Array.isArray(b);
}

/**
 * The segments of a buffer given as pieces: each from its page-aligned offset to the next piece's (the last to the
 * buffer's memsz), its bytes fitting in that.
 * @throws KexecError("layout") for pieces that are out of order, unaligned or too large (a loader's bug)
 */
function pieceSegments(req: BufferRequest, pieces: readonly BufferPiece[], mem: bigint, memsz: bigint): PlanSegment[] {
  const what = req.what ?? req.role;
  return pieces.map((p, i) => {
    const end = i + 1 < pieces.length ? pieces[i + 1].offset : memsz;
    if (p.offset % PAGE_SIZE !== 0n || end <= p.offset || BigInt(p.bytes.length) > end - p.offset) {
      fail(
        "layout",
        `${what} piece ${i} at offset ${hex(p.offset)} (${hex(p.bytes.length)} bytes) does not fit before ${hex(end)}`,
      );
    }
    return { role: req.role, buf: p.bytes, mem: mem + p.offset, memsz: alignUp(end - p.offset, PAGE_SIZE) };
  });
}

/** A layout over `opts.allowed`. */
export function newLayout(opts: LayoutOptions): Layout {
  const { bounds, crash } = opts;
  const free = freeList(opts.allowed);
  const segments: PlanSegment[] = [];
  const hint = crash
    ? "reserve more memory with crashkernel= or use a smaller initrd"
    : "widen --mem-min/--mem-max or use a smaller initrd";

  const windowError = (req: Omit<BufferRequest, "bytes">, size: bigint): never => {
    const window = `[${hex(req.min)}, ${req.max >= NO_LIMIT ? "the top of memory" : hex(req.max)})`;
    const limited = opts.memLimited ? " inside --mem-min/--mem-max" : "";
    const where = crash
      ? `the crash region ${hex(bounds.start)}-${hex(bounds.end - 1n)}${limited}`
      : `usable RAM${limited}`;
    return fail(
      "layout",
      `no room for the ${req.what ?? req.role} (${hex(size)} bytes) in ${window}${req.why ? ` (${req.why})` : ""}: ` +
        `${where} does not reach into that window; ${
          crash
            ? "reserve the crash region inside it (crashkernel=SIZE@OFFSET, or without ,high)"
            : "widen --mem-min/--mem-max"
        }`,
    );
  };

  const reserve = (req: Omit<BufferRequest, "bytes">): bigint => {
    const min = req.min > bounds.start ? req.min : bounds.start;
    const max = req.max < bounds.end ? req.max : bounds.end;
    const size = alignUp(req.memsz, PAGE_SIZE);
    const align = req.align > PAGE_SIZE ? req.align : PAGE_SIZE;
    const fits = opts.allowed.some((r) => {
      const lo = alignUp(r.start > min ? r.start : min, align);
      const hi = r.end < max ? r.end : max;
      return hi > lo && hi - lo >= size;
    });
    if (!fits) windowError(req, size);
    const what = req.what ?? req.role;
    return place(
      free,
      { what, memsz: req.memsz, align: req.align, min, max, topDown: req.topDown, prefer: req.prefer },
      hint,
    );
  };

  return {
    segments,
    reserve,
    addBuffer(req) {
      const mem = reserve(req);
      const memsz = alignUp(req.memsz, PAGE_SIZE);
      if (isPieces(req.bytes)) {
        segments.push(...pieceSegments(req, req.bytes, mem, memsz));
        return mem;
      }
      const buf = typeof req.bytes === "function" ? req.bytes(mem) : req.bytes;
      if (BigInt(buf.length) > memsz) {
        fail("layout", `the ${req.what ?? req.role} is ${hex(buf.length)} bytes, more than the ${hex(memsz)} reserved`);
      }
      segments.push({ role: req.role, buf, mem, memsz });
      return mem;
    },
    reserveInWindows(req, windows) {
      for (let i = 0;; i++) {
        try {
          return reserve({ ...req, ...windows[i], topDown: true });
        } catch (e) {
          if (i + 1 >= windows.length) throw e;
        }
      }
    },
    freeBytes: () => freeBytes(free),
  };
}
