/**
 * kexec-ts' own state files, read back field by field like the crash record: the reload log (each bad line named,
 * the good ones kept), the pending mark (a regular file or a one-line error with the fix), the reload.inflight
 * marker and the load.lock holder file (malformed ones reported or ignored, never half-used).
 */

import assert from "node:assert/strict";
import {
  appendReloadLog,
  formatReloadLogLine,
  parseReloadLog,
  parseReloadLogChecked,
  type ReloadLogEntry,
  summarizeReloadLog,
} from "../../../lib/reload/reload_log.ts";
import { fileCoalesceOps } from "../../../lib/reload/coalesce.ts";
import { inflightFromJson, readReloadInflight } from "../../../lib/reload/inflight.ts";
import { parseLoadHolder } from "../../../lib/reload/lock.ts";
import { fsSystemView, recordSystemView } from "../../../lib/system.ts";
import { crashRecordPath } from "../../../lib/reload/record.ts";
import { gatherStatus } from "../../../lib/status.ts";
import { renderStatus } from "../../../lib/cli/output.ts";
import { overlayView, throwsKexec } from "../test_helpers.ts";

const OK: ReloadLogEntry = {
  time: "2026-11-25T02:35:03.123Z",
  outcome: "ok",
  totalMs: 412.6,
  windowMs: 31,
  syscall: "kexec_load",
  loadedAfter: true,
};

Deno.test("reload log: every bad line is named with its number and why; the good ones are kept", () => {
  const text = [
    formatReloadLogLine(OK).trim(),
    "2026-11-25T02:35:03.123Z outcome=ok total_ms=1.2.3 window_ms=0 syscall=kexec_load loaded_after=1",
    "yesterday outcome=ok total_ms=1 window_ms=0 syscall=kexec_load loaded_after=1",
    '2026-11-25T02:35:03.123Z outcome=failed total_ms=1 window_ms=0 syscall=kexec_load loaded_after=0 error="\\x"',
    '2026-11-25T02:35:03.123Z outcome=failed total_ms=1 window_ms=0 syscall=kexec_load loaded_after=0 error="a"b"',
    "",
    formatReloadLogLine({ ...OK, outcome: "failed", error: "EBUSY" }).trim(),
  ].join("\n");
  const { entries, problems } = parseReloadLogChecked(text);
  assert.equal(entries.length, 2);
  assert.deepEqual(problems, [
    'reload.log line 2: not time outcome=ok|failed total_ms=N window_ms=N syscall=... loaded_after=0|1|unknown [error="..."]',
    'reload.log line 3: the time "yesterday" is not an ISO time',
    "reload.log line 4: error= is not a JSON string",
    "reload.log line 5: error= is not a JSON string",
  ]);
  // Found by looking at the fuzzer's input: "1.2.3" used to parse as NaN and make the summary NaN.
  assert.ok(Number.isFinite(summarizeReloadLog(parseReloadLog(text)).totalMs));
});

