/**
 * `deno task bundle`: kexec-ts bundled into one file, dist/kexec-ts.js (run it with
 * `deno run --allow-all dist/kexec-ts.js`; Deno lets nothing less read /proc and /sys).
 *
 * @module
 */

import { bundleTo, ROOT } from "./deb/bundle.ts";

const out = `${ROOT}dist/kexec-ts.js`;
bundleTo(out);
console.log(`${out} (${Deno.statSync(out).size} bytes)`);
