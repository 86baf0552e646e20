/**
 * lib/load/plan.ts validatePlan: the kernel's sanity_check_segment_list and kimage_alloc_init rules
 * (reference/kernel-interface.md §2) plus kexec-ts' hotplug rules (§3: the kernel takes the last segment starting
 * with \x7fELF for the elfcorehdr). Every refusal must name the offending segment(s).
 */

import assert from "node:assert/strict";
import { MAXMEM_4LEVEL } from "../../../lib/arch/x86_64/abi.ts";
import {
  describeSegment,
  KEXEC_SEGMENT_MAX,
  type LoadPlan,
  type PlanLimits,
  type PlanSegment,
  validatePlan,
} from "../../../lib/load/plan.ts";
import { throwsKexec } from "../test_helpers.ts";

const seg = (role: PlanSegment["role"], mem: bigint, memsz: bigint, bufLen = 0x1000): PlanSegment => ({
  role,
  mem,
  memsz,
  buf: new Uint8Array(bufLen),
});

function normalPlan(over: Partial<LoadPlan> = {}): LoadPlan {
  return {
    kind: "reboot",
    loader: "bzImage64",
    entry: 0x98000n,
    flags: 0x3e0000n,
    segments: [
      seg("purgatory", 0x98000n, 0x5000n),
      seg("boot-params", 0x9d000n, 0x2000n),
      seg("kernel", 0x1000000n, 0x37ee000n),
      seg("initrd", 0x7fedf000n, 0x100000n),
    ],
    cmdline: "",
    kernelEntry: 0x1000200n,
    bootParams: 0x9d000n,
    hotplug: false,
    shaRegions: [],
    digest: new Uint8Array(32),
    notes: [],
    ...over,
  };
}

const RAM: PlanLimits = {
  allowed: [{ start: 0n, end: 0x9fc00n }, { start: 0x100000n, end: 0x7ffdf000n }],
  maxAddress: MAXMEM_4LEVEL - 1n,
};
const CRASH = { start: 0x68000000n, end: 0x78000000n };
const CRASH_LIMITS: PlanLimits = { allowed: [CRASH], crash: CRASH, maxAddress: MAXMEM_4LEVEL - 1n };

function crashPlan(hotplug: boolean, over: Partial<LoadPlan> = {}): LoadPlan {
  const elfcorehdr = seg("elfcorehdr", 0x77f1f000n, 0xe1000n);
  elfcorehdr.buf.set([0x7f, 0x45, 0x4c, 0x46]);
  return normalPlan({
    kind: "crash",
    entry: 0x77e18000n,
    flags: hotplug ? 0x3e0005n : 0x3e0001n,
    hotplug,
    segments: [
      seg("kernel", 0x68000000n, 0x37ee000n),
      seg("purgatory", 0x77e18000n, 0x5000n),
      seg("boot-params", 0x77e1d000n, 0x2000n),
      seg("initrd", 0x77e1f000n, 0x100000n),
      elfcorehdr,
    ],
    ...over,
  });
}

Deno.test("validatePlan accepts the plans layout makes", () => {
  validatePlan(normalPlan(), RAM);
  validatePlan(crashPlan(true), CRASH_LIMITS);
  validatePlan(crashPlan(false), CRASH_LIMITS);
  // bufsz == memsz is fine; order of segments does not matter.
  validatePlan(
    normalPlan({ segments: [seg("boot-params", 0x9d000n, 0x2000n, 0x2000), seg("purgatory", 0x98000n, 0x5000n)] }),
    RAM,
  );
});

Deno.test("describeSegment: index, role and inclusive range", () => {
  assert.equal(
    describeSegment(seg("initrd", 0x1000000n, 0x100000n), 2),
    "segment 2 (initrd, 0000000001000000-00000000010fffff)",
  );
});

