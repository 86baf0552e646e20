import { KexecError } from "../errors.ts";
import type { RunEnv } from "../cli/run.ts";

/** Placeholder until crash hotplug lands. */
export function udevRulesCommand(_install: string | undefined, _env: RunEnv): number {
  throw new KexecError("not-implemented", "not implemented yet: kexec-ts udev-rules");
}
