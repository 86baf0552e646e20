/**
 * `deno task compile`: kexec-ts as one executable, dist/kexec-ts, by `deno compile` of main.ts. deno compile needs
 * the denort runtime of its own version: from `DENORT_BIN`, else downloaded from dl.deno.land (not reachable
 * everywhere). Without one it fails with one line saying so; the bundle (`deno task bundle`) and the Debian
 * package's launcher need no denort.
 *
 * @module
 */

import { compileTo, ROOT } from "./deb/bundle.ts";
import config from "../deno.json" with { type: "json" };

const out = `${ROOT}dist/kexec-ts`;
Deno.mkdirSync(`${ROOT}dist`, { recursive: true });
const r = compileTo(out, config.version);
if (!r.ok) {
  console.error(`compile: ${r.reason}`);
  Deno.exit(1);
}
console.log(`${out} (${Deno.statSync(out).size} bytes)`);
