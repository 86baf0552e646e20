/**
 * lib/arch/x86_64/efi.ts: the running kernel's EFI read through the SystemView, from snapshots of an OVMF guest
 * (runtime services on, and booted with efi=noruntime) and of a SeaBIOS guest.
 */

import assert from "node:assert/strict";
import {
  bootEfiInfoOf,
  parseEfiSystab,
  readEfiFirmware,
  readRuntimeMap,
  readSecureBoot,
  runtimeOffParameter,
  x86FirmwareStatus,
  x86SecureBoot,
} from "../../../../lib/arch/x86_64/efi.ts";
import { fsSystemView, recordSystemView, type SystemView } from "../../../../lib/system.ts";
import { machineDir, overlayView } from "../../test_helpers.ts";

const OVMF = fsSystemView(machineDir("qemu-q35-2g-ovmf-crash256m"));
const NORUNTIME = fsSystemView(machineDir("qemu-q35-2g-ovmf-noruntime"));
const BIOS = fsSystemView(machineDir("qemu-q35-2g-crash256m"));
const bootParams = (sys: typeof OVMF) => {
  const r = sys.read("/sys/kernel/boot_params/data");
  return r.kind === "ok" ? r.bytes : undefined;
};
const GUID = "8be4df61-93ca-11d2-aa0d-00e098032b8c";

Deno.test("readEfiFirmware: an OVMF guest with runtime services (the snapshot's values)", () => {
  const efi = readEfiFirmware(OVMF, bootParams(OVMF))!;
  assert.equal(efi.platformBits, 64);
  assert.equal(efi.runtimeServices, "on");
  assert.equal(efi.runtimeOffBy, undefined);
  assert.deepEqual(efi.tables, { ACPI20: 0x7f77e014n, ACPI: 0x7f77e000n, SMBIOS: 0x7f518000n });
  assert.equal(efi.fwVendor, 0x7f51c818n);
  assert.equal(efi.runtime, 0x7f5ecb98n);
  assert.equal(efi.configTable, 0x7f5ecc98n);
  assert.equal(efi.runtimeMap.kind, "ok");
  if (efi.runtimeMap.kind === "ok") {
    assert.equal(efi.runtimeMap.entries.length, 6);
    // runtime-map/0: EFI_RUNTIME_SERVICES_DATA with the virtual address SetVirtualAddressMap() gave it.
    assert.deepEqual(efi.runtimeMap.entries[0], {
      type: 6,
      physAddr: 0x7ff50000n,
      virtAddr: 0xfffffffefff50000n,
      numPages: 0x20n,
      attribute: 0x800000000000000fn,
    });
  }
  assert.deepEqual(efi.bootInfo, {
    loaderSignature: "EL64",
    systab: 0x7f5ec018n,
    memdescSize: 48,
    memdescVersion: 1,
    memmapSizeBytes: 0x1aa0,
  });
  assert.equal(efi.bootSecureBoot, 2, "boot_params.secure_boot: disabled");
  assert.deepEqual(x86SecureBoot(OVMF), { state: "setup-mode", source: "efivars" }, "OVMF without enrolled keys");
});

Deno.test("readEfiFirmware: efi=noruntime leaves the system table but no runtime map; BIOS has no EFI", () => {
  const efi = readEfiFirmware(NORUNTIME, bootParams(NORUNTIME))!;
  assert.equal(efi.runtimeServices, "off");
  assert.equal(efi.runtimeOffBy, "efi=noruntime");
  assert.deepEqual(efi.runtimeMap, { kind: "absent" });
  assert.equal(efi.tables.SMBIOS, 0x7f518000n);
  assert.equal(efi.bootInfo?.loaderSignature, "EL64");
  assert.deepEqual(x86SecureBoot(NORUNTIME), { state: "disabled", source: "boot_params" }, "no efivarfs");
  assert.equal(readEfiFirmware(BIOS, bootParams(BIOS)), undefined);
  // Without runtime map and efivars, and nothing on the command line: unknown.
  const bare = overlayView(OVMF, { "/sys/firmware/efi/runtime-map": null, "/sys/firmware/efi/efivars": null });
  assert.equal(readEfiFirmware(bare, bootParams(OVMF))!.runtimeServices, "unknown");
});

