/**
 * kexec-ts entry point: parse argv, run, map errors to exit codes. Nothing else lives here.
 *
 * @module
 */

import { parseInvocation } from "./lib/cli/args.ts";
import { type KernelOps, run, type RunEnv } from "./lib/cli/run.ts";
import { KexecError } from "./lib/errors.ts";
import { fsSystemView } from "./lib/system.ts";
import { kexecFileLoad, kexecLoad, rebootIntoKexec } from "./ffi/kexec.ts";
import { syncFilesystems } from "./ffi/libc.ts";

const encoder = new TextEncoder();
const write = (f: typeof Deno.stdout) => (text: string) => {
  const bytes = encoder.encode(text);
  for (let off = 0; off < bytes.length;) off += f.writeSync(bytes.subarray(off));
};

const kernel: KernelOps = { kexecLoad, kexecFileLoad, rebootIntoKexec, sync: syncFilesystems };

function shutdown(): void {
  // kexec-tools tries these three, in this order.
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

async function main(argv: string[]): Promise<number> {
  const stderr = write(Deno.stderr);
  try {
    const inv = parseInvocation(argv);
    const env: RunEnv = {
      sys: fsSystemView(inv.systemRoot ?? "/"),
      kernel,
      out: write(Deno.stdout),
      err: (t) => stderr(t.endsWith("\n") ? t : t + "\n"),
      shutdown,
      uid: Deno.uid() ?? 0,
    };
    return await run(inv, env);
  } catch (e) {
    if (e instanceof KexecError) {
      const hint = e.code === "usage" && !e.message.includes("--help") ? "; see kexec-ts --help" : "";
      stderr(`kexec-ts: ${e.message}${hint}\n`);
      return e.exitCode;
    }
    stderr(`kexec-ts: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
