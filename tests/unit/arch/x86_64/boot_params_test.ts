/**
 * lib/arch/x86_64/boot_params.ts (the zero page and its setup_data chain) and lib/arch/x86_64/e820.ts (memory maps). Offsets are
 * struct boot_params' (arch/x86/include/uapi/asm/bootparam.h; reference/kernel-interface.md §4), written out here.
 */

import assert from "node:assert/strict";
import {
  acpiRsdpOf,
  type BootParamsInput,
  buildBootParams,
  e820ExtPayload,
  encodeCmdline,
} from "../../../../lib/arch/x86_64/boot_params.ts";
import { buildSetupData, setupDataSize } from "../../../../lib/arch/x86_64/setup_data.ts";
import {
  E820,
  type E820Entry,
  e820TypeOf,
  memmapFromIomem,
  readFirmwareMemmap,
} from "../../../../lib/arch/x86_64/e820.ts";
import { parseIomem } from "../../../../lib/memory/iomem.ts";
import { fsSystemView, recordSystemView } from "../../../../lib/system.ts";
import { le, machineDir, throwsKexec } from "../../test_helpers.ts";

/** A setup header as a 2.15 bzImage has it: file bytes 0x1f1..0x26c, every byte distinct from zero. */
const HEADER = Uint8Array.from({ length: 0x26c - 0x1f1 }, (_, i) => 0x11 + (i % 0xe0));

function input(over: Partial<BootParamsInput> = {}): BootParamsInput {
  return {
    setupHeader: HEADER,
    setupHeaderOffset: 0x1f1,
    cmdlineAddr: 0x9e000n,
    e820: [],
    setupDataAddr: 0n,
    ...over,
  };
}

/** Offsets the loader writes over the copied header (boot.rst "fields a boot loader fills in"). */
const LOADER_WRITTEN = new Set<number>();
for (const [off, len] of [[0x210, 1], [0x211, 1], [0x214, 4], [0x218, 8], [0x228, 4], [0x250, 8]]) {
  for (let i = 0; i < len; i++) LOADER_WRITTEN.add(off + i);
}

Deno.test("buildBootParams: 4096 bytes, the setup header copied to 0x1f1, type_of_loader 0xd0", () => {
  const bp = buildBootParams(input());
  assert.equal(bp.length, 4096);
  for (let i = 0; i < HEADER.length; i++) {
    if (!LOADER_WRITTEN.has(0x1f1 + i)) assert.equal(bp[0x1f1 + i], HEADER[i], `byte 0x${(0x1f1 + i).toString(16)}`);
  }
  assert.equal(bp[0x210], 0xd0, "kexec, as the kernel's kexec_file loader sets it");
  // loadflags: keep LOADED_HIGH only (no CAN_USE_HEAP, QUIET or KEEP_SEGMENTS from the file).
  const flags = HEADER.slice();
  flags[0x211 - 0x1f1] = 0xff;
  assert.equal(buildBootParams(input({ setupHeader: flags }))[0x211], 0x01);
  assert.equal(le(bp).u32(0x214), 0, "code32_start cleared");
  // Nothing outside the header and the fields we fill.
  for (let i = 0; i < 0x1f1; i++) assert.equal(bp[i], 0, `byte 0x${i.toString(16)}`);
});

Deno.test("buildBootParams: cmd_line_ptr and ext_cmd_line_ptr split a 64-bit address at 4 GiB", () => {
  const low = le(buildBootParams(input({ cmdlineAddr: 0x9e000n })));
  assert.equal(low.u32(0x228), 0x9e000);
  assert.equal(low.u32(0x0c8), 0);
  const high = le(buildBootParams(input({ cmdlineAddr: 0x1_2345_6000n })));
  assert.equal(high.u32(0x228), 0x2345_6000);
  assert.equal(high.u32(0x0c8), 1);
});

