/** lib/files.ts: atomic replacement of state files. */

import assert from "node:assert/strict";
import { writeFileAtomic } from "../../lib/files.ts";

Deno.test("writeFileAtomic: creates the directory, replaces the file whole, leaves no temporary file", () => {
  const dir = Deno.makeTempDirSync({ prefix: "kexec-ts-record-" });
  try {
    const path = `${dir}/a/b/crash-load.json`;
    writeFileAtomic(path, "first\n");
    assert.equal(Deno.readTextFileSync(path), "first\n");
    writeFileAtomic(path, "second\n", 0o600);
    assert.equal(Deno.readTextFileSync(path), "second\n");
    assert.deepEqual([...Deno.readDirSync(`${dir}/a/b`)].map((e) => e.name), ["crash-load.json"]);
    const fresh = `${dir}/mode.json`;
    writeFileAtomic(fresh, "x", 0o600);
    assert.equal(Deno.statSync(fresh).mode! & 0o777, 0o600);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
