/**
 * The real RunEnv: the running machine's SystemView, the kernel through ffi/, stdout/stderr, and kexec-tools'
 * shutdown behaviour. main.ts uses it; so do guest test scripts that drive lib/ directly.
 *
 * @module
 */

import { KexecError } from "../errors.ts";
import { fsSystemView } from "../system.ts";
import { kexecFileLoad, kexecLoad, rebootIntoKexec } from "../../ffi/kexec.ts";
import { syncFilesystems } from "../../ffi/libc.ts";
import type { KernelOps, RunEnv } from "./run.ts";

const encoder = new TextEncoder();

/** A writer that loops until every byte is written. */
export function writer(f: { writeSync(p: Uint8Array): number }): (text: string) => void {
  return (text: string) => {
    const bytes = encoder.encode(text);
    for (let off = 0; off < bytes.length;) off += f.writeSync(bytes.subarray(off));
  };
}

/** The kernel calls, through ffi/. */
export const realKernel: KernelOps = { kexecLoad, kexecFileLoad, rebootIntoKexec, sync: syncFilesystems };

/**
 * kexec-tools' "no mode" ending: run `shutdown -r now` from /sbin, /etc or /bin, in that order.
 * @throws KexecError("io") when none runs; the kernel stays loaded
 */
export function runShutdown(): void {
  for (const cmd of ["/sbin/shutdown", "/etc/shutdown", "/bin/shutdown"]) {
    try {
      const r = new Deno.Command(cmd, { args: ["-r", "now"] }).outputSync();
      if (r.success) return;
      throw new KexecError(
        "io",
        `the kernel is loaded, but "${cmd} -r now" failed (exit ${r.code}); run kexec-ts -e to boot it`,
      );
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  throw new KexecError(
    "io",
    "the kernel is loaded, but there is no shutdown command to run; run kexec-ts -e to boot it",
  );
}

/** The environment of a real run against the machine (or a saved `--system-root`). */
export function realEnv(systemRoot = "/"): RunEnv {
  const err = writer(Deno.stderr);
  return {
    sys: fsSystemView(systemRoot),
    kernel: realKernel,
    out: writer(Deno.stdout),
    err: (t) => err(t.endsWith("\n") ? t : t + "\n"),
    shutdown: runShutdown,
    uid: Deno.uid() ?? 0,
  };
}
