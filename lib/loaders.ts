/**
 * Image loaders, probed in order. A loader is a probe and a parse (like the kernel's kexec_file_ops); where the
 * image goes and what is checked is shared policy (layout.ts, plan.ts). The order is data: the first loader
 * whose probe accepts the file wins, unless `-t` names one.
 *
 * @module
 */

import { fail } from "./errors.ts";
import { hasElfMagic } from "./elf/reader.ts";
import { type BzImage, parseBzImage, probeBzImage } from "./x86/bzimage.ts";

/** One image type. */
export interface ImageLoader {
  /** The name `-t` selects and plans report. */
  name: string;
  /** Other names `-t` accepts (kexec-tools' spellings). */
  aliases: readonly string[];
  /** Cheap check of the file's magic; never throws. */
  probe(bytes: Uint8Array): boolean;
  /** Full parse with checks; throws KexecError("bad-image"). */
  parse(bytes: Uint8Array, name: string): BzImage;
}

/** The loaders, in probing order. ELF vmlinux and UKI are not implemented. */
export const LOADERS: readonly ImageLoader[] = [
  { name: "bzImage64", aliases: ["bzImage", "bzimage64", "bzimage"], probe: probeBzImage, parse: parseBzImage },
];

/** Types kexec-tools knows that kexec-ts does not load. */
const UNSUPPORTED_TYPES = ["elf-x86_64", "elf-x86", "multiboot-x86", "multiboot2-x86", "beoboot-x86", "nbi-x86", "uki"];

/**
 * The loader for `bytes`: the one `-t` names, or the first whose probe accepts the file.
 * @throws KexecError("usage") for an unknown `-t`; KexecError("not-implemented") for types kexec-tools has and we
 *   lack; KexecError("bad-image") when no loader recognises the file
 */
export function pickLoader(bytes: Uint8Array, type: string | undefined, path: string): ImageLoader {
  if (type !== undefined) {
    const l = LOADERS.find((x) => x.name === type || x.aliases.includes(type));
    if (l) return l;
    if (UNSUPPORTED_TYPES.includes(type)) {
      fail("not-implemented", `not implemented yet: -t ${type} (kexec-ts loads bzImage64)`);
    }
    fail("usage", `unknown image type "${type}" (-t); kexec-ts knows: ${LOADERS.map((x) => x.name).join(", ")}`);
  }
  const l = LOADERS.find((x) => x.probe(bytes));
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
