/**
 * Every errno the kernel can return from kexec-ts' calls, and the exact line kexec-ts prints for it: through the CLI
 * (`run`) with a kernel that fails the way the real one does (a KernelCallError explained from the context the call
 * was given) and keeps /sys/kernel/kexec_crash_loaded as the kernel would: kexec_load and kexec_file_load free a
 * loaded crash kernel after their permission, lock and flag checks (kernel/kexec.c:127, kernel/kexec_file.c:396),
 * so an errno from after that point leaves none. For crash loads and crash unloads the line says which it is.
 */

import assert from "node:assert/strict";
import { parseInvocation } from "../../../lib/cli/args.ts";
import { run } from "../../../lib/cli/run.ts";
import { Errno, type ErrnoContext, explainErrno, KernelCallError, type KexecOp } from "../../../ffi/errno.ts";
import { KexecError } from "../../../lib/errors.ts";
import type { KernelOps, RunEnv } from "../../../lib/runtime.ts";
import { fsSystemView } from "../../../lib/system.ts";
import { machineDir, overlayView } from "../test_helpers.ts";
import { syntheticBzImage } from "../load/golden_fixtures.ts";

const tmp = Deno.makeTempDirSync({ prefix: "kts-errno-" });
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));
Deno.env.set("KEXEC_TS_RUN_DIR", `${tmp}/run`);
const K = `${tmp}/bzImage`;
Deno.writeFileSync(K, syntheticBzImage());
const CRASH = fsSystemView(machineDir("qemu-q35-2g-crash256m"));

/** Errnos kexec_load returns before it frees the loaded crash kernel (kernel/kexec.c:210-237, :103). */
const LOAD_BEFORE_FREE: number[] = [Errno.EPERM, Errno.EACCES, Errno.EBUSY, Errno.ENOSYS];
/** Errnos kexec_file_load returns before it frees it (kernel/kexec_file.c:366-376), unless from the signature. */
const FILE_BEFORE_FREE: number[] = [Errno.EPERM, Errno.EBUSY, Errno.ENOSYS];

interface Scenario {
  argv: string[];
  errno: number;
  /** The context differs from root on the fixture machine. */
  uid?: number;
  sys?: Record<string, string>;
  /** For kexec_file_load's EPERM: it came from the signature check under lockdown (after the free). */
  signature?: boolean;
}

/** Runs the command line against a kernel that fails with `errno`; returns the line main.ts would print. */
async function printed(s: Scenario): Promise<{ line: string; calls: string[] }> {
  let loaded = "1\n";
  const calls: string[] = [];
  const sys = overlayView(CRASH, { ...s.sys });
  const view = {
    ...sys,
    read: (p: string, m?: number) =>
      p === "/sys/kernel/kexec_crash_loaded"
        ? { kind: "ok" as const, bytes: new TextEncoder().encode(loaded) }
        : sys.read(p, m),
  };
  const fail = (op: KexecOp, ctx: ErrnoContext, freesFirst: boolean): never => {
    calls.push(op);
    if (ctx.crash && freesFirst) loaded = "0\n";
    throw new KernelCallError(op, s.errno, explainErrno(op, s.errno, ctx));
  };
  const kernel: KernelOps = {
    kexecLoad: (_e, segments, _f, ctx) =>
      fail(segments.length ? "kexec_load" : "unload", ctx, segments.length > 0 && !LOAD_BEFORE_FREE.includes(s.errno)),
    kexecFileLoad: (k, _i, _c, _f, ctx) =>
      fail(
        k === undefined ? "unload" : "kexec_file_load",
        ctx,
        k !== undefined && (s.signature || !FILE_BEFORE_FREE.includes(s.errno)),
      ),
    rebootIntoKexec: (ctx) => fail("reboot", ctx, false),
    sync: () => {},
  };
  const env: RunEnv = { sys: view, kernel, out: () => {}, err: () => {}, shutdown: () => {}, uid: s.uid ?? 0 };
  try {
    await run(parseInvocation(s.argv), env);
  } catch (e) {
    assert.ok(e instanceof KexecError, `${e}`);
    return { line: `kexec-ts: ${e.message}`, calls };
  }
  return assert.fail("no error");
}

const STILL = " (the previously loaded crash kernel is still loaded)";
const GONE = " (no crash kernel is loaded now)";
const P = ["-p", K, "--append=x"];
const PS = ["-s", "-p", K, "--append=x"];

