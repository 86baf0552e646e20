/**
 * UEFI machines (OVMF, the kernel booted through its EFI stub): kexec-ts hands EFI to the next kernel for -l and -p,
 * and Debian's kexec-tools -c goes through the same checks in the same VM. The second kernel and the capture kernel
 * must show /sys/firmware/efi/runtime, efivars that list and read a variable (PlatformLang, through GetVariable),
 * the DMI vendor (SMBIOS through the EFI configuration tables) and ACPI. The crash run also hot-adds memory after
 * the load and checks the vmcore and makedumpfile, as crash_test.ts and hotplug_test.ts do under SeaBIOS. A first
 * kernel booted with efi=noruntime shows the degraded case: what can be handed over is, and kexec-ts says what the
 * next kernel lacks. With no initrd (a UKI without `.initrd` through kexec_load, a plain kernel through
 * kexec_file_load) the next kernel gets the empty initramfs kexec-ts passes and gets past the ramdisk step a zero
 * ramdisk_size would have killed it at.
 *
 * Each run logs one `handover` JSON line (what the next kernel got), the source of the README's table.
 */

import assert from "node:assert/strict";
import { STAGE2_MARKER } from "../../scripts/vm/images.ts";
import { DEFAULT_KERNEL, kernelDir, kernelImage, kernelPackage } from "../../scripts/vm/kernels.ts";
import { buildUki } from "../../scripts/vm/test_images.ts";
import {
  block,
  boot,
  type BootOptions,
  check,
  expectRc,
  hasMarker,
  marker,
  numberMarker,
  type Run,
} from "./harness.ts";
import { expectedDumpRam, summarizeVmcore, uncovered } from "./vmcore.ts";
import { mergeRanges, type Range, subtractRanges } from "../../lib/memory/ranges.ts";
import { parseCpuList } from "../../lib/crash/elfcorehdr.ts";

