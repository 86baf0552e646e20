/**
 * What an x86_64 load reads of the machine, through the SystemView: the next kernel's memory map (normal loads),
 * the running kernel's boot_params (firmware fields to copy), its EFI (./efi.ts), the ACPI RSDP and whether 5-level
 * paging is on.
 *
 * @module
 */

import type { IomemEntry } from "../../memory/iomem.ts";
import type { SystemView } from "../../system.ts";
import type { LoadKind } from "../../load/request.ts";
import { type E820Entry, ramOf, rebootMemmap } from "./e820.ts";
import { acpiRsdpFor, la57Enabled } from "./firmware.ts";
import { type EfiFirmware, readBootParams, readEfiFirmware, runtimeRegions } from "./efi.ts";
import { MAXMEM_4LEVEL, MAXMEM_5LEVEL } from "./abi.ts";
import { type Range, subtractRanges } from "../../memory/ranges.ts";

/** The machine as an x86_64 load sees it. */
export interface X86Machine {
  /** Normal loads: the next kernel's memory map (firmware memmap); empty for crash loads. */
  memmap: E820Entry[];
  /** The running kernel's /sys/kernel/boot_params/data, when readable (root). */
  firmwareBootParams?: Uint8Array;
  /** The ACPI RSDP for boot_params.acpi_rsdp_addr (0: the next kernel scans the BIOS area). */
  acpiRsdpAddr: bigint;
  /** 5-level paging is on (CR4.LA57). */
  la57: boolean;
  /** The running kernel's EFI; undefined on a machine that did not boot through EFI. */
  efi?: EfiFirmware;
}

/**
 * Reads the machine for a load of `kind`.
 * @throws KexecError("unsupported") on an EFI machine whose RSDP cannot be found; KexecError("io") for a malformed
 *   firmware memmap (a malformed EFI runtime map is not an error: EFI is then withheld, ./efi_handover.ts)
 */
export function readX86Machine(sys: SystemView, iomem: readonly IomemEntry[], kind: LoadKind): X86Machine {
  const firmwareBootParams = readBootParams(sys);
  return {
    memmap: kind === "crash" ? [] : rebootMemmap(sys, iomem),
    firmwareBootParams,
    acpiRsdpAddr: acpiRsdpFor(sys, firmwareBootParams),
    la57: la57Enabled(sys),
    efi: readEfiFirmware(sys, firmwareBootParams),
  };
}

/**
 * RAM a normal load may use: the RAM entries of the next kernel's memory map, minus the EFI runtime regions. Those
 * are reserved in the firmware map except for boot-services regions the kernel had to keep (EFI_MEMORY_RUNTIME set
 * by efi_mem_reserve: the EFI memory attributes table, ESRT, TPM log), which the firmware map still calls RAM; the
 * next kernel reads them through the EFI handed over, so no segment may overwrite them. (kexec-tools does not keep
 * out of them: its initrd can overwrite the memory attributes table, and the next kernel then logs "efi: memattr:
 * Unexpected EFI Memory Attributes table version".) A runtime map that is absent, unreadable or malformed excludes
 * nothing: EFI is then not handed over either.
 */
export function x86UsableRam(m: X86Machine): Range[] {
  const map = m.efi?.runtimeMap;
  return subtractRanges(ramOf(m.memmap), map?.kind === "ok" ? runtimeRegions(map.entries) : []);
}

/** KEXEC_DESTINATION_MEMORY_LIMIT (MAXMEM - 1) for the paging mode in use: every segment must end below it. */
export function x86DestinationLimit(m: X86Machine): bigint {
  return (m.la57 ? MAXMEM_5LEVEL : MAXMEM_4LEVEL) - 1n;
}
