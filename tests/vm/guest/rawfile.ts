/**
 * Guest-side: a raw kexec_file_load with no pre-checks at all, for the kernel's own verdict on an input kexec-ts
 * refuses (tests/vm/file_load_test.ts). Usage: rawfile.ts NAME KERNEL INITRD|- CMDLINE; loads a crash kernel.
 * Prints `@@KTS raw.<NAME> ok` or `@@KTS raw.<NAME> <ERRNO NAME>`.
 */

import { kexecFileLoad } from "../../../ffi/kexec.ts";
import { errnoName } from "../../../ffi/errno.ts";
import { KEXEC_FILE_ON_CRASH } from "../../../lib/abi.ts";

const [name, kernel, initrd, cmdline] = Deno.args;
let outcome = "ok";
try {
  kexecFileLoad(kernel, initrd === "-" ? undefined : initrd, cmdline, KEXEC_FILE_ON_CRASH, { uid: 0, crash: true });
} catch (e) {
  const errno = (e as { errno?: number }).errno;
  outcome = errno === undefined ? `error ${(e as Error).message}` : errnoName(errno);
}
console.log(`@@KTS raw.${name} ${outcome}`);