/** The efivarfs module the guests load (scripts/setup --vm keeps it beside the kernel); fails, never skips. */
function requireEfivarfsModule(): void {
  const dir = `${kernelDir("6.12")}/efivarfs`;
  const found = (() => {
    try {
      return [...Deno.readDirSync(dir)].some((r) => {
        try {
          return Deno.statSync(`${dir}/${r.name}/efivarfs.ko`).isFile;
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  })();
  if (!found) throw new Error(`${dir}/*/efivarfs.ko is missing: run scripts/setup --vm (it keeps the module)`);
}

function uefiBoot(scenario: string, opts: Omit<BootOptions, "firmware"> = {}): Promise<Run> {
  requireEfivarfsModule();
  return boot(scenario, { firmware: "uefi", timeoutMs: 360_000, ...opts });
}

/** What the next kernel reported about its firmware, as one row of the handover table. */
function handoverRow(run: Run, who: string) {
  const opt = (k: string) => (hasMarker(run, k) ? marker(run, k) : null);
  const dmesg = run.blocks.get("stage2.firmware-dmesg") ?? "";
  const row = {
    run: run.name,
    who,
    efi: opt("stage2.efi"),
    runtime: opt("stage2.efi-runtime") !== null,
    runtimeMapEntries: opt("stage2.efi-runtime-map"),
    efivars: opt("stage2.efivars-count"),
    platformLang: opt("stage2.efivar-platformlang"),
    dmiVendor: opt("stage2.dmi-vendor"),
    acpiTables: opt("stage2.acpi-tables"),
    efiBanner: /efi: EFI v[\d.]+ by .*/.exec(dmesg)?.[0] ?? null,
    smbios: /SMBIOS [\d.]+ present/.exec(dmesg)?.[0] ?? null,
    memattrIntact: !/memattr: Unexpected/.test(dmesg),
    e820Entries: dmesg.split("\n").filter((l) => l.startsWith("BIOS-e820:")).length,
    elapsedMs: run.result.elapsedMs,
  };
  console.log(`handover ${JSON.stringify(row)}`);
  return row;
}

/** The next kernel has EFI runtime services, readable variables, SMBIOS/DMI and ACPI, like the first kernel. */
function checkEfiHandedOver(run: Run, cmdlineMarker: string) {
  check(run, hasMarker(run, "stage2.boot"), "the next kernel never reached its init");
  assert.equal(marker(run, "stage2.marker"), STAGE2_MARKER);
  assert.match(marker(run, "stage2.cmdline"), new RegExp(`kts\\.marker=${cmdlineMarker}( |$)`));
  assert.equal(marker(run, "stage2.efi"), "present", "no /sys/firmware/efi in the next kernel");
  check(run, hasMarker(run, "stage2.efi-runtime"), "no /sys/firmware/efi/runtime: runtime services are off");
  // The next kernel may split a region it keeps (efi_mem_reserve): at least the entries it was handed.
  check(
    run,
    numberMarker(run, "stage2.efi-runtime-map") >= numberMarker(run, "first.efi-runtime-map"),
    `the next kernel's runtime map has ${marker(run, "stage2.efi-runtime-map")} entries, the first kernel's ${
      marker(run, "first.efi-runtime-map")
    }`,
  );
  check(run, numberMarker(run, "stage2.efivars-count") > 0, "efivarfs lists no variable");
  assert.equal(marker(run, "stage2.efivar-platformlang"), "en", "PlatformLang read through GetVariable");
  assert.equal(marker(run, "stage2.dmi-vendor"), "QEMU");
  assert.equal(marker(run, "first.dmi-vendor"), "QEMU");
  assert.equal(marker(run, "stage2.acpi-tables"), marker(run, "first.acpi-tables"), "ACPI tables");
  const dmesg = block(run, "stage2.firmware-dmesg");
  assert.match(dmesg, /^efi: EFI v2\.\d+ by EDK II$/m);
  assert.match(dmesg, /^SMBIOS [\d.]+ present/m);
  assert.match(dmesg, /^DMI: QEMU /m);
  const peer = cmdlineMarker.includes("peer");
  // kexec-ts keeps its segments off the EFI regions the next kernel reads (x86UsableRam); kexec-tools does not, and
  // its initrd can overwrite the EFI memory attributes table: the peer's row records it, ours must not do it.
  if (!peer) assert.doesNotMatch(dmesg, /memattr: Unexpected/, "a segment overwrote the EFI memory attributes table");
  return handoverRow(run, peer ? "kexec-tools -c" : "kexec-ts");
}

/** First-kernel runtime regions (`type phys_addr num_pages` lines). */
function runtimeRegions(run: Run): Range[] {
  return block(run, "first-runtime-map").trim().split("\n").map((l) => {
    const [, phys, pages] = l.trim().split(/\s+/);
    return { start: BigInt(phys), end: BigInt(phys) + BigInt(pages) * 4096n };
  });
}

/** The capture kernel's e820 from its `BIOS-e820: [mem 0x...-0x...] type` lines. */
function captureE820(run: Run): (Range & { type: string })[] {
  return [...block(run, "stage2.firmware-dmesg").matchAll(/^BIOS-e820: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] (.+)$/gm)]
    .map((m) => ({ start: BigInt(m[1]), end: BigInt(m[2]) + 1n, type: m[3].trim() }));
}

/** Bytes of EFI runtime regions the capture kernel's e820 leaves out or calls usable. */
function runtimeNotReserved(run: Run): { hole: bigint; usable: bigint } {
  const e820 = captureE820(run);
  const regions = runtimeRegions(run);
  const usable = e820.filter((e) => e.type === "usable");
  const sum = (rs: Range[]) => rs.reduce((n, r) => n + r.end - r.start, 0n);
  const inUsable = sum(regions.map((r) => subtractRanges([r], subtractRanges([r], usable))).flat());
  return { hole: sum(subtractRanges(regions, e820)), usable: inUsable };
}

/** The capture kernel booted, handed EFI, and its vmcore covers the first kernel's RAM; makedumpfile writes it. */
function checkCapture(run: Run, cmdlineMarker: string) {
  expectRc(run, "load", 0);
  check(run, hasMarker(run, "capture.vmcore-size"), "the capture kernel did not boot or has no /proc/vmcore");
  const row = checkEfiHandedOver(run, cmdlineMarker);
  const vmcore = summarizeVmcore(block(run, "capture.vmcore-head"));
  const want = expectedDumpRam(block(run, "first-iomem"));
  assert.equal(numberMarker(run, "capture.makedumpfile-rc"), 0);
  check(run, numberMarker(run, "capture.dump-size") > 1_000_000, "makedumpfile wrote an empty dump");
  check(
    run,
    numberMarker(run, "stage2.memtotal") < 256 * 1024,
    `capture kernel MemTotal ${marker(run, "stage2.memtotal")} KiB: it uses memory it must dump`,
  );
  return { vmcore, want, missing: uncovered(want, vmcore.loads), row, runtime: runtimeNotReserved(run) };
}

Deno.test("UEFI kexec-ts -p: the capture kernel gets EFI (runtime, efivars, DMI, ACPI); hot-added memory is dumped", async () => {
  const run = await uefiBoot("uefi-crash", { append: "crashkernel=256M", slots: 4, maxmem: "4G" });
  // Before the load: status and the plan say what is handed over.
  const status = JSON.parse(block(run, "status-json"));
  assert.equal(status.firmware.kind, "uefi");
  assert.equal(status.firmware.runtimeServices, "on");
  assert.deepEqual(status.firmware.runtimeMap, {
    kind: "present",
    entryCount: Number(marker(run, "first.efi-runtime-map")),
  });
  assert.deepEqual(status.firmware.secureBoot, { state: "setup-mode", source: "efivars" }, "OVMF without keys");
  const plan = JSON.parse(block(run, "plan-json"));
  assert.equal(plan.firmware.handover, "efi");
  assert.deepEqual(plan.firmware.records.map((r: { name: string }) => r.name), [
    "efi_info",
    "SETUP_EFI",
    "secure_boot",
    "acpi_rsdp_addr",
  ]);
  // A kernel without a runtime map: the plan withholds EFI, says what is lost and that -s does better.
  expectRc(run, "plan-nomap", 0);
  const nomap = block(run, "plan-nomap");
  assert.match(
    nomap,
    /^kexec-ts: warning: EFI is not handed over: this kernel exports no \/sys\/firmware\/efi\/runtime-map/m,
  );
  assert.match(
    nomap,
    /no SMBIOS\/DMI .*; kexec_file_load \(-s\) passes at least the EFI system and configuration tables/,
  );
  assert.match(nomap, /^firmware +UEFI machine; the new kernel gets no EFI/m);

  // The capture kernel.
  assert.equal(marker(run, "before.memory_crash_hotplug"), "1");
  assert.equal(marker(run, "after.memory_crash_hotplug"), "1");
  check(run, !hasMarker(run, "hotadd-failed"), "the memory hot-add failed");
  const { vmcore, want, missing, runtime } = checkCapture(run, "uefi-crash");
  check(run, run.result.console.includes("kexec-ts purgatory: SHA-256 ok"), "purgatory did not verify");
  assert.equal(missing, 0n, `vmcore misses ${missing} bytes of the first kernel's RAM`);
  assert.deepEqual(subtractRanges(mergeRanges(vmcore.loads), mergeRanges(want)), [], "vmcore covers other memory");
  check(run, vmcore.loads.some((r) => r.start >= 0x100000000n), "no PT_LOAD for the hot-added DIMM");
  assert.equal(vmcore.prstatus, parseCpuList(marker(run, "first-cpus")).length);
  assert.equal(marker(run, "capture.dmesg-marker"), marker(run, "first-kernel-token"));
  assert.deepEqual(runtime, { hole: 0n, usable: 0n }, "EFI runtime regions not reserved in the capture kernel");
});

Deno.test("UEFI kexec-ts -l, -e: the second kernel gets EFI (runtime, efivars, DMI, ACPI)", async () => {
  const run = await uefiBoot("uefi-load-exec");
  expectRc(run, "load", 0);
  check(run, !hasMarker(run, "exec-returned"), "kexec -e returned to the first kernel");
  checkEfiHandedOver(run, "uefi-load-exec");
  check(run, run.result.console.includes("kexec-ts purgatory: SHA-256 ok"), "purgatory did not verify");
});

Deno.test("UEFI peer: kexec-tools -c -l, -e in the same VM passes the same checks", async () => {
  const run = await uefiBoot("uefi-peer-load-exec");
  expectRc(run, "load", 0);
  checkEfiHandedOver(run, "uefi-peer-load-exec");
});

Deno.test("UEFI peer: kexec-tools -c -p in the same VM: EFI in the capture kernel, the same dump", async () => {
  const run = await uefiBoot("uefi-peer-crash", { append: "crashkernel=256M" });
  const { vmcore, want, missing, runtime } = checkCapture(run, "uefi-peer-crash");
  assert.equal(missing, 0n, `the peer's vmcore misses ${missing} bytes`);
  // kexec-tools still dumps the low 640 KiB (its backup region); above 1 MiB the coverage must be identical.
  const above1M = subtractRanges(mergeRanges(vmcore.loads), [{ start: 0n, end: 0x100000n }]);
  assert.deepEqual(mergeRanges(above1M), mergeRanges(want));
  console.log(
    `handover-runtime-reserved ${
      JSON.stringify({ who: "kexec-tools -c", ...runtime }, (_, v) => typeof v === "bigint" ? Number(v) : v)
    }`,
  );
});

Deno.test("UEFI, first kernel with efi=noruntime: kexec-ts warns what is lost, hands over ACPI, the kernel boots", async () => {
  const run = await uefiBoot("uefi-noruntime", { append: "efi=noruntime" });
  const status = JSON.parse(block(run, "status-json"));
  assert.equal(status.firmware.kind, "uefi");
  assert.equal(status.firmware.runtimeServices, "off");
  assert.equal(status.firmware.runtimeOffBy, "efi=noruntime");
  assert.deepEqual(status.firmware.runtimeMap, { kind: "absent" });
  expectRc(run, "load", 0);
  assert.match(
    block(run, "load"),
    /^kexec-ts: warning: EFI is not handed over: EFI runtime services are off in this kernel \(efi=noruntime on its command line\); the next kernel will run without EFI runtime services/m,
  );
  check(run, hasMarker(run, "stage2.boot"), "the next kernel never reached its init");
  assert.match(marker(run, "stage2.cmdline"), /kts\.marker=uefi-noruntime$/);
  assert.equal(marker(run, "stage2.efi"), "absent");
  assert.equal(marker(run, "stage2.acpi-tables"), marker(run, "first.acpi-tables"), "ACPI through acpi_rsdp_addr");
  // What the warning said it would lack: OVMF has no legacy SMBIOS entry point.
  assert.equal(marker(run, "stage2.dmi-vendor"), "absent");
  handoverRow(run, "kexec-ts (first kernel efi=noruntime)");
});

/**
 * The command line in the UKI of the no-initrd test (the kernel must boot with it: .cmdline is used). earlyprintk,
 * because the panic a zero ramdisk_size causes comes before the console is up: without it a regression is a silent
 * hang until the timeout (measured: the control run with the empty initramfs taken out timed out, nothing printed).
 */
const NOINITRD_UKI_CMDLINE = "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1 kts.marker=uefi-noinitrd-uki";

Deno.test("UEFI, no initrd: kexec-ts passes an empty initramfs; the next kernel (a UKI without .initrd) gets EFI and past its ramdisk", async () => {
  const uname = kernelPackage(DEFAULT_KERNEL).replace(/^linux-image-/, "").replace(/-unsigned$/, "");
  const uki = buildUki({
    kernel: kernelImage(DEFAULT_KERNEL),
    cmdline: NOINITRD_UKI_CMDLINE,
    osrel: 'PRETTY_NAME="kexec-ts test UKI without initrd"\nID=kts\nVERSION_ID=1\n',
    uname,
  });
  const run = await uefiBoot("uefi-noinitrd", {
    extra: { name: "noinitrd-uki", files: { "/boot/noinitrd-uki.efi": uki } },
    // The expected end is a panic at the root mount (panic=-1 then reboots, and QEMU exits); a regression panics at
    // t=0, before panic= is read, and would hang (earlyprintk shows that panic): stop on either.
    stopOnConsole: { pattern: /Kernel panic - not syncing/, graceMs: 3000 },
  });
  const note =
    /^note: no initrd: an empty initramfs \(a 512-byte cpio trailer\) is passed instead, because a kernel handed EFI with ramdisk_size 0/m;
  expectRc(run, "plan", 0);
  assert.match(block(run, "plan"), /^firmware +UEFI machine; the new kernel gets EFI/m);
  assert.match(block(run, "plan"), /^ +\d +initrd +0x[0-9a-f]+ +0x1000 +0x200 /m);
  assert.match(block(run, "plan"), note);
  expectRc(run, "load-plain", 0);
  expectRc(run, "plan-uki", 0);
  const planUki = block(run, "plan-uki");
  assert.match(planUki, /^ {10}initrd: none$/m);
  assert.match(planUki, note);
  assert.match(planUki, /^ +\d +initrd +0x[0-9a-f]+ +0x1000 +0x200 /m);
  assert.match(planUki, new RegExp(`^cmdline {3}${NOINITRD_UKI_CMDLINE.replaceAll(".", "\\.")}$`, "m"));
  expectRc(run, "load", 0);
  assert.equal(marker(run, "sys.kexec_loaded"), "1");
  check(run, !hasMarker(run, "exec-returned"), "kexec -e returned to the first kernel");
  check(run, run.result.console.includes("kexec-ts purgatory: SHA-256 ok"), "purgatory did not verify");

  // reserve_initrd prints the ramdisk's pages: one, at the address the plan gave the empty initramfs.
  const planned = /^ +\d +initrd +(0x[0-9a-f]+) +0x1000 +0x200 /m.exec(planUki);
  check(run, planned !== null, "the UKI's plan has no 512-byte initrd segment");
  const ramdisk = nextKernelPastItsRamdisk(run, NOINITRD_UKI_CMDLINE);
  assert.deepEqual(ramdisk, { start: BigInt(planned![1]), end: BigInt(planned![1]) + 4096n });
});

Deno.test("UEFI -s, no initrd: kexec_file_load gets an empty initramfs (memfd); the kernel's loader hands EFI over and the next kernel gets past its ramdisk", async () => {
  const run = await uefiBoot("uefi-noinitrd-file", {
    stopOnConsole: { pattern: /Kernel panic - not syncing/, graceMs: 3000 },
  });
  expectRc(run, "plan", 0);
  assert.match(block(run, "plan"), /^kexec-ts plan: kexec_file_load/m);
  assert.match(block(run, "plan"), /^initrd {4}vmlinuz:initrd \(memfd, empty initramfs\)$/m);
  assert.match(
    block(run, "plan"),
    /^note: no initrd: an empty initramfs .* the kernel's kexec_file loader hands EFI over/m,
  );
  expectRc(run, "load", 0);
  assert.equal(marker(run, "sys.kexec_loaded"), "1");
  check(run, !hasMarker(run, "exec-returned"), "kexec -e returned to the first kernel");
  const ramdisk = nextKernelPastItsRamdisk(
    run,
    "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1 kts.marker=uefi-noinitrd-file",
  );
  assert.equal(ramdisk.end - ramdisk.start, 4096n, "one page: the empty initramfs");
});

/**
 * The next kernel's console, from its banner on (the first kernel runs with loglevel=4, which hides its banner):
 * `cmdline`, EFI (with the first boot's INITRD table, which a zero ramdisk_size would have made its initrd), a
 * ramdisk unpacked and freed, then the end expected without a root file system. Returns the ramdisk's pages.
 */
function nextKernelPastItsRamdisk(run: Run, cmdline: string): Range {
  const lines = run.result.consoleLines.map((l) => l.text.replace(/^\[ *\d+\.\d+\] /, ""));
  const banner = lines.findLastIndex((l) => l.startsWith("Linux version "));
  check(run, banner >= 0, "no banner of the next kernel on the console");
  const next = lines.slice(banner);
  const text = next.join("\n");
  assert.doesNotMatch(text, /Cannot find place for new RAMDISK/);
  assert.match(text, new RegExp(`^Kernel command line: ${cmdline.replaceAll(".", "\\.")}$`, "m"));
  assert.match(text, /^efi: EFI v2\.\d+ by EDK II$/m);
  assert.match(text, /^efi: .*INITRD=0x[0-9a-f]+/m, "the stale INITRD table the empty initramfs overrides");
  const rd = /^RAMDISK: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]$/m.exec(text);
  check(run, rd !== null, "the next kernel reports no RAMDISK");
  assert.match(text, /^Freeing initrd memory: 4K$/m);
  assert.match(text, /^Kernel panic - not syncing: VFS: Unable to mount root fs/m);
  const shown = /^(efi: .*INITRD=.*|RAMDISK: .*|Freeing initrd memory: .*|Kernel panic - .*)$/;
  console.log(
    `${run.name} next kernel (VM ${run.result.elapsedMs} ms): ${JSON.stringify(next.filter((l) => shown.test(l)))}`,
  );
  return { start: BigInt(rd![1]), end: BigInt(rd![2]) + 1n };
}
