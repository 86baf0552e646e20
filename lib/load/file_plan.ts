/**
 * The kexec_file_load side of a load (./load.ts): what the syscall gets (paths' descriptors, or memfds of contents
 * kexec-ts read or made), and the checks made on exactly that before it, since the kernel frees a loaded crash kernel
 * before it checks anything itself.
 *
 * @module
 */

import { KexecError } from "../errors.ts";
import { KEXEC_FILE_ON_CRASH } from "../abi.ts";
import type { SystemView } from "../system.ts";
import type { FileInput, RunEnv } from "../runtime.ts";
import type { Arch } from "../arch/mod.ts";
import type { InputFile } from "../files.ts";
import { emptyInitramfs } from "./initramfs.ts";
import { memTotalBytes } from "./build.ts";
import { checkFileLoad, type InputFacts } from "./file_load.ts";
import type { LoadInputs } from "./inputs.ts";
import type { ImageInfo } from "./image_info.ts";
import type { LoadRequest } from "./request.ts";

/** The inputs of a kexec_file_load: the kernel lays out the segments itself. */
export interface FileLoadPlan {
  /** Path of the kernel image (for a UKI: the UKI, whose kernel goes through a memfd). */
  kernel: string;
  /** Path of the initrd, if any (several, or a UKI's, are joined and go through a memfd: see `initrdParts`). */
  initrd?: string;
  /** The command line, as the kernel will get it. */
  cmdline: string;
  /** kexec_file_load flags (KEXEC_FILE_ON_CRASH, ...). */
  flags: bigint;
  /** The kernel's bytes when they are part of the file (a UKI's `.linux`): passed as a memfd, never a temporary file. */
  kernelBytes?: Uint8Array;
  /** The initrd's bytes when they are not one file of their own (joined pieces): passed as a memfd. */
  initrdBytes?: Uint8Array;
  /** What a UKI or boot entry said about itself. */
  image?: ImageInfo;
  /** Crash loads: what the kernel checks after freeing the loaded crash kernel and kexec-ts could not check. */
  unchecked: string[];
  /** Remarks for the user (an initrd kexec-ts added); absent when there is none. */
  notes?: string[];
}

/**
 * What kexec_file_load would refuse, checked before that syscall (./file_load.ts and the image's loader), on the
 * inputs as the syscall will get them: the descriptors kexec-ts opened, or memfds of bytes already read.
 * @returns what could not be checked and matters for a crash load
 * @throws KexecError naming the check
 */
export function fileLoadPreChecks(
  req: LoadRequest,
  inputs: LoadInputs,
  p: FileLoadPlan,
  env: RunEnv,
  arch: Arch,
): string[] {
  const memfd = (name: string, bytes: Uint8Array): InputFacts => ({
    path: name,
    isFile: true,
    sizeBytes: BigInt(bytes.length),
  });
  return checkFileLoad(
    {
      req,
      cmdline: p.cmdline,
      loader: inputs.loader,
      image: inputs.image,
      kernel: p.kernelBytes ? memfd(`${p.kernel} (its kernel)`, p.kernelBytes) : openFacts(inputs.files.kernel),
      kernelBytes: inputs.kernel,
      initrd: p.initrdBytes
        ? memfd(p.initrd ?? "initrd", p.initrdBytes)
        : p.initrd === undefined
        ? undefined
        : openFacts(inputs.files.initrds[0]),
      totalRamBytes: memTotalBytes(env.sys),
    },
    env.sys,
    arch,
  );
}

/** With -a, why kexec_file_load is not tried: a note for the kexec_load plan. */
export function skippedFileLoadNote(inputs: LoadInputs, refusal: KexecError): string {
  return inputs.loader.fileLoadCheck
    ? `kexec_file_load skipped (${refusal.message.replace(/; use -c \(kexec_load\)$/, "")}); kexec_load used`
    : `kexec_file_load has no ${inputs.loader.name} loader; kexec_load used`;
}

/**
 * The kexec_file_load inputs: paths where the kernel can open a file of its own, memfd contents otherwise. With no
 * initrd where the architecture says the kernel's loader needs one (x86 EFI: ../arch/x86_64/efi_handover.ts), an
 * empty initramfs.
 */
export function filePlanOf(
  req: LoadRequest,
  inputs: LoadInputs,
  crash: boolean,
  arch: Arch,
  sys: SystemView,
): FileLoadPlan {
  const name = req.kernel.slice(req.kernel.lastIndexOf("/") + 1);
  const plan: FileLoadPlan = {
    kernel: req.kernel,
    initrd: inputs.initrdPath ?? (inputs.initrd ? `${name}:initrd (memfd)` : undefined),
    cmdline: inputs.cmdline,
    flags: crash ? KEXEC_FILE_ON_CRASH : 0n,
    kernelBytes: inputs.kernelIsPart ? inputs.kernel : undefined,
    initrdBytes: inputs.initrdPath === undefined ? inputs.initrd : undefined,
    image: inputs.info,
    unchecked: [],
  };
  const why = plan.initrd === undefined ? arch.fileLoadNeedsInitrd?.(sys) : undefined;
  if (why) {
    return { ...plan, initrd: `${name}:initrd (memfd, empty initramfs)`, initrdBytes: emptyInitramfs(), notes: [why] };
  }
  return plan;
}

/**
 * What the syscall reads: the open files' descriptors (what was checked is what the kernel gets), or memfds named
 * after the file for contents that are not a file of their own.
 */
export function fileInputs(p: FileLoadPlan, inputs: LoadInputs): { kernel: FileInput; initrd?: FileInput } {
  const name = p.kernel.slice(p.kernel.lastIndexOf("/") + 1);
  return {
    kernel: p.kernelBytes ? { name: `${name}:kernel`, bytes: p.kernelBytes } : descriptor(inputs.files.kernel),
    initrd: p.initrdBytes
      ? { name: `${name}:initrd`, bytes: p.initrdBytes }
      : p.initrd !== undefined
      ? descriptor(inputs.files.initrds[0])
      : undefined,
  };
}

/** The open descriptor of an input file, for kexec_file_load. */
function descriptor(f: InputFile): number {
  if (f.fd === undefined) throw new KexecError("permission", "kexec_file_load needs --allow-ffi");
  return f.fd;
}

/** The facts of a file kexec-ts opened, as the kernel's checks of the descriptor see it (no second open by path). */
function openFacts(f: InputFile): InputFacts {
  const isFile = f.kind === "file";
  return {
    path: f.path,
    isFile,
    // A pipe's size is known only by reading it, and the check refuses a pipe anyway: never read it here.
    sizeBytes: isFile ? BigInt(f.sizeBytes) : 0n,
    openForWriting: f.openForWriting,
    leased: f.leased,
  };
}