Deno.test("mem and memsz must be page multiples", () => {
  const plan = normalPlan();
  plan.segments[2] = seg("kernel", 0x1000800n, 0x37ee000n);
  throwsKexec(
    () => validatePlan(plan, RAM),
    "invalid-plan",
    /^segment 2 \(kernel, 0000000001000800-00000000047ee7ff\): mem 0x1000800 and memsz 0x37ee000 must be multiples of 4 KiB$/,
  );
  plan.segments[2] = seg("kernel", 0x1000000n, 0x37ee001n);
  throwsKexec(
    () => validatePlan(plan, RAM),
    "invalid-plan",
    /segment 2 \(kernel.*memsz 0x37ee001 must be multiples of 4 KiB/,
  );
});

Deno.test("bufsz larger than memsz, and an empty segment", () => {
  const plan = normalPlan();
  plan.segments[1] = seg("boot-params", 0x9d000n, 0x2000n, 0x2001);
  throwsKexec(
    () => validatePlan(plan, RAM),
    "invalid-plan",
    /^segment 1 \(boot-params, .*\): bufsz 0x2001 is larger than memsz 0x2000$/,
  );
  plan.segments[1] = seg("boot-params", 0x9d000n, 0n, 0);
  throwsKexec(() => validatePlan(plan, RAM), "invalid-plan", /segment 1 \(boot-params.*\): memsz is 0/);
});

Deno.test("overlapping segments: the message names both", () => {
  const plan = normalPlan();
  plan.segments[3] = seg("initrd", 0x47ed000n, 0x2000n); // one page inside the kernel's [0x1000000, 0x47ee000)
  throwsKexec(
    () => validatePlan(plan, RAM),
    "invalid-plan",
    /^segment 3 \(initrd, 00000000047ed000-00000000047eefff\) overlaps segment 2 \(kernel, 0000000001000000-00000000047edfff\)$/,
  );
  // Touching is not overlapping.
  plan.segments[3] = seg("initrd", 0x47ee000n, 0x2000n);
  validatePlan(plan, RAM);
});

Deno.test("at most KEXEC_SEGMENT_MAX (16) segments; none at all is refused too", () => {
  assert.equal(KEXEC_SEGMENT_MAX, 16);
  const many = (n: number) =>
    normalPlan({
      entry: 0x100000n,
      segments: Array.from({ length: n }, (_, i) => seg("initrd", 0x100000n + BigInt(i) * 0x1000n, 0x1000n)),
    });
  validatePlan(many(16), RAM);
  throwsKexec(
    () => validatePlan(many(17), RAM),
    "invalid-plan",
    /^the plan has 17 segments; the kernel accepts at most 16 \(KEXEC_SEGMENT_MAX\)$/,
  );
  throwsKexec(() => validatePlan(normalPlan({ segments: [] }), RAM), "invalid-plan", /the plan has no segments/);
});

Deno.test("crash plans: every segment inside the main crash range", () => {
  const plan = crashPlan(false);
  plan.segments[0] = seg("kernel", 0x67fff000n, 0x37ee000n);
  throwsKexec(
    () => validatePlan(plan, CRASH_LIMITS),
    "invalid-plan",
    /^segment 0 \(kernel, 0000000067fff000-.*\): outside the crash kernel region 0000000068000000-0000000077ffffff$/,
  );
  // The last page of the region is inside; one more is not.
  const top = crashPlan(false);
  top.segments[4] = seg("elfcorehdr", 0x77fff000n, 0x1000n);
  validatePlan(top, CRASH_LIMITS);
  top.segments[4] = seg("elfcorehdr", 0x77fff000n, 0x2000n);
  throwsKexec(
    () => validatePlan(top, CRASH_LIMITS),
    "invalid-plan",
    /segment 4 \(elfcorehdr.*outside the crash kernel region/,
  );
});

Deno.test("normal plans: segments must lie in RAM from the memory map", () => {
  const plan = normalPlan();
  plan.segments[1] = seg("boot-params", 0x9f000n, 0x2000n); // crosses 0x9fc00 into the EBDA/VGA hole
  throwsKexec(
    () => validatePlan(plan, RAM),
    "invalid-plan",
    /^segment 1 \(boot-params, 000000000009f000-00000000000a0fff\): not inside usable RAM$/,
  );
  const high = normalPlan();
  high.segments[3] = seg("initrd", 0x7ffdf000n, 0x1000n);
  throwsKexec(() => validatePlan(high, RAM), "invalid-plan", /segment 3 \(initrd.*not inside usable RAM/);
});

Deno.test("a segment across two adjacent RAM entries is inside RAM", () => {
  // /sys/firmware/memmap lists each hot-added memory block as its own entry, so RAM can come as touching ranges.
  const limits: PlanLimits = {
    allowed: [{ start: 0x100000n, end: 0x200000n }, { start: 0x200000n, end: 0x300000n }],
    maxAddress: MAXMEM_4LEVEL - 1n,
  };
  validatePlan(normalPlan({ entry: 0x1ff000n, segments: [seg("kernel", 0x1ff000n, 0x2000n)] }), limits);
});

Deno.test("the destination limit: segments must end below MAXMEM - 1", () => {
  const limits: PlanLimits = { allowed: [{ start: 0n, end: 1n << 50n }], maxAddress: MAXMEM_4LEVEL - 1n };
  const at = (mem: bigint) => normalPlan({ entry: mem, segments: [seg("kernel", mem, 0x1000n)] });
  validatePlan(at(MAXMEM_4LEVEL - 0x2000n), limits);
  throwsKexec(
    () => validatePlan(at(MAXMEM_4LEVEL - 0x1000n), limits),
    "invalid-plan",
    /segment 0 \(kernel.*\): ends above the kernel's destination limit 0x3fffffffffff/,
  );
});

Deno.test("the entry point: inside the crash region for crash plans, and inside some segment", () => {
  throwsKexec(
    () => validatePlan(crashPlan(false, { entry: 0x1000n }), CRASH_LIMITS),
    "invalid-plan",
    /^the entry point 0x1000 is outside the crash kernel region 0000000068000000-0000000077ffffff$/,
  );
  throwsKexec(
    () => validatePlan(crashPlan(false, { entry: 0x70000000n }), CRASH_LIMITS),
    "invalid-plan",
    /^the entry point 0x70000000 is not inside any segment$/,
  );
  throwsKexec(
    () => validatePlan(normalPlan({ entry: 0x9f000n }), RAM),
    "invalid-plan",
    /the entry point 0x9f000 is not inside any segment/,
  );
});

Deno.test("hotplug: only the elfcorehdr may start with \\x7fELF, and there must be exactly one", () => {
  const plan = crashPlan(true);
  plan.segments[3].buf = Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  throwsKexec(
    () => validatePlan(plan, CRASH_LIMITS),
    "invalid-plan",
    /^segment 3 \(initrd, 0000000077e1f000-0000000077f1efff\) starts with the ELF magic; with hotplug the kernel would take it for the elfcorehdr$/,
  );
  // Without hotplug the kernel never scans for the magic: an ELF-looking initrd is fine.
  const noHotplug = crashPlan(false);
  noHotplug.segments[3].buf = plan.segments[3].buf;
  validatePlan(noHotplug, CRASH_LIMITS);

  const none = crashPlan(true);
  none.segments.pop();
  throwsKexec(
    () => validatePlan(none, CRASH_LIMITS),
    "invalid-plan",
    /a hotplug crash plan needs exactly one elfcorehdr segment/,
  );
  const two = crashPlan(true);
  two.segments[3] = { ...two.segments[4], mem: 0x77e1f000n, memsz: 0x100000n };
  throwsKexec(() => validatePlan(two, CRASH_LIMITS), "invalid-plan", /needs exactly one elfcorehdr segment/);
});

Deno.test("validatePlan: no segment, nor all together, may exceed half of RAM (kernel EINVAL)", () => {
  const seg = (mem: bigint, memsz: bigint) => ({ role: "initrd" as const, buf: new Uint8Array(0), mem, memsz });
  const plan = {
    kind: "reboot" as const,
    loader: "t",
    entry: 0x100000n,
    flags: 0x3e0000n,
    segments: [seg(0x100000n, 0x3000000n), seg(0x4000000n, 0x3000000n)],
    cmdline: "",
    kernelEntry: 0n,
    bootParams: 0n,
    hotplug: false,
    shaRegions: [],
    digest: new Uint8Array(32),
    notes: [],
  };
  const limits = { allowed: [{ start: 0n, end: 0x10000000n }], maxAddress: 1n << 46n, totalRamBytes: 0x8000000n };
  throwsKexec(
    () => validatePlan(plan, limits),
    "invalid-plan",
    /the segments take 24576 pages, more than half .*16384 pages/,
  );
  throwsKexec(
    () => validatePlan({ ...plan, segments: [seg(0x100000n, 0x4800000n)] }, limits),
    "invalid-plan",
    /segment 0 \(initrd, .*\) is more than half of this machine's RAM/,
  );
  validatePlan({ ...plan, segments: [seg(0x100000n, 0x3000000n)] }, limits);
});
