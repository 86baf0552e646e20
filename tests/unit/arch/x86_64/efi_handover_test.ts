/**
 * lib/arch/x86_64/efi_handover.ts: what an x86_64 load hands the next kernel about EFI, in the kernel's order of
 * checks; the byte layouts of efi_info, the runtime memory map and SETUP_EFI (checked at offsets written out here,
 * from arch/x86/include/uapi/asm/bootparam.h and arch/x86/include/asm/efi.h); and whole plans against the OVMF
 * snapshots: the boot_params segment points at its own copy of the runtime map and a SETUP_EFI record, no segment
 * overwrites an EFI region, and the capture kernel keeps every runtime region reserved.
 */

import assert from "node:assert/strict";
import {
  decideEfiHandover,
  describeEfiHandover,
  EFI_WITHHELD_LACKS,
  type EfiHandoverOptions,
  efiInfoBytes,
  efiMemmapBytes,
  efiSetupDataBytes,
  NO_XLF_EFI_KEXEC,
} from "../../../../lib/arch/x86_64/efi_handover.ts";
import { VMLINUX_REFUSES_EFI } from "../../../../lib/arch/x86_64/elf_vmlinux.ts";
import { EMPTY_INITRAMFS_NOTE } from "../../../../lib/arch/x86_64/bzimage_loader.ts";
import { emptyInitramfs } from "../../../../lib/load/initramfs.ts";
import { type EfiFirmware, readEfiFirmware } from "../../../../lib/arch/x86_64/efi.ts";
import { buildLoadPlan } from "../../../../lib/load/build.ts";
import { type LoadRequest, loadRequest } from "../../../../lib/load/request.ts";
import type { LoadPlan } from "../../../../lib/load/plan.ts";
import { fsSystemView, type SystemView } from "../../../../lib/system.ts";
import { overlaps } from "../../../../lib/memory/ranges.ts";
import { le, machineDir, overlayView } from "../../test_helpers.ts";
import { lcgBytes, syntheticBzImage } from "../../load/golden_fixtures.ts";

const OVMF = fsSystemView(machineDir("qemu-q35-2g-ovmf-crash256m"));
const NORUNTIME = fsSystemView(machineDir("qemu-q35-2g-ovmf-noruntime"));
const SEED = new Uint8Array(32).fill(0xa5);

function efiOf(sys: SystemView): EfiFirmware {
  const r = sys.read("/sys/kernel/boot_params/data");
  return readEfiFirmware(sys, r.kind === "ok" ? r.bytes : undefined)!;
}

const yes: EfiHandoverOptions = { noefi: false };

Deno.test("decideEfiHandover: an OVMF guest with runtime services gets EFI", () => {
  const h = decideEfiHandover(efiOf(OVMF), yes);
  assert.equal(h.kind, "efi");
  if (h.kind !== "efi") return;
  assert.equal(h.systab, 0x7f5ec018n);
  assert.equal(h.memdescVersion, 1);
  assert.equal(h.memmap.length, 6);
  assert.deepEqual([h.fwVendor, h.runtime, h.tables, h.smbios], [0x7f51c818n, 0x7f5ecb98n, 0x7f5ecc98n, 0x7f518000n]);
  assert.equal(h.secureBoot, 2);
  assert.deepEqual(decideEfiHandover(undefined, yes), { kind: "none" }, "a BIOS machine");
});