Deno.test("runtimeOffParameter: noefi and efi=...noruntime... turn runtime services off", () => {
  assert.equal(runtimeOffParameter("root=/dev/sda noefi quiet"), "noefi");
  assert.equal(runtimeOffParameter("efi=debug,noruntime"), "efi=debug,noruntime");
  assert.equal(runtimeOffParameter("efi=nosoftreserve efi_no_storage_paranoia noefi_x=1"), undefined);
  assert.equal(runtimeOffParameter(undefined), undefined);
});

Deno.test("parseEfiSystab and bootEfiInfoOf", () => {
  assert.deepEqual(parseEfiSystab("ACPI20=0x7f77e014\nSMBIOS3=0x7f516000\nbogus\n"), {
    ACPI20: 0x7f77e014n,
    SMBIOS3: 0x7f516000n,
  });
  assert.deepEqual(parseEfiSystab(undefined), {});
  assert.equal(bootEfiInfoOf(new Uint8Array(100)), undefined);
  const bp = new Uint8Array(4096);
  const dv = new DataView(bp.buffer);
  bp.set(new TextEncoder().encode("EL64"), 0x1c0);
  dv.setUint32(0x1c4, 0x7f5ec018, true);
  dv.setUint32(0x1d8, 0x1, true); // efi_systab_hi
  dv.setUint32(0x1c8, 40, true);
  dv.setUint32(0x1cc, 1, true);
  dv.setUint32(0x1d4, 240, true);
  assert.deepEqual(bootEfiInfoOf(bp), {
    loaderSignature: "EL64",
    systab: 0x17f5ec018n,
    memdescSize: 40,
    memdescVersion: 1,
    memmapSizeBytes: 240,
  });
});

Deno.test("readRuntimeMap: numeric order, unreadable is denied, a malformed entry names the file (never throws)", () => {
  const entry = (n: number, phys: string) => ({
    [`/sys/firmware/efi/runtime-map/${n}/type`]: "0x6\n",
    [`/sys/firmware/efi/runtime-map/${n}/phys_addr`]: `${phys}\n`,
    [`/sys/firmware/efi/runtime-map/${n}/virt_addr`]: "0xfffffffe00000000\n",
    [`/sys/firmware/efi/runtime-map/${n}/num_pages`]: "0x1\n",
    [`/sys/firmware/efi/runtime-map/${n}/attribute`]: "0x800000000000000f\n",
  });
  const files: Record<string, string> = {};
  for (let i = 0; i < 11; i++) Object.assign(files, entry(i, `0x${(i + 1).toString(16)}000`));
  const map = readRuntimeMap(recordSystemView(files));
  assert.equal(map.kind, "ok");
  if (map.kind === "ok") {
    assert.deepEqual(
      map.entries.map((e) => e.physAddr),
      [...Array(11)].map((_, i) => BigInt((i + 1) * 0x1000)),
    );
  }
  assert.deepEqual(
    readRuntimeMap(recordSystemView({ ...files, "/sys/firmware/efi/runtime-map/3/phys_addr": "<denied>" })),
    { kind: "denied" },
  );
  assert.deepEqual(
    readRuntimeMap(recordSystemView({ ...files, "/sys/firmware/efi/runtime-map/3/num_pages": "lots\n" })),
    { kind: "malformed", why: "/sys/firmware/efi/runtime-map/3/num_pages is missing or not a hex number" },
  );
  const missing = { ...files };
  delete missing["/sys/firmware/efi/runtime-map/10/attribute"];
  assert.deepEqual(readRuntimeMap(recordSystemView(missing)), {
    kind: "malformed",
    why: "/sys/firmware/efi/runtime-map/10/attribute is missing or not a hex number",
  });
  assert.deepEqual(readRuntimeMap(recordSystemView({})), { kind: "absent" });
});

