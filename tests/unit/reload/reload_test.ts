/**
 * `kexec-ts reload`: its decisions, one reload through a fake kernel, the reload log, and the coalescing protocol
 * (in-process with simulated concurrency, and across real processes with flock).
 */

import assert from "node:assert/strict";
import { KexecError } from "../../../lib/errors.ts";
import { parseInvocation } from "../../../lib/cli/args.ts";
import { run } from "../../../lib/cli/run.ts";
import type { KernelOps, RunEnv } from "../../../lib/runtime.ts";
import { fsSystemView, recordSystemView, type SystemView } from "../../../lib/system.ts";
import {
  type CrashLoadRecord,
  crashRecordPath,
  recordFromJson,
  runDir,
  writeCrashRecord,
} from "../../../lib/reload/record.ts";
import { type LoadRequest, loadRequest } from "../../../lib/load/request.ts";
import { buildLoadPlan } from "../../../lib/load/build.ts";
import type { SyscallSegment } from "../../../ffi/kexec.ts";
import { decideReload, runReload, withRunDir } from "../../../lib/reload/reload.ts";
import { coalesce, type CoalesceOps, reloadSettleMs } from "../../../lib/reload/coalesce.ts";
import {
  formatReloadLogLine,
  parseReloadLog,
  type ReloadLogEntry,
  reloadLogPath,
  summarizeReloadLog,
} from "../../../lib/reload/reload_log.ts";

const ROOT = new URL("../../..", import.meta.url).pathname.replace(/\/$/, "");
const FIXTURE = `${ROOT}/tests/fixtures/machines/qemu-q35-2g-crash256m`;
const VMLINUZ = `${ROOT}/.cache/kernels/6.12/vmlinuz`;
const BOOT_ID = Deno.readTextFileSync(`${FIXTURE}/proc/sys/kernel/random/boot_id`).trim();
const decoder = new TextDecoder();

/** Runs `body` with a fresh KEXEC_TS_RUN_DIR and KEXEC_TS_RELOAD_SETTLE_MS, restoring both afterwards. */
async function inRunDir(settleMs: string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kts-run-" });
  const saved = ["KEXEC_TS_RUN_DIR", "KEXEC_TS_RELOAD_SETTLE_MS"].map((k) => [k, Deno.env.get(k)] as const);
  Deno.env.set("KEXEC_TS_RUN_DIR", dir);
  Deno.env.set("KEXEC_TS_RELOAD_SETTLE_MS", settleMs);
  try {
    await body(dir);
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    Deno.removeSync(dir, { recursive: true });
  }
}

interface KernelCall {
  op: string;
  entry?: bigint;
  segments?: readonly SyscallSegment[];
  flags?: bigint;
}

/** A kernel that records calls; `kexecLoad` blocks for `blockMs` and then runs `onLoad` (which may throw). */
function fakeKernel(blockMs = 0, onLoad: () => void = () => {}): { kernel: KernelOps; calls: KernelCall[] } {
  const calls: KernelCall[] = [];
  const kernel: KernelOps = {
    kexecLoad(entry, segments, flags) {
      calls.push({ op: "kexec_load", entry, segments, flags });
      if (blockMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, blockMs);
      onLoad();
    },
    kexecFileLoad() {
      calls.push({ op: "kexec_file_load" });
    },
    rebootIntoKexec: () => assert.fail("no reboot expected"),
    sync() {
      calls.push({ op: "sync" });
    },
  };
  return { kernel, calls };
}

function testEnv(sys: SystemView, kernel: KernelOps) {
  const out: string[] = [];
  const err: string[] = [];
  const env: RunEnv = {
    sys,
    kernel,
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    shutdown: () => assert.fail("no shutdown expected"),
    uid: 0,
  };
  return { env, out, err };
}

/** The fixture machine with some files replaced. */
function overlay(base: SystemView, files: Record<string, string>): SystemView {
  const top = recordSystemView(files);
  return {
    origin: base.origin,
    read: (path, maxBytes) => (path in files ? top.read(path, maxBytes) : base.read(path, maxBytes)),
    list: (path) => base.list(path),
  };
}

