/**
 * The capture-side commands on the command line: `vmcore-dmesg [FILE]` and `vmcore-info [FILE] [--json]`, their
 * grammar, what reaches stdout (also before an error), and the exit statuses the program ends with.
 */

import assert from "node:assert/strict";
import { DEFAULT_VMCORE, parseInvocation } from "../../../lib/cli/args.ts";
import { run } from "../../../lib/cli/run.ts";
import { USAGE } from "../../../lib/cli/usage.ts";
import { KexecError } from "../../../lib/errors.ts";
import { DRY_RUN_KERNEL, type RunEnv } from "../../../lib/runtime.ts";
import { recordSystemView } from "../../../lib/system.ts";
import { coreBytes } from "../vmcore/core_builder.ts";
import { FIXTURES } from "../vmcore/fixtures.ts";
import { GOLDEN_DIR } from "../vmcore/peer.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;

function fixtureFile(name: string): string {
  const path = Deno.makeTempFileSync({ suffix: `-${name}.core` });
  Deno.writeFileSync(path, coreBytes(FIXTURES.find((f) => f.name === name)!.build()));
  return path;
}

function captureEnv() {
  const chunks: Uint8Array[] = [];
  let text = "";
  const err: string[] = [];
  const env: RunEnv = {
    sys: recordSystemView({}),
    kernel: DRY_RUN_KERNEL,
    out: (t) => text += t,
    outBytes: (b) => chunks.push(b.slice()),
    err: (t) => err.push(t),
    shutdown: () => {},
    uid: 0,
  };
  const stdout = () => {
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    chunks.reduce((o, c) => (all.set(c, o), o + c.length), 0);
    return all;
  };
  return { env, stdout, text: () => text, err };
}

Deno.test("grammar: one optional file (default /proc/vmcore); vmcore-info takes --json; nothing else", () => {
  assert.deepEqual(parseInvocation(["vmcore-dmesg"]).action, { kind: "vmcore-dmesg", file: DEFAULT_VMCORE });
  assert.equal(DEFAULT_VMCORE, "/proc/vmcore");
  assert.deepEqual(parseInvocation(["vmcore-dmesg", "/var/crash/vmcore"]).action, {
    kind: "vmcore-dmesg",
    file: "/var/crash/vmcore",
  });
  const info = parseInvocation(["vmcore-info", "--json", "dump"]);
  assert.deepEqual(info.action, { kind: "vmcore-info", file: "dump" });
  assert.equal(info.json, true);
  for (
    const [argv, re] of [
      [["vmcore-dmesg", "a", "b"], /reads one dump/],
      [["vmcore-dmesg", "--json"], /takes no options/],
      [["vmcore-info", "-p"], /takes only --json/],
    ] as const
  ) {
    assert.throws(
      () => parseInvocation([...argv]),
      (e: unknown) => e instanceof KexecError && e.exitCode === 1 && re.test(e.message),
    );
  }
  assert.match(USAGE, /kexec-ts vmcore-dmesg \[FILE\]/);
  assert.match(USAGE, /kexec-ts vmcore-info \[FILE\] \[--json\]/);
});

Deno.test("vmcore-dmesg writes the log's bytes; on a corrupt log what kexec-tools printed first, then the error", async () => {
  const ok = fixtureFile("lockless");
  const cycle = fixtureFile("structured-cycle");
  try {
    const a = captureEnv();
    assert.equal(await run(parseInvocation(["vmcore-dmesg", ok]), a.env), 0);
    assert.deepEqual(a.stdout(), Deno.readFileSync(`${GOLDEN_DIR}/golden/lockless.stdout`));
    const b = captureEnv();
    await assert.rejects(
      () => run(parseInvocation(["vmcore-dmesg", cycle]), b.env),
      (e: unknown) => e instanceof KexecError && e.exitCode === 68,
    );
    assert.deepEqual(b.stdout(), Deno.readFileSync(`${GOLDEN_DIR}/golden/structured-cycle.stdout`));
  } finally {
    Deno.removeSync(ok);
    Deno.removeSync(cycle);
  }
});

Deno.test("vmcore-info: text for people, JSON for scripts", async () => {
  const path = fixtureFile("lockless");
  try {
    const a = captureEnv();
    await run(parseInvocation(["vmcore-info", path]), a.env);
    assert.match(a.text(), /^kernel +6\.12\.0-synthetic$/m);
    assert.match(a.text(), /^panic +sysrq triggered crash \[ +16\.000000\]$/m);
    assert.match(a.text(), /^crash time +2025-12-01T00:00:00\.000Z \(CRASHTIME=1764547200\)$/m);
    const b = captureEnv();
    await run(parseInvocation(["vmcore-info", "--json", path]), b.env);
    const j = JSON.parse(b.text());
    assert.equal(j.kernelRelease, "6.12.0-synthetic");
    assert.equal(j.panic.message, "sysrq triggered crash");
    assert.equal(typeof j.memory.totalBytes, "number");
    assert.match(j.memory.ranges[0].start, /^0x/);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("the program: kexec-tools' exit statuses, one line on stderr, never a stack trace", () => {
  const cycle = fixtureFile("structured-cycle");
  const notElf = Deno.makeTempFileSync();
  Deno.writeTextFileSync(notElf, "hello world, not elf");
  try {
    const cases: [string[], number, RegExp][] = [
      [["vmcore-dmesg", "/nonexistent"], 2, /^kexec-ts: cannot open \/nonexistent: no such file or directory\n$/],
      [["vmcore-dmesg", "/etc"], 3, /^kexec-ts: cannot read \/etc: it is a directory\n$/],
      [["vmcore-dmesg", notElf], 4, /^kexec-ts: .* is not an ELF core \(no \\x7fELF magic\)\n$/],
      [["vmcore-dmesg", cycle], 68, /^kexec-ts: the log buffer at 0x[0-9a-f]+ is corrupt: it wraps a second time/],
      [["vmcore-info", "/nonexistent"], 2, /^kexec-ts: cannot open/],
      [["vmcore-dmesg", "a", "b"], 1, /^kexec-ts: vmcore-dmesg reads one dump/],
    ];
    for (const [argv, rc, re] of cases) {
      const r = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "--quiet", `${ROOT}main.ts`, ...argv],
        stdout: "piped",
        stderr: "piped",
      }).outputSync();
      const stderr = new TextDecoder().decode(r.stderr);
      assert.equal(r.code, rc, `${argv.join(" ")}: ${stderr}`);
      assert.match(stderr, re);
      assert.equal(stderr.split("\n").length, 2, `${argv.join(" ")}: one line`);
    }
  } finally {
    Deno.removeSync(cycle);
    Deno.removeSync(notElf);
  }
});
