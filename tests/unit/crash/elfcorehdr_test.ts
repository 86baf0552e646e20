/**
 * The capture kernel's inputs over the crashkernel=256M guest: lib/crash/elfcorehdr.ts (+ lib/elf/core.ts) must
 * build the header the kernel's crash_prepare_elf64_headers() builds (reference/kernel-interface.md §5), and
 * lib/arch/x86_64/capture_memmap.ts the map crash_setup_memmap_entries() builds; lib/crash/region.ts finds the reservations.
 * Expected values are read from the fixture's files here, with our own parsing.
 */

import assert from "node:assert/strict";
import {
  buildElfcorehdr,
  type CoreInputs,
  dumpRamRanges,
  elfcorehdrMemsz,
  HOTPLUG_HEADROOM_PHDRS,
  MAX_CPUS,
  parseCpuList,
  readCoreInputs,
} from "../../../lib/crash/elfcorehdr.ts";
import { parseIomem } from "../../../lib/memory/iomem.ts";
import { parseElf } from "../../../lib/elf/reader.ts";
import { fsSystemView, recordSystemView } from "../../../lib/system.ts";
import { le, machineDir, throwsKexec } from "../test_helpers.ts";
import { x86_64 } from "../../../lib/arch/x86_64/mod.ts";

/** The architecture's facts, and the low 1 MiB written out independently of lib/arch. */
const X86_CORE = x86_64.core;
const LOW_1M = { start: 0n, end: 0x100000n };

const DIR = machineDir("qemu-q35-2g-crash256m");
const SYS = fsSystemView(DIR);
const text = (p: string) => Deno.readTextFileSync(DIR + p).trim();
const IOMEM = parseIomem(text("/proc/iomem"));
const CRASH = { start: 0x68000000n, end: 0x78000000n }; // "  68000000-77ffffff : Crash kernel"
const REGIONS = { main: CRASH };
const MiB = 0x100000n;

/** Every file of the fixture, for in-memory variations. */
function fixtureFiles(dir = DIR, prefix = ""): Record<string, Uint8Array | string> {
  const out: Record<string, Uint8Array | string> = {};
  for (const e of Deno.readDirSync(dir + prefix)) {
    const p = `${prefix}/${e.name}`;
    if (e.isDirectory) Object.assign(out, fixtureFiles(dir, p));
    else out[p] = Deno.readFileSync(dir + p);
  }
  return out;
}

/** /proc/kcore's program headers, parsed here with plain DataView reads (Elf64_Ehdr / Elf64_Phdr offsets). */
function kcorePhdrs() {
  const head = Deno.readFileSync(DIR + "/proc/kcore");
  const r = le(head);
  const phoff = Number(r.u64(0x20)), phentsize = r.u16(0x36), phnum = r.u16(0x38);
  return Array.from({ length: phnum }, (_, i) => {
    const o = phoff + i * phentsize;
    return { type: r.u32(o), vaddr: r.u64(o + 16), paddr: r.u64(o + 24), memsz: r.u64(o + 40) };
  });
}
const NO_PADDR = (1n << 64n) - 1n;
const KERNEL_MAP = 0xffffffff80000000n;

Deno.test("readCoreInputs: CPU notes and vmcoreinfo from sysfs", () => {
  const core = readCoreInputs(SYS, IOMEM, REGIONS, X86_CORE);
  assert.deepEqual(parseCpuList(text("/sys/devices/system/cpu/possible")), [0, 1]);
  // crash_notes is "%llx" (hex, no 0x); crash_notes_size is "%u".
  assert.deepEqual(
    core.cpuNotes,
    [0, 1].map((cpu) => ({
      cpu,
      paddr: BigInt("0x" + text(`/sys/devices/system/cpu/cpu${cpu}/crash_notes`)),
      sizeBytes: BigInt(text(`/sys/devices/system/cpu/cpu${cpu}/crash_notes_size`)),
    })),
  );
  assert.deepEqual(core.missingCpus, []);
  // vmcoreinfo is "%pa %x": both hex, so "0x0000000056c14000 1024" is 0x1024 bytes, which is VMCOREINFO_NOTE_SIZE:
  // two 12-byte note headers + the 12-byte aligned name "VMCOREINFO" + 4096 bytes of data = 4132 = 0x1024.
  assert.equal(text("/sys/kernel/vmcoreinfo"), "0x0000000056c14000 1024");
  assert.deepEqual(core.vmcoreinfo, { paddr: 0x56c14000n, sizeBytes: 0x1024n });
  assert.equal(core.vmcoreinfo.sizeBytes, 4096n + 3n * 12n);
});