/** [what, scenario, the exact line]. */
const TABLE: [string, Scenario, string][] = [
  // kexec_load, crash: EPERM's five causes
  [
    "-p EPERM not root",
    { argv: P, errno: Errno.EPERM, uid: 1000 },
    "kexec-ts: kexec_load failed (EPERM): kexec needs root (CAP_SYS_BOOT); run it as root" + STILL,
  ],
  ["-p EPERM kexec_load_disabled", {
    argv: P,
    errno: Errno.EPERM,
    sys: { "/proc/sys/kernel/kexec_load_disabled": "1\n" },
  }, "kexec-ts: kexec is disabled (kernel.kexec_load_disabled=1, which cannot be undone until reboot)" + STILL],
  [
    "-p EPERM load limit",
    { argv: P, errno: Errno.EPERM, sys: { "/proc/sys/kernel/kexec_load_limit_panic": "0\n" } },
    "kexec-ts: kernel.kexec_load_limit_panic is 0, so this kernel allows no more loads of this type until reboot" +
    STILL,
  ],
  ["-p EPERM lockdown", {
    argv: P,
    errno: Errno.EPERM,
    sys: { "/sys/kernel/security/lockdown": "none [integrity] confidentiality\n" },
  }, "kexec-ts: kexec_load is blocked by lockdown (integrity); use -s (kexec_file_load) with a signed kernel" + STILL],
  [
    "-p EPERM no CAP_SYS_BOOT",
    { argv: P, errno: Errno.EPERM },
    "kexec-ts: kexec_load failed (EPERM): this process lacks CAP_SYS_BOOT in the init user namespace (containers cannot kexec)" +
    STILL,
  ],
  // kexec_load, crash: the rest
  [
    "-p EACCES",
    { argv: P, errno: Errno.EACCES },
    "kexec-ts: kexec_load failed (EACCES): the kernel will not accept an image it cannot appraise (IMA policy or Secure Boot with KEXEC_SIG); use -s (kexec_file_load) with a signed kernel" +
    STILL,
  ],
  [
    "-p EINVAL",
    { argv: P, errno: Errno.EINVAL },
    "kexec-ts: kexec_load failed (EINVAL): the kernel rejected the request (flags this kernel lacks, overlapping or oversized segments); run with -d to see it" +
    GONE,
  ],
  [
    "-p EBUSY",
    { argv: P, errno: Errno.EBUSY },
    "kexec-ts: kexec_load failed (EBUSY): another kexec load, unload or crash hotplug update holds the kexec lock; retry" +
    STILL,
  ],
  [
    "-p ENOMEM",
    { argv: P, errno: Errno.ENOMEM },
    "kexec-ts: kexec_load failed (ENOMEM): the kernel could not allocate its control and page-table pages; leave free space in the crash region or reserve more with crashkernel=" +
    GONE,
  ],
  [
    "-p EADDRNOTAVAIL",
    { argv: P, errno: Errno.EADDRNOTAVAIL },
    "kexec-ts: kexec_load failed (EADDRNOTAVAIL): a segment or the entry point is outside the memory the kernel allows (the main Crash kernel range); run with -d to see the segments" +
    GONE,
  ],
  [
    "-p ENOSYS",
    { argv: P, errno: Errno.ENOSYS },
    "kexec-ts: kexec_load is not in this kernel (CONFIG_KEXEC off, ENOSYS); try -s (kexec_file_load)" + STILL,
  ],
  [
    "-p EFAULT",
    { argv: P, errno: Errno.EFAULT },
    "kexec-ts: kexec_load failed (EFAULT): the kernel could not read a segment buffer (a kexec-ts bug; please report it)" +
    GONE,
  ],
  // kexec_file_load, crash
  [
    "-p -s EPERM not root",
    { argv: PS, errno: Errno.EPERM, uid: 1000 },
    "kexec-ts: kexec_file_load failed (EPERM): kexec needs root (CAP_SYS_BOOT); run it as root" + STILL,
  ],
  ["-p -s EPERM kexec_load_disabled", {
    argv: PS,
    errno: Errno.EPERM,
    sys: { "/proc/sys/kernel/kexec_load_disabled": "1\n" },
  }, "kexec-ts: kexec is disabled (kernel.kexec_load_disabled=1, which cannot be undone until reboot)" + STILL],
  [
    "-p -s EPERM load limit",
    { argv: PS, errno: Errno.EPERM, sys: { "/proc/sys/kernel/kexec_load_limit_panic": "0\n" } },
    "kexec-ts: kernel.kexec_load_limit_panic is 0, so this kernel allows no more loads of this type until reboot" +
    STILL,
  ],
  [
    "-p -s EPERM lockdown, signature rejected",
    {
      argv: PS,
      errno: Errno.EPERM,
      signature: true,
      sys: {
        "/sys/kernel/security/lockdown": "none [integrity] confidentiality\n",
        "/sys/kernel/security/ima/policy": "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n",
      },
    },
    "kexec-ts: kexec_file_load failed (EPERM): under lockdown (integrity) the kernel image must carry a signature the kernel trusts; sign it, or boot without lockdown" +
    GONE,
  ],
  [
    "-p -s EPERM no CAP_SYS_BOOT",
    { argv: PS, errno: Errno.EPERM },
    "kexec-ts: kexec_file_load failed (EPERM): this process lacks CAP_SYS_BOOT in the init user namespace (containers cannot kexec)" +
    STILL,
  ],
  [
    "-p -s EACCES",
    { argv: PS, errno: Errno.EACCES },
    "kexec-ts: kexec_file_load failed (EACCES): a security policy (IMA appraisal, LoadPin, SELinux) refused the kernel or initrd; the kernel log says which and why" +
    GONE,
  ],
  [
    "-p -s ENOEXEC",
    { argv: PS, errno: Errno.ENOEXEC },
    "kexec-ts: kexec_file_load failed (ENOEXEC): the kernel cannot load this image type with kexec_file_load; use -c (kexec_load)" +
    GONE,
  ],
  [
    "-p -s EINVAL",
    { argv: PS, errno: Errno.EINVAL },
    "kexec-ts: kexec_file_load failed (EINVAL): the kernel rejected the request (flags this kernel lacks, overlapping or oversized segments, or an image it cannot parse); run with -d to see it" +
    GONE,
  ],
  [
    "-p -s EBUSY",
    { argv: PS, errno: Errno.EBUSY },
    "kexec-ts: kexec_file_load failed (EBUSY): another kexec load, unload or crash hotplug update holds the kexec lock; retry" +
    STILL,
  ],
  [
    "-p -s ENOMEM",
    { argv: PS, errno: Errno.ENOMEM },
    "kexec-ts: kexec_file_load failed (ENOMEM): the kernel could not allocate its control and page-table pages; leave free space in the crash region or reserve more with crashkernel=" +
    GONE,
  ],
  [
    "-p -s EADDRNOTAVAIL",
    { argv: PS, errno: Errno.EADDRNOTAVAIL },
    "kexec-ts: kexec_file_load failed (EADDRNOTAVAIL): a segment or the entry point is outside the memory the kernel allows (the main Crash kernel range); run with -d to see the segments" +
    GONE,
  ],
  [
    "-p -s EKEYREJECTED",
    { argv: PS, errno: Errno.EKEYREJECTED },
    "kexec-ts: kexec_file_load failed (EKEYREJECTED): the kernel image's signature was rejected; sign it with a key the kernel trusts" +
    GONE,
  ],
  [
    "-p -s ENOKEY",
    { argv: PS, errno: Errno.ENOKEY },
    "kexec-ts: kexec_file_load failed (ENOKEY): the kernel image's signature was rejected; sign it with a key the kernel trusts" +
    GONE,
  ],
  [
    "-p -s EBADMSG",
    { argv: PS, errno: Errno.EBADMSG },
    "kexec-ts: kexec_file_load failed (EBADMSG): the kernel image's signature was rejected; sign it with a key the kernel trusts" +
    GONE,
  ],
  [
    "-p -s ENODATA",
    { argv: PS, errno: Errno.ENODATA },
    "kexec-ts: kexec_file_load failed (ENODATA): the kernel requires a signed image (KEXEC_SIG enforced, e.g. by Secure Boot) and this one carries no signature; use the distribution's signed kernel" +
    GONE,
  ],
  [
    "-p -s ELIBBAD",
    { argv: PS, errno: Errno.ELIBBAD },
    "kexec-ts: kexec_file_load failed (ELIBBAD): the image's PE signature structure is malformed; use an intact signed kernel" +
    GONE,
  ],
  [
    "-p -s ENOPKG",
    { argv: PS, errno: Errno.ENOPKG },
    "kexec-ts: kexec_file_load failed (ENOPKG): the kernel lacks the crypto algorithm the image's signature uses" +
    GONE,
  ],
  [
    "-p -s ETXTBSY",
    { argv: PS, errno: Errno.ETXTBSY },
    "kexec-ts: kexec_file_load failed (ETXTBSY): another process has the kernel or initrd open for writing (a package upgrade?); retry when it is done" +
    GONE,
  ],
  [
    "-p -s EFBIG",
    { argv: PS, errno: Errno.EFBIG },
    "kexec-ts: kexec_file_load failed (EFBIG): the kernel or initrd is larger than the 4 GiB kexec_file_load reads" +
    GONE,
  ],
  [
    "-p -s EIO",
    { argv: PS, errno: Errno.EIO },
    "kexec-ts: kexec_file_load failed (EIO): the kernel or initrd changed while the kernel read it; retry" + GONE,
  ],
  [
    "-p -s ENOSYS",
    { argv: PS, errno: Errno.ENOSYS },
    "kexec-ts: kexec_file_load is not in this kernel (CONFIG_KEXEC_FILE off, ENOSYS); use -c (kexec_load)" + STILL,
  ],
  // crash unloads: nothing is freed when they fail
  [
    "-p -u EPERM not root",
    { argv: ["-p", "-u"], errno: Errno.EPERM, uid: 1000 },
    "kexec-ts: unloading failed (EPERM): kexec needs root (CAP_SYS_BOOT); run it as root" + STILL,
  ],
  [
    "-p -u EBUSY",
    { argv: ["-p", "-u"], errno: Errno.EBUSY },
    "kexec-ts: unloading failed (EBUSY): another kexec load, unload or crash hotplug update holds the kexec lock; retry" +
    STILL,
  ],
  [
    "-p -u ENOSYS",
    { argv: ["-p", "-u"], errno: Errno.ENOSYS },
    "kexec-ts: unloading is not in this kernel (CONFIG_KEXEC off, ENOSYS)" + STILL,
  ],
  [
    "-p -u -s EINVAL",
    { argv: ["-p", "-u", "-s"], errno: Errno.EINVAL },
    "kexec-ts: unloading failed (EINVAL): the kernel rejected the unload's flags" + STILL,
  ],
  // normal loads and -e: no crash kernel involved, nothing added
  [
    "-l ENOMEM",
    { argv: ["-l", K, "--append=x"], errno: Errno.ENOMEM },
    "kexec-ts: kexec_load failed (ENOMEM): the kernel could not allocate its control and page-table pages",
  ],
  [
    "-l -s EKEYREJECTED",
    { argv: ["-l", "-s", K], errno: Errno.EKEYREJECTED },
    "kexec-ts: kexec_file_load failed (EKEYREJECTED): the kernel image's signature was rejected; sign it with a key the kernel trusts",
  ],
  [
    "-e EPERM not root",
    { argv: ["-e"], errno: Errno.EPERM, uid: 1000, sys: { "/sys/kernel/kexec_loaded": "1\n" } },
    "kexec-ts: reboot(LINUX_REBOOT_CMD_KEXEC) failed (EPERM): kexec needs root (CAP_SYS_BOOT); run it as root",
  ],
  [
    "-e EINVAL",
    { argv: ["-e"], errno: Errno.EINVAL, sys: { "/sys/kernel/kexec_loaded": "1\n" } },
    "kexec-ts: the kernel has no image to execute (EINVAL); load one with kexec-ts -l KERNEL",
  ],
];

