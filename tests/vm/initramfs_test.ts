/**
 * kexec-ts in a rescue initramfs, the way its users put it there: the Debian package installed into a clean
 * bookworm root, its initramfs-tools hook (or its dracut module) switched on, the image built by Debian's own
 * update-initramfs (or dracut) for the 6.12 guest kernel whose modules are in that root. The VM boots that image
 * with the 6.12 kernel into its shell (break=premount; dracut: rd.break=pre-mount), and the test types a rescue
 * workflow at the prompt: load the disk's drivers, find the disk by label, mount it, find the kernel and initrd on
 * it, `kexec-ts -l ... && kexec-ts -e`. The disk's kernel is Debian's 6.1 with the stage-2 initrd, which reports
 * its command line on the data channel: the second kernel came up, and with the command line given.
 */

import assert from "node:assert/strict";
import { STAGE2_MARKER, stage2Image } from "../../scripts/vm/images.ts";
import { kernelImage, kernelPackage } from "../../scripts/vm/kernels.ts";
import { bootImage, check, failRun, hasMarker, marker, type Run } from "./harness.ts";
import { type InitramfsKind, rescueDisk, rescueInitramfs } from "./ship.ts";

const DISK_KERNEL = "6.1";

/** The disk kernel's release, from its package name (linux-image-6.1.0-57-amd64-unsigned -> 6.1.0-57-amd64). */
function diskKernelVersion(): string {
  const pkg = kernelPackage(DISK_KERNEL);
  const m = /^linux-image-(.+?)(-unsigned)?$/.exec(pkg);
  if (!m) throw new Error(`cannot tell the release of ${pkg}`);
  return m[1];
}

/**
 * What the rescuer types at the prompt: shell builtins and the commands both images have (dracut's has no cut, ls
 * or uname). `""` keeps the echoed command line from matching the markers it prints.
 */
function rescueCommands(kind: InitramfsKind): string {
  return [
    'read release </proc/sys/kernel/osrelease; echo KTS-RESCUE ""shell $release',
    "modprobe -a virtio_pci virtio_blk ext4",
    "for n in 1 2 3 4 5 6 7 8 9 10; do dev=$(blkid -L rescue) && break; sleep 1; done",
    'mkdir -p /mnt && mount -o ro $dev /mnt && echo KTS-RESCUE ""mounted $dev',
    "for k in /mnt/boot/vmlinuz-*; do :; done; i=/mnt/boot/initrd.img-${k#/mnt/boot/vmlinuz-}",
    'echo KTS-RESCUE ""found $k $i',
    'read t0 _ </proc/uptime; kexec-ts --version; read t1 _ </proc/uptime; echo KTS-RESCUE ""version-s $t0 $t1',
    "read t0 _ </proc/uptime",
    `kexec-ts -l $k --initrd=$i --append="console=ttyS0 panic=-1 kts.marker=rescue-${kind}" && ` +
    'read t1 _ </proc/uptime && echo KTS-RESCUE ""loaded $t0 $t1 && kexec-ts -e',
    'echo KTS-RESCUE ""returned $?',
    "",
  ].join("\n");
}

