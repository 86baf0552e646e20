/**
 * ffi/libc.ts memfdWithBytes: an anonymous memory file holding exactly the bytes. Read back with pread(2) through
 * the test's own libc handle (Deno's file APIs refuse /proc/self/fd without --allow-all).
 */

import assert from "node:assert/strict";
import { closeFd, memfdWithBytes, writeAll } from "../../../ffi/libc.ts";

const libc = Deno.dlopen("libc.so.6", {
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
}).symbols;
const SEEK_END = 2;

function readAll(fd: number): Uint8Array {
  const size = Number(libc.lseek(fd, 0n, SEEK_END));
  const buf = new Uint8Array(size);
  for (let off = 0; off < size;) {
    const n = Number(libc.pread(fd, buf.subarray(off), BigInt(size - off), BigInt(off)));
    assert.ok(n > 0, `pread returned ${n}`);
    off += n;
  }
  return buf;
}

Deno.test("memfdWithBytes: the fd holds exactly the bytes; empty contents make an empty file", () => {
  const bytes = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 7) & 0xff);
  const fd = memfdWithBytes("kts-test:kernel", bytes);
  assert.ok(fd >= 0, `memfd_create failed: errno ${-fd}`);
  try {
    assert.deepEqual(readAll(fd), bytes);
  } finally {
    closeFd(fd);
  }
  const empty = memfdWithBytes("kts-test:empty", new Uint8Array(0));
  assert.ok(empty >= 0);
  assert.equal(readAll(empty).length, 0);
  closeFd(empty);
});

Deno.test("writeAll: short writes continue, EINTR retries, an error stops, a write of nothing is EIO (no endless loop)", () => {
  const bytes = new Uint8Array(10);
  const script = (...results: number[]) => {
    const calls: number[] = [];
    const rc = writeAll(bytes, (chunk) => {
      calls.push(chunk.length);
      return results.shift() ?? assert.fail(`write called again (${calls.join(",")})`);
    });
    return { rc, calls };
  };
  assert.deepEqual(script(4, -4, 6), { rc: 0, calls: [10, 6, 6] }, "short write, EINTR, rest");
  assert.deepEqual(script(3, -28), { rc: -28, calls: [10, 7] }, "ENOSPC stops");
  assert.deepEqual(script(2, 0), { rc: -5, calls: [10, 8] }, "0 bytes written: EIO");
  assert.deepEqual(writeAll(new Uint8Array(0), () => assert.fail("nothing to write")), 0);
});
