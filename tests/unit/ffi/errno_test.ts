/**
 * ffi/errno.ts: errno → one actionable line. The causes and their errnos come from the kernel (kernel/kexec.c
 * kexec_load_permitted, security_kernel_load_data, LOCKDOWN_KEXEC; see reference/kernel-interface.md §2 and §6).
 */

import assert from "node:assert/strict";
import { Errno, errnoName, explainErrno, KernelCallError } from "../../../ffi/errno.ts";
import { KexecError } from "../../../lib/errors.ts";

const root = { uid: 0, crash: false };
const rootCrash = { uid: 0, crash: true };

Deno.test("Errno values are Linux x86_64's: each equals the kernel's uapi header (linux-libc-dev, which gcc pulls in)", () => {
  const linux = new Map<string, number>();
  for (const h of ["/usr/include/asm-generic/errno-base.h", "/usr/include/asm-generic/errno.h"]) {
    for (const m of Deno.readTextFileSync(h).matchAll(/^#define\s+(E[A-Z0-9]+)\s+(\d+)\b/gm)) {
      linux.set(m[1], Number(m[2]));
    }
  }
  assert.ok(linux.size > 100, "the uapi errno headers were not read");
  for (const [name, value] of Object.entries(Errno)) assert.equal(value, linux.get(name), name);
});

Deno.test("errnoName: symbolic names, and a numeric fallback", () => {
  assert.equal(errnoName(1), "EPERM");
  assert.equal(errnoName(99), "EADDRNOTAVAIL");
  assert.equal(errnoName(129), "EKEYREJECTED");
  assert.equal(errnoName(7), "errno 7");
  assert.equal(errnoName(0), "errno 0");
});

Deno.test("EPERM as non-root: needs root, whatever else is true", () => {
  const msg = explainErrno("kexec_load", Errno.EPERM, {
    uid: 1000,
    crash: false,
    lockdown: "integrity",
    kexecLoadDisabled: true,
  });
  assert.match(msg, /^kexec_load failed \(EPERM\): kexec needs root \(CAP_SYS_BOOT\); run it as root$/);
});

Deno.test("EPERM with kernel.kexec_load_disabled=1 says it is one-way until reboot", () => {
  const msg = explainErrno("kexec_load", Errno.EPERM, { ...root, kexecLoadDisabled: true, loadLimit: 0n });
  assert.match(msg, /kexec is disabled \(kernel\.kexec_load_disabled=1, which cannot be undone until reboot\)/);
  // It blocks kexec_file_load too.
  assert.match(
    explainErrno("kexec_file_load", Errno.EPERM, { ...root, kexecLoadDisabled: true }),
    /^kexec_file_load failed \(EPERM\): kexec is disabled/,
  );
});

Deno.test("EPERM with the load limit at 0 names the per-type sysctl", () => {
  assert.match(
    explainErrno("kexec_load", Errno.EPERM, { ...rootCrash, loadLimit: 0n }),
    /kernel\.kexec_load_limit_panic is 0, so this kernel allows no more loads of this type until reboot/,
  );
  assert.match(
    explainErrno("kexec_load", Errno.EPERM, { ...root, loadLimit: 0n }),
    /kernel\.kexec_load_limit_reboot is 0/,
  );
  // -1 (unlimited) and positive limits are not the cause.
  for (const loadLimit of [-1n, 3n]) {
    assert.doesNotMatch(explainErrno("kexec_load", Errno.EPERM, { ...root, loadLimit }), /kexec_load_limit/);
  }
  // reboot(LINUX_REBOOT_CMD_KEXEC) does not consume a load slot.
  const reboot = explainErrno("reboot", Errno.EPERM, { ...root, loadLimit: 0n });
  assert.doesNotMatch(reboot, /kexec_load_limit/);
  assert.match(reboot, /^reboot\(LINUX_REBOOT_CMD_KEXEC\) failed \(EPERM\)/);
});

Deno.test("EPERM under lockdown integrity/confidentiality blocks kexec_load: suggests -s with a signed kernel", () => {
  for (const lockdown of ["integrity", "confidentiality"]) {
    assert.equal(
      explainErrno("kexec_load", Errno.EPERM, { ...root, lockdown }),
      `kexec_load is blocked by lockdown (${lockdown}); use -s (kexec_file_load) with a signed kernel`,
    );
  }
  // lockdown=none, or unknown: the remaining cause is a missing capability (e.g. a container).
  for (const lockdown of ["none", undefined]) {
    assert.match(
      explainErrno("kexec_load", Errno.EPERM, { ...root, lockdown }),
      /^kexec_load failed \(EPERM\): this process lacks CAP_SYS_BOOT in the init user namespace/,
    );
  }
  // LOCKDOWN_KEXEC only gates kexec_load; unloading is not reported as a lockdown refusal.
  assert.match(explainErrno("unload", Errno.EPERM, { ...root, lockdown: "integrity" }), /^unloading failed \(EPERM\)/);
});

Deno.test("EPERM precedence: root check, then kexec_load_disabled, then the limit, then lockdown", () => {
  const all = { ...root, lockdown: "integrity", kexecLoadDisabled: true, loadLimit: 0n };
  assert.match(explainErrno("kexec_load", Errno.EPERM, all), /kexec_load_disabled/);
  assert.match(explainErrno("kexec_load", Errno.EPERM, { ...all, kexecLoadDisabled: false }), /limit_reboot is 0/);
  assert.match(
    explainErrno("kexec_load", Errno.EPERM, { ...all, kexecLoadDisabled: false, loadLimit: -1n }),
    /blocked by lockdown \(integrity\)/,
  );
});

Deno.test("EACCES (IMA / Secure Boot) suggests -s with a signed kernel", () => {
  const msg = explainErrno("kexec_load", Errno.EACCES, root);
  assert.match(msg, /^kexec_load failed \(EACCES\)/);
  assert.match(msg, /IMA policy or Secure Boot with KEXEC_SIG/);
  assert.match(msg, /use -s \(kexec_file_load\) with a signed kernel$/);
});

Deno.test("ENOSYS names the missing config and the other syscall", () => {
  assert.equal(
    explainErrno("kexec_load", Errno.ENOSYS, root),
    "kexec_load is not in this kernel (CONFIG_KEXEC off, ENOSYS); try -s (kexec_file_load)",
  );
  assert.equal(
    explainErrno("kexec_file_load", Errno.ENOSYS, root),
    "kexec_file_load is not in this kernel (CONFIG_KEXEC_FILE off, ENOSYS); use -c (kexec_load)",
  );
  const unload = explainErrno("unload", Errno.ENOSYS, root);
  assert.match(unload, /^unloading is not in this kernel \(CONFIG_KEXEC off, ENOSYS\)$/);
});

Deno.test("EBUSY: the kexec lock is held (load, unload or a hotplug update); retry", () => {
  assert.match(
    explainErrno("kexec_load", Errno.EBUSY, rootCrash),
    /^kexec_load failed \(EBUSY\): another kexec load, unload or crash hotplug update holds the kexec lock; retry$/,
  );
});

Deno.test("EINVAL: kexec_file_load adds 'an image it cannot parse'; both point to -d", () => {
  const load = explainErrno("kexec_load", Errno.EINVAL, root);
  assert.match(load, /^kexec_load failed \(EINVAL\): the kernel rejected the request/);
  assert.match(load, /flags this kernel lacks, overlapping or oversized segments\); run with -d/);
  assert.doesNotMatch(load, /cannot parse/);
  assert.match(explainErrno("kexec_file_load", Errno.EINVAL, root), /, or an image it cannot parse\)/);
});

