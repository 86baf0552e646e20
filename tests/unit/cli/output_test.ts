/** lib/cli/output.ts: the firmware lines of `status` and of a plan. */

import assert from "node:assert/strict";
import { firmwareText, planToJson, renderFirmwareHandover, renderPlan } from "../../../lib/cli/output.ts";
import { buildLoadPlan } from "../../../lib/load/build.ts";
import { loadRequest } from "../../../lib/load/request.ts";
import { fsSystemView } from "../../../lib/system.ts";
import { machineDir } from "../test_helpers.ts";
import { syntheticBzImage } from "../load/golden_fixtures.ts";

Deno.test("firmwareText: one line for status", () => {
  assert.equal(firmwareText({ kind: "bios" }), "BIOS");
  assert.equal(
    firmwareText({
      kind: "uefi",
      platformBits: 64,
      runtimeServices: "on",
      runtimeMap: { kind: "present", entryCount: 6 },
      secureBoot: { state: "setup-mode", source: "efivars" },
    }),
    "UEFI (64-bit), runtime services on, runtime map 6 entries, Secure Boot setup-mode (efivars)",
  );
  assert.equal(
    firmwareText({
      kind: "uefi",
      runtimeServices: "off",
      runtimeOffBy: "noefi",
      runtimeMap: { kind: "absent" },
      secureBoot: { state: "unknown" },
    }),
    "UEFI, runtime services off (noefi), no runtime map, Secure Boot unknown",
  );
  assert.equal(
    firmwareText({
      kind: "uefi",
      runtimeServices: "on",
      runtimeMap: { kind: "malformed", why: "/sys/firmware/efi/runtime-map/2/type is missing or not a hex number" },
      secureBoot: { state: "disabled", source: "efivars" },
    }),
    "UEFI, runtime services on, runtime map malformed (/sys/firmware/efi/runtime-map/2/type is missing or not a " +
      "hex number), Secure Boot disabled (efivars)",
  );
});

Deno.test("renderFirmwareHandover: the records passed, or what is withheld and what would do better", () => {
  assert.deepEqual(
    renderFirmwareHandover({
      machine: "uefi",
      handover: "bios",
      records: [{ name: "acpi_rsdp_addr", detail: "0x7f77e014" }],
      withheld: { reason: "R", requested: false, lacks: "L", hint: "H" },
    }),
    [
      "firmware  UEFI machine; the new kernel gets no EFI (as on a BIOS machine)",
      "  acpi_rsdp_addr  0x7f77e014",
      "  EFI withheld: R; L",
      "  better: H",
    ],
  );
});

Deno.test("plan output: the EFI records in text and JSON", () => {
  const dir = Deno.makeTempDirSync({ prefix: "kexec-ts-out-" });
  try {
    Deno.writeFileSync(`${dir}/bzImage`, syntheticBzImage());
    const { plan } = buildLoadPlan(
      loadRequest({ kernel: `${dir}/bzImage`, kind: "crash" }),
      fsSystemView(machineDir("qemu-q35-2g-ovmf-crash256m")),
      new Uint8Array(32),
    );
    const text = renderPlan(plan);
    assert.match(text, /^firmware {2}UEFI machine; the new kernel gets EFI \(runtime services and tables\)$/m);
    assert.match(text, /^ {2}efi_info +EL64, system table 0x7f5ec018, 6 runtime descriptors of 40 bytes at 0x/m);
    assert.match(text, /^ {2}SETUP_EFI +at 0x[0-9a-f]+: fw_vendor 0x7f51c818, runtime 0x7f5ecb98, tables 0x7f5ecc98/m);
    const json = planToJson(plan) as { firmware: { handover: string; records: { name: string }[] } };
    assert.equal(json.firmware.handover, "efi");
    assert.deepEqual(json.firmware.records.map((r) => r.name), [
      "efi_info",
      "SETUP_EFI",
      "secure_boot",
      "acpi_rsdp_addr",
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