Deno.test("buildBootParams: ramdisk fields, with the ext halves above 4 GiB; zero without an initrd", () => {
  const low = le(buildBootParams(input({ initrd: { addr: 0x7fedf000n, sizeBytes: 0x100123n } })));
  assert.deepEqual([low.u32(0x218), low.u32(0x21c), low.u32(0x0c0), low.u32(0x0c4)], [0x7fedf000, 0x100123, 0, 0]);
  const high = le(buildBootParams(input({ initrd: { addr: 0x2_0000_1000n, sizeBytes: 0x1_0000_0005n } })));
  assert.deepEqual([high.u32(0x218), high.u32(0x21c), high.u32(0x0c0), high.u32(0x0c4)], [0x1000, 5, 2, 1]);
  // A header with stale ramdisk fields (as copied from a file) is cleared when there is no initrd.
  const none = le(buildBootParams(input()));
  assert.deepEqual([none.u32(0x218), none.u32(0x21c), none.u32(0x0c0), none.u32(0x0c4)], [0, 0, 0, 0]);
});

Deno.test("buildBootParams: e820_entries at 0x1e8 and 20-byte records at 0x2d0", () => {
  const map: E820Entry[] = [
    { start: 0n, end: 0x9fc00n, type: 1 },
    { start: 0x9fc00n, end: 0xa0000n, type: 2 },
    { start: 0xfd00000000n, end: 0x10000000000n, type: 2 },
  ];
  const bp = buildBootParams(input({ e820: map }));
  const r = le(bp);
  assert.equal(r.u8(0x1e8), 3);
  map.forEach((e, i) => {
    const o = 0x2d0 + 20 * i;
    assert.deepEqual([r.u64(o), r.u64(o + 8), r.u32(o + 16)], [e.start, e.end - e.start, e.type], `entry ${i}`);
  });
  assert.equal(r.u32(0x2d0 + 60), 0, "nothing after the last entry");
});

Deno.test("buildBootParams: 128 e820 entries fit, 129 are an error", () => {
  const map = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ start: BigInt(i) << 20n, end: (BigInt(i) << 20n) + 0x1000n, type: 1 }));
  const r = le(buildBootParams(input({ e820: map(128) })));
  assert.equal(r.u8(0x1e8), 128);
  assert.equal(r.u64(0x2d0 + 127 * 20), 127n << 20n, "the last entry ends at 0xcf0, before eddbuf (0xd00)");
  throwsKexec(
    () => buildBootParams(input({ e820: map(129) })),
    "layout",
    /^129 e820 entries do not fit boot_params \(128\)$/,
  );
});

Deno.test("buildBootParams: firmware fields copied from the running kernel's boot_params, nothing else", () => {
  const fw = Uint8Array.from({ length: 4096 }, (_, i) => (i % 251) + 1);
  const bp = buildBootParams(input({ firmware: fw }));
  const copied: [string, number, number][] = [
    ["screen_info", 0x000, 0x40],
    ["acpi_rsdp_addr", 0x070, 8],
    ["edid_info", 0x140, 0x80],
    ["eddbuf_entries + edd_mbr_sig_buf_entries", 0x1e9, 2],
    ["edd_mbr_sig_buffer", 0x290, 0x40],
    ["eddbuf", 0xd00, 6 * 82],
  ];
  for (const [name, off, len] of copied) {
    assert.deepEqual(bp.subarray(off, off + len), fw.subarray(off, off + len), name);
  }
  const zero: [string, number, number][] = [
    ["apm/ist/tboot", 0x40, 0x30],
    ["efi_info (no EFI runtime handover)", 0x1c0, 0x20],
    ["e820_table (ours, empty here)", 0x2d0, 20],
  ];
  for (const [name, off, len] of zero) assert.ok(bp.subarray(off, off + len).every((b) => b === 0), name);
  assert.equal(bp[0x1e8], 0, "e820_entries is ours");
  // A truncated firmware image is ignored.
  assert.ok(buildBootParams(input({ firmware: fw.subarray(0, 100) })).subarray(0, 0x40).every((b) => b === 0));
  // An explicit acpi_rsdp_addr wins.
  assert.equal(le(buildBootParams(input({ firmware: fw, acpiRsdpAddr: 0xf59e0n }))).u64(0x70), 0xf59e0n);
});

