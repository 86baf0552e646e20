/**
 * What a load is made of, from a LoadRequest: the kernel file's loader and parsed image, the initrd as one buffer
 * and the command line, with a wrapped image (a UKI) unwrapped first (./loaders.ts). Both syscalls start here:
 * kexec_load plans from these bytes, kexec_file_load gets the same open files (their descriptors) or, when the
 * kernel is part of a file or the initrd is made of several, memfds.
 *
 * Each file is opened once (../files.ts: mapped where possible, read where not) and stays open until
 * {@link LoadInputs.close}: the checks, the SHA-256 and the syscall all use that open file, and a read lease keeps
 * writers out meanwhile. A load closes its inputs after the syscall.
 *
 * How a wrapper's pieces and the request's combine (systemd-stub's rules, see ../images/uki.ts):
 *  - initrd: the wrapper's leading pieces (`.ucode`), the request's initrds, the wrapper's trailing pieces
 *    (`.initrd`), each but the last zero-padded to a multiple of 4 bytes;
 *  - command line: the request's (`--reuse-cmdline`, `--append`/`--command-line`) when it is not empty, else the
 *    wrapper's (`.cmdline`): the request's replaces the wrapper's, it is never merged. A request line starting with
 *    `@N ` selects a UKI's profile N, as the stub's load options do.
 *
 * @module
 */

import { fail } from "../errors.ts";
import { type InputFile, openInput } from "../files.ts";
import type { SystemView } from "../system.ts";
import type { Arch } from "../arch/types.ts";
import { splitProfilePrefix } from "../images/uki.ts";
import type { ImageInfo, ImageLoader, ImagePart } from "./contract.ts";
import { pickImage } from "./loaders.ts";
import { composeCmdline, type LoadRequest } from "./request.ts";

/** A load's inputs, read and checked. */
export interface LoadInputs<M = unknown> {
  loader: ImageLoader<unknown, M>;
  /** The kernel as `loader.parse` returned it. */
  image: unknown;
  /** Name of the kernel for messages: the path, or the path and the part of it (`/boot/x.efi (.linux)`). */
  kernelName: string;
  /** The kernel's bytes: the file, or the kernel inside it. */
  kernel: Uint8Array;
  /** True when the kernel is part of the file (a UKI's `.linux`): kexec_file_load gets it through a memfd. */
  kernelIsPart: boolean;
  /** The initrd, all pieces joined; undefined when there is none. */
  initrd?: Uint8Array;
  /** Set when the initrd is exactly one of the request's files: kexec_file_load can open it by path. */
  initrdPath?: string;
  /** The command line, before a crash load's own parameters go in front. */
  cmdline: string;
  /** What a wrapped image says about itself and where each piece came from. */
  info?: ImageInfo;
  /** Things the user should know (a command line systemd-stub would have ignored). */
  warnings: string[];
  /** The open files: the kernel (or the file holding it) and the request's initrds, in order. */
  files: { kernel: InputFile; initrds: readonly InputFile[] };
  /** Closes every file (ending their leases); the bytes stay valid. */
  close(): void;
}

/**
 * Joins initrd pieces into one buffer, each but the last zero-padded to a multiple of 4 bytes (the kernel unpacks
 * concatenated cpio archives, skipping zeros between them; sd-boot pads Type #1 initrds the same way). One piece
 * is returned as it is.
 */
export function joinInitrds(parts: readonly Uint8Array[]): Uint8Array | undefined {
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  const padded = (p: Uint8Array, last: boolean) => (last ? p.length : (p.length + 3) & ~3);
  const total = parts.reduce((n, p, i) => n + padded(p, i === parts.length - 1), 0);
  const out = new Uint8Array(total);
  let off = 0;
  parts.forEach((p, i) => {
    out.set(p, off);
    off += padded(p, i === parts.length - 1);
  });
  return out;
}

/** How {@link resolveInputs} reads. */
export interface ResolveOptions {
  /**
   * Read the initrd's bytes (default true). kexec_file_load alone opens a plain kernel's one initrd itself: then
   * it is only checked for readability, not read.
   */
  readInitrd?: boolean;
}

/**
 * Opens the request's files (the kernel, then each initrd), reads the machine's command line, and picks and runs
 * the loader's parse. The caller closes the result ({@link LoadInputs.close}).
 * @throws KexecError("io") for unreadable or empty files, KexecError("bad-image") for a bad image,
 *   KexecError("usage") for a profile the image lacks or two different profile choices; the files opened so far
 *   are closed then
 */
