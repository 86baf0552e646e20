/**
 * The architecture kexec-ts runs on, as one {@link Arch}: the thin front shared code goes through (the way
 * std's path/join.ts picks posix or windows). x86_64 is the only one so far; a port adds a folder beside
 * ./x86_64/ and a line here.
 *
 * @module
 */

import { fail } from "../errors.ts";
import type { Arch } from "./types.ts";
import { x86_64 } from "./x86_64/mod.ts";

export type { AddressWindow, Arch, CoreDumpFacts, FirmwareStatus, HotplugFlagRule, SecureBootState } from "./types.ts";
export { chooseHotplugFlag, type HotplugFlagChoice, parseKernelVersion } from "./hotplug_flag.ts";

/**
 * The architecture of this process (kexec loads a kernel for the machine it runs on).
 * @throws KexecError("unsupported") on an architecture kexec-ts has no folder for
 */
export function currentArch(): Arch {
  if (Deno.build.arch === "x86_64") return x86_64 as Arch;
  return fail("unsupported", `kexec-ts loads kernels on x86_64 only; this machine is ${Deno.build.arch}`);
}
