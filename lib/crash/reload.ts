import { KexecError } from "../errors.ts";
import type { Invocation } from "../cli/args.ts";
import type { RunEnv } from "../cli/run.ts";

/** Placeholder until crash hotplug lands. */
export function runReload(_inv: Invocation, _env: RunEnv): Promise<number> {
  return Promise.reject(new KexecError("not-implemented", "not implemented yet: kexec-ts reload"));
}