export function resolveInputs<M>(
  req: LoadRequest,
  sys: SystemView,
  arch: Arch<M>,
  opts: ResolveOptions = {},
): LoadInputs<M> {
  const opened: InputFile[] = [];
  try {
    opened.push(openInput(req.kernel, "kernel"));
    for (const p of req.initrds) opened.push(openInput(p, "initrd"));
    const [kernel, ...initrds] = opened;
    const files = { kernel, initrds };
    return { ...resolveOpen(req, sys, arch, opts, files), files, close: () => opened.forEach((f) => f.close()) };
  } catch (e) {
    opened.forEach((f) => f.close());
    throw e;
  }
}

function resolveOpen<M>(
  req: LoadRequest,
  sys: SystemView,
  arch: Arch<M>,
  opts: ResolveOptions,
  files: LoadInputs["files"],
): Omit<LoadInputs<M>, "files" | "close"> {
  const file = files.kernel.bytes;
  let userCmdline = composeCmdline(req, sys);
  const prefix = splitProfilePrefix(userCmdline);
  if (prefix && req.ukiProfile !== undefined && prefix.profile !== req.ukiProfile) {
    fail("usage", `the command line selects profile @${prefix.profile} but --uki-profile=${req.ukiProfile}`);
  }
  const picked = pickImage(arch, file, req.type, req.kernel, { profile: req.ukiProfile ?? prefix?.profile });
  const wrapped = picked.unwrapped;
  if (!wrapped && req.ukiProfile !== undefined) {
    fail("usage", `--uki-profile applies to UKIs; ${req.kernel} is a ${picked.loader.name} image`);
  }
  if (wrapped && prefix) userCmdline = prefix.rest;

  const kernelName = wrapped ? `${req.kernel} (${wrapped.kernel.what})` : req.kernel;
  const image = picked.loader.parse(picked.kernel, kernelName);
  const byPath = !wrapped && req.initrds.length === 1;
  if (byPath && opts.readInitrd === false) {
    // kexec_file_load reads it itself, through the descriptor opened above.
    return {
      loader: picked.loader,
      image,
      kernelName,
      kernel: picked.kernel,
      kernelIsPart: false,
      initrdPath: req.initrds[0],
      cmdline: userCmdline,
      info: entryInfo(req, picked.loader.name),
      warnings: [],
    };
  }
  const own: ImagePart[] = files.initrds.map((f) => {
    const bytes = f.bytes;
    if (bytes.length === 0) fail("io", `initrd ${f.path} is empty`);
    return { what: "--initrd", bytes };
  });
  const pieces = [...(wrapped?.initrdsBefore ?? []), ...own, ...(wrapped?.initrdsAfter ?? [])]
    .filter((p) => p.bytes.length > 0);
  const useOwnCmdline = userCmdline.trim() !== "" || !wrapped?.cmdline;
  const cmdline = useOwnCmdline ? userCmdline : wrapped.cmdline!.text;

  let info: ImageInfo | undefined;
  const warnings: string[] = [];
  if (wrapped?.cmdline && useOwnCmdline && secureBootOn(arch, sys)) {
    warnings.push(
      `Secure Boot is on: systemd-stub would boot ${req.kernel} with its ${wrapped.cmdline.what} and ignore this ` +
        "command line; kexec-ts uses yours",
    );
  }
  if (wrapped) {
    const size = (p: ImagePart) => `${p.what} (${p.bytes.length} bytes)`;
    info = {
      ...wrapped.info,
      ...(req.bootEntry !== undefined ? { bootEntry: req.bootEntry } : {}),
      parts: [
        `kernel: ${size(wrapped.kernel)}`,
        `initrd: ${pieces.length ? pieces.map(size).join(" + ") : "none"}`,
        `command line: ${
          !useOwnCmdline
            ? wrapped.cmdline!.what
            : wrapped.cmdline
            ? `the request's (replaces ${wrapped.cmdline.what})`
            : `the request's (the image has no command line)`
        }`,
        ...wrapped.info.parts,
      ],
    };
  } else {
    info = entryInfo(req, picked.loader.name);
  }
  return {
    loader: picked.loader,
    image,
    kernelName,
    kernel: picked.kernel,
    kernelIsPart: wrapped !== undefined,
    initrd: joinInitrds(pieces.map((p) => p.bytes)),
    initrdPath: byPath ? req.initrds[0] : undefined,
    cmdline,
    info,
    warnings,
  };
}

/** For a plain kernel, what a plan shows about it: only which boot entry it came from, if it did. */
function entryInfo(req: LoadRequest, format: string): ImageInfo | undefined {
  return req.bootEntry === undefined ? undefined : { format, bootEntry: req.bootEntry, parts: [] };
}

/** Whether the firmware enforces Secure Boot, as the architecture reads it (false when unknown). */
function secureBootOn(arch: Arch<unknown>, sys: SystemView): boolean {
  return arch.secureBoot?.(sys).state === "enabled";
}
