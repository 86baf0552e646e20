/**
 * Handing EFI to the next kernel through kexec_load, as the kernel's own kexec_file loader does it
 * (arch/x86/kernel/kexec-bzimage64.c setup_efi_state) and as kexec-tools does it from sysfs
 * (kexec/arch/i386/x86-linux-setup.c setup_efi_info):
 *  - boot_params.efi_info: the loader signature and system table of the running kernel's efi_info, and a memory map
 *    of the runtime regions only (/sys/firmware/efi/runtime-map), each with the virtual address the first kernel gave
 *    it; the next kernel maps them there (kexec_enter_virtual_mode), since SetVirtualAddressMap() runs once per boot;
 *  - a SETUP_EFI setup_data record (struct efi_setup_data): the physical addresses of the firmware vendor string, the
 *    runtime services table, the configuration table array and the SMBIOS entry point, which SetVirtualAddressMap()
 *    turned into virtual ones in the system table itself; its presence is what tells the next kernel it was kexec'd;
 *  - boot_params.secure_boot, copied, and the ACPI RSDP (../firmware.ts).
 *
 * Where that cannot be done (runtime services off, no runtime map, unreadable inputs, --noefi) the next kernel boots
 * as on a BIOS machine: it finds ACPI through acpi_rsdp_addr, and lacks what only EFI gives it; the plan says so and
 * points to -s when the kernel's own loader would do better.
 *
 * @module
 */

import { hex } from "../../errors.ts";
import type { FirmwareHandover, FirmwareRecord } from "../../load/plan.ts";
import type { Range } from "../../memory/ranges.ts";
import {
  bootedThroughEfi,
  EFI64_LOADER_SIGNATURE,
  EFI_INFO,
  type EfiFirmware,
  type EfiMemoryDescriptor,
  runtimeOffParameter,
  runtimeRegions,
} from "./efi.ts";
import { readText, type SystemView } from "../../system.ts";

/** struct efi_setup_data, the SETUP_EFI payload (arch/x86/include/asm/efi.h). */
export const EFI_SETUP_DATA = {
  fw_vendor: 0x00, // u64
  runtime: 0x08, // u64; unused since Linux 5.7, read by older kernels, so filled as kexec-tools does
  tables: 0x10, // u64
  smbios: 0x18, // u64
  reserved: 0x20, // 8 x u64
  size: 0x60,
} as const;

/** efi_memory_desc_t as kexec-ts writes it (efi_info.efi_memdesc_size says how long each is). */
export const EFI_MEMDESC = {
  type: 0x00, // u32
  pad: 0x04, // u32
  phys_addr: 0x08, // u64
  virt_addr: 0x10, // u64
  num_pages: 0x18, // u64, 4 KiB pages
  attribute: 0x20, // u64
  size: 0x28,
} as const;

/** The only EFI memory descriptor version there is; kexec-tools refuses others, and so do we. */
const EFI_MEMDESC_VERSION = 1;

/** What the next kernel lacks when EFI is not handed over on an EFI machine. */
export const EFI_WITHHELD_LACKS =
  "the next kernel will run without EFI runtime services (no efivars for efibootmgr/fwupd, no EFI reset, " +
  "RTC or capsules) and without the EFI configuration tables (no SMBIOS/DMI unless the firmware also has a " +
  "legacy entry point); it finds ACPI through acpi_rsdp_addr";

/** What a load hands over. */
export type EfiHandover =
  | { kind: "none" }
  | {
    kind: "efi";
    systab: bigint;
    memdescVersion: number;
    /** The runtime regions, in the running kernel's order. */
    memmap: EfiMemoryDescriptor[];
    fwVendor: bigint;
    runtime: bigint;
    tables: bigint;
    /** SMBIOS 2.x entry point, 0 when the firmware has none. */
    smbios: bigint;
    /** boot_params.secure_boot to copy. */
    secureBoot: number;
  }
  | {
    kind: "withheld";
    /** Why EFI is not handed over. */
    reason: string;
    /** --noefi: the user asked for it (a note, not a warning). */
    requested: boolean;
    /** What would do better, when something would. */
    hint?: string;
  };

const FILE_LOAD_HINT = "kexec_file_load (-s) hands EFI over from the kernel's own copy of these";

/** What the new kernel says about taking EFI, and what the user asked for. */
export interface EfiHandoverOptions {
  /** --noefi. */
  noefi: boolean;
  /** Why the new kernel cannot take EFI from a kexec loader; absent when it can (a bzImage with XLF_EFI_KEXEC). */
  imageRefusesEfi?: EfiRefusal;
}

/** Why a kernel cannot take EFI from a kexec loader, and what would do better. */
export interface EfiRefusal {
  reason: string;
  hint?: string;
}

