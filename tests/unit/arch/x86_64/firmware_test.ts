/** lib/arch/x86_64/firmware.ts: the ACPI RSDP the next kernel gets, and 5-level paging. */

import assert from "node:assert/strict";
import {
  acpiRsdpFor,
  la57Enabled,
  require5LevelSupport,
  rsdpFromEfiSystab,
} from "../../../../lib/arch/x86_64/firmware.ts";
import { recordSystemView } from "../../../../lib/system.ts";
import { throwsKexec } from "../../test_helpers.ts";

Deno.test("ACPI RSDP: boot_params first, then EFI systab; an EFI machine without one is refused", () => {
  assert.equal(rsdpFromEfiSystab("SMBIOS=0x7f9e4000\nACPI=0xe0000\nACPI20=0x7fb7e014\n"), 0x7fb7e014n);
  assert.equal(rsdpFromEfiSystab("ACPI=0xe0000\n"), 0xe0000n);
  assert.equal(rsdpFromEfiSystab(undefined), 0n);
  const bp = new Uint8Array(4096);
  new DataView(bp.buffer).setBigUint64(0x70, 0xf59e0n, true);
  assert.equal(acpiRsdpFor(recordSystemView({}), bp), 0xf59e0n);
  const efi = recordSystemView({ "/sys/firmware/efi/systab": "ACPI20=0x7fb7e014\n" });
  assert.equal(acpiRsdpFor(efi, new Uint8Array(4096)), 0x7fb7e014n);
  assert.equal(acpiRsdpFor(recordSystemView({}), new Uint8Array(4096)), 0n, "BIOS: the next kernel scans for it");
  throwsKexec(
    () => acpiRsdpFor(recordSystemView({ "/sys/firmware/efi/fw_platform_size": "64\n" }), undefined),
    "unsupported",
    /booted through EFI .* cannot find its ACPI RSDP .*unreadable.* use -s/,
  );
});

Deno.test("5-level paging: a kernel without XLF_5LEVEL is refused when la57 is on", () => {
  const on = recordSystemView({ "/proc/cpuinfo": "processor\t: 0\nflags\t\t: fpu pae la57 sse\n" });
  const off = recordSystemView({ "/proc/cpuinfo": "processor\t: 0\nflags\t\t: fpu pae sse\n" });
  throwsKexec(
    () => require5LevelSupport(la57Enabled(on), false, "K"),
    "bad-image",
    /5-level paging is on .*\(no XLF_5LEVEL in xloadflags\)/,
  );
  require5LevelSupport(la57Enabled(on), true, "K");
  require5LevelSupport(la57Enabled(off), false, "K");
  assert.equal(la57Enabled(on), true);
  assert.equal(la57Enabled(off), false);
});