Deno.test("readCoreInputs: kernel text and PAGE_OFFSET from the kcore head, consistent with /proc/iomem", () => {
  const core = readCoreInputs(SYS, IOMEM, REGIONS, X86_CORE);
  const loads = kcorePhdrs().filter((p) => p.type === 1 && p.paddr !== NO_PADDR);
  const textPh = loads.find((p) => p.vaddr >= KERNEL_MAP);
  assert.ok(textPh);
  assert.deepEqual(core.kernelText, { vaddr: textPh.vaddr, paddr: textPh.paddr, sizeBytes: textPh.memsz });
  // PAGE_OFFSET: every KCORE_RAM entry maps paddr at paddr + PAGE_OFFSET.
  const ram = loads.filter((p) => p.vaddr < KERNEL_MAP);
  assert.ok(ram.length >= 2);
  for (const p of ram) assert.equal(p.vaddr - p.paddr, core.pageOffset, `kcore RAM entry at ${p.paddr.toString(16)}`);
  assert.equal(core.pageOffset % (1n << 30n), 0n, "KASLR moves PAGE_OFFSET in 1 GiB steps");
  // The text starts where iomem puts "Kernel code" and covers code, rodata, data and bss.
  const kernelParts = IOMEM.flatMap((e) => e.children).filter((e) => e.name.startsWith("Kernel "));
  assert.equal(kernelParts.length, 4);
  assert.equal(core.kernelText.paddr, kernelParts.find((e) => e.name === "Kernel code")!.start);
  for (const k of kernelParts) assert.ok(k.end <= core.kernelText.paddr + core.kernelText.sizeBytes, k.name);
});

Deno.test("readCoreInputs: errors name the node and the cause", () => {
  const files = fixtureFiles();
  const with_ = (over: Record<string, string | Uint8Array>) => recordSystemView({ ...files, ...over });
  throwsKexec(
    () => readCoreInputs(with_({ "/sys/devices/system/cpu/cpu1/crash_notes": "<denied>" }), IOMEM, REGIONS, X86_CORE),
    "permission",
    /^\/sys\/devices\/system\/cpu\/cpu1\/crash_notes is readable by root only; crash loads need root$/,
  );
  throwsKexec(
    () => readCoreInputs(with_({ "/sys/kernel/vmcoreinfo": "garbage" }), IOMEM, REGIONS, X86_CORE),
    "io",
    /\/sys\/kernel\/vmcoreinfo is malformed \("garbage"\)/,
  );
  throwsKexec(
    () => readCoreInputs(with_({ "/proc/kcore": "<denied>" }), IOMEM, REGIONS, X86_CORE),
    "permission",
    /\/proc\/kcore/,
  );
  // The guest without crashkernel= booted with the kernel elsewhere (KASLR): its iomem disagrees with this kcore.
  const otherIomem = parseIomem(Deno.readTextFileSync(machineDir("qemu-q35-2g-nocrash") + "/proc/iomem"));
  throwsKexec(
    () => readCoreInputs(SYS, otherIomem, REGIONS, X86_CORE),
    "io",
    /^\/proc\/kcore puts the kernel text at 0x54000000 but \/proc\/iomem says 0x67200000$/,
  );
});

Deno.test("readCoreInputs: possible CPUs without a cpuN node are reported missing", () => {
  const sys = recordSystemView({ ...fixtureFiles(), "/sys/devices/system/cpu/possible": "0-3\n" });
  const core = readCoreInputs(sys, IOMEM, REGIONS, X86_CORE);
  assert.deepEqual(core.cpuNotes.map((n) => n.cpu), [0, 1]);
  assert.deepEqual(core.missingCpus, [2, 3]);
});

Deno.test("dumpRamRanges: System RAM minus the low 1 MiB and the crash range; children not separate", () => {
  // iomem top level: 00001000-0009fbff and 00100000-7ffdefff are System RAM; "Kernel code" etc. and
  // "Crash kernel" are children of the second. [0x1000, 0x9fc00) lies in the low 1 MiB.
  assert.deepEqual(dumpRamRanges(IOMEM, REGIONS, LOW_1M), [
    { start: MiB, end: CRASH.start },
    { start: CRASH.end, end: 0x7ffdf000n },
  ]);
  const two = parseIomem(
    "00000000-0009ffff : System RAM\n00100000-bfffffff : System RAM\n100000000-13fffffff : System RAM\n",
  );
  assert.deepEqual(
    dumpRamRanges(two, {
      main: { start: 0x100000000n, end: 0x110000000n },
      low: { start: 0x8000000n, end: 0x10000000n },
    }, LOW_1M),
    [
      { start: MiB, end: 0x8000000n },
      { start: 0x10000000n, end: 0xc0000000n },
      { start: 0x110000000n, end: 0x140000000n },
    ],
  );
});

function expectedPhdrs(core: CoreInputs) {
  const phdr = (type: number, flags: number, paddr: bigint, vaddr: bigint, size: bigint) => ({
    type,
    flags,
    offset: paddr,
    vaddr,
    paddr,
    filesz: size,
    memsz: size,
    align: 0n,
  });
  return [
    ...[0, 1].map((cpu) => phdr(4, 0, BigInt("0x" + text(`/sys/devices/system/cpu/cpu${cpu}/crash_notes`)), 0n, 368n)),
    phdr(4, 0, 0x56c14000n, 0n, 0x1024n),
    phdr(1, 7, core.kernelText.paddr, core.kernelText.vaddr, core.kernelText.sizeBytes),
    phdr(1, 7, MiB, MiB + core.pageOffset, CRASH.start - MiB),
    phdr(1, 7, CRASH.end, CRASH.end + core.pageOffset, 0x7ffdf000n - CRASH.end),
  ];
}

