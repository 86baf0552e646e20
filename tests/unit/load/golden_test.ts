/**
 * Golden plans: the complete kexec_load plan (addresses, sizes, every segment's SHA-256, the digest) for the saved
 * machines (SeaBIOS; OVMF with and without EFI runtime services), normal and crash loads, through the planner with a
 * fixed RNG seed. Any change to what kexec-ts would hand the kernel shows up here; regenerate with UPDATE_GOLDEN=1
 * only when the change is meant.
 */

import { buildLoadPlan } from "../../../lib/load/build.ts";
import { type LoadRequest, loadRequest } from "../../../lib/load/request.ts";
import { fsSystemView } from "../../../lib/system.ts";
import { machineDir, type MachineName } from "../test_helpers.ts";
import { assertGolden, planGoldenText, syntheticBzImage, syntheticInitrd } from "./golden_fixtures.ts";

const SEED = new Uint8Array(32).fill(0xa5);
const tmp = Deno.makeTempDirSync({ prefix: "kexec-ts-golden-" });
const KERNEL = `${tmp}/bzImage`;
const INITRD = `${tmp}/initrd.img`;
Deno.writeFileSync(KERNEL, syntheticBzImage());
Deno.writeFileSync(INITRD, syntheticInitrd());
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));

function request(over: Partial<LoadRequest> = {}): LoadRequest {
  return loadRequest({ kernel: KERNEL, initrds: [INITRD], append: "console=ttyS0 root=/dev/vda", ...over });
}

const cases: { name: string; machine: MachineName; req: LoadRequest; firmware?: boolean }[] = [
  { name: "nocrash-load.json", machine: "qemu-q35-2g-nocrash", req: request() },
  { name: "crash256m-load.json", machine: "qemu-q35-2g-crash256m", req: request() },
  { name: "crash256m-panic.json", machine: "qemu-q35-2g-crash256m", req: request({ kind: "crash" }) },
  {
    name: "crash256m-panic-nohotplug.json",
    machine: "qemu-q35-2g-crash256m",
    req: request({ kind: "crash", hotplug: "off", initrds: [], reuseCmdline: true }),
  },
  {
    name: "nocrash-load-options.json",
    machine: "qemu-q35-2g-nocrash",
    req: request({ memMin: 0x2000000n, memMax: 0x3fffffffn, noChecks: true, serialPort: 0x3f8 }),
  },
  // UEFI (OVMF): EFI handed over (efi_info, the runtime map, SETUP_EFI), and an EFI machine that cannot.
  { name: "ovmf-crash256m-load.json", machine: "qemu-q35-2g-ovmf-crash256m", req: request(), firmware: true },
  {
    name: "ovmf-crash256m-panic.json",
    machine: "qemu-q35-2g-ovmf-crash256m",
    req: request({ kind: "crash" }),
    firmware: true,
  },
  { name: "ovmf-noruntime-load.json", machine: "qemu-q35-2g-ovmf-noruntime", req: request(), firmware: true },
  // EFI handed over and no initrd: an empty initramfs in its place (a zero ramdisk_size panics the next kernel).
  {
    name: "ovmf-crash256m-load-noinitrd.json",
    machine: "qemu-q35-2g-ovmf-crash256m",
    req: request({ initrds: [] }),
    firmware: true,
  },
];

for (const c of cases) {
  Deno.test(`golden plan ${c.name}`, () => {
    const { plan } = buildLoadPlan(c.req, fsSystemView(machineDir(c.machine)), SEED);
    const text = planGoldenText(plan, { firmware: c.firmware }).replaceAll(tmp, "<tmp>");
    assertGolden(c.name, text);
  });
}
