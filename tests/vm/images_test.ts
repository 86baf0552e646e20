/**
 * UKIs, ELF vmlinux and boot entries on a real kernel: a UKI made with systemd-stub loads with -l and -s (memfds)
 * and boots with its own .cmdline, .ucode and .initrd; -p from a UKI profile named by a boot entry captures a
 * dump; a vfat ESP on a virtio disk lists its Type #1 and Type #2 entries and `-l --boot-entry=default` boots the
 * one loader.conf names; the ELF vmlinux inside Debian's bzImage boots with -l at its link address and, moved into
 * the crash region, captures after a panic. Debian's kexec-tools 2.0.25 does what it can in the same VMs: ELF -l
 * (--args-linux) boots; it has no UKI loader and cannot put a vmlinux into a crash region away from 16 MiB.
 */

import assert from "node:assert/strict";
import { STAGE2_MARKER } from "../../scripts/vm/images.ts";
import { DEFAULT_KERNEL, kernelDir, kernelImage, kernelPackage } from "../../scripts/vm/kernels.ts";
import { buildEspImage, buildUki, guestVmlinux } from "../../scripts/vm/test_images.ts";
import { block, boot, check, expectRc, guestImages, hasMarker, marker, numberMarker, type Run } from "./harness.ts";

const MODULES = ["virtio_blk", "fat", "vfat", "nls_cp437", "nls_ascii"];
/** The image variant with the modules the guest needs to read the test disk. */
const EXTRA = {
  name: "images",
  files: Object.fromEntries(
    MODULES.map((m) => [`/lib/kts-modules/${m}.ko`, `${kernelDir(DEFAULT_KERNEL)}/modules/${m}.ko`]),
  ),
};
const UKI_CMDLINE = "console=ttyS0 panic=-1 kts.marker=uki-own-cmdline";
const KDUMP_CMDLINE = "irqpoll nr_cpus=1 reset_devices kts.marker=uki-kdump";
const entry = (marker: string, version: string) =>
  `title kexec-ts test ${marker}\nversion ${version}\nlinux /vmlinuz\ninitrd /stage2.cpio\n` +
  `options console=ttyS0 panic=-1\noptions kts.marker=${marker}\n`;

let disk: string | undefined;
/** The test disk: one ESP with the guest kernel, stage-2 initrd, a UKI, Type #1 entries and the ELF vmlinux. */
function testDisk(): string {
  if (disk) return disk;
  for (const f of Object.values(EXTRA.files)) {
    try {
      Deno.statSync(f);
    } catch {
      throw new Error(`${f} is missing: run scripts/setup --vm (scripts/setup.d/images.sh)`);
    }
  }
  const { stage2 } = guestImages(false, DEFAULT_KERNEL, EXTRA);
  const uname = kernelPackage(DEFAULT_KERNEL).replace(/^linux-image-/, "").replace(/-unsigned$/, "");
  const uki = buildUki({
    kernel: kernelImage(DEFAULT_KERNEL),
    initrd: stage2,
    cmdline: UKI_CMDLINE,
    osrel: 'PRETTY_NAME="kexec-ts test UKI"\nID=kts\nVERSION_ID=1\n',
    uname,
    ucodeFiles: { "kts-ucode": "ucode-marker\n" },
    profiles: [
      { profile: "ID=default\nTITLE=Default\n" },
      { profile: "ID=kdump\nTITLE=Capture kernel\n", cmdline: KDUMP_CMDLINE },
    ],
  });
  disk = buildEspImage({
    "/vmlinuz": { host: kernelImage(DEFAULT_KERNEL) },
    "/stage2.cpio": { host: stage2 },
    "/images/vmlinux": { host: guestVmlinux(DEFAULT_KERNEL) },
    "/EFI/Linux/kts-uki.efi": { host: uki },
    "/EFI/Microsoft/Boot/bootmgfw.efi": { text: "not an EFI program" },
    "/loader/loader.conf": { text: "timeout 3\ndefault kts-a*\n" },
    "/loader/entries/kts-a.conf": { text: entry("esp-type1-a", "1") },
    "/loader/entries/kts-b.conf": { text: entry("esp-type1-b", "2") },
    "/loader/entries/windows.conf": { text: "title Windows\nefi /EFI/Microsoft/Boot/bootmgfw.efi\n" },
  });
  return disk;
}

function bootWithDisk(scenario: string, append?: string): Promise<Run> {
  return boot(scenario, { extra: EXTRA, drives: [testDisk()], append });
}

/** The kexec'd kernel reached the stage-2 init with this command line and the stage-2 initrd. */
function secondKernel(run: Run, cmdline: string | RegExp) {
  check(run, hasMarker(run, "stage2.boot"), "the kexec'd kernel never reached its init");
  if (typeof cmdline === "string") assert.equal(marker(run, "stage2.cmdline"), cmdline);
  else assert.match(marker(run, "stage2.cmdline"), cmdline);
  assert.equal(marker(run, "stage2.marker"), STAGE2_MARKER);
  check(run, !hasMarker(run, "exec-returned"), "kexec -e returned to the first kernel");
}

