/**
 * The CLI's environment: the real RunEnv (lib/runtime.ts) writing to stdout and stderr.
 *
 * @module
 */

import { realEnv, type RunEnv } from "../runtime.ts";

const encoder = new TextEncoder();

/** A writer that loops until every byte is written. */
export function writer(f: { writeSync(p: Uint8Array): number }): (text: string) => void {
  return (text: string) => {
    const bytes = encoder.encode(text);
    for (let off = 0; off < bytes.length;) off += f.writeSync(bytes.subarray(off));
  };
}

/** A writer of bytes that loops until every byte is written. */
export function byteWriter(f: { writeSync(p: Uint8Array): number }): (bytes: Uint8Array) => void {
  return (bytes: Uint8Array) => {
    for (let off = 0; off < bytes.length;) off += f.writeSync(bytes.subarray(off));
  };
}

/** The environment of a command-line run against the machine (or a saved `--system-root`). */
export function cliEnv(systemRoot?: string): RunEnv {
  const err = writer(Deno.stderr);
  return realEnv({
    systemRoot,
    out: writer(Deno.stdout),
    outBytes: byteWriter(Deno.stdout),
    err: (t) => err(t.endsWith("\n") ? t : t + "\n"),
  });
}
