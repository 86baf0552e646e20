/** `kexec-ts udev-rules`: the rules text, the reload command, and the atomic --install. */

import assert from "node:assert/strict";
import { KexecError } from "../../../lib/errors.ts";
import { recordSystemView } from "../../../lib/system.ts";
import type { RunEnv } from "../../../lib/runtime.ts";
import { run } from "../../../lib/cli/run.ts";
import { parseInvocation } from "../../../lib/cli/args.ts";
import { runDir } from "../../../lib/reload/record.ts";
import { OUR_RULE_NAME } from "../../../lib/crash/hotplug.ts";
import { closeFd, openLockFile, tryLockExclusive } from "../../../ffi/libc.ts";
import { installFileAtomic, kexecTsProgram, reloadCommand, udevRulesText } from "../../../lib/reload/udev.ts";

const ROOT = new URL("../../..", import.meta.url).pathname.replace(/\/$/, "");
const COMMAND = "/usr/local/bin/kexec-ts reload";

/** Runs `body` with environment variables set (undefined = unset), restoring them afterwards. */
async function withEnv<T>(vars: Record<string, string | undefined>, body: () => T | Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) x === undefined ? Deno.env.delete(k) : Deno.env.set(k, x);
  };
  apply(vars);
  try {
    return await body();
  } finally {
    apply(saved);
  }
}

function testEnv(files: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const env: RunEnv = {
    sys: recordSystemView(files),
    kernel: {
      kexecLoad: () => assert.fail("no kernel call expected"),
      kexecFileLoad: () => assert.fail("no kernel call expected"),
      rebootIntoKexec: () => assert.fail("no kernel call expected"),
      sync: () => {},
    },
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    shutdown: () => assert.fail("no shutdown expected"),
    uid: 0,
  };
  return { env, out, err };
}

/** The RUN value's shell script, as udev hands it to /bin/sh (`$$` → `$`). */
function runScript(text: string): string {
  const m = /^RUN\+="\/bin\/sh -c '([^']*)'"$/m.exec(text);
  assert.ok(m, "one RUN+=\"/bin/sh -c '...'\" line");
  return m[1].replaceAll("$$", "$");
}

Deno.test("udevRulesText: skips the reload when the kernel updates the elfcorehdr (crash_hotplug == 1)", () => {
  const text = udevRulesText(COMMAND);
  const lines = text.split("\n");
  assert.ok(lines.includes('SUBSYSTEM=="cpu", ATTRS{crash_hotplug}=="1", GOTO="kexec_ts_end"'));
  assert.ok(lines.includes('SUBSYSTEM=="memory", ATTRS{crash_hotplug}=="1", GOTO="kexec_ts_end"'));
  // The skip comes before any reload trigger.
  const firstSkip = lines.findIndex((l) => l.includes("crash_hotplug}"));
  const firstTrigger = lines.findIndex((l) => l.includes('GOTO="kexec_ts_reload"'));
  assert.ok(firstSkip >= 0 && firstSkip < firstTrigger);
});

Deno.test("udevRulesText: cpu add/remove and memory online/offline reload; nothing else does", () => {
  const text = udevRulesText(COMMAND);
  const triggers = text.split("\n").filter((l) => l.endsWith('GOTO="kexec_ts_reload"'));
  assert.deepEqual(triggers, [
    'SUBSYSTEM=="cpu", ACTION=="add", GOTO="kexec_ts_reload"',
    'SUBSYSTEM=="cpu", ACTION=="remove", GOTO="kexec_ts_reload"',
    'SUBSYSTEM=="memory", ACTION=="online", GOTO="kexec_ts_reload"',
    'SUBSYSTEM=="memory", ACTION=="offline", GOTO="kexec_ts_reload"',
  ]);
  // Every GOTO has its LABEL, and the rule falls through to the end label otherwise.
  assert.ok(text.includes('\nGOTO="kexec_ts_end"\n\nLABEL="kexec_ts_reload"\n'));
  assert.ok(text.trimEnd().endsWith('LABEL="kexec_ts_end"'));
  for (const label of new Set([...text.matchAll(/GOTO="(\w+)"/g)].map((m) => m[1]))) {
    assert.equal(text.split(`LABEL="${label}"`).length, 2, `exactly one LABEL="${label}"`);
  }
});

