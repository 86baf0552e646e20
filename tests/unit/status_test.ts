/**
 * `status`: lib/status.ts over the saved guests and small in-memory trees, and how it reads the crash-load record
 * (lib/reload/record.ts); the verdict itself is tested in crash/hotplug_test.ts.
 */

import assert from "node:assert/strict";
import { gatherStatus, syscallPresence } from "../../lib/status.ts";
import { readLockdown } from "../../lib/system.ts";
import { type CrashLoadRecord, crashRecordPath, recordText } from "../../lib/reload/record.ts";
import { loadRequest } from "../../lib/load/request.ts";
import { fsSystemView, recordSystemView } from "../../lib/system.ts";
import { machineDir } from "./test_helpers.ts";

const BOOT_ID = "0f5e1a7e-0000-4000-8000-000000000001";

function record(over: Partial<CrashLoadRecord> = {}): CrashLoadRecord {
  return {
    version: 2,
    request: loadRequest({ kind: "crash", kernel: "/boot/vmlinuz" }),
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
    [crashRecordPath()]: recordText(record()),
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

Deno.test("gatherStatus: the firmware, UEFI (OVMF guests) or BIOS, with runtime services and Secure Boot", () => {
  assert.deepEqual(gatherStatus(fsSystemView(machineDir("qemu-q35-2g-crash256m"))).firmware, { kind: "bios" });
  const uefi = gatherStatus(fsSystemView(machineDir("qemu-q35-2g-ovmf-crash256m"))).firmware;
  assert.equal(uefi?.kind, "uefi");
  if (uefi?.kind === "uefi") {
    assert.deepEqual(uefi.runtimeMap, { kind: "present", entryCount: 6 });
    assert.deepEqual(uefi.secureBoot, { state: "setup-mode", source: "efivars" });
  }
  const off = gatherStatus(fsSystemView(machineDir("qemu-q35-2g-ovmf-noruntime"))).firmware;
  assert.equal(off?.kind === "uefi" && off.runtimeOffBy, "efi=noruntime");
  // A malformed runtime map does not stop status: it is shown as such, naming the file.
  const bad = gatherStatus(recordSystemView({ "/sys/firmware/efi/runtime-map/0/type": "x\n" })).firmware;
  assert.deepEqual(bad?.kind === "uefi" && bad.runtimeMap, {
    kind: "malformed",
    why: "/sys/firmware/efi/runtime-map/0/type is missing or not a hex number",
  });
});