Deno.test("EADDRNOTAVAIL: crash loads name the main Crash kernel range", () => {
  const crash = explainErrno("kexec_load", Errno.EADDRNOTAVAIL, rootCrash);
  assert.match(crash, /outside the memory the kernel allows \(the main Crash kernel range\); run with -d/);
  const normal = explainErrno("kexec_load", Errno.EADDRNOTAVAIL, root);
  assert.match(normal, /^kexec_load failed \(EADDRNOTAVAIL\)/);
  assert.doesNotMatch(normal, /Crash kernel/);
});

Deno.test("ENOMEM: crash loads are told to leave slack or reserve more with crashkernel=", () => {
  const crash = explainErrno("kexec_load", Errno.ENOMEM, rootCrash);
  assert.match(crash, /could not allocate its control and page-table pages/);
  assert.match(crash, /leave free space in the crash region or reserve more with crashkernel=$/);
  assert.doesNotMatch(explainErrno("kexec_load", Errno.ENOMEM, root), /crashkernel=/);
});

Deno.test("signature errnos: EKEYREJECTED, ENOKEY, EBADMSG", () => {
  for (const [name, errno] of [["EKEYREJECTED", 129], ["ENOKEY", 126], ["EBADMSG", 74]] as const) {
    assert.equal(
      explainErrno("kexec_file_load", errno, root),
      `kexec_file_load failed (${name}): the kernel image's signature was rejected; sign it with a key the kernel trusts`,
    );
  }
});

Deno.test("ENOEXEC, EFAULT and unknown errnos", () => {
  assert.match(explainErrno("kexec_file_load", Errno.ENOEXEC, root), /cannot load this image type.*use -c/);
  assert.match(explainErrno("kexec_load", Errno.EFAULT, root), /could not read a segment buffer \(a kexec-ts bug/);
  assert.equal(explainErrno("kexec_load", 7, root), "kexec_load failed (errno 7)");
  assert.equal(explainErrno("unload", Errno.EINTR, root), "unloading failed (EINTR)");
});

Deno.test("KernelCallError: EPERM/EACCES are permission errors, the rest kernel errors", () => {
  const perm = new KernelCallError("kexec_load", Errno.EPERM, "m");
  assert.ok(perm instanceof KexecError);
  assert.equal(perm.code, "permission");
  assert.equal(perm.errno, 1);
  assert.equal(perm.op, "kexec_load");
  assert.equal(new KernelCallError("kexec_load", Errno.EACCES, "m").code, "permission");
  assert.equal(new KernelCallError("kexec_load", Errno.EBUSY, "m").code, "kernel");
  assert.equal(new KernelCallError("kexec_load", Errno.EBUSY, "m").exitCode, 1);
});
