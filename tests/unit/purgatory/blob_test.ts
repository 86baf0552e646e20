/**
 * lib/purgatory/blob.ts must be what scripts/build-purgatory produces from purgatory/ now: neither stale (sources
 * changed without a rebuild) nor irreproducible. Needs gcc and binutils; without them this test FAILS.
 */

import assert from "node:assert/strict";
import { PURGATORY_OBJECT } from "../../../lib/purgatory/blob.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;

Deno.test("lib/purgatory/blob.ts is up to date and reproducible", async () => {
  for (const tool of ["gcc", "ld", "objcopy"]) {
    try {
      await new Deno.Command(tool, { args: ["--version"], stdout: "null", stderr: "null" }).output();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        assert.fail(`${tool} not found: checking lib/purgatory/blob.ts needs gcc and binutils (apt-get install gcc)`);
      }
      throw e;
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "kexec-ts-purgatory-" });
  try {
    const out = await new Deno.Command(`${ROOT}scripts/build-purgatory`, { args: ["--out", dir] }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `scripts/build-purgatory --out ${dir} failed: ${stderr}`);

    const fresh = await Deno.readFile(`${dir}/purgatory.o`);
    assert.ok(
      fresh.length === PURGATORY_OBJECT.length && fresh.every((b, i) => b === PURGATORY_OBJECT[i]),
      "the purgatory object built from purgatory/ differs from lib/purgatory/blob.ts: run scripts/build-purgatory",
    );
    const committed = await Deno.readTextFile(`${ROOT}lib/purgatory/blob.ts`);
    const rebuilt = await Deno.readTextFile(`${dir}/blob.ts`);
    assert.ok(rebuilt === committed, "lib/purgatory/blob.ts is stale: run scripts/build-purgatory");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
