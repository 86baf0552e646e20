/**
 * vmcore-info on whole synthetic dumps: the facts VMCOREINFO and the notes give, the panic from the log, the
 * memory the PT_LOADs hold, hot-added memory from the kernel's section table (in the dump or not), and who built
 * the core header (from the layout, and from the capture kernel's command line).
 */

import assert from "node:assert/strict";
import { vmcoreSummary } from "../../../lib/vmcore/info.ts";
import { memoryCoreSource } from "../../../lib/vmcore/source.ts";
import { coreBytes } from "./core_builder.ts";
import { dumpCore, type DumpSpec, pieceSource } from "./dump_builder.ts";
import { FIXTURES } from "./fixtures.ts";

const MiB = 1n << 20n, GiB = 1n << 30n;
const LOG = [
  { tsNsec: 1_000_000n, text: "Linux version 6.12.57+deb12-amd64" },
  { tsNsec: 9_000_000_000n, text: "kts-first-kernel-token" },
  { tsNsec: 12_345_678_901n, text: "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00002a00" },
  { tsNsec: 12_345_700_000n, text: "CPU: 1 UID: 0 PID: 1 Comm: init Not tainted 6.12.57+deb12-amd64 #1" },
];
/** A 2 GiB q35 guest: RAM below 2 GiB and above 4 GiB, 256 MiB crash region, a 256 MiB DIMM hot-added at 6 GiB. */
const BASE: DumpSpec = {
  release: "6.12.57+deb12-amd64",
  records: LOG,
  bootRam: [{ start: 0x1000n, end: 0x9fc00n }, { start: MiB, end: 0x7ffdc000n }, { start: 4n * GiB, end: 6n * GiB }],
  crash: { start: 0x60000000n, end: 0x70000000n },
  hotAdded: [{ range: { start: 6n * GiB, end: 6n * GiB + 256n * MiB }, inDump: true }],
  layout: "kernel",
  cpuPids: [1, 0],
  crashTime: 1764547200,
};
const summary = (spec: Partial<DumpSpec>, captureCmdline?: string) =>
  vmcoreSummary(pieceSource(dumpCore({ ...BASE, ...spec })), { captureCmdline });

Deno.test("release, crash time, panic message, CPUs and memory come from VMCOREINFO, the log, the notes and PT_LOADs", () => {
  const s = summary({});
  assert.equal(s.kernelRelease, "6.12.57+deb12-amd64");
  assert.equal(s.crashTime, "2025-12-01T00:00:00.000Z");
  assert.deepEqual(s.panic, {
    kind: "panic",
    message: "Attempted to kill init! exitcode=0x00002a00",
    uptime: "[   12.345678]",
  });
  assert.deepEqual(s.log, { format: "lockless", recordCount: 4 });
  assert.deepEqual(s.cpus, { savedCount: 2, pids: [1, 0] });
  assert.deepEqual(s.elf, { elfClass: 64, byteOrder: "little", machine: "x86_64", pointerBits: 64 });
  // RAM minus the low 1 MiB and the crash region, plus the DIMM; the kernel-text PT_LOAD is not counted twice.
  const want = (0x7ffdc000n - MiB) - 256n * MiB + 2n * GiB + 256n * MiB;
  assert.equal(s.memory.totalBytes, want);
  assert.equal(s.memory.loads.filter((l) => !l.alias).length, 4);
});

Deno.test("hot-added memory: found through the kernel's section table, and whether the dump covers it", () => {
  const inDump = summary({});
  assert.equal(inDump.hotplug.verdict, "included");
  assert.equal(inDump.hotplug.hotAddedBytes, 256n * MiB);
  assert.deepEqual(inDump.hotplug.hotAdded.map((r) => [r.start, r.end, r.online]), [[
    6n * GiB,
    6n * GiB + 256n * MiB,
    true,
  ]]);
  assert.equal(inDump.hotplug.presentBytes, 2n * GiB + 2n * GiB + 256n * MiB);

  const stale = summary({ hotAdded: [{ range: { start: 6n * GiB, end: 6n * GiB + 256n * MiB }, inDump: false }] });
  assert.equal(stale.hotplug.verdict, "missing");
  assert.deepEqual(stale.hotplug.missing, [{ start: 6n * GiB, end: 6n * GiB + 256n * MiB }]);
  assert.equal(stale.hotplug.missingBytes, 256n * MiB);

  const half = summary({
    hotAdded: [
      { range: { start: 6n * GiB, end: 6n * GiB + 256n * MiB }, inDump: true },
      { range: { start: 7n * GiB, end: 7n * GiB + 128n * MiB }, inDump: false, online: false },
    ],
  });
  assert.equal(half.hotplug.verdict, "partial");
  assert.equal(half.hotplug.hotAdded[1].online, false);

  assert.equal(summary({ hotAdded: [] }).hotplug.verdict, "none");
  const old = summary({ release: "5.2.0" });
  assert.equal(old.hotplug.verdict, "unknown");
  assert.match(old.hotplug.problem!, /5\.3\+/);
  assert.match(summary({ noSections: true }).hotplug.problem!, /lacks SYMBOL\(mem_section\)/);
});

