/**
 * lib/crash/hotplug.ts: the crash hotplug sysfs nodes, udev rule discovery, and the verdict for every reason.
 */

import assert from "node:assert/strict";
import {
  findUdevRules,
  type HotplugSysfs,
  hotplugVerdict,
  type KnownLoad,
  readHotplugSysfs,
  recordContradicted,
  type UdevRuleState,
  type VerdictInput,
} from "../../../lib/crash/hotplug.ts";
import { recordSystemView } from "../../../lib/system.ts";

/** How kexec-ts recorded the load (its record's syscall and hotplug fields). */
function record(over: Partial<KnownLoad> = {}): KnownLoad {
  return { syscall: "kexec_load", hotplug: true, ...over };
}

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
  const file = verdict({ sysfs: on, record: record({ syscall: "kexec_file_load", hotplug: true }) });
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
  const ours = verdict({ record: record({ hotplug: false }) });
  assert.deepEqual([ours.behaviour, ours.reason], ["reload", "loaded-without-flag"]);
  assert.match(ours.explanation, /without the crash hotplug flag \(kexec-ts --no-hotplug\)/);
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
    verdict({ udev: ours, record: record({ hotplug: false }) }).explanation,
    /The udev rule \/etc\/udev\/rules\.d\/98-kexec-ts\.rules runs kexec-ts reload on each event\.$/,
  );
  // Our rule, but another tool's load: kexec-ts reload has nothing of its own to repeat.
  assert.match(
    verdict({ udev: ours }).explanation,
    /runs kexec-ts reload, but kexec-ts did not load this crash kernel and will not replace another tool's load/,
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

Deno.test("hotplugVerdict: who reloads, and whether a dump after the event is current", () => {
  const ours = { ours: "/etc/udev/rules.d/98-kexec-ts.rules" };
  const other = { other: "/etc/udev/rules.d/98-kexec.rules" };
  const on: HotplugSysfs = { ...withConfig, memory: 1, cpu: 1 };
  const absent: HotplugSysfs = { cpu: "absent", memory: "absent" };
  const cases: [string, Partial<VerdictInput>, string, string, string][] = [
    ["nothing loaded", { crashLoaded: false, udev: ours }, "none", "none", "no-dump"],
    ["in place, rule skips", { sysfs: on, udev: ours, record: record() }, "in-place", "none", "current"],
    ["in place, a peer's --hotplug load", { sysfs: on }, "in-place", "none", "current"],
    [
      "ours without flag + our rule",
      { udev: ours, record: record({ hotplug: false }) },
      "reload",
      "kexec-ts",
      "current",
    ],
    ["ours without flag, no rule", { record: record({ hotplug: false }) }, "reload", "none", "stale"],
    ["a peer's load + our rule only", { udev: ours }, "reload", "none", "stale"],
    ["a peer's load + its own rule", { udev: other }, "reload", "other-rule", "current"],
    [
      "both rules, our load",
      { udev: { ...ours, ...other }, record: record({ hotplug: false }) },
      "reload",
      "kexec-ts",
      "current",
    ],
    [
      "6.1, our load + our rule",
      { sysfs: absent, udev: ours, record: record({ hotplug: false }) },
      "reload",
      "kexec-ts",
      "current",
    ],
    ["6.1, a peer's load + its rule", { sysfs: absent, udev: other }, "reload", "other-rule", "current"],
    ["6.1, a peer's load, no rule", { sysfs: absent }, "reload", "none", "stale"],
  ];
  for (const [name, input, behaviour, reloader, dump] of cases) {
    const v = verdict(input);
    assert.deepEqual([v.behaviour, v.reloader, v.dumpAfterHotplug], [behaviour, reloader, dump], name);
  }
});

Deno.test("hotplugVerdict: a record the kernel contradicts is another tool's later load, not ours", () => {
  const ours = { ours: "/etc/udev/rules.d/98-kexec-ts.rules" };
  // kexec-ts loaded with the flag; crash_hotplug now reads 0: a peer reloaded without it.
  const v = verdict({ udev: ours, record: record() });
  assert.deepEqual([v.behaviour, v.reason, v.reloader, v.dumpAfterHotplug], [
    "reload",
    "loaded-without-flag",
    "none",
    "stale",
  ]);
  assert.match(v.explanation, /kexec-ts' record is of an earlier load, which another tool replaced/);
  // kexec-ts loaded with --no-hotplug; crash_hotplug now reads 1: a peer loaded with --hotplug or kexec_file_load.
  const w = verdict({ sysfs: { ...withConfig, memory: 1 }, record: record({ hotplug: false }) });
  assert.deepEqual([w.behaviour, w.reason], ["in-place", "loaded-by-other-tool"]);
});

Deno.test("recordContradicted: only a kernel with CONFIG_CRASH_HOTPLUG and a readable crash_hotplug can tell", () => {
  const on: HotplugSysfs = { ...withConfig, memory: 1 };
  assert.equal(recordContradicted(record(), on), false);
  assert.equal(recordContradicted(record({ syscall: "kexec_file_load", hotplug: true }), on), false);
  assert.equal(recordContradicted(record({ hotplug: false }), on), true);
  assert.equal(recordContradicted(record(), withConfig), true);
  assert.equal(recordContradicted(record({ hotplug: false }), withConfig), false);
  assert.equal(recordContradicted(record(), { cpu: "absent", memory: "absent" }), false);
  assert.equal(recordContradicted(record(), { ...withConfig, memory: "denied", cpu: "denied" }), false);
});
