/**
 * The syscall numbers of this architecture, for ffi/ (which must not pull in the loaders and planners).
 *
 * @module
 */

import { SYS_KEXEC_FILE_LOAD, SYS_KEXEC_LOAD } from "./x86_64/abi.ts";

/** kexec_load and kexec_file_load numbers of the architecture this process runs on. */
export function kexecSyscalls(): { kexecLoad: number; kexecFileLoad: number } {
  if (Deno.build.arch !== "x86_64") {
    throw new Error(`kexec-ts has no syscall numbers for ${Deno.build.arch}`);
  }
  return { kexecLoad: SYS_KEXEC_LOAD, kexecFileLoad: SYS_KEXEC_FILE_LOAD };
}
