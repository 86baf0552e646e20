/**
 * The rules that keep a machine's loaded kernels safe from kexec-ts' own mistakes, checked with a fake kernel
 * that records every call: nothing reaches the kernel that could have been refused before, a crash kernel is
 * never unloaded ahead of a load that fails, unloads survive lockdown, and firmware facts the next kernel needs
 * (the ACPI RSDP, 5-level paging) are found or the load is refused.
 */

import assert from "node:assert/strict";
import { parseInvocation } from "../../../lib/cli/args.ts";
import { run } from "../../../lib/cli/run.ts";
import type { KernelOps, RunEnv } from "../../../lib/runtime.ts";
import { KernelCallError } from "../../../ffi/errno.ts";
import { fsSystemView, type SystemView } from "../../../lib/system.ts";
import { machineDir, requireVmlinuz, VMLINUZ_PATH } from "../test_helpers.ts";

/** A view over a fixture with some files replaced (or removed with `null`). */
function overlay(base: SystemView, files: Record<string, string | null>): SystemView {
  const enc = new TextEncoder();
  return {
    origin: base.origin,
    read(path, maxBytes) {
      if (!(path in files)) return base.read(path, maxBytes);
      const v = files[path];
      return v === null ? { kind: "absent" } : { kind: "ok", bytes: enc.encode(v) };
    },
    list: (path) => base.list(path),
  };
}

type Call = { call: string; flags: bigint; segments?: number };

function fakeEnv(sys: SystemView, behave: Partial<Record<"load" | "file", (flags: bigint, n: number) => void>> = {}) {
  const calls: Call[] = [];
  const err: string[] = [];
  const kernel: KernelOps = {
    kexecLoad(_entry, segments, flags) {
      calls.push({ call: "kexec_load", flags, segments: segments.length });
      behave.load?.(flags, segments.length);
    },
    kexecFileLoad(_k, _i, _c, flags) {
      calls.push({ call: "kexec_file_load", flags });
      behave.file?.(flags, 0);
    },
    rebootIntoKexec() {
      throw new Error("no reboot in tests");
    },
    sync() {},
  };
  const env: RunEnv = { sys, kernel, out: () => {}, err: (t) => err.push(t), shutdown: () => {}, uid: 0 };
  return { env, calls, err };
}

const CRASH = fsSystemView(machineDir("qemu-q35-2g-crash256m"));
const NOCRASH = fsSystemView(machineDir("qemu-q35-2g-nocrash"));
const runDir = Deno.makeTempDirSync({ prefix: "kts-safety-" });
Deno.env.set("KEXEC_TS_RUN_DIR", runDir);

async function runArgs(env: RunEnv, ...argv: string[]) {
  return await run(parseInvocation(argv), env);
}

Deno.test("-u -p K with a bad initrd: the loaded crash kernel is not unloaded first, and nothing reaches the kernel", async () => {
  requireVmlinuz();
  const { env, calls } = fakeEnv(CRASH);
  await assert.rejects(
    runArgs(env, "-u", "-p", "--initrd=/nonexistent", VMLINUZ_PATH),
    /cannot read initrd \/nonexistent/,
  );
  assert.deepEqual(calls, []);
});

Deno.test("-u -p K that works: one kexec_load with the new image, no separate unload (the kernel replaces it)", async () => {
  const { env, calls } = fakeEnv(CRASH);
  assert.equal(await runArgs(env, "-u", "-p", "--append=x", VMLINUZ_PATH), 0);
  assert.deepEqual(calls.map((c) => [c.call, c.segments]), [["kexec_load", 4]]);
});

Deno.test("-u -l K: the normal image is unloaded only after the new plan passed its checks", async () => {
  const bad = fakeEnv(NOCRASH);
  await assert.rejects(runArgs(bad.env, "-u", "-l", "--mem-max=0x1ffffff", VMLINUZ_PATH), /no room for the kernel/);
  assert.deepEqual(bad.calls, []);
  const good = fakeEnv(NOCRASH);
  assert.equal(await runArgs(good.env, "-u", "-l", "--append=x", VMLINUZ_PATH), 0);
  assert.deepEqual(good.calls.map((c) => [c.call, c.segments]), [["kexec_load", 0], ["kexec_load", 3]]);
});