Deno.test("udevRulesText: the RUN line runs the command in the background, through systemd-run under systemd", () => {
  const text = udevRulesText(COMMAND);
  const script = runScript(text);
  assert.ok(script.startsWith("PATH=/usr/sbin:/usr/bin:/sbin:/bin; "));
  assert.ok(
    script.includes(
      "</sys/kernel/kexec_crash_loaded && [ $loaded = 1 ] || [ -e /run/kexec-ts/reload.inflight ] || exit 0",
    ),
  );
  assert.ok(script.includes(": >>/run/kexec-ts/reload.pending"));
  assert.ok(script.includes("flock -n /run/kexec-ts/reload.lock true; then exit 0"));
  assert.ok(script.includes(`then exec systemd-run --quiet --no-block --collect ${COMMAND}; fi`));
  assert.ok(script.endsWith(`; ${COMMAND} </dev/null >/dev/null 2>&1 &`));
  // udev substitutes `$x` and `%x` in RUN values: every `$` is doubled and there is no `%`.
  const run = text.split("\n").find((l) => l.startsWith("RUN+="))!;
  assert.equal(run.replaceAll("$$", "").includes("$"), false);
  assert.equal(run.includes("%"), false);
  assert.equal(run.slice('RUN+="'.length, -1).includes('"'), false);
  // Every non-rule line is a comment or empty, so admins can read it.
  for (const line of text.split("\n")) {
    assert.ok(line === "" || line.startsWith("#") || /^(SUBSYSTEM|GOTO|LABEL|RUN)/.test(line), line);
  }
});

Deno.test("udevRulesText: deterministic; the run directory is a parameter", () => {
  assert.equal(udevRulesText(COMMAND), udevRulesText(COMMAND));
  const other = udevRulesText(COMMAND, "/tmp/kts");
  assert.ok(runScript(other).includes(": >>/tmp/kts/reload.pending"));
  assert.ok(runScript(other).includes("flock -n /tmp/kts/reload.lock true"));
});

Deno.test("udevRulesText: refuses words udev or the shell would mangle", () => {
  for (const bad of ["/opt/my$dir/kexec-ts reload", "/opt/it's/kexec-ts reload", "/opt/100%/kexec-ts reload"]) {
    assert.throws(() => udevRulesText(bad), (e) => e instanceof KexecError && e.code === "unsupported");
  }
  assert.throws(() => udevRulesText(COMMAND, "/run/kexec ts"), KexecError);
});

Deno.test("reloadCommand: the program plus reload, carrying a non-default run dir and the settle time", async () => {
  await withEnv({ KEXEC_TS_RELOAD_SETTLE_MS: undefined }, () => {
    assert.equal(reloadCommand(["/usr/local/bin/kexec-ts"], "/run/kexec-ts"), "/usr/local/bin/kexec-ts reload");
    assert.equal(
      reloadCommand(["/usr/local/bin/kexec-ts"], "/tmp/kts"),
      "/usr/bin/env KEXEC_TS_RUN_DIR=/tmp/kts /usr/local/bin/kexec-ts reload",
    );
  });
  await withEnv({ KEXEC_TS_RELOAD_SETTLE_MS: "250" }, () => {
    assert.equal(
      reloadCommand(["/usr/local/bin/kexec-ts"], "/run/kexec-ts"),
      "/usr/bin/env KEXEC_TS_RELOAD_SETTLE_MS=250 /usr/local/bin/kexec-ts reload",
    );
  });
  await withEnv({ KEXEC_TS_RELOAD_SETTLE_MS: "1s" }, () => {
    // reload would refuse it on every udev event, unseen: refused here instead.
    assert.throws(
      () => reloadCommand(["/usr/local/bin/kexec-ts"], "/run/kexec-ts"),
      (e) => e instanceof KexecError && e.code === "usage" && /KEXEC_TS_RELOAD_SETTLE_MS="1s"/.test(e.message),
    );
  });
  assert.throws(() => reloadCommand(["/opt/kexec ts/kexec-ts"], "/run/kexec-ts"), KexecError);
});

Deno.test("kexecTsProgram: from source it is deno run with the absolute main module", () => {
  const program = kexecTsProgram();
  assert.equal(program[0], Deno.execPath());
  assert.deepEqual(program.slice(1, 5), ["run", "--allow-all", "--quiet", "--cached-only"]);
  assert.ok(program[5].startsWith("/") && program[5].endsWith(".ts"));
});

/** `kexec-ts udev-rules ARGS` through the CLI dispatcher; its exit status. */
const udevRules = (env: RunEnv, ...args: string[]) => run(parseInvocation(["udev-rules", ...args]), env);

Deno.test("udev-rules: prints the rules for the running kexec-ts", async () => {
  await withEnv({ KEXEC_TS_RELOAD_SETTLE_MS: undefined }, async () => {
    const { env, out } = testEnv();
    assert.equal(await udevRules(env), 0);
    assert.equal(out.join(""), udevRulesText(reloadCommand(), runDir()));
  });
});

