/**
 * The peer: Debian's kexec-tools vmcore-dmesg, run on a core written to a temporary file.
 *
 * @module
 */

/** Debian bookworm's kexec-tools 2.0.25 vmcore-dmesg (scripts/setup installs kexec-tools). */
export const PEER = "/usr/sbin/vmcore-dmesg";
/** Where the cores and golden outputs live. */
export const GOLDEN_DIR = new URL("../../fixtures/vmcore", import.meta.url).pathname;

/** Runs the peer on `core`: its stdout, stderr and exit status. */
export function runPeer(core: Uint8Array): { stdout: Uint8Array; stderr: string; rc: number } {
  try {
    Deno.statSync(PEER);
  } catch {
    throw new Error(`${PEER} is missing: install Debian's kexec-tools (scripts/setup does)`);
  }
  const path = Deno.makeTempFileSync({ suffix: ".core" });
  try {
    Deno.writeFileSync(path, core);
    const r = new Deno.Command(PEER, { args: [path], stdout: "piped", stderr: "piped" }).outputSync();
    return { stdout: r.stdout, stderr: new TextDecoder().decode(r.stderr), rc: r.code };
  } finally {
    Deno.removeSync(path);
  }
}
