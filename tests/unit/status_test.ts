/**
 * `status`: lib/status.ts over the saved guests and small in-memory trees, lib/crash/hotplug.ts' verdict for every
 * reason, udev rule discovery, and the crash-load record (lib/crash/record.ts).
 */

import assert from "node:assert/strict";
import { writeFileAtomic } from "../../lib/files.ts";
import { gatherStatus, syscallPresence } from "../../lib/status.ts";
import { readLockdown } from "../../lib/system.ts";
import {
  findUdevRules,
  type HotplugSysfs,
  hotplugVerdict,
  readHotplugSysfs,
  type UdevRuleState,
  type VerdictInput,
} from "../../lib/crash/hotplug.ts";
import {
  type CrashLoadRecord,
  crashRecordPath,
  readCrashRecord,
  removeCrashRecord,
  writeCrashRecord,
} from "../../lib/crash/record.ts";
import { fsSystemView, recordSystemView } from "../../lib/system.ts";
import { machineDir } from "./test_helpers.ts";

const BOOT_ID = "0f5e1a7e-0000-4000-8000-000000000001";

function record(over: Partial<CrashLoadRecord> = {}): CrashLoadRecord {
  return {
    version: 1,
    argv: ["-p", "/boot/vmlinuz"],
    syscall: "kexec_load",
    flags: 0x3e0005,
    hotplug: true,
    bootId: BOOT_ID,
    loadedAt: "2025-01-01T00:00:00.000Z",
    ...over,
  };
}

Deno.test("gatherStatus over the crashkernel=256M guest", () => {
  const s = gatherStatus(fsSystemView(machineDir("qemu-q35-2g-crash256m")));
  assert.equal(s.kernelRelease, "6.12.117+deb12-amd64");
  assert.equal(s.kexecSupported, true);
  assert.deepEqual(s.syscalls, { kexecLoad: "yes", kexecFileLoad: "yes" });
  assert.equal(s.kexecLoaded, false);
  assert.equal(s.crashLoaded, false);
  assert.equal(s.crashSizeBytes, 256n << 20n, "crashkernel=256M");
  // iomem: "  68000000-77ffffff : Crash kernel" (inclusive end) = [0x68000000, 0x78000000), 256 MiB.
  assert.deepEqual(s.crashRegion, { kind: "reserved", main: { start: 0x68000000n, end: 0x78000000n } });
  // CONFIG_NR_CPUS_DEFAULT=8192 (MAXSMP) + MEMORY_HOTPLUG: (2 + 8192 + 8192) * sizeof(Elf64_Phdr).
  assert.deepEqual(s.hotplug, { elfcorehdrSizeBytes: (2n + 8192n + 8192n) * 56n, cpu: 0, memory: 0 });
  assert.equal(s.lockdown, "none");
  assert.equal(s.kexecLoadDisabled, false);
  assert.equal(s.loadLimitPanic, -1n);
  assert.equal(s.loadLimitReboot, -1n);
  assert.deepEqual(s.udev, {});
  assert.equal(s.record, undefined, "no record is read while nothing is loaded");
  assert.equal(s.verdict.reason, "nothing-loaded");
  assert.equal(s.verdict.behaviour, "none");
  assert.match(s.verdict.explanation, /CONFIG_CRASH_HOTPLUG is present/);
});

Deno.test("gatherStatus over the guest without crashkernel=", () => {
  const s = gatherStatus(fsSystemView(machineDir("qemu-q35-2g-nocrash")));
  assert.deepEqual(s.crashRegion, { kind: "none" });
  assert.equal(s.crashSizeBytes, 0n);
  assert.equal(s.kexecSupported, true);
  assert.equal(s.verdict.reason, "nothing-loaded");
});

Deno.test("gatherStatus: hidden iomem (non-root), unreadable iomem, no kexec support", () => {
  const hidden = gatherStatus(recordSystemView({
    "/sys/kernel/kexec_loaded": "0\n",
    "/proc/iomem": "00000000-00000000 : System RAM\n  00000000-00000000 : Crash kernel\n",
  }));
  assert.deepEqual(hidden.crashRegion, { kind: "hidden" });
  assert.deepEqual(hidden.syscalls, { kexecLoad: "unknown", kexecFileLoad: "unknown" });
  assert.equal(hidden.lockdown, undefined);
  assert.deepEqual(hidden.hotplug, { elfcorehdrSizeBytes: undefined, cpu: "absent", memory: "absent" });

  const unreadable = gatherStatus(recordSystemView({ "/sys/kernel/kexec_loaded": "0", "/proc/iomem": "<denied>" }));
  assert.deepEqual(unreadable.crashRegion, { kind: "unreadable" });

  const none = gatherStatus(recordSystemView({ "/proc/iomem": "00100000-7ffdefff : System RAM\n" }));
  assert.equal(none.kexecSupported, false);
  assert.equal(none.verdict.reason, "no-kexec");
  assert.equal(none.verdict.behaviour, "none");
});