Deno.test("acpiRsdpOf: the saved guests' boot_params hold the RSDP at 0x70", () => {
  const data = Deno.readFileSync(`${machineDir("qemu-q35-2g-crash256m")}/sys/kernel/boot_params/data`);
  assert.equal(acpiRsdpOf(data), le(data).u64(0x70));
  assert.ok(acpiRsdpOf(data) >= 0xe0000n && acpiRsdpOf(data) < 0x100000n, "SeaBIOS puts the RSDP in the BIOS area");
  assert.equal(acpiRsdpOf(undefined), 0n);
  assert.equal(acpiRsdpOf(data.subarray(0, 100)), 0n);
});

Deno.test("setup_data: next pointers chain 8-byte-aligned records; the last next is 0", () => {
  const records = [
    { type: 9, data: new Uint8Array(32).fill(0xaa) },
    { type: 1, data: new Uint8Array(20).fill(0xbb) },
    { type: 4, data: new Uint8Array(1).fill(0xcc) },
  ];
  const addr = 0x9e810n;
  // 16-byte header + data, each rounded up to 8: 48, 40, 24.
  assert.equal(setupDataSize(records), 48 + 40 + 24);
  const out = buildSetupData(records, addr);
  const r = le(out);
  const offsets = [0, 48, 88];
  offsets.forEach((off, i) => {
    const next = i + 1 < offsets.length ? addr + BigInt(offsets[i + 1]) : 0n;
    assert.equal(r.u64(off), next, `record ${i} next`);
    assert.equal(r.u32(off + 8), records[i].type);
    assert.equal(r.u32(off + 12), records[i].data.length);
    assert.deepEqual(out.subarray(off + 16, off + 16 + records[i].data.length), records[i].data);
    assert.equal((addr + BigInt(off)) % 8n, 0n);
  });
  assert.equal(buildSetupData([], addr).length, 0);
  assert.equal(le(buildBootParams(input({ setupDataAddr: addr }))).u64(0x250), addr, "hdr.setup_data");
});

Deno.test("e820ExtPayload: the same 20-byte records, for SETUP_E820_EXT", () => {
  const p = e820ExtPayload([{ start: 0x100000000n, end: 0x140000000n, type: 1 }, { start: 0n, end: 0x1000n, type: 2 }]);
  const r = le(p);
  assert.equal(p.length, 40);
  assert.deepEqual([r.u64(0), r.u64(8), r.u32(16), r.u64(20), r.u64(28), r.u32(36)], [
    0x100000000n,
    0x40000000n,
    1,
    0n,
    0x1000n,
    2,
  ]);
});

Deno.test("encodeCmdline: NUL-terminated, at most cmdline_size bytes before the NUL", () => {
  assert.deepEqual(encodeCmdline("ro quiet", 2047), new TextEncoder().encode("ro quiet\0"));
  assert.equal(encodeCmdline("x".repeat(2047), 2047).length, 2048);
  throwsKexec(
    () => encodeCmdline("x".repeat(2048), 2047),
    "bad-image",
    /^the command line is 2048 bytes; this kernel accepts at most 2047 \(cmdline_size\)$/,
  );
  // Bytes, not characters: "é" is two bytes in UTF-8.
  throwsKexec(() => encodeCmdline("é".repeat(1024), 2047), "bad-image", /the command line is 2048 bytes/);
  throwsKexec(() => encodeCmdline("a\0b", 2047), "usage", /contains a NUL byte/);
});

Deno.test("e820TypeOf: the kernel's e820_type_to_string names", () => {
  const cases: [string, number | undefined][] = [
    ["System RAM", 1],
    ["System RAM (kmem)", 1],
    ["Reserved", 2],
    ["reserved", 2],
    ["ACPI Tables", 3],
    ["ACPI Non-volatile Storage", 4],
    ["Unusable memory", 5],
    ["Persistent Memory", 7],
    ["Persistent Memory (legacy)", 12],
    ["Soft Reserved", 0xefffffff],
    ["PCI Bus 0000:00", undefined],
    ["Kernel code", undefined],
  ];
  for (const [name, type] of cases) assert.equal(e820TypeOf(name), type, name);
  assert.equal(E820.RAM, 1);
});

