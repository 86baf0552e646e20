/**
 * lib/load/loaders.ts: which loader takes a file (probing order, -t names and aliases) and the one-line refusals for
 * files no loader takes.
 */

import assert from "node:assert/strict";
import { loadersFor, pickImage, pickLoader } from "../../../lib/load/loaders.ts";
import { x86_64 } from "../../../lib/arch/x86_64/mod.ts";
import { requireVmlinuz, throwsKexec } from "../test_helpers.ts";
import { syntheticBzImage } from "./golden_fixtures.ts";
import { buildPe, syntheticUki } from "../images/pe_fixtures.ts";

Deno.test("pickLoader: -t names and aliases, unknown and unsupported types", () => {
  const garbage = new Uint8Array(16);
  for (const t of ["bzImage64", "bzImage", "bzimage64", "bzimage"]) {
    assert.equal(pickLoader(x86_64, garbage, t, "K").name, "bzImage64", t);
  }
  for (const t of ["elf-x86_64", "elf", "vmlinux"]) {
    assert.equal(pickLoader(x86_64, garbage, t, "K").name, "elf-x86_64");
  }
  throwsKexec(
    () => pickLoader(x86_64, garbage, "multiboot-x86", "K"),
    "not-implemented",
    /^not implemented yet: -t multiboot-x86 \(kexec-ts loads bzImage64, elf-x86_64, uki\)$/,
  );
  throwsKexec(
    () => pickLoader(x86_64, garbage, "zImage", "K"),
    "usage",
    /^unknown image type "zImage" \(-t\); kexec-ts knows: bzImage64, elf-x86_64, uki$/,
  );
  assert.deepEqual(loadersFor(x86_64).map((l) => l.name), ["bzImage64", "elf-x86_64"]);
});

Deno.test("pickLoader: probing — bzImage (even behind the EFI stub's MZ), ELF, PE, garbage", () => {
  const file = requireVmlinuz();
  assert.deepEqual([file[0], file[1]], [0x4d, 0x5a], "the Debian kernel has an EFI stub (MZ)");
  assert.equal(pickLoader(x86_64, file, undefined, "vmlinuz").name, "bzImage64");
  assert.equal(pickLoader(x86_64, syntheticBzImage(), undefined, "k").name, "bzImage64");
  const elf = Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  assert.equal(
    pickLoader(x86_64, elf, undefined, "/boot/vmlinux").name,
    "elf-x86_64",
    "any ELF file: parse says why not",
  );
  const pe = new Uint8Array(0x400);
  pe.set([0x4d, 0x5a]);
  throwsKexec(
    () => pickLoader(x86_64, pe, undefined, "linux.efi"),
    "bad-image",
    /^linux\.efi is a PE\/EFI image without a bzImage setup header; kexec-ts loads bzImage64, elf-x86_64$/,
  );
  throwsKexec(
    () => pickLoader(x86_64, new TextEncoder().encode("#!/bin/sh\n"), undefined, "x.sh"),
    "bad-image",
    /^x\.sh is not a kernel image kexec-ts can load \(no bzImage "HdrS" header\)$/,
  );
  throwsKexec(
    () => pickLoader(x86_64, new Uint8Array(0), undefined, "empty"),
    "bad-image",
    /^empty is not a kernel image/,
  );
});

Deno.test("pickImage: a UKI is unwrapped and its .linux probed; a bzImage with an EFI stub is not a UKI", () => {
  const uki = pickImage(x86_64, syntheticUki(), undefined, "u.efi");
  assert.equal(uki.loader.name, "bzImage64");
  assert.deepEqual(uki.kernel, syntheticBzImage());
  assert.equal(uki.unwrapped?.info.format, "uki");
  assert.equal(pickImage(x86_64, syntheticUki(), "uki", "u.efi").loader.name, "bzImage64", "-t uki");
  const plain = pickImage(x86_64, requireVmlinuz(), undefined, "vmlinuz");
  assert.equal(plain.loader.name, "bzImage64");
  assert.equal(plain.unwrapped, undefined);
  throwsKexec(
    () =>
      pickImage(
        x86_64,
        buildPe({ machine: 0xaa64, sections: [{ name: ".linux", data: "ARM64 Image" }] }),
        undefined,
        "a.efi",
      ),
    "bad-image",
    /^a\.efi: the kernel in its \.linux section is not one kexec-ts loads on x86_64 \(the uki is for machine 0xaa64 \(arm64\)\)$/,
  );
  throwsKexec(
    () => pickImage(x86_64, new Uint8Array(0x400).fill(0x4d, 0, 1).fill(0x5a, 1, 2), undefined, "x.efi"),
    "bad-image",
    /^x\.efi: e_lfanew at 0x3c is 0x0: the PE header would overlap the 64-byte DOS header$/,
  );
});