Deno.test("gatherStatus: two crash regions, told apart by kexec_crash_size; a loaded image's record is read", () => {
  const sys = recordSystemView({
    "/sys/kernel/kexec_loaded": "0",
    "/sys/kernel/kexec_crash_loaded": "1",
    "/sys/kernel/kexec_crash_size": String(0x20000000),
    "/sys/kernel/crash_elfcorehdr_size": "917616",
    "/sys/devices/system/memory/crash_hotplug": "1",
    "/sys/devices/system/cpu/crash_hotplug": "<denied>",
    "/proc/sys/kernel/random/boot_id": BOOT_ID + "\n",
    "/sys/kernel/security/lockdown": "none [integrity] confidentiality\n",
    "/proc/iomem": [
      "00100000-bffdffff : System RAM",
      "  3f000000-4effffff : Crash kernel",
      "100000000-23fffffff : System RAM",
      "  220000000-23fffffff : Crash kernel",
    ].join("\n"),
    [crashRecordPath()]: JSON.stringify(record()),
  });
  const s = gatherStatus(sys);
  assert.deepEqual(s.crashRegion, {
    kind: "reserved",
    main: { start: 0x220000000n, end: 0x240000000n },
    low: { start: 0x3f000000n, end: 0x4f000000n },
  });
  assert.equal(s.lockdown, "integrity");
  assert.deepEqual(s.hotplug, { elfcorehdrSizeBytes: 917616n, cpu: "denied", memory: 1 });
  assert.deepEqual(s.record, record());
  assert.equal(s.verdict.reason, "loaded-with-flag");
  assert.equal(s.verdict.behaviour, "in-place");
});

Deno.test("readLockdown: the bracketed mode", () => {
  const mode = (text: string) => readLockdown(recordSystemView({ "/sys/kernel/security/lockdown": text }));
  assert.equal(mode("[none] integrity confidentiality"), "none");
  assert.equal(mode("none integrity [confidentiality]\n"), "confidentiality");
  assert.equal(mode("none integrity confidentiality"), undefined);
  assert.equal(readLockdown(recordSystemView({})), undefined);
});

Deno.test("syscallPresence: a strong T symbol means compiled in; a weak W stub returns ENOSYS", () => {
  const k = "ffffffff81000000 T __x64_sys_kexec_load\nffffffff81000100 W __x64_sys_kexec_file_load\n";
  assert.equal(syscallPresence(k, "kexec_load"), "yes");
  assert.equal(syscallPresence(k, "kexec_file_load"), "no");
  assert.equal(syscallPresence("ffffffff81000000 t __x64_sys_kexec_load\n", "kexec_load"), "yes");
  assert.equal(syscallPresence("ffffffff81000000 T __x64_sys_kexec_load_extra\n", "kexec_load"), "no");
  assert.equal(syscallPresence("ffffffff81000000 T __x64_sys_kexec_file_load\n", "kexec_load"), "no");
  assert.equal(syscallPresence("", "kexec_load"), "no");
  assert.equal(syscallPresence(undefined, "kexec_load"), "unknown");
  // Non-root readers see zero addresses; the type letter still tells.
  assert.equal(syscallPresence("0000000000000000 T __x64_sys_kexec_load\n", "kexec_load"), "yes");
});

const withConfig: HotplugSysfs = { elfcorehdrSizeBytes: 917616n, cpu: 0, memory: 0 };
const noUdev: UdevRuleState = {};
const verdict = (over: Partial<VerdictInput>) =>
  hotplugVerdict({ kexecSupported: true, crashLoaded: true, sysfs: withConfig, udev: noUdev, ...over });

Deno.test("hotplugVerdict: no kexec, and nothing loaded with and without CONFIG_CRASH_HOTPLUG", () => {
  const v = verdict({ kexecSupported: false });
  assert.deepEqual([v.behaviour, v.reason], ["none", "no-kexec"]);
  assert.match(v.explanation, /CONFIG_KEXEC_CORE/);

  const a = verdict({ crashLoaded: false });
  assert.deepEqual([a.behaviour, a.reason], ["none", "nothing-loaded"]);
  assert.match(a.explanation, /will let the kernel update it in place \(CONFIG_CRASH_HOTPLUG is present\)/);
  const b = verdict({ crashLoaded: false, sysfs: { cpu: "absent", memory: "absent" } });
  assert.deepEqual([b.behaviour, b.reason], ["none", "nothing-loaded"]);
  assert.match(b.explanation, /lacks CONFIG_CRASH_HOTPLUG, so a loaded crash kernel will need a reload/);
});