const REQUEST = loadRequest({ kind: "crash", kernel: VMLINUZ, append: "console=ttyS0 panic=-1" });

function record(request: LoadRequest = REQUEST, bootId = BOOT_ID): CrashLoadRecord {
  return {
    version: 2,
    request,
    syscall: "kexec_load",
    flags: 0x3e0001,
    hotplug: false,
    bootId,
    loadedAt: "2026-01-01T00:00:00.000Z",
  };
}

const LOADED = {
  "/sys/kernel/kexec_crash_loaded": "1\n",
  "/sys/devices/system/memory/crash_hotplug": "0\n",
  "/sys/devices/system/cpu/crash_hotplug": "0\n",
  "/proc/sys/kernel/random/boot_id": BOOT_ID + "\n",
};

// ---------------------------------------------------------------------------------------------------------------
// Decisions

Deno.test("reload: nothing loaded → exit 0, one line, no kernel call", async () => {
  await inRunDir("0", async () => {
    writeCrashRecord(record());
    const { kernel, calls } = fakeKernel();
    const { env, err } = testEnv(recordSystemView({ ...LOADED, "/sys/kernel/kexec_crash_loaded": "0\n" }), kernel);
    assert.deepEqual(await runReload({}, env), { performed: [] });
    assert.deepEqual(calls, []);
    assert.equal(err.length, 1);
    assert.match(err[0], /^kexec-ts reload: no crash kernel is loaded .*nothing to reload$/);
  });
});