Deno.test("readSecureBoot: the variables first, then boot_params.secure_boot", () => {
  const v = (value: number) => new Uint8Array([6, 0, 0, 0, value]);
  const vars = (sb: number, setup: number) =>
    recordSystemView({
      [`/sys/firmware/efi/efivars/SecureBoot-${GUID}`]: v(sb),
      [`/sys/firmware/efi/efivars/SetupMode-${GUID}`]: v(setup),
    });
  assert.deepEqual(readSecureBoot(vars(1, 0), 2), { state: "enabled", source: "efivars" });
  assert.deepEqual(readSecureBoot(vars(0, 0), 3), { state: "disabled", source: "efivars" });
  assert.deepEqual(readSecureBoot(vars(0, 1), undefined), { state: "setup-mode", source: "efivars" });
  const none = recordSystemView({});
  assert.deepEqual(readSecureBoot(none, 3), { state: "enabled", source: "boot_params" });
  assert.deepEqual(readSecureBoot(none, 2), { state: "disabled", source: "boot_params" });
  assert.deepEqual(readSecureBoot(none, 0), { state: "unknown" }, "unset: the stub did not say");
  assert.deepEqual(readSecureBoot(none, undefined), { state: "unknown" });
});

Deno.test("x86FirmwareStatus: what status shows", () => {
  assert.deepEqual(x86FirmwareStatus(BIOS), { kind: "bios" });
  assert.deepEqual(x86FirmwareStatus(OVMF), {
    kind: "uefi",
    platformBits: 64,
    runtimeServices: "on",
    runtimeOffBy: undefined,
    runtimeMap: { kind: "present", entryCount: 6 },
    secureBoot: { state: "setup-mode", source: "efivars" },
  });
  const off = x86FirmwareStatus(NORUNTIME);
  assert.equal(off.kind === "uefi" && off.runtimeServices, "off");
  assert.deepEqual(off.kind === "uefi" && off.runtimeMap, { kind: "absent" });
  const denied = overlayView(OVMF, { "/sys/firmware/efi/runtime-map/0/type": "<denied>" });
  const d = x86FirmwareStatus(denied);
  assert.deepEqual(d.kind === "uefi" && d.runtimeMap, { kind: "denied" });
  const bad = x86FirmwareStatus(overlayView(OVMF, { "/sys/firmware/efi/runtime-map/2/phys_addr": "zz\n" }));
  assert.deepEqual(bad.kind === "uefi" && bad.runtimeMap, {
    kind: "malformed",
    why: "/sys/firmware/efi/runtime-map/2/phys_addr is missing or not a hex number",
  });
});

Deno.test("x86SecureBoot reads the two variables, boot_params only without them, and nothing else of EFI", () => {
  const reads = (sys: SystemView) => {
    const paths: string[] = [];
    const view: SystemView = {
      origin: sys.origin,
      read: (path, max) => (paths.push(path), sys.read(path, max)),
      list: (path) => (paths.push(`list ${path}`), sys.list(path)),
    };
    return { view, paths };
  };
  const ovmf = reads(OVMF);
  assert.equal(x86SecureBoot(ovmf.view).state, "setup-mode");
  assert.deepEqual(ovmf.paths, [
    `/sys/firmware/efi/efivars/SecureBoot-${GUID}`,
    `/sys/firmware/efi/efivars/SetupMode-${GUID}`,
  ]);
  const off = reads(NORUNTIME);
  assert.equal(x86SecureBoot(off.view).state, "disabled");
  assert.deepEqual(off.paths, [`/sys/firmware/efi/efivars/SecureBoot-${GUID}`, "/sys/kernel/boot_params/data"]);
});
