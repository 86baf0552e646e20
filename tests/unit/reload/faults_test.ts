/**
 * Faults and races around the crash kernel, each a test:
 *  - SIGKILL of `kexec-ts reload` at every step of its work leaves the record, both locks and the log usable, and
 *    the next event reloads (also when the kill came inside the syscall, after the kernel freed the crash kernel);
 *  - a manual -p and a reload are serialised by load.lock: their syscalls never overlap, the waiter gives up after a
 *    bounded time with a clear message and nothing changed;
 *  - a hotplug event during a --no-hotplug reload is not lost (the memory map is read again after the load);
 *  - crash_hotplug reading 0 for an image the record says has hotplug support does not cause a reload;
 *  - /run full (ENOSPC) when writing the record: the load stands, the message says reload will not work, and the
 *    stale record is gone;
 *  - a read-only rules directory for udev-rules --install gives one clear line.
 */

import assert from "node:assert/strict";
import { performLoad } from "../../../lib/load/load.ts";
import { type LoadRequest, loadRequest } from "../../../lib/load/request.ts";
import {
  type CrashLoadRecord,
  crashRecordPath,
  readCrashRecord,
  writeCrashRecord,
} from "../../../lib/reload/record.ts";
import { LOAD_LOCK_FILE, readLoadHolder, takeLoadLock } from "../../../lib/reload/lock.ts";
import { INFLIGHT_FILE, inflightPath, markReloadInflight } from "../../../lib/reload/inflight.ts";
import { fileCoalesceOps, PENDING_FILE } from "../../../lib/reload/coalesce.ts";
import { decideReload, runReload, withRunDir } from "../../../lib/reload/reload.ts";
import { parseReloadLog } from "../../../lib/reload/reload_log.ts";
import { unloadImage } from "../../../lib/control.ts";
import { KexecError } from "../../../lib/errors.ts";
import type { KernelOps, RunEnv } from "../../../lib/runtime.ts";
import { fsSystemView, type SystemView } from "../../../lib/system.ts";
import { machineDir, overlayView } from "../test_helpers.ts";
import { syntheticBzImage } from "../load/golden_fixtures.ts";
import { PAUSE_POINTS } from "./reload_child.ts";

const FIXTURE = machineDir("qemu-q35-2g-crash256m");
const BOOT_ID = Deno.readTextFileSync(`${FIXTURE}/proc/sys/kernel/random/boot_id`).trim();
const CHILD = new URL("./reload_child.ts", import.meta.url).pathname;
const MAIN = new URL("../../../main.ts", import.meta.url).pathname;
const tmp = Deno.makeTempDirSync({ prefix: "kts-faults-" });
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));
const KERNEL = `${tmp}/bzImage`;
Deno.writeFileSync(KERNEL, syntheticBzImage());
const decoder = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const REQUEST: LoadRequest = loadRequest({ kind: "crash", kernel: KERNEL, append: "console=ttyS0", hotplug: "off" });

function record(bootId = BOOT_ID, request = REQUEST, hotplug = false): CrashLoadRecord {
  return {
    version: 2,
    request,
    syscall: "kexec_load",
    flags: hotplug ? 0x3e0005 : 0x3e0001,
    hotplug,
    bootId,
    loadedAt: "2026-01-01T00:00:00.000Z",
  };
}