Deno.test("decideEfiHandover: every case that withholds EFI says why, and names -s where it would do better", () => {
  const efi = efiOf(OVMF);
  const withheld = (e: EfiFirmware, opts = yes) => {
    const h = decideEfiHandover(e, opts);
    assert.equal(h.kind, "withheld");
    return h as Extract<typeof h, { kind: "withheld" }>;
  };
  assert.deepEqual(withheld(efi, { noefi: true }), {
    kind: "withheld",
    reason: "--noefi",
    requested: true,
    hint: undefined,
  });
  const off = withheld(efiOf(NORUNTIME));
  assert.match(off.reason, /^EFI runtime services are off in this kernel \(efi=noruntime on its command line\)$/);
  assert.equal(off.hint, undefined, "the kernel's own loader passes nothing either");
  assert.match(withheld(efi, { noefi: false, imageRefusesEfi: NO_XLF_EFI_KEXEC }).reason, /no XLF_EFI_KEXEC/);
  const vmlinux = withheld(efi, { noefi: false, imageRefusesEfi: VMLINUX_REFUSES_EFI });
  assert.equal(vmlinux.reason, "an ELF vmlinux has no setup header to say it takes EFI (XLF_EFI_KEXEC)");
  assert.equal(vmlinux.hint, "load its bzImage to keep EFI");
  // A runtime map the kernel shows malformed: withheld with the file named, after --noefi (which needs no map).
  const malformed = { ...efi, runtimeMap: { kind: "malformed" as const, why: "runtime-map/3/num_pages is bad" } };
  assert.equal(withheld(malformed).reason, "the runtime map is malformed: runtime-map/3/num_pages is bad");
  assert.match(withheld(malformed).hint!, /kexec_file_load \(-s\)/);
  assert.equal(withheld(malformed, { noefi: true }).reason, "--noefi");
  assert.match(withheld({ ...efi, platformBits: 32 }).reason, /32-bit EFI/);
  const noMap = withheld({ ...efi, runtimeMap: { kind: "absent" } });
  assert.match(noMap.reason, /no \/sys\/firmware\/efi\/runtime-map \(built without CONFIG_EFI_RUNTIME_MAP/);
  assert.match(noMap.hint!, /^kexec_file_load \(-s\) passes at least the EFI system and configuration tables/);
  assert.equal(withheld({ ...efi, runtimeMap: { kind: "ok", entries: [] } }).reason, noMap.reason);
  const denied = withheld({ ...efi, runtimeMap: { kind: "denied" } });
  assert.match(denied.reason, /runtime-map is unreadable \(run as root\)/);
  assert.match(denied.hint!, /kexec_file_load \(-s\)/);
  assert.match(withheld({ ...efi, bootInfo: undefined }).reason, /boot_params\/data is unreadable/);
  assert.match(
    withheld({ ...efi, bootInfo: { ...efi.bootInfo!, memdescVersion: 2 } }).reason,
    /descriptor version 2/,
  );
  assert.match(
    withheld({ ...efi, bootInfo: { ...efi.bootInfo!, memmapSizeBytes: 0 } }).reason,
    /holds no 64-bit EFI boot/,
  );
  assert.match(withheld({ ...efi, configTable: undefined }).reason, /lacks fw_vendor or config_table/);
});

Deno.test("efi_info, the runtime memory map and SETUP_EFI byte for byte", () => {
  const h = decideEfiHandover(efiOf(OVMF), yes);
  if (h.kind !== "efi") throw new Error("no EFI");
  const info = le(efiInfoBytes(h, 0x1_0009_f040n));
  assert.equal(new TextDecoder().decode(efiInfoBytes(h, 0n).subarray(0, 4)), "EL64");
  assert.equal(info.u32(0x04), 0x7f5ec018, "efi_systab");
  assert.equal(info.u32(0x18), 0, "efi_systab_hi");
  assert.equal(info.u32(0x08), 40, "efi_memdesc_size");
  assert.equal(info.u32(0x0c), 1, "efi_memdesc_version");
  assert.equal(info.u32(0x10), 0x0009f040, "efi_memmap");
  assert.equal(info.u32(0x1c), 1, "efi_memmap_hi");
  assert.equal(info.u32(0x14), 6 * 40, "efi_memmap_size");
  const map = efiMemmapBytes(h.memmap);
  assert.equal(map.length, 240);
  const m = le(map);
  // Descriptor 1 of the snapshot: runtime code, 0x7f5ed000, 0x100 pages.
  assert.equal(m.u32(40 + 0), 5, "type");
  assert.equal(m.u32(40 + 4), 0, "pad");
  assert.equal(m.u64(40 + 8), 0x7f5ed000n, "phys_addr");
  assert.equal(m.u64(40 + 16), 0xfffffffeff5ed000n, "virt_addr");
  assert.equal(m.u64(40 + 24), 0x100n, "num_pages");
  assert.equal(m.u64(40 + 32), 0x800000000000000fn, "attribute");
  const sd = efiSetupDataBytes(h);
  assert.equal(sd.length, 96, "sizeof(struct efi_setup_data)");
  const s = le(sd);
  assert.deepEqual([s.u64(0), s.u64(8), s.u64(16), s.u64(24)], [0x7f51c818n, 0x7f5ecb98n, 0x7f5ecc98n, 0x7f518000n]);
  assert.ok(sd.subarray(32).every((b) => b === 0), "reserved[8]");
});

Deno.test("describeEfiHandover: the records for the plan", () => {
  const h = decideEfiHandover(efiOf(OVMF), yes);
  const d = describeEfiHandover(h, { memmapAddr: 0x9f040n, setupDataAddr: 0x9f160n, acpiRsdpAddr: 0x7f77e014n });
  assert.equal(d.machine, "uefi");
  assert.equal(d.handover, "efi");
  assert.deepEqual(d.records.map((r) => r.name), ["efi_info", "SETUP_EFI", "secure_boot", "acpi_rsdp_addr"]);
  assert.match(d.records[0].detail, /^EL64, system table 0x7f5ec018, 6 runtime descriptors of 40 bytes at 0x9f040$/);
  const w = describeEfiHandover(decideEfiHandover(efiOf(NORUNTIME), yes), { acpiRsdpAddr: 0x7f77e014n });
  assert.equal(w.handover, "bios");
  assert.equal(w.withheld?.lacks, EFI_WITHHELD_LACKS);
  assert.deepEqual(describeEfiHandover({ kind: "none" }, { acpiRsdpAddr: 0n }), {
    machine: "bios",
    handover: "bios",
    records: [],
  });
});

// Whole plans against the OVMF snapshots, with the synthetic bzImage of the goldens (it has XLF_EFI_KEXEC).
const tmp = Deno.makeTempDirSync({ prefix: "kexec-ts-efi-" });
const KERNEL = `${tmp}/bzImage`;
Deno.writeFileSync(KERNEL, syntheticBzImage());
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));