Deno.test("hotplugVerdict: a kernel without CONFIG_CRASH_HOTPLUG always needs a reload", () => {
  const v = verdict({ sysfs: { cpu: "absent", memory: "absent" }, record: record() });
  assert.deepEqual([v.behaviour, v.reason], ["reload", "no-crash-hotplug"]);
  assert.match(v.explanation, /no \/sys\/kernel\/crash_elfcorehdr_size/);
  assert.match(v.explanation, /must unload and reload the crash kernel after each event/);
});

Deno.test("hotplugVerdict: crash_hotplug=1 — loaded with the flag, with kexec_file_load, or by another tool", () => {
  const on: HotplugSysfs = { ...withConfig, memory: 1, cpu: 1 };
  const flag = verdict({ sysfs: on, record: record() });
  assert.deepEqual([flag.behaviour, flag.reason], ["in-place", "loaded-with-flag"]);
  assert.match(flag.explanation, /KEXEC_UPDATE_ELFCOREHDR/);
  const file = verdict({ sysfs: on, record: record({ syscall: "kexec_file_load", hotplug: true, flags: 2 }) });
  assert.deepEqual([file.behaviour, file.reason], ["in-place", "loaded-with-file-load"]);
  assert.match(file.explanation, /kexec_file_load, whose images always support hotplug/);
  const other = verdict({ sysfs: on });
  assert.deepEqual([other.behaviour, other.reason], ["in-place", "loaded-by-other-tool"]);
  assert.match(other.explanation, /another tool loaded the crash kernel/);
  // memory node absent (6.6 without CONFIG_MEMORY_HOTPLUG): the cpu node decides.
  const cpuOnly = verdict({ sysfs: { ...withConfig, memory: "absent", cpu: 1 } });
  assert.equal(cpuOnly.reason, "loaded-by-other-tool");
});

Deno.test("hotplugVerdict: crash_hotplug=0 — loaded without the flag, with and without our record", () => {
  const ours = verdict({ record: record({ hotplug: false, flags: 0x3e0001 }) });
  assert.deepEqual([ours.behaviour, ours.reason], ["reload", "loaded-without-flag"]);
  assert.match(ours.explanation, /without KEXEC_UPDATE_ELFCOREHDR \(kexec-ts --no-hotplug\)/);
  const foreign = verdict({});
  assert.deepEqual([foreign.behaviour, foreign.reason], ["reload", "loaded-without-flag"]);
  assert.doesNotMatch(foreign.explanation, /--no-hotplug/);
  assert.match(foreign.explanation, /reload it with kexec-ts -p/);
});