/** Runs `body` with KEXEC_TS_RUN_DIR pointing at a fresh directory. */
async function inRunDir(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = Deno.makeTempDirSync({ dir: tmp, prefix: "run-" });
  const saved = ["KEXEC_TS_RUN_DIR", "KEXEC_TS_RELOAD_SETTLE_MS"].map((k) => [k, Deno.env.get(k)] as const);
  Deno.env.set("KEXEC_TS_RUN_DIR", dir);
  Deno.env.set("KEXEC_TS_RELOAD_SETTLE_MS", "0");
  try {
    await body(dir);
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
}

/** A kernel that records calls and keeps kexec_crash_loaded in `state.loaded`. */
function fakeKernel(state: { loaded: string; calls: string[] }, during?: () => void): KernelOps {
  return {
    kexecLoad(_e, segments) {
      state.loaded = "0\n";
      state.calls.push(`kexec_load ${segments.length}`);
      during?.();
      state.loaded = "1\n";
    },
    kexecFileLoad() {
      state.calls.push("kexec_file_load");
      state.loaded = "1\n";
    },
    rebootIntoKexec: () => assert.fail("no reboot"),
    sync() {},
  };
}

/** The crash256m machine with kexec_crash_loaded from `state` and crash_hotplug from `hotplug`. */
function machine(state: { loaded: string }, extra: Record<string, string> = {}, hotplug = () => "0\n"): SystemView {
  const base = overlayView(fsSystemView(FIXTURE), extra);
  return {
    origin: base.origin,
    read(path, maxBytes) {
      if (path === "/sys/kernel/kexec_crash_loaded") {
        return { kind: "ok", bytes: new TextEncoder().encode(state.loaded) };
      }
      if (path.endsWith("/crash_hotplug")) return { kind: "ok", bytes: new TextEncoder().encode(hotplug()) };
      return base.read(path, maxBytes);
    },
    list: (path) => base.list(path),
  };
}

function envOf(sys: SystemView, kernel: KernelOps): { env: RunEnv; err: string[] } {
  const err: string[] = [];
  return { env: { sys, kernel, out: () => {}, err: (t) => void err.push(t), shutdown: () => {}, uid: 0 }, err };
}

// ---------------------------------------------------------------------------------------------------------------
// SIGKILL at every step

async function reloadChild(dir: string, state: string, pauseAt?: string) {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", CHILD, state, ...(pauseAt ? [pauseAt] : [])],
    env: { KEXEC_TS_RUN_DIR: dir, KEXEC_TS_RELOAD_SETTLE_MS: "0" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (pauseAt) {
    for (let i = 0; i < 600; i++) {
      try {
        Deno.statSync(`${state}/paused`);
        break;
      } catch {
        await sleep(25);
      }
    }
    assert.equal(Deno.readTextFileSync(`${state}/paused`), pauseAt, `the child stopped at ${pauseAt}`);
    proc.kill("SIGKILL");
  }
  const r = await proc.output();
  return { code: r.code, signal: r.signal, stdout: decoder.decode(r.stdout), stderr: decoder.decode(r.stderr) };
}

function lines(path: string): string[] {
  try {
    return Deno.readTextFileSync(path).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

for (const at of PAUSE_POINTS) {
  Deno.test(`SIGKILL of reload at "${at}": record, locks and log stay usable; the next event reloads`, async () => {
    await inRunDir(async (dir) => {
      const state = Deno.makeTempDirSync({ dir: tmp, prefix: "state-" });
      Deno.writeTextFileSync(`${state}/loaded`, "1\n");
      assert.equal(writeCrashRecord(record()), undefined);
      const killed = await reloadChild(dir, state, at);
      assert.equal(killed.signal, "SIGKILL");

      // Both locks are free: flock died with the process.
      const lock = takeLoadLock("test", 0, dir);
      assert.equal(lock.warning, undefined);
      lock.release();
      const coalesceLock = fileCoalesceOps(dir);
      assert.ok(coalesceLock.tryLock(), "reload.lock is free");
      coalesceLock.unlock();
      // The record is whole (the old one or the new one), and every log line parses.
      const view = withRunDir(fsSystemView(FIXTURE), dir);
      assert.equal(readCrashRecord(view, crashRecordPath()).kind, "ok");
      const log = lines(`${dir}/reload.log`);
      assert.equal(parseReloadLog(log.join("\n")).length, log.length);
      const before = lines(`${state}/calls`).filter((l) => l.startsWith("end")).length;
      if (at === "syscall") {
        // The kernel freed the crash kernel and the reload never finished: the marker says so.
        assert.equal(Deno.readTextFileSync(`${state}/loaded`), "0\n");
        assert.ok(lines(inflightPath(dir)).length === 1, "reload.inflight is left");
      }

      const next = await reloadChild(dir, state);
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(JSON.parse(next.stdout).performed, ["ok"], next.stderr);
      assert.equal(lines(`${state}/calls`).filter((l) => l.startsWith("end")).length, before + 1);
      assert.equal(Deno.readTextFileSync(`${state}/loaded`), "1\n");
      assert.throws(() => Deno.statSync(`${dir}/${INFLIGHT_FILE}`), Deno.errors.NotFound);
      assert.throws(() => Deno.statSync(`${dir}/${PENDING_FILE}`), Deno.errors.NotFound);
      assert.equal(readCrashRecord(view, crashRecordPath()).kind, "ok");
      const after = lines(`${dir}/reload.log`);
      assert.equal(parseReloadLog(after.join("\n")).length, after.length);
    });
  });
}

Deno.test("a failed reload (EBUSY after the kernel freed the crash kernel) is retried by the next event's process", async () => {
  await inRunDir(async () => {
    writeCrashRecord(record());
    const state = { loaded: "1\n", calls: [] as string[] };
    const failing = fakeKernel(state, () => {
      throw new KexecError("kernel", "kexec_load failed (EBUSY)");
    });
    const first = envOf(machine(state), failing);
    await assert.rejects(runReload({}, first.env), /EBUSY/);
    assert.equal(state.loaded, "0\n");
    // A new process: nothing is loaded, but the marker says it was ours.
    const view = withRunDir(machine(state));
    const decision = decideReload(view, crashRecordPath(), false, () => {});
    assert.equal(decision.kind, "reload");
    assert.match((decision as { retry?: string }).retry!, /^a kexec-ts reload \(pid \d+, started .*\) did not finish/);
    const second = envOf(machine(state), fakeKernel(state));
    assert.equal((await runReload({}, second.env)).performed.length, 1);
    assert.equal(state.loaded, "1\n");
    assert.match(second.err.join("\n"), /did not finish and no crash kernel is loaded: loading it again/);
    // Done: the marker is gone, and with nothing loaded the next event does nothing again.
    assert.equal(decideReload(withRunDir(machine({ loaded: "0\n" })), crashRecordPath(), false, () => {}).kind, "skip");
  });
});

Deno.test("reload.inflight: a successful -p and -p -u supersede it; another boot's is ignored; a bad one counts", async () => {
  await inRunDir((dir) => {
    const state = { loaded: "0\n", calls: [] as string[] };
    const sys = machine(state);
    writeCrashRecord(record());
    markReloadInflight(sys);
    const { env } = envOf(sys, fakeKernel(state));
    performLoad(REQUEST, env);
    assert.throws(() => Deno.statSync(inflightPath(dir)), Deno.errors.NotFound);
    markReloadInflight(sys);
    unloadImage(env, true, false);
    assert.throws(() => Deno.statSync(inflightPath(dir)), Deno.errors.NotFound);
    writeCrashRecord(record());
    const view = withRunDir(machine({ loaded: "0\n" }));
    Deno.writeTextFileSync(
      inflightPath(dir),
      JSON.stringify({ pid: 1, bootId: "other", startedAt: "2026-01-01T00:00:00Z" }),
    );
    assert.equal(decideReload(view, crashRecordPath(), false, () => {}).kind, "skip");
    Deno.writeTextFileSync(inflightPath(dir), "{garbage");
    const bad = decideReload(view, crashRecordPath(), false, () => {});
    assert.equal(bad.kind, "reload");
    assert.match((bad as { retry: string }).retry, /did not finish \(.*reload\.inflight is not JSON\)/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// -p against a concurrent reload: load.lock

Deno.test("load.lock: a -p waits for the holder, then loads; past the wait it gives up with nothing changed", async () => {
  await inRunDir((dir) => {
    const state = { loaded: "1\n", calls: [] as string[] };
    const { env } = envOf(machine(state), fakeKernel(state));
    const held = takeLoadLock("reload", 0, dir);
    assert.equal(readLoadHolder(dir)?.what, "reload");
    assert.throws(
      () => performLoad(REQUEST, env, { lockWaitMs: 300 }),
      (e: unknown) => {
        assert.ok(e instanceof KexecError);
        assert.equal(e.code, "io");
        assert.match(
          e.message,
          new RegExp(
            `^kexec-ts reload \\(pid ${Deno.pid}, since .*\\) has held ${dir}/${LOAD_LOCK_FILE} for more than 0 s`,
          ),
        );
        assert.match(e.message, /nothing was loaded or unloaded: try again$/);
        return true;
      },
    );
    assert.deepEqual(state.calls, []);
    assert.throws(() => unloadImage(env, true, false, 200), /has held .*load\.lock/);
    assert.deepEqual(state.calls, []);
    held.release();
    performLoad(REQUEST, env, { lockWaitMs: 300 });
    assert.equal(state.calls.length, 1);
  });
});

Deno.test("load.lock: a manual -p and a udev-started reload never overlap their syscalls", async () => {
  await inRunDir(async (dir) => {
    const stateDir = Deno.makeTempDirSync({ dir: tmp, prefix: "state-" });
    Deno.writeTextFileSync(`${stateDir}/loaded`, "1\n");
    writeCrashRecord(record());
    // The reload child stops inside its kexec_load (holding load.lock); the -p must wait for it.
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--quiet", CHILD, stateDir, "syscall"],
      env: { KEXEC_TS_RUN_DIR: dir, KEXEC_TS_RELOAD_SETTLE_MS: "0" },
      stdout: "null",
      stderr: "null",
    }).spawn();
    while (lines(`${stateDir}/calls`).length === 0) await sleep(20);
    const state = { loaded: "0\n", calls: [] as string[] };
    const { env } = envOf(machine(state), fakeKernel(state));
    const t0 = Date.now();
    // performLoad blocks this thread while it waits: the kill comes from another process.
    const killer = new Deno.Command("sh", { args: ["-c", `sleep 0.7; kill -9 ${child.pid}`] }).spawn();
    performLoad(loadRequest({ ...REQUEST, append: "manual" }), env);
    await killer.status;
    assert.ok(Date.now() - t0 >= 650, `the -p waited ${Date.now() - t0} ms for the reload's syscall`);
    await child.status;
    assert.equal(state.calls.length, 1);
    const view = withRunDir(fsSystemView(FIXTURE), dir);
    const rec = readCrashRecord(view, crashRecordPath());
    assert.equal(rec.kind === "ok" && rec.record.request.append, "manual");
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Hotplug during a --no-hotplug reload; crash_hotplug reading 0 in a storm

Deno.test("a memory hot-add during a --no-hotplug reload is not lost: the holder reloads again", async () => {
  await inRunDir(async () => {
    writeCrashRecord(record());
    const iomem = Deno.readTextFileSync(`${FIXTURE}/proc/iomem`);
    const extra: Record<string, string> = {};
    const state = { loaded: "1\n", calls: [] as string[] };
    const headers: Uint8Array[] = [];
    const kernel = fakeKernel(state, () => {
      // The event arrives inside the syscall window: the rule sees no crash kernel and marks nothing.
      extra["/proc/iomem"] = iomem.replace("100000000-8ffffffff : PCI Bus 0000:00", "100000000-10fffffff : System RAM");
    });
    const seen = kernel.kexecLoad;
    kernel.kexecLoad = (entry, segments, flags, ctx) => {
      headers.push(segments.find((s) => s.buf[0] === 0x7f && s.buf[1] === 0x45)!.buf.slice());
      seen(entry, segments, flags, ctx);
    };
    const base = fsSystemView(FIXTURE);
    const sys: SystemView = {
      origin: base.origin,
      read: (p, m) =>
        p in extra ? { kind: "ok", bytes: new TextEncoder().encode(extra[p]) } : machine(state).read(p, m),
      list: (p) => base.list(p),
    };
    const { env, err } = envOf(sys, kernel);
    const report = await runReload({}, env);
    assert.equal(report.performed.length, 2);
    assert.match(err.join("\n"), /the memory map or the CPUs changed during the reload; reloading again/);
    // The second load describes the new memory: one more PT_LOAD in its elfcorehdr (e_phnum at 0x38).
    assert.equal(headers.length, 2);
    const phnum = (h: Uint8Array) => new DataView(h.buffer).getUint16(0x38, true);
    assert.equal(phnum(headers[1]), phnum(headers[0]) + 1);
  });
});

Deno.test("crash_hotplug reads 0 for an image loaded with the flag: read again; no reload either way", async () => {
  await inRunDir(() => {
    writeCrashRecord(record(BOOT_ID, { ...REQUEST, hotplug: "auto" }, true));
    let reads = 0;
    const flaky = () => (++reads > 6 ? "1\n" : "0\n"); // the kernel's trylock fails for a while
    const slept: number[] = [];
    const view = withRunDir(machine({ loaded: "1\n" }, {}, flaky));
    const turned = decideReload(view, crashRecordPath(), false, (ms) => void slept.push(ms));
    assert.deepEqual(turned, {
      kind: "skip",
      why: "the kernel updates the crash kernel's elfcorehdr in place (crash_hotplug read 0, then 1)",
    });
    assert.ok(slept.length >= 1 && slept.every((ms) => ms === 100));
    const stuck = decideReload(withRunDir(machine({ loaded: "1\n" })), crashRecordPath(), false, () => {});
    assert.equal(stuck.kind, "skip");
    assert.match(
      (stuck as { why: string }).why,
      /^crash_hotplug reads 0, but kexec-ts loaded this crash kernel \(.*\) with KEXEC_UPDATE_ELFCOREHDR: the kernel answers 0 while another kexec operation holds its lock/,
    );
    // An image recorded without the flag is reloaded.
    writeCrashRecord(record());
    assert.equal(
      decideReload(withRunDir(machine({ loaded: "1\n" })), crashRecordPath(), false, () => {}).kind,
      "reload",
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// A full /run, a read-only rules directory

/** Runs `script` (sh) in a private mount namespace, as root: the real EROFS/ENOSPC, nothing visible outside. */
async function inMountNamespace(script: string) {
  const r = await new Deno.Command("unshare", { args: ["-m", "--propagation", "private", "sh", "-c", script] })
    .output();
  return { code: r.code, stdout: decoder.decode(r.stdout), stderr: decoder.decode(r.stderr) };
}

Deno.test("udev-rules --install into a read-only rules directory: one clear line, exit 1", async () => {
  const rules = Deno.makeTempDirSync({ dir: tmp, prefix: "rules-" });
  const r = await inMountNamespace(
    `mount --bind -o ro ${rules} ${rules} && exec ${Deno.execPath()} run --allow-all --quiet ${MAIN} ` +
      `udev-rules --install ${rules}`,
  );
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr,
    `kexec-ts: cannot install ${rules}/98-kexec-ts.rules: the file system is read-only (EROFS); install into a ` +
      "writable rules directory (kexec-ts udev-rules --install /run/udev/rules.d lasts until reboot) or save the " +
      "output of kexec-ts udev-rules\n",
  );
  assert.deepEqual([...Deno.readDirSync(rules)], []);
});

Deno.test("/run full (ENOSPC, a real full tmpfs): the -p load stands, the message says reload will not work", async () => {
  const dir = Deno.makeTempDirSync({ dir: tmp, prefix: "full-" });
  const lib = (m: string) => JSON.stringify(new URL(`../../../lib/${m}`, import.meta.url).href);
  const script = `
    import { performLoad } from ${lib("load/load.ts")};
    import { writeCrashRecord } from ${lib("reload/record.ts")};
    import { fsSystemView } from ${lib("system.ts")};
    const rec = ${JSON.stringify(record())};
    if (writeCrashRecord(rec)) throw new Error("could not write the first record");
    new Deno.Command("dd", { args: ["if=/dev/zero", "of=" + Deno.args[0] + "/fill", "bs=4k", "count=64"], stderr: "null" }).outputSync();
    const calls = [];
    const kernel = { kexecLoad: () => calls.push("kexec_load"), kexecFileLoad() {}, rebootIntoKexec() {}, sync() {} };
    const env = { sys: fsSystemView(${JSON.stringify(FIXTURE)}), kernel, out() {}, err() {}, shutdown() {}, uid: 0 };
    const out = performLoad(rec.request, env);
    const files = [...Deno.readDirSync(Deno.args[0])].map((e) => e.name).sort();
    console.log(JSON.stringify({ loaded: out.loaded, warnings: out.warnings, calls, files }));`;
  Deno.writeTextFileSync(`${tmp}/full_load.ts`, script);
  const r = await inMountNamespace(
    `mount -t tmpfs -o size=64k none ${dir} && KEXEC_TS_RUN_DIR=${dir} ` +
      `exec ${Deno.execPath()} run --allow-all --quiet ${tmp}/full_load.ts ${dir}`,
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.loaded, true);
  assert.deepEqual(out.calls, ["kexec_load"]);
  assert.deepEqual(out.warnings, [
    `the crash kernel is loaded, but could not record the load in ${dir}/crash-load.json: the file system is full ` +
    "(ENOSPC); kexec-ts reload will not be able to repeat this load after a hotplug event (free space in the run " +
    "directory and load again with kexec-ts -p)",
  ]);
  // The previous record (of a load that is gone) was removed, and no temporary file is left.
  assert.deepEqual(out.files, ["fill", "load.lock"]);
});
