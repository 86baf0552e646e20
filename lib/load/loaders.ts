/**
 * The image loaders, probed in order: the architecture's own, then the arch-neutral ones. The order is data: the
 * first loader whose probe accepts the file wins, unless `-t` names one. Adding a loader is adding it here (or to
 * its architecture's list); the contract is ./contract.ts.
 *
 * @module
 */

import { fail } from "../errors.ts";
import { hasElfMagic } from "../elf/reader.ts";
import type { Arch } from "../arch/types.ts";
import type { ImageLoader } from "./contract.ts";

/** Types kexec-tools knows that kexec-ts does not load. */
const UNSUPPORTED_TYPES = ["elf-x86_64", "elf-x86", "multiboot-x86", "multiboot2-x86", "beoboot-x86", "nbi-x86", "uki"];

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
  if (type !== undefined) {
    const l = loaders.find((x) => x.name === type || x.aliases.includes(type));
    if (l) return l;
    if (UNSUPPORTED_TYPES.includes(type)) {
      fail("not-implemented", `not implemented yet: -t ${type} (kexec-ts loads bzImage64)`);
    }
    fail("usage", `unknown image type "${type}" (-t); kexec-ts knows: ${loaders.map((x) => x.name).join(", ")}`);
  }
  const l = loaders.find((x) => x.probe(bytes));
  if (l) return l;
  if (hasElfMagic(bytes)) {
    fail(
      "not-implemented",
      `not implemented yet: ${path} is an ELF file (vmlinux); kexec-ts loads bzImage64 (vmlinuz)`,
    );
  }
  if (bytes.length >= 2 && bytes[0] === 0x4d && bytes[1] === 0x5a) {
    fail("bad-image", `${path} is a PE/EFI image without a bzImage setup header (a UKI?); kexec-ts loads bzImage64`);
  }
  return fail("bad-image", `${path} is not a kernel image kexec-ts can load (no bzImage "HdrS" header)`);
}