Deno.test("reload: crash_hotplug reads 1 (memory or cpu) → exit 0, no kernel call", async () => {
  await inRunDir("0", async () => {
    writeCrashRecord(record());
    for (
      const files of [
        { ...LOADED, "/sys/devices/system/memory/crash_hotplug": "1\n" },
        { ...LOADED, "/sys/devices/system/cpu/crash_hotplug": "1\n", "/sys/devices/system/memory/crash_hotplug": "" },
      ]
    ) {
      const { kernel, calls } = fakeKernel();
      const { env, err } = testEnv(recordSystemView(files), kernel);
      assert.deepEqual(await runReload({}, env), { performed: [] });
      assert.deepEqual(calls, []);
      assert.equal(err.length, 1);
      assert.match(err[0], /updates the crash kernel's elfcorehdr in place/);
    }
  });
});

Deno.test("reload: no record (or one from another boot) → exit 1 naming the record path", async () => {
  await inRunDir("0", async () => {
    const { kernel, calls } = fakeKernel();
    const { env } = testEnv(recordSystemView(LOADED), kernel);
    const expected = (e: unknown) => {
      assert.ok(e instanceof KexecError);
      assert.equal(e.exitCode, 1);
      assert.equal(
        e.message,
        `no kexec-ts -p load recorded in ${crashRecordPath()}; load one with kexec-ts -p first`,
      );
      return true;
    };
    await assert.rejects(runReload({}, env), expected);
    writeCrashRecord(record(REQUEST, "00000000-0000-0000-0000-000000000000"));
    await assert.rejects(runReload({}, env), expected);
    assert.deepEqual(calls, []);
  });
});

Deno.test("decideReload: after our own failed reload, 'nothing loaded' does not stop the retry", async () => {
  await inRunDir("0", () => {
    writeCrashRecord(record());
    const sys = withRunDir(recordSystemView({ ...LOADED, "/sys/kernel/kexec_crash_loaded": "0\n" }));
    assert.equal(decideReload(sys, crashRecordPath()).kind, "skip");
    assert.equal(decideReload(sys, crashRecordPath(), true).kind, "reload");
    // A hotplug image on a CONFIG_CRASH_HOTPLUG kernel: crash_hotplug reads 0 because nothing is loaded; that is
    // no reason to skip (it was read as "another tool's load" once, and the failed reload was not retried).
    writeCrashRecord({ ...record(), hotplug: true, flags: 0x3e0009 });
    const hot = withRunDir(recordSystemView({
      ...LOADED,
      "/sys/kernel/kexec_crash_loaded": "0\n",
      "/sys/kernel/crash_elfcorehdr_size": "917616\n",
    }));
    const d = decideReload(hot, crashRecordPath(), true, () => {});
    assert.equal(d.kind, "reload");
    assert.match((d as { retry?: string }).retry ?? "", /^the previous reload failed and no crash kernel is loaded/);
    return Promise.resolve();
  });
});

Deno.test("decideReload: another tool's load after ours (the kernel contradicts the record) is not replaced", async () => {
  await inRunDir("0", () => {
    // kexec-ts loaded with hotplug; crash_hotplug now reads 0 on a CONFIG_CRASH_HOTPLUG kernel: a peer's -c load.
    writeCrashRecord({ ...record(), hotplug: true, flags: 0x3e0009 });
    const sys = withRunDir(recordSystemView({ ...LOADED, "/sys/kernel/crash_elfcorehdr_size": "917616\n" }));
    const d = decideReload(sys, crashRecordPath());
    assert.equal(d.kind, "skip");
    assert.match(
      (d as { why: string }).why,
      /or another tool has loaded a crash kernel since, which kexec-ts does not replace; not reloading/,
    );
    // Our own --no-hotplug load on the same kernel: reloaded as before.
    writeCrashRecord(record());
    assert.equal(decideReload(sys, crashRecordPath()).kind, "reload");
    return Promise.resolve();
  });
});

Deno.test("reloadSettleMs: default 1000, KEXEC_TS_RELOAD_SETTLE_MS overrides, garbage is a usage error", async () => {
  await inRunDir("", () => {
    assert.equal(reloadSettleMs(), 1000);
    Deno.env.set("KEXEC_TS_RELOAD_SETTLE_MS", "250");
    assert.equal(reloadSettleMs(), 250);
    Deno.env.set("KEXEC_TS_RELOAD_SETTLE_MS", "1s");
    assert.throws(() => reloadSettleMs(), (e) => e instanceof KexecError && e.code === "usage");
    return Promise.resolve();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// One reload through the fake kernel

Deno.test("reload: repeats the recorded -p load: exactly one kexec_load with that kernel's plan, one log line", async () => {
  await inRunDir("0", async () => {
    writeCrashRecord(record());
    const sys = overlay(fsSystemView(FIXTURE), { "/sys/kernel/kexec_crash_loaded": "1\n" });
    const { kernel, calls } = fakeKernel(30);
    const { env } = testEnv(sys, kernel);
    const report = await runReload({}, env);
    assert.equal(report.performed.length, 1);
    assert.equal(report.performed[0].entry.outcome, "ok");

    assert.equal(calls.length, 1);
    const call = calls[0];
    assert.equal(call.op, "kexec_load");
    const { plan } = buildLoadPlan(REQUEST, sys, new Uint8Array(32));
    assert.equal(call.entry, plan.entry);
    assert.equal(call.flags, plan.flags);
    assert.deepEqual(
      call.segments!.map((s) => [s.mem, s.memsz, s.buf.length]),
      plan.segments.map((s) => [s.mem, s.memsz, s.buf.length]),
    );
    // The kernel segment is the recorded vmlinuz's protected-mode code.
    const kernelSeg = plan.segments.findIndex((s) => s.role === "kernel");
    assert.deepEqual(call.segments![kernelSeg].buf, plan.segments[kernelSeg].buf);

    const log = parseReloadLog(Deno.readTextFileSync(reloadLogPath()));
    assert.equal(log.length, 1);
    assert.equal(log[0].outcome, "ok");
    assert.equal(log[0].syscall, "kexec_load");
    assert.equal(log[0].loadedAfter, true);
    assert.ok(log[0].windowMs >= 25, `window ${log[0].windowMs} ms covers the 30 ms syscall`);
    assert.ok(log[0].totalMs >= log[0].windowMs);
    // performLoad wrote a fresh record of the same load.
    const again = recordFromJson(JSON.parse(Deno.readTextFileSync(crashRecordPath())), crashRecordPath());
    assert.deepEqual(again.request, REQUEST);
    assert.notEqual(again.loadedAt, record().loadedAt);
  });
});

Deno.test("reload: a failed kexec_load → exit via the error, logged as failed", async () => {
  await inRunDir("0", async () => {
    writeCrashRecord(record());
    let loaded = "1\n";
    const base = overlay(fsSystemView(FIXTURE), {});
    const sys: SystemView = {
      ...base,
      read: (p, m) =>
        p === "/sys/kernel/kexec_crash_loaded"
          ? { kind: "ok", bytes: new TextEncoder().encode(loaded) }
          : base.read(p, m),
    };
    const { kernel, calls } = fakeKernel(0, () => {
      loaded = "0\n"; // the kernel freed the old crash image before failing
      throw new KexecError("kernel", "kexec_load failed: EBUSY (another kexec operation is running)");
    });
    const { env } = testEnv(sys, kernel);
    await assert.rejects(runReload({}, env), (e) => {
      assert.ok(e instanceof KexecError);
      assert.match(e.message, /EBUSY.*no crash kernel is loaded now/);
      return true;
    });
    assert.equal(calls.length, 1);
    const log = parseReloadLog(Deno.readTextFileSync(reloadLogPath()));
    assert.equal(log.length, 1);
    assert.equal(log[0].outcome, "failed");
    assert.equal(log[0].loadedAfter, false);
    assert.match(log[0].error!, /EBUSY/);
  });
});

Deno.test("reload --dry-run: prints the plan, calls nothing, logs nothing", async () => {
  await inRunDir("0", async () => {
    writeCrashRecord(record());
    const sys = overlay(fsSystemView(FIXTURE), { "/sys/kernel/kexec_crash_loaded": "1\n" });
    const { kernel, calls } = fakeKernel();
    const { env, out } = testEnv(sys, kernel);
    assert.equal(await run(parseInvocation(["reload", "--dry-run"]), env), 0);
    assert.deepEqual(calls, []);
    assert.match(out.join(""), /kexec-ts plan: bzImage64 crash kernel through kexec_load/);
    assert.throws(() => Deno.statSync(reloadLogPath()), Deno.errors.NotFound);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The reload log

Deno.test("reload log: format and parse round-trip; summary", () => {
  const entries: ReloadLogEntry[] = [
    {
      time: "2026-11-25T02:35:03.123Z",
      outcome: "ok",
      totalMs: 412.64,
      windowMs: 31,
      syscall: "kexec_load",
      loadedAfter: true,
    },
    {
      time: "2026-11-25T02:35:09.020Z",
      outcome: "failed",
      totalMs: 80.2,
      windowMs: 42.5,
      syscall: "kexec_file_load",
      loadedAfter: false,
      error: 'kexec_load failed: "EBUSY" = x',
    },
  ];
  const text = entries.map(formatReloadLogLine).join("") + "garbage line\n";
  assert.equal(
    formatReloadLogLine(entries[0]),
    "2026-11-25T02:35:03.123Z outcome=ok total_ms=412.6 window_ms=31.0 syscall=kexec_load loaded_after=1\n",
  );
  const parsed = parseReloadLog(text);
  assert.equal(parsed.length, 2);
  assert.deepEqual(parsed[1], entries[1]);
  assert.deepEqual(summarizeReloadLog(parsed), {
    reloads: 2,
    failures: 1,
    totalMs: 412.6 + 80.2,
    longestWindowMs: 42.5,
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Coalescing, in-process: one event loop, concurrency through timers

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** In-memory primitives shared by all participants; `hooks.beforeUnlock` runs just before the lock is released. */
function memoryOps(hooks: { beforeUnlock?: () => void } = {}) {
  const state = { locked: false, pending: false, marks: [] as number[] };
  const ops: CoalesceOps = {
    markPending() {
      state.pending = true;
      state.marks.push(performance.now());
    },
    takePending() {
      const was = state.pending;
      state.pending = false;
      return was;
    },
    hasPending: () => state.pending,
    tryLock() {
      if (state.locked) return false;
      state.locked = true;
      return true;
    },
    unlock() {
      hooks.beforeUnlock?.();
      state.locked = false;
    },
    sleep,
  };
  return { ops, state };
}

Deno.test("coalesce: 20 events within the settle window → one reload, after the last event", async () => {
  const { ops, state } = memoryOps();
  const starts: number[] = [];
  const reload = async () => {
    starts.push(performance.now());
    await sleep(20);
  };
  const events = Array.from({ length: 20 }, (_, i) => sleep(i * 5).then(() => coalesce(ops, 300, reload)));
  const outcomes = await Promise.all(events);
  assert.equal(starts.length, 1);
  assert.equal(outcomes.filter((o) => o.holder).length, 1);
  assert.ok(starts[0] >= Math.max(...state.marks));
});

Deno.test("coalesce: a burst arriving after a reload started causes exactly one more reload", async () => {
  const { ops, state } = memoryOps();
  const starts: number[] = [];
  let burst: Promise<unknown> | undefined;
  const reload = async () => {
    starts.push(performance.now());
    if (starts.length === 1) {
      burst = Promise.all(Array.from({ length: 10 }, (_, i) => sleep(i * 3).then(() => coalesce(ops, 100, reload))));
    }
    await sleep(80);
  };
  await coalesce(ops, 100, reload);
  await burst;
  assert.equal(starts.length, 2);
  assert.ok(starts[1] >= Math.max(...state.marks), "the second reload starts after the burst's last event");
  assert.equal(state.pending, false);
});

Deno.test("coalesce: an event that finds the lock taken just before its release is not lost", async () => {
  let late: Promise<unknown> | undefined;
  let injected = false;
  const { ops, state } = memoryOps({
    beforeUnlock() {
      if (injected) return;
      injected = true;
      // The event marks and fails its try-lock while the holder is releasing it.
      late = coalesce(ops, 0, reload);
    },
  });
  const starts: number[] = [];
  const reload = () => {
    starts.push(performance.now());
    return Promise.resolve();
  };
  const first = await coalesce(ops, 0, reload);
  const second = await late;
  assert.equal((second as { holder: boolean }).holder, false);
  assert.equal(first.results.length, 2, "the holder re-checked pending after its release and reloaded again");
  assert.ok(starts[1] >= Math.max(...state.marks));
  assert.equal(state.locked, false);
});

Deno.test("coalesce: a throwing reload is collected; the lock is released and later events still reload", async () => {
  const { ops, state } = memoryOps();
  let n = 0;
  const reload = () => (++n === 1 ? Promise.reject(new Error("boom")) : Promise.resolve(n));
  const a = await coalesce(ops, 0, reload);
  assert.equal(a.errors.length, 1);
  assert.equal(state.locked, false);
  const b = await coalesce(ops, 0, reload);
  assert.deepEqual(b.results, [2]);
});

// ---------------------------------------------------------------------------------------------------------------
// Coalescing across real processes: flock on reload.lock, the reload.pending file

/** A participant process: waits for `go`, records its event time, runs the protocol with a counting fake reload. */
const PARTICIPANT = `
import { coalesce, fileCoalesceOps } from ${
  JSON.stringify(new URL("../../../lib/reload/coalesce.ts", import.meta.url).href)
};
const [dir, settle, reloadMs] = Deno.args;
Deno.writeTextFileSync(dir + "/ready", "x", { append: true });
while (true) {
  try { Deno.statSync(dir + "/go"); break; } catch { await new Promise((r) => setTimeout(r, 2)); }
}
Deno.writeTextFileSync(dir + "/events", Date.now() + "\\n", { append: true });
const out = await coalesce(fileCoalesceOps(dir + "/run"), Number(settle), async () => {
  Deno.writeTextFileSync(dir + "/reloads", Date.now() + "\\n", { append: true });
  await new Promise((r) => setTimeout(r, Number(reloadMs)));
});
Deno.exit(out.errors.length ? 1 : 0);
`;

async function participants(dir: string, n: number, settleMs: number, reloadMs: number) {
  const script = `${dir}/participant.ts`;
  Deno.writeTextFileSync(script, PARTICIPANT);
  const readyBefore = count(`${dir}/ready`, "x");
  try {
    Deno.removeSync(`${dir}/go`);
  } catch { /* first batch */ }
  const children = Array.from({ length: n }, () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--quiet", script, dir, String(settleMs), String(reloadMs)],
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).spawn());
  while (count(`${dir}/ready`, "x") < readyBefore + n) await sleep(5);
  Deno.writeTextFileSync(`${dir}/go`, "");
  return Promise.all(children.map(async (c) => {
    const r = await c.output();
    assert.equal(r.code, 0, decoder.decode(r.stderr));
  }));
}

function count(path: string, unit = "\n"): number {
  try {
    return Deno.readTextFileSync(path).split(unit).length - 1;
  } catch {
    return 0;
  }
}

function times(path: string): number[] {
  return Deno.readTextFileSync(path).trim().split("\n").map(Number);
}

Deno.test("coalesce across 20 processes: one to three reloads, the last after the last event", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kts-coalesce-" });
  try {
    await participants(dir, 20, 1000, 50);
    const reloads = times(`${dir}/reloads`);
    assert.ok(reloads.length >= 1 && reloads.length <= 3, `${reloads.length} reloads`);
    assert.ok(Math.max(...reloads) >= Math.max(...times(`${dir}/events`)));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("coalesce across processes: a burst during a running reload causes exactly one more", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kts-coalesce-" });
  try {
    // One event; its reload takes 2.5 s. Once it has started, ten more events arrive.
    const first = participants(dir, 1, 100, 2500);
    while (count(`${dir}/reloads`) < 1) await sleep(10);
    await participants(dir, 10, 100, 2500);
    await first;
    const reloads = times(`${dir}/reloads`);
    assert.equal(reloads.length, 2);
    assert.ok(reloads[1] >= Math.max(...times(`${dir}/events`)));
    assert.throws(() => Deno.statSync(`${dir}/run/reload.pending`), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// main.ts reload, end to end, on paths that never reach the kernel

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    else await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

async function mainReload(root: string, runDirPath: string, ...extra: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", `${ROOT}/main.ts`, "reload", "--system-root", root, ...extra],
    env: { KEXEC_TS_RUN_DIR: runDirPath, KEXEC_TS_RELOAD_SETTLE_MS: "0" },
  }).output();
  return { code: r.code, stdout: decoder.decode(r.stdout), stderr: decoder.decode(r.stderr) };
}

Deno.test("main.ts reload: nothing loaded → 0; loaded without a record → 1; --dry-run plans the recorded load", async () => {
  await inRunDir("0", async (dir) => {
    // Against a snapshot only a dry run is allowed: a real reload would load into the running kernel.
    const refused = await mainReload(FIXTURE, dir);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--system-root plans against a saved snapshot: add --dry-run/);

    const none = await mainReload(FIXTURE, dir, "--dry-run");
    assert.equal(none.code, 0);
    assert.equal(none.stderr.trim().split("\n").length, 1);
    assert.match(none.stderr, /no crash kernel is loaded/);

    const root = `${dir}/machine`;
    await copyTree(FIXTURE, root);
    Deno.writeTextFileSync(`${root}/sys/kernel/kexec_crash_loaded`, "1\n");
    const missing = await mainReload(root, dir, "--dry-run");
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr,
      `kexec-ts: no kexec-ts -p load recorded in ${dir}/crash-load.json; load one with kexec-ts -p first\n`,
    );

    writeCrashRecord(record());
    assert.equal(runDir(), dir);
    const dry = await mainReload(root, dir, "--dry-run");
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /kexec-ts plan: bzImage64 crash kernel through kexec_load/);
    assert.match(dry.stdout, /cmdline +elfcorehdr=0x[0-9a-f]+ memhp_default_state=offline console=ttyS0 panic=-1/);
    assert.throws(() => Deno.statSync(`${dir}/reload.log`), Deno.errors.NotFound);
  });
});
