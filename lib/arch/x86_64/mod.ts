/**
 * x86_64: the {@link Arch} shared code reaches this folder through (lib/arch/mod.ts). Its loaders, its reading of
 * the machine, and its placement and crash-dump rules.
 *
 * @module
 */

import type { Arch } from "../types.ts";
import { KEXEC_UPDATE_ELFCOREHDR } from "../../abi.ts";
import { PAGE_SIZE } from "../../memory/ranges.ts";
import {
  EFI_ARCH_NAME_X86_64,
  ELF_MACHINE_X86_64,
  KEXEC_ARCH_X86_64,
  LOW_RESERVED,
  PE_MACHINE_AMD64,
  START_KERNEL_MAP,
} from "./abi.ts";
import { bzImageLoader, lowDataWindows } from "./bzimage_loader.ts";
import { elfVmlinuxLoader } from "./elf_vmlinux.ts";
import { readX86Machine, x86DestinationLimit, type X86Machine, x86UsableRam } from "./machine.ts";
import { x86FirmwareStatus, x86SecureBoot } from "./efi.ts";
import { x86FileLoadNeedsInitrd } from "./efi_handover.ts";

const MiB = 0x100000n;

/**
 * Free bytes the crash region must keep after our segments: the kernel allocates the control page, the vmcoreinfo
 * safecopy page and the identity-map page tables from it (machine_kexec_prepare). The identity map covers all RAM;
 * with 2 MiB pages that is one page-table page per GiB, plus upper levels and margin.
 */
export function crashSlackBytes(ramTop: bigint): bigint {
  const gib = (ramTop + (1n << 30n) - 1n) >> 30n;
  const pages = 64n + gib * 2n;
  const bytes = pages * PAGE_SIZE;
  return bytes > MiB ? bytes : MiB;
}

/** The x86_64 architecture. */
export const x86_64: Arch<X86Machine> = {
  name: "x86_64",
  kexecArch: KEXEC_ARCH_X86_64,
  efiArchName: EFI_ARCH_NAME_X86_64,
  peMachine: PE_MACHINE_AMD64,
  hotplugFlag: KEXEC_UPDATE_ELFCOREHDR,
  loaders: [bzImageLoader, elfVmlinuxLoader],
  readMachine: readX86Machine,
  usableRam: x86UsableRam,
  destinationLimit: x86DestinationLimit,
  purgatoryWindows: lowDataWindows,
  crashSlackBytes,
  core: { elfMachine: ELF_MACHINE_X86_64, kernelTextBase: START_KERNEL_MAP, lowReserved: LOW_RESERVED },
  firmwareStatus: x86FirmwareStatus,
  secureBoot: x86SecureBoot,
  fileLoadNeedsInitrd: x86FileLoadNeedsInitrd,
};
