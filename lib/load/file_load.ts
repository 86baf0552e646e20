/**
 * The kexec_file_load pre-checks: what the kernel's kexec_file_load path refuses, checked before the syscall. For a
 * crash load the kernel frees the loaded crash kernel (kernel/kexec_file.c:396) before it reads a byte of the new
 * one, so every refusal we can foresee must be ours; what we cannot foresee is said before the syscall.
 *
 * {@link KEXEC_FILE_CHECKS} lists the kernel's arch-neutral checks (the syscall, kimage_file_prepare_segments,
 * kernel_read_file, sanity_check_segment_list), each with its line in Linux 6.12.117 and kexec-ts' counterpart;
 * the image's loader lists its own (lib/arch/x86_64/bzimage_file_load.ts). A table test makes each check fail.
 *
 * The file facts come in as {@link InputFacts} (regular file, size), with the loader, the parsed image and the bytes
 * ../load/inputs.ts read once; a memfd (a UKI's kernel, joined initrds) is a regular file of its bytes' size.
 *
 * @module
 */

import { fail, KexecError } from "../errors.ts";
import { readLockdown, readText, readTrimmed, type SystemView } from "../system.ts";
import { errnoContext, permissionRefusal } from "../runtime.ts";
import { readIomem } from "../memory/iomem.ts";
import { requireCrashRegions } from "../crash/region.ts";
import { dumpRamRanges, parseCpuList } from "../crash/elfcorehdr.ts";
import { readHotplugSysfs } from "../crash/hotplug.ts";
import { EHDR_SIZE, PHDR_SIZE } from "../elf/constants.ts";
import type { Arch } from "../arch/types.ts";
import type { FileLoadInput, ImageLoader, KernelCheck } from "./contract.ts";
import { COFF, DOS, hasMzMagic, OPT, OPT32, OPT64, PE32_MAGIC, PE32PLUS_MAGIC } from "../images/pe.ts";
import type { LoadRequest } from "./request.ts";

/** `KEXEC_FILE_SIZE_MAX` (kernel/kexec_file.c:59): the largest kernel or initrd kexec_file_load reads. */
export const KEXEC_FILE_SIZE_MAX = 4n << 30n;

const KF = "kernel/kexec_file.c";
const RF = "fs/kernel_read_file.c";
const KC = "kernel/kexec_core.c";