/** A console line without terminal escapes (bash's bracketed-paste switches, in dracut's shell). */
const ESCAPE = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;?]*[A-Za-z]`, "g");
const plain = (line: string) => line.replace(ESCAPE, "");

/** The `KTS-RESCUE key value` lines the rescuer's commands printed on the console. */
function rescueMarkers(run: Run): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of run.result.console.replace(/\r/g, "").split("\n")) {
    // Not anchored: a kernel message or the prompt may share the line. The echoed commands do not match (`""`).
    const r = /KTS-RESCUE ([a-z][\w-]*) ?(.*)$/.exec(plain(line));
    if (r) m.set(r[1], r[2]);
  }
  return m;
}

const seconds = (range: string | undefined) => {
  const [a, b] = (range ?? "").split(" ").map(Number);
  return b - a;
};

async function rescue(kind: InitramfsKind, prompt: RegExp, cmdline: string) {
  const image = await rescueInitramfs(kind);
  for (const f of ["usr/sbin/kexec-ts", "usr/lib/kexec-ts/deno", "usr/lib/kexec-ts/kexec-ts.js", "libcrypto.so.3"]) {
    assert.match(image.listing, new RegExp(`${f.replaceAll(".", "\\.")}\\b`), `${kind} image lacks ${f}`);
  }
  const version = diskKernelVersion();
  const disk = rescueDisk(kernelImage(DISK_KERNEL), version, stage2Image());
  try {
    const run = await bootImage(`rescue-${kind}`, {
      initrd: image.path,
      scenario: `rescue-${kind}`,
      kernel: "6.12",
      cmdline,
      drives: [disk],
      consoleScript: [{ expect: prompt, send: rescueCommands(kind) }],
      timeoutMs: 300_000,
    });
    const said = rescueMarkers(run);
    const typed = run.result.console.split("\n").filter((l) => l.includes("KTS-RESCUE")).join("\n");
    check(run, said.has("shell"), `the ${kind} shell never ran the rescuer's commands; its lines:\n${typed}`);
    check(run, said.get("mounted") !== undefined, "the rescue disk was not mounted");
    assert.equal(said.get("found"), `/mnt/boot/vmlinuz-${version} /mnt/boot/initrd.img-${version}`);
    check(run, run.result.console.includes("kexec-ts 0.") || /kexec-ts \d/.test(run.result.console), "no --version");
    check(run, said.has("loaded"), `kexec-ts -l failed in the ${kind} initramfs`);
    check(run, !said.has("returned"), `kexec-ts -e returned (rc ${said.get("returned")})`);
    check(run, hasMarker(run, "stage2.boot"), "the disk's kernel never reached its init");
    assert.equal(marker(run, "stage2.cmdline"), `console=ttyS0 panic=-1 kts.marker=rescue-${kind}`);
    assert.equal(marker(run, "stage2.kernel"), version);
    assert.equal(marker(run, "stage2.marker"), STAGE2_MARKER);
    const shellAt = run.result.consoleLines.find((l) => /KTS-RESCUE shell/.test(plain(l.text)))?.atMs ?? NaN;
    const secondAt = run.markers.get("stage2.boot")?.[0].atMs ?? NaN;
    console.log(
      `${kind}: image ${(Deno.statSync(image.path).size / 1e6).toFixed(1)} MB` +
        (image.built ? `, built in ${(image.buildMs / 1000).toFixed(0)} s` : " (cached)") +
        `; shell at ${(shellAt / 1000).toFixed(1)} s; kexec-ts --version ${
          seconds(said.get("version-s")).toFixed(2)
        } s,` +
        ` -l ${seconds(said.get("loaded")).toFixed(2)} s (guest uptime); second kernel's init ` +
        `${((secondAt - shellAt) / 1000).toFixed(1)} s after the prompt; run ${
          (run.result.elapsedMs / 1000).toFixed(0)
        } s`,
    );
    if (Number.isNaN(shellAt)) failRun(run, "no shell line on the console");
  } finally {
    Deno.removeSync(disk.slice(0, disk.lastIndexOf("/")), { recursive: true });
  }
}

Deno.test("initramfs-tools: a rescue shell finds a kernel on a disk and boots it with kexec-ts -l && kexec-ts -e", async () => {
  // break=premount: initramfs-tools' own shell once udev has started, before it looks for the root (there is none).
  await rescue("initramfs-tools", /\(initramfs\) /, "console=ttyS0 break=premount");
});

Deno.test("dracut: the same rescue from dracut's emergency shell", async () => {
  // dracut refuses to start without a root= (and drops to its debug shell): name the disk, and break before mounting.
  await rescue("dracut", /pre-mount:\/# /, "console=ttyS0 root=LABEL=rescue rd.break=pre-mount");
});