Deno.test("hotplugVerdict: unreadable crash_hotplug — the record decides, else unknown", () => {
  const denied: HotplugSysfs = { ...withConfig, cpu: "denied", memory: "denied" };
  const flag = verdict({ sysfs: denied, record: record() });
  assert.deepEqual([flag.behaviour, flag.reason], ["in-place", "loaded-with-flag"]);
  assert.match(flag.explanation, /crash_hotplug is unreadable \(denied\/denied\); going by kexec-ts' record/);
  const file = verdict({ sysfs: denied, record: record({ syscall: "kexec_file_load", hotplug: false }) });
  assert.deepEqual([file.behaviour, file.reason], ["in-place", "loaded-with-file-load"]);
  const off = verdict({ sysfs: denied, record: record({ hotplug: false }) });
  assert.deepEqual([off.behaviour, off.reason], ["reload", "loaded-without-flag"]);
  assert.match(off.explanation, /a reload is needed after each event/);
  const unknown = verdict({ sysfs: denied });
  assert.deepEqual([unknown.behaviour, unknown.reason], ["reload", "unknown"]);
  assert.match(unknown.explanation, /run as root/);
});

Deno.test("hotplugVerdict: the udev wording — ours, another tool's, none", () => {
  const ours = { ours: "/etc/udev/rules.d/98-kexec-ts.rules" };
  const other = { other: "/usr/lib/udev/rules.d/98-kexec.rules" };
  // Reload cases name who reloads.
  assert.match(
    verdict({ udev: ours }).explanation,
    /The udev rule \/etc\/udev\/rules\.d\/98-kexec-ts\.rules runs kexec-ts reload on each event\.$/,
  );
  assert.match(
    verdict({ udev: other }).explanation,
    /The udev rule \/usr\/lib\/udev\/rules\.d\/98-kexec\.rules reloads through the distribution's kdump service\.$/,
  );
  const none = verdict({ udev: {} }).explanation;
  assert.match(none, /No udev rule reloads it/);
  assert.match(none, /kexec-ts udev-rules --install/);
  // In-place cases: a rule sees crash_hotplug=1 and skips; without one, nothing is said about udev.
  const on: HotplugSysfs = { ...withConfig, memory: 1 };
  assert.match(verdict({ sysfs: on, udev: other }).explanation, /98-kexec\.rules sees crash_hotplug=1 and skips/);
  assert.match(verdict({ sysfs: on, udev: ours }).explanation, /98-kexec-ts\.rules sees crash_hotplug=1/);
  assert.doesNotMatch(verdict({ sysfs: on, udev: {} }).explanation, /udev/);
});

Deno.test("findUdevRules: our rule and distribution kdump rules, highest-priority directory first", () => {
  const sys = recordSystemView({
    "/usr/lib/udev/rules.d/98-kexec-ts.rules": "x",
    "/etc/udev/rules.d/98-kexec-ts.rules": "x",
    "/etc/udev/rules.d/99-other.rules": "x",
    "/lib/udev/rules.d/70-kdump.rules": "x",
    "/usr/lib/udev/rules.d/98-kexec.rules": "x",
  });
  assert.deepEqual(findUdevRules(sys), {
    ours: "/etc/udev/rules.d/98-kexec-ts.rules",
    other: "/usr/lib/udev/rules.d/98-kexec.rules",
  });
  assert.deepEqual(findUdevRules(recordSystemView({ "/run/udev/rules.d/70-kdump.rules": "" })), {
    other: "/run/udev/rules.d/70-kdump.rules",
  });
  assert.deepEqual(findUdevRules(recordSystemView({ "/etc/udev/rules.d/50-foo.rules": "" })), {});
});

Deno.test("readHotplugSysfs: values, denied, absent", () => {
  const h = readHotplugSysfs(recordSystemView({
    "/sys/kernel/crash_elfcorehdr_size": "462448\n",
    "/sys/devices/system/cpu/crash_hotplug": "<denied>",
    "/sys/devices/system/memory/crash_hotplug": "1\n",
  }));
  assert.deepEqual(h, { elfcorehdrSizeBytes: 462448n, cpu: "denied", memory: 1 });
});

Deno.test("readCrashRecord: accepted for this boot; another boot's, malformed or foreign records are ignored", () => {
  const path = "/run/kexec-ts/crash-load.json";
  const read = (text: string, bootId: string | undefined = BOOT_ID) =>
    readCrashRecord(
      recordSystemView({
        [path]: text,
        ...(bootId === undefined ? {} : { "/proc/sys/kernel/random/boot_id": bootId + "\n" }),
      }),
      path,
    );
  assert.deepEqual(read(JSON.stringify(record())), record());
  assert.equal(read(JSON.stringify(record({ bootId: "another-boot" }))), undefined, "boot_id mismatch");
  assert.deepEqual(read(JSON.stringify(record()), undefined), record(), "boot_id unreadable: kept");
  assert.equal(read("{not json"), undefined);
  assert.equal(read("null"), undefined);
  assert.equal(read(JSON.stringify({ ...record(), version: 2 })), undefined);
  assert.equal(read(JSON.stringify({ ...record(), argv: "-p K" })), undefined);
  assert.equal(readCrashRecord(recordSystemView({}), path), undefined, "no record");
});

Deno.test("writeFileAtomic: creates the directory, replaces the file whole, leaves no temporary file", () => {
  const dir = Deno.makeTempDirSync({ prefix: "kexec-ts-record-" });
  try {
    const path = `${dir}/a/b/crash-load.json`;
    writeFileAtomic(path, "first\n");
    assert.equal(Deno.readTextFileSync(path), "first\n");
    writeFileAtomic(path, "second\n", 0o600);
    assert.equal(Deno.readTextFileSync(path), "second\n");
    assert.deepEqual([...Deno.readDirSync(`${dir}/a/b`)].map((e) => e.name), ["crash-load.json"]);
    const fresh = `${dir}/mode.json`;
    writeFileAtomic(fresh, "x", 0o600);
    assert.equal(Deno.statSync(fresh).mode! & 0o777, 0o600);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("writeCrashRecord / readCrashRecord round trip; failures are returned, not thrown", () => {
  const root = Deno.makeTempDirSync({ prefix: "kexec-ts-root-" });
  try {
    const rel = "/run/kexec-ts/crash-load.json";
    Deno.mkdirSync(`${root}/proc/sys/kernel/random`, { recursive: true });
    Deno.writeTextFileSync(`${root}/proc/sys/kernel/random/boot_id`, BOOT_ID + "\n");
    assert.equal(writeCrashRecord(record(), root + rel), undefined);
    assert.deepEqual(readCrashRecord(fsSystemView(root), rel), record());
    removeCrashRecord(root + rel);
    assert.equal(readCrashRecord(fsSystemView(root), rel), undefined);
    removeCrashRecord(root + rel); // missing is fine

    Deno.writeTextFileSync(`${root}/file`, "");
    const msg = writeCrashRecord(record(), `${root}/file/sub/crash-load.json`);
    assert.match(msg ?? "", /^could not record the load in .*\/file\/sub\/crash-load\.json: /);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
