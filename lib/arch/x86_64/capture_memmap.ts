/**
 * The capture kernel's memory map, as the kernel's crash_setup_memmap_entries() (6.12) builds it for kexec_file:
 *  - System RAM below 1 MiB, as RAM (the first kernel never used it: reserved since 5.13);
 *  - "ACPI Tables" as ACPI, "ACPI Non-volatile Storage" as NVS, "Reserved" as reserved (kernel resource walk);
 *  - the low crash region, as RAM;
 *  - the main crash region minus the elfcorehdr segment, as RAM (so the capture kernel never overwrites the
 *    header, which the first kernel may also rewrite in place on hotplug);
 *  - the `crashkernel=SIZE,cma` ranges, as RAM (7.x: the first kernel used them only for movable pages, which the
 *    dump leaves out; the kernel waits for DMA into them to drain before it starts the capture kernel);
 *  - when EFI is handed over, every EFI runtime region (the runtime map) as reserved where the entries above do
 *    not already say so. Most are "Reserved" in /proc/iomem already (the EFI stub makes runtime code and data
 *    E820 reserved), but boot-services regions the first kernel had to keep (EFI_MEMORY_RUNTIME set by
 *    efi_reserve_boot_services or efi_mem_reserve) can sit inside System RAM; the capture kernel maps them for
 *    runtime services at their first-kernel virtual address, and must neither allocate from them nor see a hole
 *    there that PCI could claim. The kernel's own crash_setup_memmap_entries does not add them; kexec-ts does.
 * Everything else the first kernel owned is absent: the capture kernel reads it through /proc/vmcore.
 * Sorted by address; entries beyond boot_params' 128 go to SETUP_E820_EXT (the kernel itself drops them).
 *
 * @module
 */

import { type IomemEntry, isSystemRam, walkIomem } from "../../memory/iomem.ts";
import {
  clampRanges,
  mergeRanges,
  PAGE_SIZE,
  type Range,
  rangeSize,
  sortRanges,
  subtractRanges,
} from "../../memory/ranges.ts";
import { E820, type E820Entry } from "./e820.ts";
import { LOW_RESERVED } from "./abi.ts";
import type { CrashRegions } from "../../crash/region.ts";

/**
 * The capture kernel's e820 entries, ascending.
 * @param firmwareRuntime the EFI runtime regions handed over (none without EFI)
 */
export function captureMemmap(
  iomem: readonly IomemEntry[],
  crash: CrashRegions,
  elfcorehdr: Range,
  firmwareRuntime: readonly Range[] = [],
): E820Entry[] {
  const typed = (ranges: readonly Range[], type: number) => ranges.map((r) => ({ start: r.start, end: r.end, type }));
  const of = (name: string) => walkIomem(iomem, (n) => n === name);
  const lowRam = clampRanges(walkIomem(iomem, isSystemRam), LOW_RESERVED.start, LOW_RESERVED.end);
  const crashRam = subtractRanges([crash.main], [elfcorehdr]).filter((r) => rangeSize(r) >= PAGE_SIZE);
  const entries = [
    ...typed(subtractRanges(lowRam, firmwareRuntime), E820.RAM),
    ...typed(of("ACPI Tables"), E820.ACPI),
    ...typed(of("ACPI Non-volatile Storage"), E820.NVS),
    ...typed(of("Reserved"), E820.RESERVED),
    ...(crash.low ? typed([crash.low], E820.RAM) : []),
    ...typed(crashRam, E820.RAM),
    ...typed(crash.cma ?? [], E820.RAM),
  ];
  const runtimeLeft = subtractRanges(mergeRanges(firmwareRuntime), entries);
  return sortRanges([...entries, ...typed(runtimeLeft, E820.RESERVED)]);
}