function plan(sys: SystemView, over: Partial<LoadRequest> = {}, initrdBytes?: number): LoadPlan {
  const initrds: string[] = [];
  if (initrdBytes) {
    Deno.writeFileSync(`${tmp}/initrd-${initrdBytes}`, lcgBytes(initrdBytes, 3));
    initrds.push(`${tmp}/initrd-${initrdBytes}`);
  }
  const p = buildLoadPlan(loadRequest({ kernel: KERNEL, initrds, append: "console=ttyS0", ...over }), sys, SEED).plan;
  assertRamdiskWithEfi(p);
  return p;
}

/**
 * EL64 ⇒ ramdisk_size ≠ 0, in every plan these tests make: a kernel handed EFI with no ramdisk takes the stale
 * LINUX_EFI_INITRD_MEDIA table for one and panics (notes/efi.md §3.7). And ramdisk_image/size name an initrd segment.
 */
function assertRamdiskWithEfi(p: LoadPlan): void {
  const bp = le(p.segments.find((s) => s.role === "boot-params")!.buf);
  if (bp.u32(0x1c0) !== 0x34364c45) return; // "EL64"
  const size = (BigInt(bp.u32(0x0c4)) << 32n) | BigInt(bp.u32(0x21c)); // ext_ramdisk_size, ramdisk_size
  const image = (BigInt(bp.u32(0x0c0)) << 32n) | BigInt(bp.u32(0x218)); // ext_ramdisk_image, ramdisk_image
  assert.notEqual(size, 0n, "EFI handed over with ramdisk_size 0");
  const seg = p.segments.find((s) => s.role === "initrd");
  assert.ok(seg, "EFI handed over and no initrd segment");
  assert.deepEqual([image, size], [seg.mem, BigInt(seg.buf.length)], "ramdisk_image/size name the initrd segment");
}

/** The boot_params segment's bytes, read at physical addresses. */
function bootData(p: LoadPlan) {
  const seg = p.segments.find((s) => s.role === "boot-params")!;
  const at = (addr: bigint, len: number) => {
    const off = Number(addr - seg.mem);
    assert.ok(off >= 0 && off + len <= seg.buf.length, `0x${addr.toString(16)} is outside the boot_params segment`);
    return seg.buf.subarray(off, off + len);
  };
  const records = new Map<number, Uint8Array>();
  for (let next = le(seg.buf).u64(0x250); next !== 0n;) {
    const h = le(at(next, 16));
    records.set(h.u32(8), at(next + 16n, h.u32(12)));
    next = h.u64(0);
  }
  return { bp: le(seg.buf), raw: seg.buf, at, records };
}