/** Why a bzImage without XLF_EFI_KEXEC gets no EFI. */
export const NO_XLF_EFI_KEXEC: EfiRefusal = {
  reason: "the new kernel cannot take EFI from kexec (no XLF_EFI_KEXEC in its xloadflags)",
};

/**
 * What to hand over, in the kernel's order of checks (setup_efi_state) plus kexec-tools' (descriptor version,
 * XLF_EFI_KEXEC). `efi` undefined: the machine did not boot through EFI.
 */
export function decideEfiHandover(efi: EfiFirmware | undefined, opts: EfiHandoverOptions): EfiHandover {
  if (!efi) return { kind: "none" };
  const withheld = (reason: string, hint?: string, requested = false): EfiHandover => ({
    kind: "withheld",
    reason,
    requested,
    hint,
  });
  if (opts.noefi) return withheld("--noefi", undefined, true);
  if (efi.platformBits !== undefined && efi.platformBits !== 64) {
    return withheld(
      `the firmware is ${efi.platformBits}-bit EFI (fw_platform_size), which a 64-bit kexec cannot hand over`,
    );
  }
  if (opts.imageRefusesEfi) return withheld(opts.imageRefusesEfi.reason, opts.imageRefusesEfi.hint);
  if (efi.runtimeServices === "off") {
    return withheld(`EFI runtime services are off in this kernel (${efi.runtimeOffBy} on its command line)`);
  }
  const info = efi.bootInfo;
  if (!info) {
    return withheld("/sys/kernel/boot_params/data is unreadable (run as root)", FILE_LOAD_HINT);
  }
  if (info.loaderSignature !== EFI64_LOADER_SIGNATURE || info.memmapSizeBytes === 0 || info.systab === 0n) {
    return withheld(
      `boot_params.efi_info of this kernel holds no 64-bit EFI boot (signature ${
        JSON.stringify(info.loaderSignature.replace(/\0/g, ""))
      }, memmap ${info.memmapSizeBytes} bytes)`,
    );
  }
  if (info.memdescVersion !== EFI_MEMDESC_VERSION) {
    return withheld(`EFI memory descriptor version ${info.memdescVersion} (only 1 is defined)`, FILE_LOAD_HINT);
  }
  const map = efi.runtimeMap;
  if (map.kind === "denied") {
    return withheld("/sys/firmware/efi/runtime-map is unreadable (run as root)", FILE_LOAD_HINT);
  }
  if (map.kind === "malformed") return withheld(`the runtime map is malformed: ${map.why}`, FILE_LOAD_HINT);
  if (map.kind === "absent" || map.entries.length === 0) {
    return withheld(
      "this kernel exports no /sys/firmware/efi/runtime-map (built without CONFIG_EFI_RUNTIME_MAP, or its " +
        "runtime services failed to start)",
      "kexec_file_load (-s) passes at least the EFI system and configuration tables (SMBIOS/DMI)",
    );
  }
  if (efi.fwVendor === undefined || efi.configTable === undefined) {
    return withheld("/sys/firmware/efi lacks fw_vendor or config_table", FILE_LOAD_HINT);
  }
  return {
    kind: "efi",
    systab: info.systab,
    memdescVersion: info.memdescVersion,
    memmap: map.entries,
    fwVendor: efi.fwVendor,
    runtime: efi.runtime ?? 0n,
    tables: efi.configTable,
    smbios: efi.tables.SMBIOS ?? 0n,
    secureBoot: efi.bootSecureBoot ?? 0,
  };
}

/**
 * Why a kernel handed EFI needs an initrd, even an empty one: with boot_params.ramdisk_size 0 it takes the EFI
 * configuration table LINUX_EFI_INITRD_MEDIA for its initrd (efi_config_parse_tables, x86 get_ramdisk_size), and after
 * a kexec that table is the first boot's EFI stub's, pointing at memory long reused. Measured with Debian's 6.12.117:
 * the next kernel panics at once, "Cannot find place for new RAMDISK" (kexec-tools too). Fixed in the first kernel
 * in 2026 ("efi: Wipe INITRD config table from memory after consumption").
 */
export const EFI_NEEDS_INITRD = "a kernel handed EFI with ramdisk_size 0 takes the first boot's stale " +
  'LINUX_EFI_INITRD_MEDIA table for its initrd and panics ("Cannot find place for new RAMDISK") unless this kernel ' +
  'has the 2026 fix "efi: Wipe INITRD config table from memory after consumption"';

/**
 * kexec_file_load with no initrd on an EFI machine whose kernel has runtime services: the kernel's own loader
 * (setup_efi_state) hands EFI over, so it must be given an empty initramfs; the note saying so, or undefined.
 */
export function x86FileLoadNeedsInitrd(sys: SystemView): string | undefined {
  if (!bootedThroughEfi(sys) || runtimeOffParameter(readText(sys, "/proc/cmdline")) !== undefined) return undefined;
  return `no initrd: an empty initramfs (a 512-byte cpio trailer) is passed through a memfd, because the kernel's ` +
    `kexec_file loader hands EFI over and ${EFI_NEEDS_INITRD}`;
}

