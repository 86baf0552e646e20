/**
 * The floor a Deno loader cannot go below, run by the native benchmark beside the tools: the Deno runtime, FFI
 * into libc (every kexec syscall needs it), and SHA-256 over the files named on the command line, mapped as
 * kexec-ts maps its inputs (ffi/fd.ts) and hashed through the same libcrypto calls (ffi/libcrypto.ts). With no
 * files it is the runtime plus FFI alone. Prints nothing.
 *
 * @module
 */

import { closeFd, openReadOnly, rawSyscall } from "../../ffi/libc.ts";
import { mapPrivate, statFd } from "../../ffi/fd.ts";
import { libcryptoSha256 } from "../../ffi/libcrypto.ts";

/** getpid(2) on x86_64: a syscall through FFI, as kexec_load is made. */
const SYS_GETPID = 39;

rawSyscall(SYS_GETPID);
if (Deno.args.length) {
  const hash = libcryptoSha256();
  if (!hash) throw new Error("libcrypto.so.3 is not usable");
  for (const path of Deno.args) {
    const fd = openReadOnly(path);
    if (fd < 0) throw new Error(`cannot open ${path}`);
    const st = statFd(fd);
    if (typeof st === "number") throw new Error(`cannot stat ${path}`);
    const bytes = mapPrivate(fd, st.sizeBytes);
    if (typeof bytes === "number") throw new Error(`cannot map ${path}`);
    hash.update(bytes);
    closeFd(fd);
  }
  hash.digest();
}