const runtime = (sys: SystemView) => {
  const e = efiOf(sys);
  return e.runtimeMap.kind === "ok" ? e.runtimeMap.entries : [];
};
const regions = (sys: SystemView) =>
  runtime(sys).map((d) => ({ start: d.physAddr, end: d.physAddr + d.numPages * 4096n }));

for (const kind of ["reboot", "crash"] as const) {
  Deno.test(`plan (${kind}): boot_params carries efi_info, its own runtime map, SETUP_EFI and secure_boot`, () => {
    const p = plan(OVMF, { kind });
    const { bp, raw, at, records } = bootData(p);
    assert.equal(new TextDecoder().decode(raw.subarray(0x1c0, 0x1c4)), "EL64");
    const memmapAddr = (BigInt(bp.u32(0x1dc)) << 32n) | BigInt(bp.u32(0x1d0));
    assert.deepEqual(at(memmapAddr, bp.u32(0x1d4)), efiMemmapBytes(runtime(OVMF)));
    assert.equal(bp.u8(0x1ec), 2, "secure_boot copied");
    const h = decideEfiHandover(efiOf(OVMF), yes);
    assert.deepEqual(records.get(4), h.kind === "efi" ? efiSetupDataBytes(h) : undefined, "SETUP_EFI");
    assert.equal(records.get(9)?.length, 32, "SETUP_RNG_SEED stays");
    assert.equal(bp.u64(0x70), 0x7f77e014n, "acpi_rsdp_addr from the EFI systab");
    assert.equal(p.firmware?.handover, "efi");
    // --noefi: efi_info and secure_boot zero, no SETUP_EFI; the RSDP still goes.
    const n = bootData(plan(OVMF, { kind, noefi: true }));
    assert.ok(n.raw.subarray(0x1c0, 0x1e0).every((b) => b === 0), "efi_info zero");
    assert.equal(n.bp.u8(0x1ec), 0);
    assert.equal(n.records.has(4), false);
    assert.equal(n.bp.u64(0x70), 0x7f77e014n);
  });
}

Deno.test("plan: no segment of a normal load overwrites an EFI region the next kernel reads", () => {
  // An initrd of 30 MiB goes top-down below initrd_addr_max; in usable RAM it would cover the kept
  // boot-services region 0x7d88d000-0x7d9b9fff (the EFI memory attributes table), which the firmware memmap
  // calls RAM. kexec-ts keeps out of it.
  const p = plan(OVMF, {}, 30 * 1024 * 1024);
  for (const s of p.segments) {
    for (const r of regions(OVMF)) {
      assert.ok(!overlaps({ start: s.mem, end: s.mem + s.memsz }, r), `${s.role} overlaps an EFI runtime region`);
    }
  }
  // Without EFI's runtime map the same initrd lands there: the test would catch a regression.
  const without = plan(overlayView(OVMF, { "/sys/firmware/efi/runtime-map": null }), {}, 30 * 1024 * 1024);
  const initrd = without.segments.find((s) => s.role === "initrd")!;
  assert.ok(overlaps({ start: initrd.mem, end: initrd.mem + initrd.memsz }, { start: 0x7d896000n, end: 0x7d9ba000n }));
});

Deno.test("plan (crash): the capture kernel's e820 keeps every EFI runtime region reserved, none of it RAM", () => {
  const { bp } = bootData(plan(OVMF, { kind: "crash" }));
  const e820 = [...Array(bp.u8(0x1e8))].map((_, i) => ({
    start: bp.u64(0x2d0 + i * 20),
    end: bp.u64(0x2d0 + i * 20) + bp.u64(0x2d0 + i * 20 + 8),
    type: bp.u32(0x2d0 + i * 20 + 16),
  }));
  for (const r of regions(OVMF)) {
    const covering = e820.filter((e) => overlaps(e, r));
    assert.ok(covering.length > 0, `runtime region 0x${r.start.toString(16)} is a hole`);
    assert.ok(covering.every((e) => e.type === 2), `runtime region 0x${r.start.toString(16)} is not reserved`);
    const covered = covering.reduce(
      (n, e) => n + (e.end < r.end ? e.end : r.end) - (e.start > r.start ? e.start : r.start),
      0n,
    );
    assert.equal(covered, r.end - r.start);
  }
  // The part of the kept boot-services region that /proc/iomem calls System RAM is added.
  assert.ok(e820.some((e) => e.start === 0x7d896000n && e.end === 0x7d9ba000n && e.type === 2));
});