/** The kernel's arch-neutral kexec_file_load checks, in the order it makes them, with ours. */
export const KEXEC_FILE_CHECKS: readonly KernelCheck[] = [
  {
    source: `${KC}:1023`,
    kernel: "caller lacks CAP_SYS_BOOT, or kernel.kexec_load_disabled is 1",
    errno: "EPERM",
    afterFree: false,
    ours:
      "checkFileLoad: /proc/sys/kernel/kexec_load_disabled (CAP_SYS_BOOT is left to the kernel: it refuses before freeing anything)",
  },
  {
    source: `${KC}:1030`,
    kernel: "kernel.kexec_load_limit_panic (or _reboot) is 0",
    errno: "EPERM",
    afterFree: false,
    ours: "checkFileLoad: /proc/sys/kernel/kexec_load_limit_{panic,reboot}",
  },
  {
    source: `${KF}:370`,
    kernel: "flags outside KEXEC_FILE_FLAGS",
    errno: "EINVAL",
    afterFree: false,
    ours: "by construction: kexec-ts passes only KEXEC_FILE_ON_CRASH and KEXEC_FILE_NO_INITRAMFS",
  },
  {
    source: `${KF}:375`,
    kernel: "another kexec operation holds the kexec lock",
    errno: "EBUSY",
    afterFree: false,
    unchecked: "another kexec operation holding the kernel's kexec lock (kexec-ts loads serialise on load.lock)",
  },
  {
    source: `${RF}:48`,
    kernel: "kernel or initrd is not a regular file",
    errno: "EINVAL",
    afterFree: true,
    ours: "checkInputFile: a regular file",
  },
  {
    source: `${RF}:51`,
    kernel: "kernel or initrd is open for writing (deny_write_access)",
    errno: "ETXTBSY",
    afterFree: true,
    ours:
      "checkInputFile: the read lease on the file kexec-ts opened is refused while a writer has it open; once taken it keeps writers out until the syscall returned (../files.ts)",
  },
  {
    source: `${RF}:56`,
    kernel: "kernel or initrd is empty",
    errno: "EINVAL",
    afterFree: true,
    ours: "checkInputFile: size > 0",
  },
  {
    source: `${RF}:66`,
    kernel: "kernel or initrd larger than KEXEC_FILE_SIZE_MAX (4 GiB, kernel/kexec_file.c:59)",
    errno: "EFBIG",
    afterFree: true,
    ours: "checkInputFile: size <= 4 GiB",
  },
  {
    source: `${RF}:72`,
    kernel: "an LSM (IMA appraisal, LoadPin, SELinux) refuses the read",
    errno: "EACCES/EPERM",
    afterFree: true,
    unchecked: "what IMA, LoadPin or SELinux let the kernel read",
  },
  {
    source: `${RF}:105`,
    kernel: "the file's size changed while the kernel read it",
    errno: "EIO",
    afterFree: true,
    unchecked: "that the files do not change between kexec-ts' checks and the kernel's read",
  },
  {
    source: `${KF}:183`,
    kernel: "KEXEC_SIG enforced (CONFIG_KEXEC_SIG_FORCE, or Secure Boot's IMA arch policy) and the signature fails",
    errno: "ENODATA/EKEYREJECTED/ENOKEY/EBADMSG/ELIBBAD",
    afterFree: true,
    unchecked: "whether the image's signature verifies against the kernel's keys",
  },
  {
    source: `${KF}:193`,
    kernel: "lockdown (integrity or confidentiality), the signature fails, and IMA does not appraise kexec images",
    errno: "EPERM",
    afterFree: true,
    ours: "checkFileLoad: under lockdown the image must carry an Authenticode signature, unless IMA may appraise " +
      "kexec images (a policy rule for KEXEC_KERNEL_CHECK, ima_policy= on the command line, Secure Boot)",
  },
  {
    source: `${KF}:268`,
    kernel: "command line not NUL-terminated (a NUL inside silently ends it)",
    errno: "EINVAL",
    afterFree: true,
    ours: "checkFileLoad: no NUL inside the command line (the NUL at the end is added by ffi/kexec.ts)",
  },
  {
    source: `${KF}:306`,
    kernel: "the kernel's own allocations (kimage, file buffers, elf headers, digests)",
    errno: "ENOMEM",
    afterFree: true,
    unchecked: "the kernel's own memory allocations",
  },
  {
    source: `${KF}:330`,
    kernel: "no free page in the crash region for the control page (and machine_kexec_prepare's page tables, :408)",
    errno: "ENOMEM",
    afterFree: true,
    ours: "loader fileLoadCheck: the architecture's crash slack counted in the crash region total",
  },
];

/** What kexec-ts knows of an input file: what fstat would say, and whether another process has it open for writing. */
export interface InputFacts {
  path: string;
  isFile: boolean;
  sizeBytes: bigint;
  /** Another process had it open for writing when kexec-ts opened it (kernel_read_file's deny_write_access). */
  openForWriting?: boolean;
  /**
   * False when no read lease could be taken on it (leases off, a file system without them): then a writer may still
   * open it before the kernel reads it. Undefined for contents kexec-ts passes through a memfd.
   */
  leased?: boolean;
}

/**
 * A refusal only kexec_file_load makes of an input file that kexec_load takes as it is (a pipe, a file open for
 * writing): with -a, kexec_load is used at once.
 */
export class FileOnlyRefusal extends KexecError {}

/**
 * What kernel_read_file refuses of a kernel or initrd (fs/kernel_read_file.c:48, :56, :66; deny_write_access).
 * @throws FileOnlyRefusal("io")
 */
export function checkInputFile(f: InputFacts, what: "kernel" | "initrd"): void {
  const bad = (why: string): never => fail("io", `kexec_file_load cannot take ${what} ${f.path}: ${why}`);
  const fileOnly = (why: string): never => {
    throw new FileOnlyRefusal("io", `kexec_file_load cannot take ${what} ${f.path}: ${why}; use -c (kexec_load)`);
  };
  if (!f.isFile) fileOnly("it is not a regular file");
  if (f.openForWriting) fileOnly("another process has it open for writing (ETXTBSY)");
  if (f.sizeBytes === 0n) bad("it is empty");
  if (f.sizeBytes > KEXEC_FILE_SIZE_MAX) bad(`it is ${f.sizeBytes} bytes, more than the kernel's 4 GiB limit`);
}