Deno.test("readFirmwareMemmap: the guest's /sys/firmware/memmap, sorted, inclusive ends made exclusive", () => {
  const map = readFirmwareMemmap(fsSystemView(machineDir("qemu-q35-2g-crash256m")));
  assert.deepEqual(map, [
    { start: 0x0n, end: 0x9fc00n, type: 1 },
    { start: 0x9fc00n, end: 0xa0000n, type: 2 },
    { start: 0xf0000n, end: 0x100000n, type: 2 },
    { start: 0x100000n, end: 0x7ffdf000n, type: 1 },
    { start: 0x7ffdf000n, end: 0x80000000n, type: 2 },
    { start: 0xb0000000n, end: 0xc0000000n, type: 2 },
    { start: 0xfed1c000n, end: 0xfed20000n, type: 2 },
    { start: 0xfffc0000n, end: 0x100000000n, type: 2 },
    { start: 0xfd00000000n, end: 0x10000000000n, type: 2 },
  ]);
  // Sorted by address, not by directory name ("10" sorts before "2").
  const sys = recordSystemView({
    "/sys/firmware/memmap/2/start": "0x1000",
    "/sys/firmware/memmap/2/end": "0x1fff",
    "/sys/firmware/memmap/2/type": "System RAM",
    "/sys/firmware/memmap/10/start": "0x100000000",
    "/sys/firmware/memmap/10/end": "0x13fffffff",
    "/sys/firmware/memmap/10/type": "Something New",
  });
  assert.deepEqual(readFirmwareMemmap(sys), [
    { start: 0x1000n, end: 0x2000n, type: 1 },
    { start: 0x100000000n, end: 0x140000000n, type: 2 },
  ]);
  assert.equal(readFirmwareMemmap(recordSystemView({})), undefined);
  throwsKexec(
    () =>
      readFirmwareMemmap(
        recordSystemView({ "/sys/firmware/memmap/0/start": "0x0", "/sys/firmware/memmap/0/type": "Reserved" }),
      ),
    "io",
    /^\/sys\/firmware\/memmap\/0 is incomplete or malformed \(start\/end\/type\)$/,
  );
});

Deno.test("firmware memmap vs /proc/iomem: every System RAM resource lies in firmware RAM", () => {
  const dir = machineDir("qemu-q35-2g-crash256m");
  const fw = readFirmwareMemmap(fsSystemView(dir))!;
  const iomem = parseIomem(Deno.readTextFileSync(`${dir}/proc/iomem`));
  const ram = iomem.filter((e) => e.name === "System RAM");
  assert.equal(ram.length, 2);
  for (const r of ram) assert.ok(fw.some((e) => e.type === 1 && e.start <= r.start && r.end <= e.end));
});

Deno.test("memmapFromIomem: RAM and reserved resources, PCI windows and devices left out", () => {
  const dir = machineDir("qemu-q35-2g-crash256m");
  const map = memmapFromIomem(parseIomem(Deno.readTextFileSync(`${dir}/proc/iomem`)));
  const ram = map.filter((e) => e.type === 1);
  assert.deepEqual(ram, [{ start: 0x1000n, end: 0x9fc00n, type: 1 }, { start: 0x100000n, end: 0x7ffdf000n, type: 1 }]);
  assert.ok(map.every((e) => e.type === 1 || e.type === 2));
  assert.ok(!map.some((e) => e.start === 0xc0000n), "Video ROM is not memory");
});

Deno.test("memmapFromIomem keeps every firmware Reserved range, including the one nested under PCI ECAM", () => {
  // /proc/iomem nests e820's b0000000-bfffffff "Reserved" under "PCI ECAM 0000 [bus 00-ff]"; the firmware map
  // (and kexec-tools' /proc/iomem reader, which reads nested lines too) has it. Reserved ranges above 1 MiB:
  const dir = machineDir("qemu-q35-2g-crash256m");
  const map = memmapFromIomem(parseIomem(Deno.readTextFileSync(`${dir}/proc/iomem`)));
  const fw = readFirmwareMemmap(fsSystemView(dir))!;
  const reservedHigh = (m: E820Entry[]) => m.filter((e) => e.type === 2 && e.start >= 0x100000n);
  assert.deepEqual(reservedHigh(map), reservedHigh(fw));
});