Deno.test("plan on an EFI machine that cannot hand EFI over: a BIOS-style handover and the reason", () => {
  const p = plan(NORUNTIME);
  const { raw, records } = bootData(p);
  assert.ok(raw.subarray(0x1c0, 0x1e0).every((b) => b === 0));
  assert.equal(records.has(4), false);
  assert.equal(p.firmware?.machine, "uefi");
  assert.equal(p.firmware?.handover, "bios");
  assert.match(p.firmware!.withheld!.reason, /efi=noruntime/);
});

Deno.test("plan: a kernel without XLF_EFI_KEXEC gets no EFI, and the plan says why", () => {
  const k = `${tmp}/bzImage-noefi`;
  Deno.writeFileSync(k, syntheticBzImage({ xloadflags: 0x7f & ~0x10 }));
  const p = plan(OVMF, { kernel: k });
  assert.equal(p.firmware?.handover, "bios");
  assert.match(p.firmware!.withheld!.reason, /no XLF_EFI_KEXEC in its xloadflags/);
  assert.equal(bootData(p).records.has(4), false);
});

Deno.test("plan: a malformed runtime map blocks no load; EFI is withheld with the file named, --noefi plans as ever", () => {
  const bad = overlayView(OVMF, { "/sys/firmware/efi/runtime-map/4/virt_addr": "\n" });
  const p = plan(bad);
  assert.equal(p.firmware?.handover, "bios");
  assert.equal(
    p.firmware!.withheld!.reason,
    "the runtime map is malformed: /sys/firmware/efi/runtime-map/4/virt_addr is missing or not a hex number",
  );
  const n = plan(bad, { noefi: true });
  assert.equal(n.firmware?.withheld?.reason, "--noefi");
  // The same segments as a --noefi plan on the intact machine: the map is then treated as absent (x86UsableRam).
  const intactNoefi = plan(overlayView(OVMF, { "/sys/firmware/efi/runtime-map": null }), { noefi: true });
  assert.deepEqual(n.segments.map((s) => [s.role, s.mem]), intactNoefi.segments.map((s) => [s.role, s.mem]));
});

Deno.test("plan: EFI handed over and no initrd: an empty initramfs goes in its place, and the plan says why", () => {
  for (const kind of ["reboot", "crash"] as const) {
    const p = plan(OVMF, { kind });
    assert.equal(p.firmware?.handover, "efi");
    const initrd = p.segments.filter((s) => s.role === "initrd");
    assert.equal(initrd.length, 1);
    assert.deepEqual(initrd[0].buf, emptyInitramfs());
    assert.equal(initrd[0].memsz, 0x1000n);
    if (kind === "crash") assert.ok(initrd[0].mem >= 0x5c000000n && initrd[0].mem < 0x6c000000n, "in the crash region");
    assert.ok(p.notes.includes(EMPTY_INITRAMFS_NOTE), `no note in ${p.notes.join("; ")}`);
  }
  // A given initrd is passed as it is, with no note.
  const own = plan(OVMF, {}, 4096);
  assert.deepEqual(own.segments.find((s) => s.role === "initrd")!.buf, lcgBytes(4096, 3));
  assert.ok(!own.notes.includes(EMPTY_INITRAMFS_NOTE));
  // No EFI handed over (--noefi, runtime services off, a BIOS machine): no initrd made up, ramdisk_size stays 0.
  for (
    const p of [plan(OVMF, { noefi: true }), plan(NORUNTIME), plan(fsSystemView(machineDir("qemu-q35-2g-crash256m")))]
  ) {
    assert.equal(p.segments.some((s) => s.role === "initrd"), false);
    assert.equal(le(p.segments.find((s) => s.role === "boot-params")!.buf).u32(0x21c), 0);
    assert.ok(!p.notes.includes(EMPTY_INITRAMFS_NOTE));
  }
});
