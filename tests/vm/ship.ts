/**
 * Shared by the packaging tests: the package (`deno task deb`'s build, gzip-compressed to save minutes, in
 * .cache/ship/deb, rebuilt only when its inputs change), the clean Debian root (scripts/ship/debian-root:
 * debootstrap bookworm minbase + initramfs-tools, dracut-core, shells and the 6.12 guest kernel's modules, in
 * .cache/ship), overlays of that root to install the package into, the rescue initramfs images built there, and
 * the rescue disk.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { buildDeb, type DebResult } from "../../scripts/deb/build.ts";
import { bundleTo } from "../../scripts/deb/bundle.ts";
import { ROOT } from "../../scripts/vm/images.ts";
import { tmpPath } from "../../scripts/tmp_path.ts";

/** Where the packaging tests keep what they build. */
export const SHIP_CACHE = `${ROOT}/.cache/ship`;

const decoder = new TextDecoder();

let deb: Promise<DebResult> | undefined;

/** The package under test (built once per test process, reused across processes while its inputs are the same). */
export function testPackage(): Promise<DebResult> {
  deb ??= buildDeb({ outDir: `${SHIP_CACHE}/deb`, compress: "gzip" });
  return deb;
}

let bundle: string | undefined;

/**
 * `deno task bundle`'s output for the VM image, under a name made from its content (.cache/ship/bundle), so that
 * the image built around it is reused while the sources do not change.
 */
export function testBundle(): string {
  if (bundle) return bundle;
  const dir = `${SHIP_CACHE}/bundle`;
  Deno.mkdirSync(dir, { recursive: true });
  const tmp = tmpPath(`${dir}/build.js`);
  bundleTo(tmp);
  const sha = createHash("sha256").update(Deno.readFileSync(tmp)).digest("hex").slice(0, 16);
  bundle = `${dir}/kexec-ts-${sha}.js`;
  try {
    Deno.statSync(bundle);
    Deno.removeSync(tmp);
  } catch {
    Deno.renameSync(tmp, bundle);
  }
  return bundle;
}

/** Runs a command; returns its exit code and combined output. */
export function sh(cmd: string, args: string[], env?: Record<string, string>): { rc: number; out: string } {
  const r = new Deno.Command(cmd, { args, env, stdin: "null", stdout: "piped", stderr: "piped" }).outputSync();
  return { rc: r.code, out: decoder.decode(r.stdout) + decoder.decode(r.stderr) };
}

/** The clean Debian root; built on first use (debootstrap: a few minutes). Fails loudly when it cannot be. */
export function debianRoot(): string {
  const r = sh(`${ROOT}/scripts/ship/debian-root`, []);
  const path = r.out.trim().split("\n").pop() ?? "";
  if (r.rc !== 0 || !path.startsWith("/")) {
    throw new Error(`scripts/ship/debian-root failed (rc ${r.rc}); needs root, debootstrap and a mirror:\n${r.out}`);
  }
  return path;
}

/** What a script in an overlay did; `upper` holds every file it changed (remove it with `cleanup`). */
export interface OverlayRun {
  rc: number;
  out: string;
  upper: string;
  cleanup(): void;
}

/**
 * Runs `script` (sh -c) in a fresh overlay of the Debian root, with `files` (guest path: host path) copied in
 * first. The root itself never changes.
 */
