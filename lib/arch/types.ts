/**
 * What shared code needs from an architecture: its kexec numbers, its loaders, its reading of the machine, and its
 * placement and crash-dump rules. An architecture is one folder (lib/arch/x86_64/) exporting one {@link Arch};
 * lib/arch/mod.ts picks it.
 *
 * @module
 */

import type { Range } from "../memory/ranges.ts";
import type { IomemEntry } from "../memory/iomem.ts";
import type { SystemView } from "../system.ts";
import type { ImageLoader } from "../load/contract.ts";
import type { LoadKind } from "../load/request.ts";
import type { CoreDumpFacts } from "../crash/elfcorehdr.ts";

export type { CoreDumpFacts };

/** Secure Boot as the running machine reports it, and where that was read. */
export interface SecureBootState {
  /** `setup-mode`: Secure Boot off because no platform key is enrolled. */
  state: "enabled" | "disabled" | "setup-mode" | "unknown";
  /** `efivars`: the SecureBoot/SetupMode variables; `boot_params`: what the EFI stub found at boot. */
  source?: "efivars" | "boot_params";
}

/** The running machine's firmware, for `status`. */
export type FirmwareStatus =
  | { kind: "bios" }
  | {
    kind: "uefi";
    /** 64 or 32 (fw_platform_size). */
    platformBits?: number;
    /** EFI runtime services in the running kernel. */
    runtimeServices: "on" | "off" | "unknown";
    /** The command-line parameter that turned them off (`noefi`, `efi=noruntime`). */
    runtimeOffBy?: string;
    /** /sys/firmware/efi/runtime-map: what a kexec_load handover of runtime services needs. */
    runtimeMap:
      | { kind: "present"; entryCount: number }
      | { kind: "absent" }
      | { kind: "denied" }
      | { kind: "malformed"; why: string };
    secureBoot: SecureBootState;
  };

/** A window buffers may be placed in, `[min, max)`. */
export interface AddressWindow {
  min: bigint;
  max: bigint;
}

/** An architecture. `M` is what it reads about the machine for a load. */
export interface Arch<M = unknown> {
  /** `x86_64`. */
  name: string;
  /** KEXEC_ARCH_* for the high half of kexec_load's flags. */
  kexecArch: bigint;
  /** Its EFI name (`x64`): Type #1 boot entries' `architecture`. */
  efiArchName: string;
  /** Its PE/COFF Machine (0x8664): UKIs for other machines are skipped. */
  peMachine: number;
  /** The kexec_load flag that allows in-place crash hotplug updates. */
  hotplugFlag: bigint;
  /** Its image loaders, in probing order. */
  loaders: readonly ImageLoader<unknown, M>[];
  /** Reads what a load needs of the machine (memory map, firmware data, paging mode). */
  readMachine(sys: SystemView, iomem: readonly IomemEntry[], kind: LoadKind): M;
  /** RAM a normal (reboot) load may use. */
  usableRam(machine: M): Range[];
  /** KEXEC_DESTINATION_MEMORY_LIMIT: every segment must end below it. */
  destinationLimit(machine: M): bigint;
  /** Where the purgatory goes: windows tried in order, top-down (crash loads: the whole crash region). */
  purgatoryWindows(kind: LoadKind): readonly AddressWindow[];
  /** Free bytes a crash region must keep after our segments, for the kernel's control and page-table pages. */
  crashSlackBytes(ramTop: bigint): bigint;
  core: CoreDumpFacts;
  /** The running machine's firmware as `status` shows it (UEFI or BIOS, runtime services, Secure Boot). */
  firmwareStatus?(sys: SystemView): FirmwareStatus;
  /** Secure Boot alone, reading only what it needs (the UKI command-line warning, before the machine is read). */
  secureBoot?(sys: SystemView): SecureBootState;
  /**
   * Why a kexec_file_load without an initrd must be given one (an empty initramfs), or undefined when it need not:
   * on x86 the kernel's own loader hands EFI over, and a kernel handed EFI must not see ramdisk_size 0.
   */
  fileLoadNeedsInitrd?(sys: SystemView): string | undefined;
}