function purgatoryVerified(run: Run) {
  check(run, run.result.console.includes("kexec-ts purgatory: SHA-256 ok"), "purgatory did not report its check");
}

/** The capture kernel booted from what was loaded and wrote a dump with the first kernel's log in it. */
function captured(run: Run, cmdline: RegExp) {
  check(run, hasMarker(run, "capture.vmcore-size"), "the capture kernel did not boot or has no /proc/vmcore");
  assert.match(marker(run, "stage2.cmdline"), cmdline);
  assert.equal(marker(run, "stage2.marker"), STAGE2_MARKER);
  assert.equal(numberMarker(run, "capture.makedumpfile-rc"), 0);
  assert.equal(marker(run, "capture.dmesg-marker"), marker(run, "first-kernel-token"));
}

Deno.test("UKI (systemd-stub + objcopy): -l takes .linux, .ucode + .initrd and .cmdline; -e boots it", async () => {
  const run = await bootWithDisk("uki-load-exec");
  expectRc(run, "esp", 0);
  expectRc(run, "plan", 0);
  const plan = block(run, "plan");
  assert.match(plan, /^kexec-ts plan: bzImage64 kernel through kexec_load$/m);
  assert.match(plan, /^image {5}uki "kexec-ts test UKI" 1, uname 6\.12\.\S+, profile 0 of 2 \(default: "Default"\)$/m);
  assert.match(plan, /^ {10}initrd: \.ucode \(\d+ bytes\) \+ \.initrd \(\d+ bytes\)$/m);
  assert.match(plan, /^cmdline {3}console=ttyS0 panic=-1 kts\.marker=uki-own-cmdline$/m);
  expectRc(run, "load", 0);
  assert.equal(marker(run, "sys.kexec_loaded"), "1");
  secondKernel(run, UKI_CMDLINE);
  assert.equal(marker(run, "stage2.ucode"), "ucode-marker", "the .ucode archive was not unpacked");
});

Deno.test("UKI with -s: kexec_file_load gets memfds of .linux and .ucode + .initrd; kexec-tools 2.0.25 cannot", async () => {
  const run = await bootWithDisk("uki-file-load");
  expectRc(run, "esp", 0);
  assert.match(marker(run, "peer-version"), /^kexec-tools 2\.0\.25/);
  check(run, Number(marker(run, "peer.rc")) !== 0, "Debian's kexec-tools loaded a UKI");
  assert.equal(marker(run, "after-peer.kexec_loaded"), "0");
  const plan = block(run, "plan");
  assert.match(plan, /^kernel {4}\/efi\/EFI\/Linux\/kts-uki\.efi \(its kernel through a memfd\)$/m);
  assert.match(plan, /^initrd {4}kts-uki\.efi:initrd \(memfd\)$/m);
  expectRc(run, "load", 0);
  assert.equal(marker(run, "sys.kexec_loaded"), "1");
  secondKernel(run, UKI_CMDLINE);
  assert.equal(marker(run, "stage2.ucode"), "ucode-marker");
  console.log(`kexec-tools 2.0.25 -s -l on the UKI: exit ${marker(run, "peer.rc")}: ${block(run, "peer").trim()}`);
});

