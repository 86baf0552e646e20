/**
 * The image loaders, probed in order: the architecture's own, then the arch-neutral ones. The order is data: the
 * first loader whose probe accepts the file wins, unless `-t` names one. Adding a loader is adding it here (or to
 * its architecture's list); the contract is ./contract.ts.
 *
 * Wrappers (a UKI: a PE file carrying a kernel) are probed after the loaders, because a bzImage with an EFI stub
 * starts with "MZ" too: {@link pickImage} unwraps a wrapped file and probes the kernel inside with the loaders.
 *
 * @module
 */

import { fail } from "../errors.ts";
import { hasElfMagic } from "../elf/reader.ts";
import { ukiWrapper } from "../images/uki.ts";
import { hasMzMagic } from "../images/pe.ts";
import type { Arch } from "../arch/types.ts";
import type { ImageLoader, ImageWrapper, UnwrapOptions, UnwrappedImage } from "./contract.ts";

/** Types kexec-tools knows that kexec-ts does not load. */
const UNSUPPORTED_TYPES = ["elf-x86", "multiboot-x86", "multiboot2-x86", "beoboot-x86", "nbi-x86"];

/** Image kinds that carry a kernel, arch-neutral, probed after the architecture's loaders. */
export const WRAPPERS: readonly ImageWrapper[] = [ukiWrapper];

/** The loader for a file, and, when the file wraps its kernel, what the wrapper yielded. */
export interface PickedImage<M> {
  loader: ImageLoader<unknown, M>;
  /** The kernel bytes the loader parses: the file itself, or the kernel inside it. */
  kernel: Uint8Array;
  /** Set when the file is a wrapper (a UKI). */
  unwrapped?: UnwrappedImage;
}

/**
 * The loader for `bytes`, unwrapping a wrapper first: `-t` may name a loader or a wrapper; without it the loaders
 * are probed, then the wrappers, whose kernel is then probed with the loaders.
 * @throws KexecError as {@link pickLoader}, and KexecError("bad-image") for a malformed wrapper or one whose kernel
 *   no loader takes
 */
export function pickImage<M>(
  arch: Arch<M>,
  bytes: Uint8Array,
  type: string | undefined,
  path: string,
  opts: UnwrapOptions = {},
): PickedImage<M> {
  const named = type === undefined ? undefined : WRAPPERS.find((w) => w.name === type || w.aliases.includes(type));
  const wrapper = named ??
    (type !== undefined || loadersFor(arch).some((l) => l.probe(bytes))
      ? undefined
      : WRAPPERS.find((w) => w.probe(bytes)));
  if (!wrapper) return { loader: pickLoader(arch, bytes, type, path), kernel: bytes };
  const unwrapped = wrapper.unwrap(bytes, path, opts);
  const kernel = unwrapped.kernel.bytes;
  const loader = loadersFor(arch).find((l) => l.probe(kernel));
  if (!loader) {
    fail(
      "bad-image",
      `${path}: the kernel in its ${unwrapped.kernel.what} section is not one kexec-ts loads on ${arch.name}` +
        (unwrapped.info.machine ? ` (the ${wrapper.name} is for machine ${unwrapped.info.machine})` : ""),
    );
  }
  return { loader, kernel, unwrapped };
}

/** Every loader for `arch`, in probing order. */
export function loadersFor<M>(arch: Arch<M>): readonly ImageLoader<unknown, M>[] {
  return arch.loaders;
}

/**
 * The loader for `bytes`: the one `-t` names, or the first whose probe accepts the file.
 * @throws KexecError("usage") for an unknown `-t`; KexecError("not-implemented") for types kexec-tools has and we
 *   lack; KexecError("bad-image") when no loader recognises the file
 */
export function pickLoader<M>(
  arch: Arch<M>,
  bytes: Uint8Array,
  type: string | undefined,
  path: string,
): ImageLoader<unknown, M> {
  const loaders = loadersFor(arch);
  const names = loaders.map((x) => x.name).join(", ");
  if (type !== undefined) {
    const l = loaders.find((x) => x.name === type || x.aliases.includes(type));
    if (l) return l;
    if (UNSUPPORTED_TYPES.includes(type)) {
      fail("not-implemented", `not implemented yet: -t ${type} (kexec-ts loads ${names}, uki)`);
    }
    fail(
      "usage",
      `unknown image type "${type}" (-t); kexec-ts knows: ${[...loaders, ...WRAPPERS].map((x) => x.name).join(", ")}`,
    );
  }
  const l = loaders.find((x) => x.probe(bytes));
  if (l) return l;
  if (hasElfMagic(bytes)) {
    fail("not-implemented", `not implemented yet: ${path} is an ELF file; kexec-ts loads ${names} on ${arch.name}`);
  }
  if (hasMzMagic(bytes)) {
    fail("bad-image", `${path} is a PE/EFI image without a bzImage setup header; kexec-ts loads ${names}`);
  }
  return fail("bad-image", `${path} is not a kernel image kexec-ts can load (no bzImage "HdrS" header)`);
}