Deno.test("who built the core header: the layout, and the capture kernel's command line when it is the live dump", () => {
  const kernel = summary({});
  assert.equal(kernel.loader.builtBy, "kernel-layout");
  const ours = summary({}, "elfcorehdr=0x6ff00000 memhp_default_state=offline console=ttyS0 irqpoll");
  assert.equal(ours.loader.builtBy, "kexec-ts");
  assert.equal(summary({}, "elfcorehdr=0x6ff00000 console=ttyS0").loader.builtBy, "kernel");
  const tools = summary({ layout: "kexec-tools" });
  assert.equal(tools.loader.builtBy, "kexec-tools");
  assert.match(tools.loader.evidence[0], /^PT_LOAD 0x1000-0x9fbff lies below 1 MiB: kexec-tools' backup region$/);
  const rewritten = summary({}, "console=ttyS0 irqpoll elfcorehdr=1834944K");
  assert.equal(rewritten.loader.builtBy, "kexec-tools");
  assert.match(rewritten.loader.summary, /kernel rewrote/);
});

Deno.test("an oops without panic(), a structured log, and a log that cannot be read", () => {
  const oops = summary({
    records: [...LOG.slice(0, 2), {
      tsNsec: 3n,
      text: "Oops: general protection fault, probably for non-canonical address",
    }],
  });
  assert.equal(oops.panic?.kind, "oops");
  assert.match(oops.panic!.message, /^Oops: general protection fault/);
  const structured = vmcoreSummary(memoryCoreSource(coreBytes(FIXTURES.find((f) => f.name === "structured")!.build())));
  assert.equal(structured.log.format, "structured");
  assert.equal(structured.panic?.message, "Attempted to kill init! exitcode=0x00000b00");
  const broken = vmcoreSummary(memoryCoreSource(coreBytes(FIXTURES.find((f) => f.name === "prb-unmapped")!.build())));
  assert.equal(broken.panic, undefined);
  assert.match(broken.log.problem!, /no program header maps the prb pointer/);
  assert.equal(broken.kernelRelease, "6.12.0-synthetic");
});

Deno.test("a dump of 1 TiB of RAM: the summary reads a few pages", () => {
  const src = pieceSource(dumpCore({ ...BASE, bootRam: [{ start: MiB, end: 1n << 40n }] }));
  const s = vmcoreSummary(src);
  assert.equal(s.hotplug.verdict, "included");
  assert.ok(src.bytesRead < 300 * 1024, `read ${src.bytesRead} bytes`);
});

Deno.test("a dump of 20,000 PT_LOADs (as makedumpfile -E writes): memory and aliases in one sweep, not pair by pair", () => {
  const pieces = Array.from({ length: 20_000 }, (_, i) => {
    const start = 4n * GiB + BigInt(i) * 2n * MiB;
    return { start, end: start + MiB };
  });
  const t0 = performance.now();
  const s = summary({ bootRam: [{ start: MiB, end: 0x7ffdc000n }, ...pieces], hotAdded: [] });
  const ms = performance.now() - t0;
  assert.equal(s.memory.totalBytes, (0x7ffdc000n - MiB) - 256n * MiB + 20_000n * MiB);
  // The builder's two small loads of kernel pages (text at 16 MiB, and one at 1 MiB) lie inside the direct map's RAM:
  // the only aliases, as with the pair-by-pair comparison this replaced.
  const aliases = s.memory.loads.filter((l) => l.alias);
  assert.deepEqual(aliases.map((l) => l.paddr), [0x1000000n, 0x100000n]);
  assert.ok(aliases.every((l) => l.memsz < MiB));
  assert.equal(s.memory.loads.length, 20_000 + 4);
  assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
});

Deno.test("a CRASHTIME no date can hold is left out of the date, kept as the number", () => {
  const s = summary({ crashTime: 99_999_999_999_999 });
  assert.equal(s.crashTime, undefined);
  assert.equal(s.crashTimeEpoch, 99_999_999_999_999);
});

Deno.test("a corrupt PAGESIZE or section count makes the hot-plug verdict unknown, with the reason, not an endless scan", () => {
  for (
    const [line, why] of [
      ["PAGESIZE=3000", /PAGESIZE=3000 is not a page size/],
      ["PAGESIZE=1073741824", /PAGESIZE=1073741824 is not a page size/],
      ["NUMBER(MAX_PHYSMEM_BITS)=64", /does not fit the section count/],
    ] as const
  ) {
    const s = summary({ vmcoreinfoOverrides: [line] });
    assert.equal(s.hotplug.verdict, "unknown", line);
    assert.match(s.hotplug.problem ?? "", why);
  }
});