Deno.test("--dry-run never reaches the kernel: -u and -e refuse it, -u -p --dry-run K only prints the plan", async () => {
  requireVmlinuz();
  for (const argv of [["-u", "--dry-run"], ["-p", "-u", "--dry-run"], ["-e", "--dry-run"]]) {
    const { env, calls } = fakeEnv(CRASH);
    await assert.rejects(runArgs(env, ...argv), /--dry-run prints load plans; -[ue] has none: drop --dry-run/);
    assert.deepEqual(calls, [], argv.join(" "));
  }
  const { env, calls } = fakeEnv(CRASH);
  assert.equal(await runArgs(env, "-u", "-p", "--dry-run", "--append=x", VMLINUZ_PATH), 0);
  assert.equal(await runArgs(env, "-u", "-l", "-s", "--dry-run", "--append=x", VMLINUZ_PATH), 0);
  assert.deepEqual(calls, []);
});

Deno.test("lockdown: kexec_load is refused before the syscall (no load-limit slot spent), the crash kernel kept", async () => {
  const sys = overlay(CRASH, { "/sys/kernel/security/lockdown": "none [integrity] confidentiality\n" });
  const { env, calls } = fakeEnv(sys);
  await assert.rejects(
    runArgs(env, "-p", "--append=x", VMLINUZ_PATH),
    /^Error: kexec_load is blocked by lockdown \(integrity\); use -s .* \(no crash kernel is loaded now\)|blocked by lockdown/,
  );
  assert.deepEqual(calls, []);
});

Deno.test("-p -u under lockdown: kexec_load's EPERM falls back to kexec_file_load's unload", async () => {
  const sys = overlay(CRASH, { "/sys/kernel/security/lockdown": "none [integrity] confidentiality\n" });
  const { env, calls } = fakeEnv(sys, {
    load: () => {
      throw new KernelCallError("unload", 1, "EPERM");
    },
  });
  assert.equal(await runArgs(env, "-p", "-u"), 0);
  assert.deepEqual(calls.map((c) => [c.call, c.flags]), [["kexec_load", 0x3e0001n], ["kexec_file_load", 0x3n]]);
  // Any other failure is reported as is.
  const busy = fakeEnv(CRASH, {
    load: () => {
      throw new KernelCallError("unload", 16, "EBUSY");
    },
  });
  await assert.rejects(runArgs(busy.env, "-p", "-u"), /EBUSY/);
  assert.equal(busy.calls.length, 1);
});

Deno.test("-a -p: the kexec_load plan is checked before kexec_file_load (which frees the crash kernel first)", async () => {
  const { env, calls } = fakeEnv(CRASH);
  const long = "x".repeat(3000);
  await assert.rejects(runArgs(env, "-a", "-p", `--append=${long}`, VMLINUZ_PATH), /this kernel accepts at most 2047/);
  assert.deepEqual(calls, []);
  const s = fakeEnv(CRASH);
  await assert.rejects(
    runArgs(s.env, "-s", "-p", `--append=${long}`, VMLINUZ_PATH),
    /^KexecError: kexec_file_load would refuse this kernel: the command line is 3000 bytes; .* at most 2016 bytes$/,
  );
  assert.deepEqual(s.calls, []);
});

Deno.test("-s -p failure says what is loaded afterwards", async () => {
  const sys = overlay(CRASH, { "/sys/kernel/kexec_crash_loaded": "0\n" });
  const { env } = fakeEnv(sys, {
    file: () => {
      throw new KernelCallError("kexec_file_load", 129, "kexec_file_load failed (EKEYREJECTED)");
    },
  });
  await assert.rejects(
    runArgs(env, "-s", "-p", "--append=x", VMLINUZ_PATH),
    /EKEYREJECTED\) \(no crash kernel is loaded now\)$/,
  );
});