Deno.test("-p --boot-entry=UKI@kdump: the profile's command line, .ucode and .initrd in a capture kernel that dumps", async () => {
  const run = await bootWithDisk("uki-crash", "crashkernel=256M");
  expectRc(run, "esp", 0);
  expectRc(run, "load", 0);
  assert.match(
    block(run, "load"),
    /^kexec-ts: boot entry kts-uki\.efi@kdump: "kexec-ts test UKI \(Capture kernel\)" 1 \(named/,
  );
  assert.equal(marker(run, "sys.kexec_crash_loaded"), "1");
  assert.match(
    block(run, "status"),
    /^loaded image +uki "kexec-ts test UKI" 1, uname 6\.12\.\S+, profile 1 of 2 \(kdump: "Capture kernel"\), boot entry kts-uki\.efi@kdump$/m,
  );
  const status = JSON.parse(block(run, "status-json"));
  assert.equal(status.record.image.profileId, "kdump");
  assert.equal(status.record.request.ukiProfile, 1);
  captured(
    run,
    new RegExp(`^elfcorehdr=0x[0-9a-f]+ memhp_default_state=offline ${KDUMP_CMDLINE.replaceAll(".", "\\.")}$`),
  );
  assert.equal(marker(run, "stage2.ucode"), "ucode-marker");
  purgatoryVerified(run);
});

Deno.test("ESP on a vfat disk: entries sorted as systemd-boot; -l --boot-entry=default boots loader.conf's and says so", async () => {
  const run = await bootWithDisk("esp-entries");
  expectRc(run, "esp", 0);
  expectRc(run, "entries", 0);
  const list = block(run, "entries");
  assert.match(list, /^ESP {8}\/efi \(mount point \/efi: vfat on \/dev\/vda1\)$/m);
  assert.match(list, /^default {4}kts-a\.conf \(loader\.conf default "kts-a\*"\)$/m);
  assert.match(list, /^ \* kts-a\.conf +1 +kexec-ts test esp-type1-a \(1\)$/m);
  const json = JSON.parse(block(run, "entries-json"));
  // The UKI's entries have a sort-key (its os-release ID), so they come first; the rest by id, newest first.
  assert.deepEqual(json.entries.map((e: { id: string }) => e.id), [
    "kts-uki.efi",
    "kts-uki.efi@kdump",
    "windows.conf",
    "kts-b.conf",
    "kts-a.conf",
  ]);
  assert.equal(json.defaultId, "kts-a.conf");
  const uki = json.entries.find((e: { id: string }) => e.id === "kts-uki.efi");
  assert.equal(uki.title, "kexec-ts test UKI (Default)");
  assert.equal(uki.options, UKI_CMDLINE);
  expectRc(run, "refused", 1);
  assert.match(
    block(run, "refused"),
    /^kexec-ts: boot entry windows\.conf runs the EFI program \/efi\/EFI\/Microsoft\/Boot\/bootmgfw\.efi, which kexec cannot start; choose another\n$/,
  );
  expectRc(run, "load", 0);
  assert.equal(
    block(run, "load"),
    'kexec-ts: boot entry kts-a.conf: "kexec-ts test esp-type1-a" 1 (the default: loader.conf default "kts-a*"), ' +
      "from /efi/loader/entries/kts-a.conf\n",
  );
  secondKernel(run, "console=ttyS0 panic=-1 kts.marker=esp-type1-a");
});

Deno.test("ELF vmlinux: -l at its p_paddr, entered at startup_64, boots; kexec-tools -c --args-linux loads it in the same VM", async () => {
  const run = await bootWithDisk("elf-load-exec");
  expectRc(run, "esp", 0);
  expectRc(run, "peer-load", 0);
  expectRc(run, "plan", 0);
  const plan = block(run, "plan");
  assert.match(plan, /^kexec-ts plan: elf-x86_64 kernel through kexec_load$/m);
  assert.match(plan, /-> kernel 0x1000[0-9a-f]{3}, boot_params/);
  assert.match(plan, /^ +\d +kernel +0x1000000 /m);
  expectRc(run, "load", 0);
  secondKernel(run, "console=ttyS0 panic=-1 kts.marker=elf-load");
  purgatoryVerified(run);
  const ours = numberMarker(run, "load.ms");
  const peer = numberMarker(run, "peer-load.ms");
  console.log(
    `ELF vmlinux -l, same VM: kexec-ts ${ours} ms, kexec-tools -c ${peer} ms (ratio ${(ours / peer).toFixed(2)})`,
  );
});

Deno.test("peer: kexec-tools 2.0.25 -c -l --args-linux boots the same ELF vmlinux", async () => {
  const run = await bootWithDisk("peer-elf-load-exec");
  expectRc(run, "esp", 0);
  expectRc(run, "load", 0);
  secondKernel(run, "console=ttyS0 panic=-1 kts.marker=peer-elf-load");
});

Deno.test("ELF vmlinux -p: kexec-tools refuses; kexec-ts moves it into the crash region by 2 MiB steps and it dumps", async () => {
  const run = await bootWithDisk("elf-crash", "crashkernel=256M");
  expectRc(run, "esp", 0);
  check(run, Number(marker(run, "peer.rc")) !== 0, "kexec-tools put the vmlinux into the crash region");
  assert.equal(marker(run, "after-peer.kexec_crash_loaded"), "0");
  const plan = block(run, "plan");
  assert.match(
    plan,
    /^note: vmlinux moved from its link address 0x1000000 to 0x[0-9a-f]+ \(by 0x[0-9a-f]+, a multiple of 0x200000\)/m,
  );
  expectRc(run, "load", 0);
  assert.equal(marker(run, "sys.kexec_crash_loaded"), "1");
  captured(
    run,
    /^elfcorehdr=0x[0-9a-f]+ memhp_default_state=offline console=ttyS0 .* irqpoll nr_cpus=1 reset_devices kts\.marker=elf-crash$/,
  );
  purgatoryVerified(run);
  console.log(`kexec-tools 2.0.25 -c -p on the vmlinux: exit ${marker(run, "peer.rc")}: ${block(run, "peer").trim()}`);
});
