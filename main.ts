/**
 * kexec-ts entry point: parse argv, run, map errors to exit codes. Nothing else lives here.
 *
 * @module
 */

import { parseInvocation } from "./lib/cli/args.ts";
import { cliEnv, writer } from "./lib/cli/env.ts";
import { run } from "./lib/cli/run.ts";
import { KexecError } from "./lib/errors.ts";

async function main(argv: string[]): Promise<number> {
  const stderr = writer(Deno.stderr);
  try {
    const inv = parseInvocation(argv);
    return await run(inv, cliEnv(inv.systemRoot));
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
