/** lib/cli/usage.ts: --help is made from the option table, so every option and subcommand is in it. */

import assert from "node:assert/strict";
import { USAGE, VERSION } from "../../../lib/cli/usage.ts";
import { OPTIONS, SUBCOMMANDS } from "../../../lib/cli/options.ts";

Deno.test("--help lists every option of the table (long and short spellings) and every subcommand", () => {
  for (const o of OPTIONS) {
    for (const l of o.long) assert.match(USAGE, new RegExp(`--${l}\\b`), `--${l}`);
    if (o.short && o.short !== "?") assert.match(USAGE, new RegExp(`-${o.short}, `), `-${o.short}`);
  }
  for (const c of SUBCOMMANDS) assert.match(USAGE, new RegExp(`kexec-ts ${c.name}\\b`), c.name);
  assert.ok(USAGE.split("\n").every((l) => l.length <= 130), "lines fit a terminal");
});

Deno.test("the version comes from deno.json", () => {
  const config = JSON.parse(Deno.readTextFileSync(new URL("../../../deno.json", import.meta.url)));
  assert.equal(VERSION, config.version);
  assert.match(USAGE, new RegExp(`^kexec-ts ${VERSION.replaceAll(".", "\\.")}: `));
});
