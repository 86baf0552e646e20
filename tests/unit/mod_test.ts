/**
 * mod.ts, the public API, as a script uses it: tests/api/plan_crash.ts plans a crash load against a saved machine in
 * a separate process with read access only, and its plan is the one the CLI's `plan --json` prints.
 */

import assert from "node:assert/strict";
import { machineDir, requireVmlinuz, VMLINUZ_PATH } from "./test_helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const decoder = new TextDecoder();

async function deno(...args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdout: "piped", stderr: "piped" }).output();
  return { code: r.code, stdout: decoder.decode(r.stdout), stderr: decoder.decode(r.stderr) };
}

Deno.test("a script plans a crash load through mod.ts with read permission only", async () => {
  requireVmlinuz();
  const snapshot = machineDir("qemu-q35-2g-crash256m");
  const api = await deno("run", "--allow-read", "tests/api/plan_crash.ts", VMLINUZ_PATH, snapshot);
  assert.equal(api.code, 0, api.stderr);
  const got = JSON.parse(api.stdout);
  assert.equal(got.flags, "0x3e0009");
  assert.match(got.cmdline, /^elfcorehdr=0x[0-9a-f]+ memhp_default_state=offline irqpoll nr_cpus=1 reset_devices$/);
  assert.deepEqual(got.segments.map((s: { role: string }) => s.role).sort(), [
    "boot-params",
    "elfcorehdr",
    "kernel",
    "purgatory",
  ]);

  // The CLI plans the same segments (addresses and sizes do not depend on the RNG seed).
  const cli = await deno(
    "run",
    "--allow-all",
    "main.ts",
    "plan",
    "--json",
    "-p",
    `--system-root=${snapshot}`,
    "--append=irqpoll nr_cpus=1 reset_devices",
    VMLINUZ_PATH,
  );
  assert.equal(cli.code, 0, cli.stderr);
  const plan = JSON.parse(cli.stdout);
  assert.deepEqual(
    got.segments,
    plan.segments.map((s: { role: string; mem: string; memsz: number }) => ({
      role: s.role,
      mem: s.mem,
      memsz: s.memsz,
    })),
  );
});

Deno.test("a script gets KexecError with a code for a bad request", async () => {
  const api = await deno(
    "run",
    "--allow-read",
    "tests/api/plan_crash.ts",
    "/nonexistent",
    machineDir("qemu-q35-2g-nocrash"),
  );
  assert.equal(api.code, 1);
  assert.deepEqual(JSON.parse(api.stdout), { error: "io", message: "cannot read kernel /nonexistent: no such file" });
});