Deno.test("udev-rules --install: writes DIR/98-kexec-ts.rules atomically and prints the path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { env, out, err } = testEnv();
    assert.equal(await udevRules(env, "--install", dir), 0);
    const path = `${dir}/${OUR_RULE_NAME}`;
    assert.deepEqual(out, [path + "\n"]);
    assert.deepEqual(err, []);
    assert.equal(Deno.readTextFileSync(path), udevRulesText(reloadCommand(), runDir()));
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o644);
    // Installing again replaces the file; no temporary file is left behind.
    Deno.writeTextFileSync(path, "stale");
    assert.equal(await udevRules(testEnv().env, `--install=${dir}/`), 0);
    assert.equal(Deno.readTextFileSync(path), udevRulesText(reloadCommand(), runDir()));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [OUR_RULE_NAME]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("udev-rules --install: notes a distribution kdump rule that also reacts to hotplug", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { env, err } = testEnv({ "/usr/lib/udev/rules.d/98-kexec.rules": "# kdump-utils" });
    await udevRules(env, "--install", dir);
    assert.equal(err.length, 1);
    assert.match(err[0], /\/usr\/lib\/udev\/rules\.d\/98-kexec\.rules also reacts to hotplug/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("installFileAtomic: one-line io errors naming the path and the cause", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const expectIo = (target: string, cause: RegExp) =>
      assert.throws(() => installFileAtomic(target, OUR_RULE_NAME, "x"), (e) => {
        assert.ok(e instanceof KexecError);
        assert.equal(e.code, "io");
        assert.ok(e.message.includes(`${target.replace(/\/$/, "")}/${OUR_RULE_NAME}`), e.message);
        assert.match(e.message, cause);
        assert.equal(e.message.includes("\n"), false);
        return true;
      });
    expectIo(`${dir}/missing`, /no such directory/);
    Deno.writeTextFileSync(`${dir}/file`, "");
    expectIo(`${dir}/file`, /not a directory/);
    // Not writable even for root: sysfs refuses new files.
    expectIo("/sys/kernel", /./);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["file"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the RUN script under /bin/sh: skips unless loaded, marks pending, stops when a reload holds the lock", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const run = `${tmp}/run`;
    const launched = `${tmp}/launched`;
    const script = runScript(udevRulesText(`/usr/bin/touch ${launched}`, run))
      .replace("/sys/kernel/kexec_crash_loaded", `${tmp}/loaded`)
      .replace("[ -d /run/systemd/system ]", `[ -d ${tmp}/no-systemd ]`);
    const sh = async () => {
      const r = await new Deno.Command("/bin/sh", { args: ["-c", script], clearEnv: true }).output();
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      await new Promise((resolve) => setTimeout(resolve, 300)); // the background command
    };
    const exists = (p: string) => {
      try {
        Deno.statSync(p);
        return true;
      } catch {
        return false;
      }
    };

    await sh(); // no kexec_crash_loaded: nothing at all
    assert.equal(exists(run), false);
    Deno.writeTextFileSync(`${tmp}/loaded`, "0\n");
    await sh();
    assert.equal(exists(run), false);

    Deno.writeTextFileSync(`${tmp}/loaded`, "1\n");
    await sh();
    assert.ok(exists(`${run}/reload.pending`));
    assert.ok(exists(launched));

    const hasFlock = ["/usr/bin/flock", "/bin/flock"].some(exists);
    if (hasFlock) {
      Deno.removeSync(launched);
      Deno.removeSync(`${run}/reload.pending`);
      const fd = openLockFile(`${run}/reload.lock`);
      assert.ok(fd >= 0 && tryLockExclusive(fd));
      try {
        await sh();
      } finally {
        closeFd(fd);
      }
      assert.ok(exists(`${run}/reload.pending`), "the holder will see the mark");
      assert.equal(exists(launched), false, "no process started while a reload holds the lock");
    }
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});

Deno.test("main.ts udev-rules --install: the rule names this deno and the absolute main.ts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--quiet", `${ROOT}/main.ts`, "udev-rules", "--install", dir],
      cwd: dir,
      env: { KEXEC_TS_RUN_DIR: "/run/kexec-ts", KEXEC_TS_RELOAD_SETTLE_MS: "" },
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    assert.equal(new TextDecoder().decode(r.stdout), `${dir}/${OUR_RULE_NAME}\n`);
    const text = Deno.readTextFileSync(`${dir}/${OUR_RULE_NAME}`);
    const command = `${Deno.execPath()} run --allow-all --quiet --cached-only ${ROOT}/main.ts reload`;
    assert.equal(text, udevRulesText(command));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
