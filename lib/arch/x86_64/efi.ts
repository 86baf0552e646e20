/**
 * EFI as the running x86_64 kernel shows it, read through the SystemView: whether it booted through EFI, the
 * system table's physical addresses (/sys/firmware/efi/{systab,fw_vendor,runtime,config_table,fw_platform_size}),
 * the runtime memory map it set up (/sys/firmware/efi/runtime-map/N/*, CONFIG_EFI_RUNTIME_MAP), whether runtime
 * services are on, Secure Boot (the SecureBoot and SetupMode variables through efivarfs, else boot_params'
 * secure_boot byte; status and the UKI warning read it, a load does not) and boot_params.efi_info. What the next kernel is handed is decided in ./efi_handover.ts.
 *
 * The addresses in /sys/firmware/efi are physical: the kernel keeps the values the firmware gave before
 * SetVirtualAddressMap() turned the system table's pointers into virtual ones.
 *
 * @module
 */

import { parseInteger, readEfiVariable, readText, readTrimmed, type SystemView } from "../../system.ts";
import { splitCmdline } from "../../load/request.ts";
import type { FirmwareStatus, SecureBootState } from "../types.ts";
import type { Range } from "../../memory/ranges.ts";
import { BP } from "./boot_params.ts";

const EFI_DIR = "/sys/firmware/efi";
/** The running kernel's boot_params (struct boot_params, 4096 bytes; root only). */
const BOOT_PARAMS_PATH = "/sys/kernel/boot_params/data";
/** EFI_GLOBAL_VARIABLE: the vendor GUID of SecureBoot and SetupMode. */
const EFI_GLOBAL_GUID = "8be4df61-93ca-11d2-aa0d-00e098032b8c";

/** struct efi_info in boot_params (arch/x86/include/uapi/asm/bootparam.h), at {@link BP.efi_info}. */
export const EFI_INFO = {
  loader_signature: 0x00, // u32, "EL64" / "EL32"
  systab: 0x04, // u32, low half of the system table's physical address
  memdesc_size: 0x08, // u32
  memdesc_version: 0x0c, // u32
  memmap: 0x10, // u32, low half of the memory map's physical address
  memmap_size: 0x14, // u32, bytes
  systab_hi: 0x18, // u32
  memmap_hi: 0x1c, // u32
  size: 0x20,
} as const;

/** efi_info.loader_signature of a 64-bit EFI boot. */
export const EFI64_LOADER_SIGNATURE = "EL64";

/** Size of an EFI page (efi_memory_desc_t.num_pages counts them). */
export const EFI_PAGE_SIZE = 4096n;

/** boot_params.secure_boot values (enum efi_secureboot_mode). */
export const SECURE_BOOT_MODE = { unset: 0, unknown: 1, disabled: 2, enabled: 3 } as const;

/** One runtime memory descriptor, as /sys/firmware/efi/runtime-map/N shows it (efi_memory_desc_t). */
export interface EfiMemoryDescriptor {
  /** EFI memory type (5 runtime code, 6 runtime data, ...). */
  type: number;
  physAddr: bigint;
  /** The virtual address the first kernel gave it through SetVirtualAddressMap(); the next kernel maps it there. */
  virtAddr: bigint;
  /** 4 KiB EFI pages. */
  numPages: bigint;
  attribute: bigint;
}

/**
 * The runtime map: read, absent (CONFIG_EFI_RUNTIME_MAP off, or runtime services off), unreadable (not root), or
 * malformed (an entry with a missing or non-hex field: what kexec-ts cannot hand over, but no reason to refuse a
 * load that does not hand it over).
 */
export type RuntimeMapRead =
  | { kind: "ok"; entries: EfiMemoryDescriptor[] }
  | { kind: "absent" }
  | { kind: "denied" }
  | { kind: "malformed"; why: string };

/** boot_params.efi_info of the running kernel. */
export interface BootEfiInfo {
  /** `EL64`, `EL32`, or the raw four bytes. */
  loaderSignature: string;
  systab: bigint;
  memdescSize: number;
  memdescVersion: number;
  memmapSizeBytes: number;
}

/** Everything kexec-ts reads about the running kernel's EFI. */
export interface EfiFirmware {
  /** 64 or 32 (fw_platform_size); undefined when unreadable. */
  platformBits?: number;
  /** Whether runtime services are on, and the parameter that turned them off. */
  runtimeServices: "on" | "off" | "unknown";
  /** `noefi` or `efi=noruntime`, when the command line turned runtime services off. */
  runtimeOffBy?: string;
  /** `/sys/firmware/efi/systab`: `ACPI20`, `ACPI`, `SMBIOS`, `SMBIOS3`, ... → physical address. */
  tables: Record<string, bigint>;
  /** Physical address of the firmware vendor string (`fw_vendor`). */
  fwVendor?: bigint;
  /** Physical address of the runtime services table (`runtime`). */
  runtime?: bigint;
  /** Physical address of the configuration table array (`config_table`). */
  configTable?: bigint;
  runtimeMap: RuntimeMapRead;
  /** boot_params.efi_info; undefined when /sys/kernel/boot_params/data is unreadable. */
  bootInfo?: BootEfiInfo;
  /** boot_params.secure_boot (enum efi_secureboot_mode); undefined when boot_params is unreadable. */
  bootSecureBoot?: number;
}

