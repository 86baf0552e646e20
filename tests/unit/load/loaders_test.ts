/**
 * lib/load/loaders.ts: which loader takes a file (probing order, -t names and aliases) and the one-line refusals for
 * files no loader takes.
 */

import assert from "node:assert/strict";
import { loadersFor, pickLoader } from "../../../lib/load/loaders.ts";
import { x86_64 } from "../../../lib/arch/x86_64/mod.ts";
import { requireVmlinuz, throwsKexec } from "../test_helpers.ts";
import { syntheticBzImage } from "./golden_fixtures.ts";

Deno.test("pickLoader: -t names and aliases, unknown and unsupported types", () => {
  const garbage = new Uint8Array(16);
  for (const t of ["bzImage64", "bzImage", "bzimage64", "bzimage"]) {
    assert.equal(pickLoader(x86_64, garbage, t, "K").name, "bzImage64", t);
  }
  throwsKexec(
    () => pickLoader(x86_64, garbage, "elf-x86_64", "K"),
    "not-implemented",
    /^not implemented yet: -t elf-x86_64 \(kexec-ts loads bzImage64\)$/,
  );
  throwsKexec(() => pickLoader(x86_64, garbage, "multiboot-x86", "K"), "not-implemented", /-t multiboot-x86/);
  throwsKexec(
    () => pickLoader(x86_64, garbage, "zImage", "K"),
    "usage",
    /^unknown image type "zImage" \(-t\); kexec-ts knows: bzImage64$/,
  );
  assert.deepEqual(loadersFor(x86_64).map((l) => l.name), ["bzImage64"]);
});

Deno.test("pickLoader: probing — bzImage (even behind the EFI stub's MZ), ELF, PE, garbage", () => {
  const file = requireVmlinuz();
  assert.deepEqual([file[0], file[1]], [0x4d, 0x5a], "the Debian kernel has an EFI stub (MZ)");
  assert.equal(pickLoader(x86_64, file, undefined, "vmlinuz").name, "bzImage64");
  assert.equal(pickLoader(x86_64, syntheticBzImage(), undefined, "k").name, "bzImage64");
  const elf = Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  throwsKexec(
    () => pickLoader(x86_64, elf, undefined, "/boot/vmlinux"),
    "not-implemented",
    /^not implemented yet: \/boot\/vmlinux is an ELF file \(vmlinux\); kexec-ts loads bzImage64 \(vmlinuz\)$/,
  );
  const pe = new Uint8Array(0x400);
  pe.set([0x4d, 0x5a]);
  throwsKexec(
    () => pickLoader(x86_64, pe, undefined, "linux.efi"),
    "bad-image",
    /^linux\.efi is a PE\/EFI image without a bzImage setup header \(a UKI\?\)/,
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
