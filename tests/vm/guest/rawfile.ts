/**
 * Guest-side: a raw kexec_file_load with no pre-checks at all, for the kernel's own verdict on an input kexec-ts
 * refuses (tests/vm/file_load_test.ts). Usage: rawfile.ts NAME KERNEL INITRD|- CMDLINE; loads a crash kernel.
 * Prints `@@KTS raw.<NAME> ok` or `@@KTS raw.<NAME> <ERRNO NAME>`.
 */

import { kexecFileLoad } from "../../../ffi/kexec.ts";
import { errnoName } from "../../../ffi/errno.ts";
import { KEXEC_FILE_ON_CRASH } from "../../../lib/abi.ts";
import { closeFd, openReadOnly } from "../../../ffi/libc.ts";

const [name, kernel, initrd, cmdline] = Deno.args;
let outcome = "ok";
const fds: number[] = [];
const open = (path: string) => {
  const fd = openReadOnly(path);
  if (fd < 0) throw new Error(`cannot open ${path}: ${errnoName(-fd)}`);
  fds.push(fd);
  return fd;
};
try {
  const ifd = initrd === "-" ? undefined : open(initrd);
  kexecFileLoad(open(kernel), ifd, cmdline, KEXEC_FILE_ON_CRASH, { uid: 0, crash: true });
} catch (e) {
  const errno = (e as { errno?: number }).errno;
  outcome = errno === undefined ? `error ${(e as Error).message}` : errnoName(errno);
} finally {
  fds.forEach(closeFd);
}
console.log(`@@KTS raw.${name} ${outcome}`);