/** Whether the running kernel was booted through EFI (it then has /sys/firmware/efi). */
export function bootedThroughEfi(sys: SystemView): boolean {
  return sys.list(EFI_DIR) !== undefined;
}

/** `KEY=0xVALUE` lines of /sys/firmware/efi/systab. */
export function parseEfiSystab(text: string | undefined): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const m of (text ?? "").matchAll(/^([A-Z0-9_]+)=(0x[0-9a-f]+)$/gim)) out[m[1]] = BigInt(m[2]);
  return out;
}

/** The command-line parameter that turned EFI runtime services off (`noefi`, `efi=noruntime`), if any. */
export function runtimeOffParameter(cmdline: string | undefined): string | undefined {
  for (const p of splitCmdline(cmdline ?? "")) {
    if (p === "noefi") return p;
    if (p.startsWith("efi=") && p.slice(4).split(",").includes("noruntime")) return p;
  }
  return undefined;
}

function readAddress(sys: SystemView, path: string): bigint | undefined {
  const t = readTrimmed(sys, path);
  return t === undefined ? undefined : parseInteger(t, 16);
}

/** The files of a runtime-map entry, in efi_memory_desc_t order. */
const RUNTIME_MAP_FIELDS = ["type", "phys_addr", "virt_addr", "num_pages", "attribute"] as const;

/**
 * /sys/firmware/efi/runtime-map/N/{type,phys_addr,virt_addr,num_pages,attribute}, in N order (the kernel's). Never
 * throws: a malformed entry makes the map `malformed` (every load reads it, --noefi ones too).
 */
export function readRuntimeMap(sys: SystemView): RuntimeMapRead {
  const names = sys.list(`${EFI_DIR}/runtime-map`);
  if (names === undefined) return { kind: "absent" };
  const entries: EfiMemoryDescriptor[] = [];
  for (const n of names.filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(a) - Number(b))) {
    const base = `${EFI_DIR}/runtime-map/${n}`;
    const field = (f: string): bigint | "denied" | undefined => {
      const r = sys.read(`${base}/${f}`);
      if (r.kind === "denied") return "denied";
      return r.kind === "ok" ? parseInteger(new TextDecoder().decode(r.bytes), 16) : undefined;
    };
    const values = RUNTIME_MAP_FIELDS.map(field);
    if (values.includes("denied")) return { kind: "denied" };
    const bad = values.indexOf(undefined);
    if (bad >= 0) {
      return { kind: "malformed", why: `${base}/${RUNTIME_MAP_FIELDS[bad]} is missing or not a hex number` };
    }
    const [type, physAddr, virtAddr, numPages, attribute] = values as bigint[];
    entries.push({ type: Number(type), physAddr, virtAddr, numPages, attribute });
  }
  return { kind: "ok", entries };
}

/** The physical ranges of runtime memory descriptors. */
export function runtimeRegions(descs: readonly EfiMemoryDescriptor[]): Range[] {
  return descs.map((d) => ({ start: d.physAddr, end: d.physAddr + d.numPages * EFI_PAGE_SIZE }));
}

/** boot_params.efi_info, from a 4096-byte boot_params image. */
export function bootEfiInfoOf(bootParams: Uint8Array | undefined): BootEfiInfo | undefined {
  if (!bootParams || bootParams.length < BP.size) return undefined;
  const dv = new DataView(bootParams.buffer, bootParams.byteOffset + BP.efi_info, EFI_INFO.size);
  const u32 = (o: number) => dv.getUint32(o, true);
  return {
    loaderSignature: new TextDecoder("latin1").decode(
      bootParams.subarray(BP.efi_info + EFI_INFO.loader_signature, BP.efi_info + EFI_INFO.loader_signature + 4),
    ),
    systab: (BigInt(u32(EFI_INFO.systab_hi)) << 32n) | BigInt(u32(EFI_INFO.systab)),
    memdescSize: u32(EFI_INFO.memdesc_size),
    memdescVersion: u32(EFI_INFO.memdesc_version),
    memmapSizeBytes: u32(EFI_INFO.memmap_size),
  };
}

