/**
 * `deno task docs [DIR]`: writes kexec-ts.8 and the bash, zsh and fish completions (scripts/docs) into DIR
 * (default dist/doc), dated by packaging/changelog's latest entry.
 *
 * @module
 */

import { generatedDocs } from "./docs/mod.ts";
import { changelogDate } from "./deb/changelog.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const out = Deno.args[0] ?? `${ROOT}dist/doc`;
Deno.mkdirSync(out, { recursive: true });
for (const d of generatedDocs(changelogDate())) {
  const path = `${out}/${d.installPath.split("/").pop()}`;
  Deno.writeTextFileSync(path, d.text);
  console.log(path);
}