export function inOverlay(script: string, files: Record<string, string> = {}): OverlayRun {
  debianRoot();
  const dir = Deno.makeTempDirSync({ prefix: "kts-overlay-" });
  for (const [guest, host] of Object.entries(files)) {
    const dest = `${dir}/upper/${guest.replace(/^\//, "")}`;
    Deno.mkdirSync(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
    Deno.copyFileSync(host, dest);
  }
  const r = sh(`${ROOT}/scripts/ship/debian-root`, ["overlay", dir, "/bin/sh", "-c", script]);
  return { ...r, upper: `${dir}/upper`, cleanup: () => Deno.removeSync(dir, { recursive: true }) };
}

/** The initramfs generators the rescue test builds with. */
export type InitramfsKind = "initramfs-tools" | "dracut";

/**
 * How each image is built in the overlay, as an admin would: the package installed, the switch turned on the
 * documented way, and the modules the rescue disk needs listed (virtio and ext4; not every module, to keep the
 * build and the boot short). The image goes to /tmp/out.img, its listing to /tmp/out.list.
 */
const RECIPES: Record<InitramfsKind, string> = {
  "initramfs-tools": `set -e
dpkg -i /tmp/kexec-ts.deb >/dev/null
sed -i 's/^KEXEC_TS_INITRAMFS=.*/KEXEC_TS_INITRAMFS=y/' /etc/kexec-ts/initramfs.conf
sed -i 's/^MODULES=.*/MODULES=list/' /etc/initramfs-tools/initramfs.conf
printf '%s\\n' virtio_pci virtio_blk ext4 >> /etc/initramfs-tools/modules
update-initramfs -c -k "$(cat /kernel-version)"
cp "/boot/initrd.img-$(cat /kernel-version)" /tmp/out.img
lsinitramfs /tmp/out.img > /tmp/out.list
`,
  dracut: `set -e
dpkg -i /tmp/kexec-ts.deb >/dev/null
echo 'add_dracutmodules+=" kexec-ts "' > /etc/dracut.conf.d/90-kexec-ts.conf
dracut --no-hostonly --drivers "virtio_pci virtio_blk ext4" --force /tmp/out.img "$(cat /kernel-version)"
lsinitrd /tmp/out.img > /tmp/out.list
`,
};

/** A built rescue image: the initramfs and its file listing. */
export interface RescueImage {
  path: string;
  listing: string;
  /** Built by this call (false: found in the cache, built from the same package, root and recipe). */
  built: boolean;
  buildMs: number;
}

/** Builds (or reuses) the rescue initramfs of `kind` with the package installed. */
export async function rescueInitramfs(kind: InitramfsKind): Promise<RescueImage> {
  const pkg = await testPackage();
  debianRoot();
  const key = createHash("sha256")
    .update(Deno.readTextFileSync(`${pkg.path}.key`))
    .update(Deno.readTextFileSync(`${SHIP_CACHE}/bookworm-root.stamp`))
    .update(RECIPES[kind])
    .digest("hex").slice(0, 16);
  const dir = `${SHIP_CACHE}/initramfs`;
  const path = `${dir}/${kind}-${key}.img`;
  try {
    return { path, listing: Deno.readTextFileSync(`${path}.list`), built: false, buildMs: 0 };
  } catch { /* not built yet */ }
  const t0 = Date.now();
  const run = inOverlay(RECIPES[kind], { "/tmp/kexec-ts.deb": pkg.path });
  try {
    if (run.rc !== 0) throw new Error(`building the ${kind} image failed (rc ${run.rc}):\n${run.out}`);
    Deno.mkdirSync(dir, { recursive: true });
    for (const e of Deno.readDirSync(dir)) {
      if (e.name.startsWith(`${kind}-`)) Deno.removeSync(`${dir}/${e.name}`);
    }
    Deno.copyFileSync(`${run.upper}/tmp/out.img`, `${path}.tmp`);
    Deno.renameSync(`${path}.tmp`, path);
    const listing = Deno.readTextFileSync(`${run.upper}/tmp/out.list`);
    Deno.writeTextFileSync(`${path}.list`, listing);
    return { path, listing, built: true, buildMs: Date.now() - t0 };
  } finally {
    run.cleanup();
  }
}

/**
 * The rescue disk: an ext4 image labelled "rescue" (mke2fs -d, no mounting) holding /boot/vmlinuz-VERSION and
 * /boot/initrd.img-VERSION, as a Debian root partition would. Returns its path (remove it when done).
 */
export function rescueDisk(kernel: string, kernelVersion: string, initrd: string): string {
  const dir = Deno.makeTempDirSync({ prefix: "kts-rescue-disk-" });
  Deno.mkdirSync(`${dir}/tree/boot`, { recursive: true });
  Deno.copyFileSync(kernel, `${dir}/tree/boot/vmlinuz-${kernelVersion}`);
  Deno.copyFileSync(initrd, `${dir}/tree/boot/initrd.img-${kernelVersion}`);
  const img = `${dir}/disk.img`;
  const r = sh("mke2fs", ["-q", "-F", "-t", "ext4", "-L", "rescue", "-d", `${dir}/tree`, img, "64M"]);
  if (r.rc !== 0) throw new Error(`mke2fs failed: ${r.out}`);
  Deno.removeSync(`${dir}/tree`, { recursive: true });
  return img;
}