/** IMAGE_DIRECTORY_ENTRY_SECURITY: the data directory of the Authenticode certificate table (a file offset, size). */
const SECURITY_DIRECTORY = 4;

/**
 * Whether an image carries an Authenticode signature: a non-empty certificate table inside the file (what the
 * kernel's verify_pefile_signature looks for first); `not-pe` when not a PE image. Its validity is not checked.
 */
export function authenticodeSignature(bytes: Uint8Array): "signed" | "unsigned" | "not-pe" {
  if (!hasMzMagic(bytes) || bytes.length < DOS.size) return "not-pe";
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lfanew = dv.getUint32(DOS.e_lfanew, true);
  const optAt = lfanew + COFF.size;
  if (optAt + 2 > bytes.length || dv.getUint32(lfanew + COFF.signature, true) !== 0x00004550) return "not-pe"; // "PE\0\0"
  const magic = dv.getUint16(optAt + OPT.magic, true);
  if (magic !== PE32PLUS_MAGIC && magic !== PE32_MAGIC) return "not-pe";
  const layout = magic === PE32PLUS_MAGIC ? OPT64 : OPT32;
  const dir = optAt + layout.dataDirectory + SECURITY_DIRECTORY * 8;
  if (dir + 8 > bytes.length) return "not-pe";
  if (dv.getUint32(optAt + layout.numberOfRvaAndSizes, true) <= SECURITY_DIRECTORY) return "unsigned";
  const at = dv.getUint32(dir, true), size = dv.getUint32(dir + 4, true);
  return size > 0 && at + size <= bytes.length ? "signed" : "unsigned";
}

/** Whether Secure Boot is on, as the architecture reads the firmware: false on BIOS, undefined when unknown. */
export function secureBootOn(sys: SystemView, arch: Arch): boolean | undefined {
  let fw;
  try {
    fw = arch.firmwareStatus?.(sys);
  } catch {
    return undefined; // a malformed EFI runtime map: Secure Boot is not what failed, but it is not known either
  }
  if (!fw) return undefined;
  if (fw.kind === "bios") return false;
  return fw.secureBoot.state === "enabled" ? true : fw.secureBoot.state === "unknown" ? undefined : false;
}

/**
 * Whether IMA appraises kexec images with a signature (ima_appraise_signature(), which lets kexec_file_load take
 * an image without a kernel signature under lockdown): false when surely not, true or undefined (unknown) otherwise.
 *  - no IMA in securityfs: false;
 *  - a readable policy (CONFIG_IMA_READ_POLICY): whether an appraise rule covers KEXEC_KERNEL_CHECK;
 *  - an unreadable one: no custom policy was loaded (loading one removes the file), so the boot-time policy rules:
 *    unknown when the command line asks for an appraising policy or Secure Boot may bring the arch policy, else false;
 *  - none (a custom policy was loaded and the file removed): unknown.
 */
export function imaAppraisesKexec(sys: SystemView, arch: Arch): boolean | undefined {
  if (sys.list("/sys/kernel/security/ima") === undefined) {
    return sys.list("/sys/kernel/security") === undefined ? undefined : false;
  }
  const r = sys.read("/sys/kernel/security/ima/policy");
  if (r.kind === "ok") {
    return new TextDecoder().decode(r.bytes).split("\n").some((l) =>
      /^appraise\b/.test(l) && (/\bfunc=KEXEC_KERNEL_CHECK\b/.test(l) || !/\bfunc=/.test(l))
    );
  }
  if (r.kind === "absent") return undefined;
  const cmdline = readText(sys, "/proc/cmdline") ?? "";
  if (/(^|\s)(ima_policy=\S*(secure_boot|appraise_tcb)|ima_appraise_tcb)(\s|$)/.test(cmdline)) return undefined;
  return secureBootOn(sys, arch) === false ? false : undefined;
}

/** Everything {@link checkFileLoad} looks at. */
export interface FileLoadFacts {
  req: LoadRequest;
  /** The command line as kexec_file_load will get it. */
  cmdline: string;
  /** The kernel's loader and its parsed image (../load/inputs.ts). */
  loader: ImageLoader<unknown, unknown>;
  image: unknown;
  kernel: InputFacts;
  /** The kernel's bytes (the file, or the kernel inside it). */
  kernelBytes: Uint8Array;
  initrd?: InputFacts;
  /** MemTotal, when known. */
  totalRamBytes?: bigint;
}