Deno.test("buildElfcorehdr: the exact program headers crash_prepare_elf64_headers() writes", () => {
  const core = readCoreInputs(SYS, IOMEM, REGIONS, X86_CORE);
  const bytes = buildElfcorehdr(core);
  const elf = parseElf(bytes, { checkSegmentBounds: false });
  assert.equal(elf.header.type, 4, "ET_CORE");
  assert.equal(elf.header.machine, 62, "EM_X86_64");
  assert.equal(elf.header.phoff, 64n);
  assert.equal(elf.header.phnum, 6);
  assert.equal(elf.header.entry, 0n);
  assert.equal(elf.header.shnum, 0);
  const got = elf.programHeaders.map(({ type, flags, offset, vaddr, paddr, filesz, memsz, align }) => ({
    type,
    flags,
    offset,
    vaddr,
    paddr,
    filesz,
    memsz,
    align,
  }));
  assert.deepEqual(got, expectedPhdrs(core));
  const r = le(bytes);
  assert.deepEqual([...bytes.subarray(0, 7)], [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], "ELFCLASS64, LSB, EV_CURRENT");
  assert.equal(bytes[7], 0, "ELFOSABI_NONE");
  assert.deepEqual([r.u16(0x34), r.u16(0x36)], [64, 56], "e_ehsize, e_phentsize");
  assert.equal(bytes.length % 4096, 0, "ELF_CORE_HEADER_ALIGN");
  assert.equal(bytes.length, 4096);
  assert.ok(bytes.subarray(64 + 6 * 56).every((b) => b === 0), "zero after the last phdr");
});

Deno.test("elfcorehdrMemsz: header size without hotplug; room for the kernel's rewrite with it", () => {
  const core = readCoreInputs(SYS, IOMEM, REGIONS, X86_CORE);
  const align4k = (n: bigint) => (n + 4095n) & ~4095n;
  assert.equal(elfcorehdrMemsz(core, undefined), BigInt(buildElfcorehdr(core).length));
  const nphdrNow = BigInt(core.cpuNotes.length + core.missingCpus.length + 2 + core.ram.length);
  for (const sysfs of [917616n, 462448n, 1000n]) {
    const m = elfcorehdrMemsz(core, sysfs);
    assert.equal(m % 4096n, 0n);
    assert.ok(m >= align4k(sysfs + 64n), `covers sysfs ${sysfs} + Ehdr`);
    assert.ok(m >= align4k(64n + 56n * (nphdrNow + BigInt(HOTPLUG_HEADROOM_PHDRS))), "today's needs + headroom");
  }
  assert.equal(elfcorehdrMemsz(core, 917616n), align4k(917616n + 64n));
  // Possible-but-absent CPUs and many ranges count too: 200 ranges, 4 missing CPUs.
  const big: CoreInputs = { ...core, missingCpus: [2, 3, 4, 5], ram: Array.from({ length: 200 }, () => core.ram[0]) };
  assert.ok(elfcorehdrMemsz(big, 1000n) >= align4k(64n + 56n * (2n + 4n + 2n + 200n + 128n)));
});

Deno.test("parseCpuList: ranges and singles", () => {
  assert.deepEqual(parseCpuList("0-3,8,10-11\n"), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList("0"), [0]);
  assert.deepEqual(parseCpuList(""), []);
  throwsKexec(() => parseCpuList("0-a"), "io", /^cannot parse CPU list "0-a": "0-a" is not N or N-M$/);
  assert.equal(parseCpuList(`0-${MAX_CPUS - 1}`).length, MAX_CPUS);
});

Deno.test("parseCpuList: bounded by NR_CPUS (8192): no allocation for a huge range (fuzz finding)", () => {
  // Found by mutation: a cpu/possible of "0-4294967295" made the parser push four billion numbers.
  const t0 = performance.now();
  throwsKexec(
    () => parseCpuList("0-4294967295"),
    "io",
    /^cannot parse CPU list "0-4294967295": CPU 4294967295 is above the kernel's limit of 8192 CPUs \(NR_CPUS\)$/,
  );
  throwsKexec(() => parseCpuList("0-8192"), "io", /CPU 8192 is above the kernel's limit of 8192 CPUs \(NR_CPUS\)$/);
  throwsKexec(() => parseCpuList("99999999"), "io", /CPU 99999999 is above the kernel's limit/);
  throwsKexec(() => parseCpuList("3-1"), "io", /the range 3-1 runs backwards$/);
  throwsKexec(() => parseCpuList("0-3,2"), "io", /2 is not above the CPUs before it$/);
  assert.ok(performance.now() - t0 < 50);
});
