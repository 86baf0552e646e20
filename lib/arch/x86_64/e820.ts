/**
 * The e820 memory map handed to the next kernel in boot_params (at most 128 entries there; the rest go into a
 * SETUP_E820_EXT setup_data record).
 *
 * For a normal kexec the map is the firmware's, from /sys/firmware/memmap (which also lists hot-added memory),
 * falling back to the top level of /proc/iomem. The capture kernel's map is built in ../crash/memmap.ts.
 *
 * @module
 */

import { fail } from "../../errors.ts";
import { type IomemEntry, isSystemRam, walkIomem } from "../../memory/iomem.ts";
import type { Range } from "../../memory/ranges.ts";
import { parseInteger, readTrimmed, type SystemView } from "../../system.ts";

/** e820 entry types (arch/x86/include/asm/e820/types.h). */
export const E820 = {
  RAM: 1,
  RESERVED: 2,
  ACPI: 3,
  NVS: 4,
  UNUSABLE: 5,
  PMEM: 7,
  PRAM: 12,
  SOFT_RESERVED: 0xefffffff,
} as const;

/** One e820 entry: a half-open range and its type. */
export interface E820Entry extends Range {
  type: number;
}

/** Size of a boot_params e820 entry: u64 addr, u64 size, u32 type. */
export const E820_ENTRY_SIZE = 20;
/** Entries boot_params.e820_table holds. */
export const E820_MAX_ZEROPAGE = 128;

/** The e820 type for a memmap / iomem type name; `undefined` for names that are not memory (PCI windows). */
export function e820TypeOf(name: string): number | undefined {
  if (isSystemRam(name)) return E820.RAM;
  switch (name) {
    case "Reserved":
    case "reserved":
      return E820.RESERVED;
    case "ACPI Tables":
      return E820.ACPI;
    case "ACPI Non-volatile Storage":
      return E820.NVS;
    case "Unusable memory":
      return E820.UNUSABLE;
    case "Persistent Memory":
      return E820.PMEM;
    case "Persistent Memory (legacy)":
      return E820.PRAM;
    case "Soft Reserved":
      return E820.SOFT_RESERVED;
  }
  return undefined;
}

/**
 * The firmware memory map from /sys/firmware/memmap/N/{start,end,type}, sorted by address.
 * @returns `undefined` when the directory is absent (kernel without CONFIG_FIRMWARE_MEMMAP)
 */
export function readFirmwareMemmap(sys: SystemView): E820Entry[] | undefined {
  const dirs = sys.list("/sys/firmware/memmap");
  if (!dirs || dirs.length === 0) return undefined;
  const out: E820Entry[] = [];
  for (const d of dirs) {
    const base = `/sys/firmware/memmap/${d}`;
    const start = parseInteger(readTrimmed(sys, `${base}/start`) ?? "", 16);
    const end = parseInteger(readTrimmed(sys, `${base}/end`) ?? "", 16);
    const typeName = readTrimmed(sys, `${base}/type`);
    if (start === undefined || end === undefined || typeName === undefined || end < start) {
      fail("io", `${base} is incomplete or malformed (start/end/type)`);
    }
    out.push({ start, end: end + 1n, type: e820TypeOf(typeName) ?? E820.RESERVED });
  }
  return out.sort((a, b) => (a.start < b.start ? -1 : 1));
}

/**
 * The memory map from /proc/iomem (RAM, reserved, ACPI...), walked as the kernel walks resources: a memory
 * entry is taken whole, and entries nested under a non-memory window (the "Reserved" inside "PCI ECAM") are
 * found too. PCI windows and devices are left out.
 */
export function memmapFromIomem(iomem: readonly IomemEntry[]): E820Entry[] {
  return walkIomem(iomem, (name) => e820TypeOf(name) !== undefined)
    .map((e) => ({ start: e.start, end: e.end, type: e820TypeOf(e.name)! }));
}

/** The next kernel's memory map for a normal kexec: firmware memmap, else /proc/iomem. */
export function rebootMemmap(sys: SystemView, iomem: readonly IomemEntry[]): E820Entry[] {
  return readFirmwareMemmap(sys) ?? memmapFromIomem(iomem);
}

/** RAM ranges of a map. */
export function ramOf(map: readonly E820Entry[]): Range[] {
  return map.filter((e) => e.type === E820.RAM).map((e) => ({ start: e.start, end: e.end }));
}