/** The first byte of a global EFI variable's value, or undefined. */
function efiVarByte(sys: SystemView, name: string): number | undefined {
  return readEfiVariable(sys, name, EFI_GLOBAL_GUID)?.value[0];
}

/** Secure Boot from the SecureBoot and SetupMode variables (efivarfs); undefined when efivarfs does not show them. */
function secureBootFromEfivars(sys: SystemView): SecureBootState | undefined {
  const sb = efiVarByte(sys, "SecureBoot");
  if (sb === undefined) return undefined;
  const setup = efiVarByte(sys, "SetupMode");
  return { state: sb === 1 ? "enabled" : setup === 1 ? "setup-mode" : "disabled", source: "efivars" };
}

/** boot_params.secure_boot of a 4096-byte boot_params image (enum efi_secureboot_mode), or undefined. */
function bootSecureBootOf(bootParams: Uint8Array | undefined): number | undefined {
  return bootParams && bootParams.length >= BP.size ? bootParams[BP.secure_boot] : undefined;
}

/** Secure Boot from boot_params.secure_boot (what the EFI stub found at boot): unknown when unset or unreadable. */
function secureBootFromBootParams(mode: number | undefined): SecureBootState {
  if (mode === SECURE_BOOT_MODE.enabled) return { state: "enabled", source: "boot_params" };
  if (mode === SECURE_BOOT_MODE.disabled) return { state: "disabled", source: "boot_params" };
  return { state: "unknown" };
}

/**
 * Secure Boot from the SecureBoot and SetupMode variables (efivarfs), else from boot_params.secure_boot (what the
 * EFI stub found at boot), else unknown.
 */
export function readSecureBoot(sys: SystemView, bootSecureBoot: number | undefined): SecureBootState {
  return secureBootFromEfivars(sys) ?? secureBootFromBootParams(bootSecureBoot);
}

/**
 * Secure Boot alone, reading no more than it needs: the two variables, and boot_params only when efivarfs does not
 * show them (not the runtime map or the rest of EFI: the UKI command-line warning asks before the machine is read).
 */
export function x86SecureBoot(sys: SystemView): SecureBootState {
  return secureBootFromEfivars(sys) ?? secureBootFromBootParams(bootSecureBootOf(readBootParams(sys)));
}

/** /sys/kernel/boot_params/data, when readable (root). */
export function readBootParams(sys: SystemView): Uint8Array | undefined {
  const r = sys.read(BOOT_PARAMS_PATH);
  return r.kind === "ok" ? r.bytes : undefined;
}

/**
 * Reads the running kernel's EFI; undefined on a machine that did not boot through EFI.
 * @param bootParams /sys/kernel/boot_params/data, when readable
 */
export function readEfiFirmware(sys: SystemView, bootParams: Uint8Array | undefined): EfiFirmware | undefined {
  if (!bootedThroughEfi(sys)) return undefined;
  const runtimeOffBy = runtimeOffParameter(readText(sys, "/proc/cmdline"));
  const runtimeMap = readRuntimeMap(sys);
  const efivars = sys.list(`${EFI_DIR}/efivars`) !== undefined;
  const runtimeServices = runtimeOffBy
    ? "off"
    : (runtimeMap.kind === "ok" && runtimeMap.entries.length > 0) || efivars
    ? "on"
    : "unknown";
  const platform = parseInteger(readTrimmed(sys, `${EFI_DIR}/fw_platform_size`) ?? "");
  return {
    platformBits: platform === undefined ? undefined : Number(platform),
    runtimeServices,
    runtimeOffBy,
    tables: parseEfiSystab(readText(sys, `${EFI_DIR}/systab`)),
    fwVendor: readAddress(sys, `${EFI_DIR}/fw_vendor`),
    runtime: readAddress(sys, `${EFI_DIR}/runtime`),
    configTable: readAddress(sys, `${EFI_DIR}/config_table`),
    runtimeMap,
    bootInfo: bootEfiInfoOf(bootParams),
    bootSecureBoot: bootSecureBootOf(bootParams),
  };
}

/** What `status` shows of the firmware: UEFI or BIOS, runtime services and map, Secure Boot. */
export function x86FirmwareStatus(sys: SystemView): FirmwareStatus {
  const efi = readEfiFirmware(sys, readBootParams(sys));
  if (!efi) return { kind: "bios" };
  const map = efi.runtimeMap;
  return {
    kind: "uefi",
    platformBits: efi.platformBits,
    runtimeServices: efi.runtimeServices,
    runtimeOffBy: efi.runtimeOffBy,
    runtimeMap: map.kind === "ok" ? { kind: "present", entryCount: map.entries.length } : map,
    secureBoot: readSecureBoot(sys, efi.bootSecureBoot),
  };
}