for (const [what, scenario, line] of TABLE) {
  Deno.test(`errno message: ${what}`, async () => {
    const got = await printed(scenario);
    assert.equal(got.line, line);
    // EPERM that sysctls or securityfs foretell is refused before any syscall (no kexec_load_limit slot spent).
    if (/kexec is disabled|kexec_load_limit_panic is 0|blocked by lockdown/.test(line)) assert.deepEqual(got.calls, []);
  });
}

Deno.test("errno messages: the table covers every errno the issue lists, for crash loads and crash unloads", () => {
  const named = (errno: string) => TABLE.filter(([w]) => w.includes(` ${errno}`));
  for (
    const e of [
      "EACCES",
      "ENOEXEC",
      "EINVAL",
      "EBUSY",
      "ENOMEM",
      "EADDRNOTAVAIL",
      "EKEYREJECTED",
      "ENOKEY",
      "EBADMSG",
      "ENOSYS",
    ]
  ) {
    assert.ok(named(e).length > 0, e);
  }
  assert.equal(TABLE.filter(([w]) => w.startsWith("-p EPERM")).length, 5, "EPERM's five causes for kexec_load");
  for (const [what, s, line] of TABLE) {
    const crashOp = s.argv.includes("-p");
    const says = line.endsWith(STILL) || line.endsWith(GONE);
    if (crashOp) assert.ok(says, what);
    if (!crashOp) assert.ok(!says, what);
  }
});
