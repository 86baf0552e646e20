/**
 * Firmware facts the next kernel needs whether or not EFI is handed over (./efi_handover.ts): the ACPI RSDP, and
 * whether 5-level paging is on.
 *
 * The RSDP: the running kernel's boot_params.acpi_rsdp_addr (/sys/kernel/boot_params/data) is only filled in by
 * the compressed kernel's extract_kernel(); a kernel the EFI stub decompressed itself leaves it 0. Then
 * /sys/firmware/efi/systab has it (ACPI20=, else ACPI=), which is where kexec-tools looks too. On a BIOS machine
 * 0 is fine: the next kernel scans the EBDA and 0xe0000-0xfffff. On an EFI machine it is not: without EFI and
 * without an RSDP the next kernel runs without ACPI, so the load is refused. The kernel's own loader passes it
 * with EFI too (setup_efi_state), and so do we.
 *
 * @module
 */

import { fail, hex } from "../../errors.ts";
import { readText, type SystemView } from "../../system.ts";
import { acpiRsdpOf } from "./boot_params.ts";
import { bootedThroughEfi } from "./efi.ts";

/** ACPI20= (preferred) or ACPI= from /sys/firmware/efi/systab, or 0. */
export function rsdpFromEfiSystab(text: string | undefined): bigint {
  if (text === undefined) return 0n;
  const v20 = /^ACPI20=(0x[0-9a-f]+)$/im.exec(text)?.[1];
  const v10 = /^ACPI=(0x[0-9a-f]+)$/im.exec(text)?.[1];
  return BigInt(v20 ?? v10 ?? 0);
}

/**
 * The RSDP to pass in boot_params, as described above.
 * @throws KexecError("unsupported") on an EFI machine where it cannot be found
 */
export function acpiRsdpFor(sys: SystemView, firmwareBootParams: Uint8Array | undefined): bigint {
  const fromBootParams = acpiRsdpOf(firmwareBootParams);
  if (fromBootParams) return fromBootParams;
  const fromSystab = rsdpFromEfiSystab(readText(sys, "/sys/firmware/efi/systab"));
  if (fromSystab) return fromSystab;
  if (bootedThroughEfi(sys)) {
    fail(
      "unsupported",
      `this machine booted through EFI and kexec-ts cannot find its ACPI RSDP (boot_params acpi_rsdp_addr is ${
        firmwareBootParams ? hex(fromBootParams) : "unreadable"
      }, /sys/firmware/efi/systab has no ACPI20=/ACPI=); the new kernel would run without ACPI: use -s (kexec_file_load)`,
    );
  }
  return 0n;
}

/** Whether 5-level paging is on: /proc/cpuinfo lists "la57" only when CR4.LA57 is set. */
export function la57Enabled(sys: SystemView): boolean {
  const flags = /^flags\s*:(.*)$/m.exec(readText(sys, "/proc/cpuinfo") ?? "")?.[1] ?? "";
  return flags.split(/\s+/).includes("la57");
}

/**
 * Refuses a kernel without XLF_5LEVEL when 5-level paging is on: relocate_kernel keeps CR4.LA57, and such a
 * kernel cannot run with it (the kernel's own bzImage64 loader refuses too).
 * @throws KexecError("bad-image")
 */
export function require5LevelSupport(la57: boolean, supports5Level: boolean, name: string): void {
  if (la57 && !supports5Level) {
    fail("bad-image", `${name}: 5-level paging is on and this kernel cannot run with it (no XLF_5LEVEL in xloadflags)`);
  }
}