Deno.test("reload log: a line a killed writer left unfinished spoils only itself", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/reload.log`;
    Deno.writeTextFileSync(path, formatReloadLogLine(OK) + formatReloadLogLine(OK).slice(0, 30));
    assert.equal(appendReloadLog({ ...OK, totalMs: 7 }, path), undefined);
    const { entries, problems } = parseReloadLogChecked(Deno.readTextFileSync(path));
    assert.deepEqual(entries.map((e) => e.totalMs), [412.6, 7]);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^reload\.log line 2: /);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("pending mark: not a regular file → one line naming it and the fix", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${dir}/reload.pending`);
    const ops = fileCoalesceOps(dir);
    throwsKexec(
      () => ops.hasPending(),
      "io",
      /^.*\/reload\.pending is not a regular file; remove it \(it marks a reload pending\)$/,
    );
    throwsKexec(() => ops.takePending(), "io", /\/reload\.pending is not a regular file; remove it/);
    assert.ok(Deno.statSync(`${dir}/reload.pending`).isDirectory, "left alone");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("reload.inflight: every field checked; a malformed marker still counts, with the reason", () => {
  assert.deepEqual(inflightFromJson({ pid: 12, bootId: "b", startedAt: "2026-01-01T00:00:00Z" }, "M"), {
    pid: 12,
    bootId: "b",
    startedAt: "2026-01-01T00:00:00Z",
  });
  const fix = "; remove it (the next event then loads only if a crash kernel is loaded)";
  throwsKexec(
    () => inflightFromJson([], "M"),
    "io",
    new RegExp(`^M: field "marker" is not an object${fix.replace(/[()]/g, "\\$&")}$`),
  );
  throwsKexec(
    () => inflightFromJson({ pid: -1, bootId: "b", startedAt: "x" }, "M"),
    "io",
    /field "startedAt" is not a time/,
  );
  throwsKexec(
    () => inflightFromJson({ pid: -1, bootId: "b", startedAt: "2026-01-01T00:00:00Z" }, "M"),
    "io",
    /field "pid" is not a process id/,
  );
  throwsKexec(
    () => inflightFromJson({ pid: 1, bootId: 3, startedAt: "2026-01-01T00:00:00Z" }, "M"),
    "io",
    /field "bootId" is not a string/,
  );
  const view = (text: string) =>
    recordSystemView({ "/r/reload.inflight": text, "/proc/sys/kernel/random/boot_id": "b\n" });
  assert.deepEqual(
    readReloadInflight(view('{"pid":1,"bootId":"b","startedAt":"2026-01-01T00:00:00Z"}'), "/r/reload.inflight").kind,
    "ok",
  );
  assert.deepEqual(
    readReloadInflight(view('{"pid":1,"bootId":"old","startedAt":"2026-01-01T00:00:00Z"}'), "/r/reload.inflight"),
    { kind: "none" },
  );
  assert.deepEqual(readReloadInflight(view("{"), "/r/reload.inflight"), {
    kind: "bad",
    why: "/r/reload.inflight is not JSON",
  });
  assert.deepEqual(readReloadInflight(view("{}"), "/r/reload.inflight"), {
    kind: "bad",
    why: `/r/reload.inflight: field "startedAt" is not a string${fix}`,
  });
});

Deno.test("load.holder: every field checked; malformed means unknown", () => {
  assert.deepEqual(parseLoadHolder('{"pid":7,"what":"-p","since":"2026-01-01T00:00:00Z"}'), {
    pid: 7,
    what: "-p",
    since: "2026-01-01T00:00:00Z",
  });
  for (
    const bad of [
      "",
      "[]",
      "null",
      '{"pid":0,"what":"-p","since":"2026-01-01T00:00:00Z"}',
      '{"pid":7,"what":"a\\nb","since":"2026-01-01T00:00:00Z"}',
      '{"pid":7,"what":"-p","since":"soon"}',
    ]
  ) {
    assert.equal(parseLoadHolder(bad), undefined, bad);
  }
});

Deno.test("a damaged crash record: status names the field and the fix on one line and still shows everything else", () => {
  const fixture = new URL("../../fixtures/machines/qemu-q35-2g-crash256m", import.meta.url).pathname;
  const record = {
    version: 2,
    request: {
      kind: "crash",
      kernel: "/boot/k",
      initrds: [],
      reuseCmdline: false,
      syscall: "kexec_load",
      hotplug: "auto",
      noChecks: false,
      serialPort: 0,
    },
    syscall: "kexec_load",
    flags: "0x3e0005",
    hotplug: true,
    bootId: "b",
    loadedAt: "2026-01-01T00:00:00Z",
  };
  const sys = overlayView(fsSystemView(fixture), {
    "/sys/kernel/kexec_crash_loaded": "1\n",
    [crashRecordPath()]: JSON.stringify(record),
  });
  const s = gatherStatus(sys);
  assert.equal(s.record, undefined);
  assert.equal(
    s.recordProblem,
    `${crashRecordPath()}: field "flags" is not a 32-bit number; load again with kexec-ts -p`,
  );
  const text = renderStatus(s);
  assert.match(
    text,
    /^last kexec-ts -p load +unusable: .*field "flags" is not a 32-bit number; load again with kexec-ts -p$/m,
  );
  assert.match(text, /^crash reservation +0000000068000000-0000000077ffffff \(256 MiB\)$/m);
  assert.match(text, /^hotplug verdict: /m);
  assert.equal(s.crashLoaded, true);
});