/** Bytes of the EFI memory map handed over (0 when none). */
export function efiMemmapSize(h: EfiHandover): number {
  return h.kind === "efi" ? h.memmap.length * EFI_MEMDESC.size : 0;
}

/** The runtime memory map as efi_memory_desc_t records. */
export function efiMemmapBytes(descs: readonly EfiMemoryDescriptor[]): Uint8Array {
  const out = new Uint8Array(descs.length * EFI_MEMDESC.size);
  const dv = new DataView(out.buffer);
  descs.forEach((d, i) => {
    const o = i * EFI_MEMDESC.size;
    dv.setUint32(o + EFI_MEMDESC.type, d.type, true);
    dv.setBigUint64(o + EFI_MEMDESC.phys_addr, d.physAddr, true);
    dv.setBigUint64(o + EFI_MEMDESC.virt_addr, d.virtAddr, true);
    dv.setBigUint64(o + EFI_MEMDESC.num_pages, d.numPages, true);
    dv.setBigUint64(o + EFI_MEMDESC.attribute, d.attribute, true);
  });
  return out;
}

/** boot_params.efi_info for a handover whose memory map lives at `memmapAddr`. */
export function efiInfoBytes(h: Extract<EfiHandover, { kind: "efi" }>, memmapAddr: bigint): Uint8Array {
  const out = new Uint8Array(EFI_INFO.size);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(EFI64_LOADER_SIGNATURE), EFI_INFO.loader_signature);
  dv.setUint32(EFI_INFO.systab, Number(h.systab & 0xffffffffn), true);
  dv.setUint32(EFI_INFO.systab_hi, Number(h.systab >> 32n), true);
  dv.setUint32(EFI_INFO.memdesc_size, EFI_MEMDESC.size, true);
  dv.setUint32(EFI_INFO.memdesc_version, h.memdescVersion, true);
  dv.setUint32(EFI_INFO.memmap, Number(memmapAddr & 0xffffffffn), true);
  dv.setUint32(EFI_INFO.memmap_hi, Number(memmapAddr >> 32n), true);
  dv.setUint32(EFI_INFO.memmap_size, efiMemmapSize(h), true);
  return out;
}

/** The SETUP_EFI payload. */
export function efiSetupDataBytes(h: Extract<EfiHandover, { kind: "efi" }>): Uint8Array {
  const out = new Uint8Array(EFI_SETUP_DATA.size);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(EFI_SETUP_DATA.fw_vendor, h.fwVendor, true);
  dv.setBigUint64(EFI_SETUP_DATA.runtime, h.runtime, true);
  dv.setBigUint64(EFI_SETUP_DATA.tables, h.tables, true);
  dv.setBigUint64(EFI_SETUP_DATA.smbios, h.smbios, true);
  return out;
}

/** The physical ranges of the runtime regions handed over (the capture kernel keeps them reserved). */
export function efiRuntimeRanges(h: EfiHandover): Range[] {
  if (h.kind !== "efi") return [];
  return runtimeRegions(h.memmap);
}

/**
 * The plan's account of the handover: the records passed (with the addresses they got) and, on an EFI machine
 * whose EFI is not handed over, why and what the next kernel lacks.
 */
export function describeEfiHandover(
  h: EfiHandover,
  at: { memmapAddr?: bigint; setupDataAddr?: bigint; acpiRsdpAddr: bigint },
): FirmwareHandover {
  const records: FirmwareRecord[] = [];
  if (h.kind === "efi") {
    records.push({
      name: "efi_info",
      detail: `${EFI64_LOADER_SIGNATURE}, system table ${
        hex(h.systab)
      }, ${h.memmap.length} runtime descriptors of ${EFI_MEMDESC.size} bytes at ${hex(at.memmapAddr ?? 0n)}`,
    });
    records.push({
      name: "SETUP_EFI",
      detail: `at ${hex(at.setupDataAddr ?? 0n)}: fw_vendor ${hex(h.fwVendor)}, runtime ${hex(h.runtime)}, tables ${
        hex(h.tables)
      }, smbios ${hex(h.smbios)}`,
    });
    records.push({ name: "secure_boot", detail: `${h.secureBoot} (copied from boot_params)` });
  }
  if (at.acpiRsdpAddr) records.push({ name: "acpi_rsdp_addr", detail: hex(at.acpiRsdpAddr) });
  if (h.kind === "withheld") {
    return {
      machine: "uefi",
      handover: "bios",
      records,
      withheld: { reason: h.reason, requested: h.requested, lacks: EFI_WITHHELD_LACKS, hint: h.hint },
    };
  }
  return { machine: h.kind === "none" ? "bios" : "uefi", handover: h.kind === "efi" ? "efi" : "bios", records };
}
