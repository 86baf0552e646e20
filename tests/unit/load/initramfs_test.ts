/**
 * lib/load/initramfs.ts: the empty initramfs is a newc archive the kernel's unpacker accepts: the newc magic, 13
 * hex fields, the TRAILER!!! name with its NUL, and zeros to one 512-byte cpio block (checked here field by field at
 * the offsets of init/initramfs.c, and read by cpio(1)). The VM test (tests/vm/uefi_test.ts) has a kernel unpack it.
 */

import assert from "node:assert/strict";
import { emptyInitramfs } from "../../../lib/load/initramfs.ts";

Deno.test("emptyInitramfs: a newc trailer record and zeros, 512 bytes", () => {
  const a = emptyInitramfs();
  assert.equal(a.length, 512);
  const text = new TextDecoder().decode(a.subarray(0, 110));
  assert.equal(text.slice(0, 6), "070701");
  const fields = [...Array(13)].map((_, i) => text.slice(6 + i * 8, 14 + i * 8));
  assert.ok(fields.every((f) => /^[0-9a-f]{8}$/.test(f)), fields.join(","));
  // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  assert.deepEqual(fields.map((f) => parseInt(f, 16)), [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0]);
  assert.equal(new TextDecoder().decode(a.subarray(110, 121)), "TRAILER!!!\0");
  assert.ok(a.subarray(121).every((b) => b === 0), "zeros after the name");
  assert.notEqual(emptyInitramfs(), a, "a fresh array each time (a plan may keep it)");
});

Deno.test("emptyInitramfs: cpio(1) reads it as an empty archive (cpio is in scripts/setup.d/packages)", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "kts-cpio-" });
  try {
    Deno.writeFileSync(`${dir}/empty.cpio`, emptyInitramfs());
    const r = await new Deno.Command("cpio", {
      args: ["-t", "-F", `${dir}/empty.cpio`],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const err = new TextDecoder().decode(r.stderr);
    assert.ok(r.success, err);
    assert.equal(new TextDecoder().decode(r.stdout), "", "no members");
    assert.match(err, /^1 block\n$/, "one 512-byte block, no complaint");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
