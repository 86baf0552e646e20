/**
 * Fuzz targets on kexec-ts' own state, read back from the run directory: `crash-record` (the crash-load record,
 * through `status` and `reload`'s decision) and `reload-log` (the reload log).
 *
 * @module
 */

import { type FuzzTarget, mutateJson, mutateText, step, text } from "../engine.ts";
import { crashRecordPath, readCrashRecord, recordText } from "../../../lib/reload/record.ts";
import { requestToJson } from "../../../lib/load/request.ts";
import { gatherStatus } from "../../../lib/status.ts";
import { renderStatus, toJson } from "../../../lib/cli/output.ts";
import { decideReload } from "../../../lib/reload/reload.ts";
import { parseReloadLogChecked, summarizeReloadLog } from "../../../lib/reload/reload_log.ts";
import { INFLIGHT_FILE, readReloadInflight } from "../../../lib/reload/inflight.ts";
import { parseLoadHolder } from "../../../lib/reload/lock.ts";
import { filesView } from "./machines.ts";

const BOOT_ID = "5d5f2a2e-0d0f-4bdb-9e31-6f3a0c0f2f11";

const V2 = {
  version: 2,
  request: {
    kind: "crash",
    kernel: "/boot/vmlinuz",
    initrds: ["/boot/initrd.img"],
    append: "irqpoll nr_cpus=1",
    reuseCmdline: true,
    syscall: "kexec_load",
    hotplug: "auto",
    memMin: "0x1000000",
    noChecks: false,
    serialPort: 1016,
  },
  syscall: "kexec_load",
  flags: 0x3e0005,
  hotplug: true,
  bootId: BOOT_ID,
  loadedAt: "2026-01-01T00:00:00.000Z",
};
const V1 = {
  version: 1,
  argv: [
    "-s",
    "-p",
    "--initrd=/boot/i",
    "--append=a b",
    "--mem-max=0x7fffffff",
    "--console-serial",
    "--serial=0x2f8",
    "/boot/k",
  ],
  syscall: "kexec_file_load",
  flags: 2,
  hotplug: true,
  bootId: BOOT_ID,
  loadedAt: "2026-01-01T00:00:00Z",
};

export const crashRecordTarget: FuzzTarget = {
  name: "crash-record",
  about: "the crash-load record (v1 and v2): field checks, status with the record, reload's decision",
  memoryBoundBytes: 16 * 2 ** 20,
  seeds: () =>
    [V2, V1, { ...V2, request: { ...V2.request, syscall: "kexec_file_load" } }].map((r) =>
      text.encode(JSON.stringify(r))
    ),
  mutate(input, rng, seeds) {
    const now = text.decode(input);
    if (rng.chance(0.7)) {
      try {
        return text.encode(JSON.stringify(mutateJson(JSON.parse(now), rng)));
      } catch { /* not JSON: text mutation */ }
    }
    return text.encode(mutateText(now, rng, text.decode(rng.pick(seeds))));
  },
  run(input) {
    const path = crashRecordPath();
    const sys = filesView({
      [path]: input,
      "/proc/sys/kernel/random/boot_id": BOOT_ID + "\n",
      "/sys/kernel/kexec_crash_loaded": "1\n",
      "/sys/kernel/kexec_loaded": "0\n",
      "/sys/kernel/crash_elfcorehdr_size": "917616\n",
      "/sys/devices/system/memory/crash_hotplug": "0\n",
    });
    const read = readCrashRecord(sys, path);
    if (read.kind === "ok") {
      recordText(read.record);
      requestToJson(read.record.request);
    }
    step(() => decideReload(sys, path, false, () => {}));
    const status = gatherStatus(sys);
    renderStatus(status);
    toJson(status);
  },
};

const LOG = [
  "2026-11-25T02:35:03.123Z outcome=ok total_ms=412.6 window_ms=31.0 syscall=kexec_load loaded_after=1",
  '2026-11-25T02:35:09.020Z outcome=failed total_ms=80.2 window_ms=2.1 syscall=kexec_load loaded_after=0 error="EBUSY \\"x\\""',
  "2026-11-25T02:36:00.000Z outcome=ok total_ms=1.0 window_ms=0.0 syscall=kexec_file_load loaded_after=unknown",
].join("\n") + "\n";

export const reloadLogTarget: FuzzTarget = {
  name: "reload-log",
  about: "runDir()/reload.log: parsing and the summary the benchmark reports",
  memoryBoundBytes: 16 * 2 ** 20,
  seeds: () => [text.encode(LOG), text.encode("")],
  mutate: (input, rng, seeds) => text.encode(mutateText(text.decode(input), rng, text.decode(rng.pick(seeds)))),
  run(input) {
    summarizeReloadLog(parseReloadLogChecked(text.decode(input)).entries);
  },
};

const INFLIGHT = JSON.stringify({ pid: 4242, bootId: BOOT_ID, startedAt: "2026-01-01T00:00:00.000Z" });
const HOLDER = JSON.stringify({ pid: 4242, what: "reload", since: "2026-01-01T00:00:00.000Z" });

export const runMarkersTarget: FuzzTarget = {
  name: "run-markers",
  about: "reload.inflight and load.holder: field checks, and reload's decision with a marker present",
  memoryBoundBytes: 16 * 2 ** 20,
  seeds: () => [text.encode(INFLIGHT), text.encode(HOLDER)],
  mutate(input, rng) {
    const now = text.decode(input);
    if (rng.chance(0.7)) {
      try {
        return text.encode(JSON.stringify(mutateJson(JSON.parse(now), rng)));
      } catch { /* not JSON: text mutation */ }
    }
    return text.encode(mutateText(now, rng));
  },
  run(input) {
    parseLoadHolder(text.decode(input));
    const dir = crashRecordPath().slice(0, crashRecordPath().lastIndexOf("/"));
    const sys = filesView({
      [`${dir}/${INFLIGHT_FILE}`]: input,
      [crashRecordPath()]: JSON.stringify(V2),
      "/proc/sys/kernel/random/boot_id": BOOT_ID + "\n",
      "/sys/kernel/kexec_crash_loaded": "0\n",
    });
    readReloadInflight(sys, `${dir}/${INFLIGHT_FILE}`);
    step(() => decideReload(sys, crashRecordPath(), false, () => {}));
  },
};
