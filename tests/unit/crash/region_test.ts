/** lib/crash/region.ts: finding the crash reservation, and the words when there is none. */

import assert from "node:assert/strict";
import { findCrashRegions, requireCrashRegions } from "../../../lib/crash/region.ts";
import { parseIomem, readIomem } from "../../../lib/memory/iomem.ts";
import { fsSystemView, recordSystemView, type SystemView } from "../../../lib/system.ts";
import { machineDir, throwsKexec } from "../test_helpers.ts";

const NOCRASH = fsSystemView(machineDir("qemu-q35-2g-nocrash"));
const SYS = fsSystemView(machineDir("qemu-q35-2g-crash256m"));
const IOMEM = readIomem(SYS);
const CRASH = { start: 0x68000000n, end: 0x78000000n }; // "  68000000-77ffffff : Crash kernel"

/** A view over a fixture with some files replaced. */
function overlay(base: SystemView, files: Record<string, string>): SystemView {
  const top = recordSystemView(files);
  return { origin: base.origin, read: (p, m) => (p in files ? top.read(p, m) : base.read(p, m)), list: base.list };
}

Deno.test("no Crash kernel in iomem: the message tells crashkernel= missing from crashkernel= that reserved nothing", () => {
  const iomem = readIomem(NOCRASH);
  throwsKexec(() => requireCrashRegions(NOCRASH, iomem), "no-crash-region", /^crashkernel= is not set/);
  const failed = overlay(NOCRASH, { "/proc/cmdline": "console=ttyS0 crashkernel=4G\n" });
  throwsKexec(
    () => requireCrashRegions(failed, iomem),
    "no-crash-region",
    /^crashkernel=4G is on the command line but the kernel reserved nothing/,
  );
});

Deno.test("crash regions: one reservation; main and low told apart by kexec_crash_size", () => {
  assert.deepEqual(requireCrashRegions(SYS, IOMEM), { main: CRASH });
  const nocrash = machineDir("qemu-q35-2g-nocrash");
  throwsKexec(
    () => requireCrashRegions(fsSystemView(nocrash), parseIomem(Deno.readTextFileSync(nocrash + "/proc/iomem"))),
    "no-crash-region",
    /^crashkernel= is not set on this kernel's command line \(no "Crash kernel" in \/proc\/iomem\); boot with crashkernel=256M/,
  );
  // crashkernel=512M,high plus the default 256M low reservation.
  const iomem = parseIomem(
    "00100000-bffdffff : System RAM\n  3f000000-4effffff : Crash kernel\n" +
      "100000000-23fffffff : System RAM\n  220000000-23fffffff : Crash kernel\n",
  );
  const high = { start: 0x220000000n, end: 0x240000000n }, low = { start: 0x3f000000n, end: 0x4f000000n };
  assert.deepEqual(findCrashRegions(iomem, 0x20000000n), { main: high, low });
  assert.deepEqual(findCrashRegions(iomem, undefined), { main: high, low }, "without the size: the higher one");
  assert.deepEqual(findCrashRegions(iomem, 0x10000000n), { main: low, low: high }, "the size decides");
  assert.deepEqual(findCrashRegions(iomem, 0x1234n), { main: high, low }, "no size match: the higher one");
  const sys = recordSystemView({ "/sys/kernel/kexec_crash_size": "268435456\n" });
  assert.deepEqual(requireCrashRegions(sys, iomem), { main: low, low: high });
  assert.equal(findCrashRegions(parseIomem("00100000-bffdffff : System RAM\n"), undefined), undefined);
});

Deno.test("crash regions: crashkernel=,cma ranges from /sys/kernel/kexec/crash_cma_ranges (or the old name)", () => {
  const cma = { start: 0x57000000n, end: 0x67000000n };
  const current = overlay(SYS, { "/sys/kernel/kexec/crash_cma_ranges": "57000000-66ffffff\n" });
  assert.deepEqual(requireCrashRegions(current, IOMEM), { main: CRASH, cma: [cma] });
  const legacy = overlay(SYS, { "/sys/kernel/kexec_crash_cma_ranges": "57000000-66ffffff\n" });
  assert.deepEqual(requireCrashRegions(legacy, IOMEM), { main: CRASH, cma: [cma] });
  // The attribute with nothing reserved, as 7.x shows it without ",cma": no cma field.
  assert.deepEqual(requireCrashRegions(overlay(SYS, { "/sys/kernel/kexec/crash_cma_ranges": "" }), IOMEM), {
    main: CRASH,
  });
  throwsKexec(
    () => requireCrashRegions(overlay(SYS, { "/sys/kernel/kexec/crash_cma_ranges": "57000000:66ffffff\n" }), IOMEM),
    "io",
    /^\/sys\/kernel\/kexec\/crash_cma_ranges does not hold START-END lines of hex addresses/,
  );
});
