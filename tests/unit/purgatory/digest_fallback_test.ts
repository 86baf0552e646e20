/**
 * The digest is the same whichever native SHA-256 computes it: libcrypto through FFI, or node:crypto where FFI is
 * not allowed or libcrypto is missing (checked in a subprocess run without --allow-ffi).
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { hasLibcrypto } from "../../../ffi/libcrypto.ts";
import { computeDigest } from "../../../lib/purgatory/digest.ts";

const script = `
import { computeDigest } from "${new URL("../../../lib/purgatory/digest.ts", import.meta.url).href}";
import { hasLibcrypto } from "${new URL("../../../ffi/libcrypto.ts", import.meta.url).href}";
const buf = new Uint8Array(100000).map((_, i) => (i * 7) & 0xff);
const d = computeDigest([{ buf, len: 200000n }, { buf: buf.subarray(5), len: 99995n }]);
console.log(hasLibcrypto(), [...d].map((b) => b.toString(16).padStart(2, "0")).join(""));
`;

function expected(): string {
  const buf = new Uint8Array(100000).map((_, i) => (i * 7) & 0xff);
  return createHash("sha256").update(buf).update(new Uint8Array(100000)).update(buf.subarray(5)).digest("hex");
}

Deno.test("digest through libcrypto (this process) equals node:crypto over the padded concatenation", () => {
  assert.ok(hasLibcrypto(), "libcrypto.so.3 should load here (it is a dependency of the test machine's udev)");
  const buf = new Uint8Array(100000).map((_, i) => (i * 7) & 0xff);
  const d = computeDigest([{ buf, len: 200000n }, { buf: buf.subarray(5), len: 99995n }]);
  assert.equal([...d].map((b) => b.toString(16).padStart(2, "0")).join(""), expected());
});

Deno.test("without FFI the digest falls back to node:crypto and is the same", async () => {
  const file = Deno.makeTempFileSync({ suffix: ".ts" });
  Deno.writeTextFileSync(file, script);
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--quiet", file],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  Deno.removeSync(file);
  const out = new TextDecoder().decode(r.stdout).trim();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  assert.equal(out, `false ${expected()}`);
});