/** The elfcorehdr memsz the kernel reserves for a kexec_file_load crash image (arch/x86/kernel/crash.c:374-393). */
function kernelElfcorehdrBytes(sys: SystemView, ram: number): bigint {
  const hotplug = readHotplugSysfs(sys).elfcorehdrSizeBytes;
  if (hotplug !== undefined) return hotplug + BigInt(EHDR_SIZE);
  const cpus = parseCpuList(readTrimmed(sys, "/sys/devices/system/cpu/possible") ?? "0").length;
  return BigInt(EHDR_SIZE + (cpus + 2 + ram) * PHDR_SIZE);
}

/**
 * Makes every check of {@link KEXEC_FILE_CHECKS} and the image loader's, before kexec_file_load.
 * @returns what could not be checked and matters (the kernel checks it after freeing a loaded crash kernel)
 * @throws KexecError: "permission" and "io" for what kexec_load would meet as well; "bad-image" and "layout" for
 *   what only kexec_file_load refuses (so `-a` may fall back to kexec_load); "unsupported" when the kernel's
 *   kexec_file_load has no loader for the image
 */
export function checkFileLoad(facts: FileLoadFacts, sys: SystemView, arch: Arch): string[] {
  const { req } = facts;
  const crash = req.kind === "crash";
  const refusal = permissionRefusal("kexec_file_load", errnoContext({ sys, uid: 0 }, crash));
  if (refusal) fail("permission", refusal);
  checkInputFile(facts.kernel, "kernel");
  if (facts.initrd) checkInputFile(facts.initrd, "initrd");
  if (facts.cmdline.includes("\0")) fail("usage", "the command line contains a NUL byte");

  const { loader, image } = facts;
  if (!loader.fileLoadCheck) {
    throw new KexecError("unsupported", `kexec_file_load cannot load ${loader.name} images; use -c (kexec_load)`);
  }
  const input: FileLoadInput = {
    kind: req.kind,
    cmdline: facts.cmdline,
    initrdBytes: facts.initrd?.sizeBytes ?? 0n,
    sys,
    totalRamBytes: facts.totalRamBytes,
  };
  if (crash) {
    const iomem = readIomem(sys);
    const regions = requireCrashRegions(sys, iomem);
    const ram = dumpRamRanges(iomem, regions, arch.core.lowReserved);
    const ramTop = ram.reduce((m, r) => (r.end > m ? r.end : m), regions.main.end);
    input.crash = {
      region: regions.main,
      elfcorehdrBytes: kernelElfcorehdrBytes(sys, ram.length),
      slackBytes: arch.crashSlackBytes(ramTop),
    };
  }
  loader.fileLoadCheck(image, input);

  const lockdown = readLockdown(sys);
  if (lockdown === "integrity" || lockdown === "confidentiality") {
    if (authenticodeSignature(facts.kernelBytes) !== "signed" && imaAppraisesKexec(sys, arch) === false) {
      fail(
        "permission",
        `kexec_file_load under lockdown (${lockdown}) needs a signed kernel, and ${req.kernel} carries no ` +
          "signature; use the distribution's signed kernel, or boot without lockdown",
      );
    }
  }
  const unleased = [facts.kernel, facts.initrd].filter((f) => f?.isFile && f.leased === false).map((f) => f!.path);
  return [
    ...[...KEXEC_FILE_CHECKS, ...(loader.fileLoadChecks ?? [])].filter((c) => c.afterFree && c.unchecked)
      .map((c) => c.unchecked!),
    ...(unleased.length
      ? [
        `whether another process opens ${
          unleased.join(" or ")
        } for writing first (ETXTBSY; no read lease could be taken)`,
      ]
      : []),
  ];
}

/** The line said before a crash kexec_file_load about what could not be checked. */
export function uncheckedNote(unchecked: readonly string[]): string {
  return "kexec_file_load frees the loaded crash kernel before it checks what kexec-ts cannot: " +
    unchecked.join("; ") + "; if it refuses, no crash kernel stays loaded (with -c kexec-ts checks everything first)";
}
