/**
 * Builds the guest images the VM tests boot, from the current checkout and the host's packages:
 *
 *  - the main initramfs: busybox, Deno and the glibc libraries it needs, kexec-ts' sources under /kts,
 *    Debian's kexec-tools (the peer), systemd-udevd, the guest kernel as /boot/vmlinuz and the stage-2 initrds;
 *    the newest kexec-tools (the "new" peer, with --hotplug) as /sbin/kexec-new, run through its own suite's loader
 *    and libraries from /opt/kexec-new (scripts/setup.d/peers.sh unpacks them);
 *  - the stage-2 initrd, booted by the kexec'd kernel or the capture kernel: busybox, makedumpfile and a /init
 *    that reports what it finds (command line, initrd marker, /proc/vmcore) on the data channel;
 *  - optionally a stage-2 initrd padded with 64 MiB of random data (the large-initrd tests);
 *  - optionally the capture stage-2 initrd (`capture`): the stage-2 initrd plus Deno, kexec-ts as one bundled file
 *    (`deno bundle`, as a kdump initramfs would carry it), Debian's vmcore-dmesg and the checks the capture kernel
 *    runs (tests/vm/guest/capture-tools.sh).
 *
 * Archives are uncompressed newc cpio (the kernel unpacks them faster under TCG than gzip) and cached under
 * .cache/vm/ by a hash of their inputs (each host file's path, size and modification time, and the bytes of the
 * generated ones), so a test process reuses an image without reading and hashing its 130 MB again.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { bundleTo } from "../deb/bundle.ts";
import { type CpioEntry, writeCpio } from "./cpio.ts";
import { DEFAULT_KERNEL, KERNEL_IDS, kernelDir, type KernelId, kernelImage } from "./kernels.ts";
import { tmpPath } from "../tmp_path.ts";

/** The checkout root. */
export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
/** The pinned Deno binary. */
export const DENO = `${ROOT}/.tools/deno/node_modules/@deno/linux-x64-glibc/deno`;
const CACHE = `${ROOT}/.cache/vm`;

/** Programs the guest images take from the host, with their shared libraries. */
const HOST_PROGRAMS = {
  busybox: "/bin/busybox",
  kexec: "/sbin/kexec",
  makedumpfile: "/usr/bin/makedumpfile",
  udevd: "/lib/systemd/systemd-udevd",
  udevadm: "/usr/bin/udevadm",
  flock: "/usr/bin/flock",
  vmcoreDmesg: "/usr/sbin/vmcore-dmesg",
};

/** The new peer: the newest kexec-tools Debian ships, with its own loader and libraries (scripts/setup.d/peers.sh). */
export const PEER_NEW_DIR = `${ROOT}/.cache/peers/kexec-tools-new`;

/** Fails with the fix when a host ingredient is missing (the VM tests must fail loudly, never skip). */
export function requireIngredients(kernel: KernelId = DEFAULT_KERNEL): void {
  const missing: string[] = [];
  for (const p of [kernelImage(kernel), DENO, ...Object.values(HOST_PROGRAMS), `${PEER_NEW_DIR}/kexec`]) {
    try {
      Deno.statSync(p);
    } catch {
      missing.push(p);
    }
  }
  try {
    new Deno.Command("qemu-system-x86_64", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
  } catch {
    missing.push("qemu-system-x86_64");
  }
  if (missing.length) {
    throw new Error(`VM test ingredients missing: ${missing.join(", ")}; run scripts/setup --vm (as root)`);
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Shared libraries of a dynamically linked program, as `ldd` resolves them (none for static binaries). */
function sharedLibraries(program: string): string[] {
  const r = new Deno.Command("ldd", { args: [program], stdout: "piped", stderr: "piped" }).outputSync();
  const text = new TextDecoder().decode(r.stdout);
  const libs: string[] = [];
  for (const line of text.split("\n")) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s+(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/** An archive under construction: host files are referenced, and read only when the archive is written. */
class Tree {
  readonly entries = new Map<string, CpioEntry & { host?: string }>();
  dir(path: string): void {
    const parts = path.replace(/^\//, "").split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join("/");
      if (!this.entries.has(p)) this.entries.set(p, { path: p, kind: "dir", mode: 0o755 });
    }
  }
  file(path: string, data: Uint8Array | string, mode = 0o644): void {
    const p = path.replace(/^\//, "");
    this.dir(p.split("/").slice(0, -1).join("/"));
    this.entries.set(p, {
      path: p,
      kind: "file",
      mode,
      data: typeof data === "string" ? new TextEncoder().encode(data) : data,
    });
  }
  hostFile(guestPath: string, hostPath: string, mode?: number): void {
    const real = Deno.realPathSync(hostPath);
    const st = Deno.statSync(real);
    const p = guestPath.replace(/^\//, "");
    this.dir(p.split("/").slice(0, -1).join("/"));
    this.entries.set(p, { path: p, kind: "file", mode: mode ?? (st.mode ?? 0o644) & 0o7777, host: real });
  }
  program(guestPath: string, hostPath: string): void {
    this.hostFile(guestPath, hostPath, 0o755);
    for (const lib of sharedLibraries(hostPath)) {
      if (!this.entries.has(lib.slice(1))) this.hostFile(lib, lib, 0o755);
    }
  }
  symlink(path: string, target: string): void {
    const p = path.replace(/^\//, "");
    this.dir(p.split("/").slice(0, -1).join("/"));
    this.entries.set(p, { path: p, kind: "symlink", mode: 0o777, target });
  }
  hostTree(guestDir: string, hostDir: string, filter: (rel: string) => boolean): void {
    const walk = (rel: string) => {
      for (const e of [...Deno.readDirSync(`${hostDir}/${rel}`)].sort((a, b) => a.name < b.name ? -1 : 1)) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (!filter(r)) continue;
        if (e.isDirectory) walk(r);
        else if (e.isFile) this.hostFile(`${guestDir}/${r}`, `${hostDir}/${r}`);
      }
    };
    walk("");
  }
  base(): void {
    for (
      const d of ["bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "run", "root", "etc", "var/tmp"]
    ) {
      this.dir(d);
    }
    this.entries.set("dev/console", { path: "dev/console", kind: "char", mode: 0o600, rdev: [5, 1] });
    this.hostFile("/bin/busybox", HOST_PROGRAMS.busybox, 0o755);
    this.file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/tmp/nobody:/bin/sh\n");
    this.file("/etc/group", "root:x:0:\nnogroup:x:65534:\n");
  }
  /** A hash of everything the archive is made of: entries, host files' identity (path, size, mtime), inline data. */
  key(): string {
    const h = createHash("sha256");
    for (const e of this.sorted()) {
      h.update(`${e.path}\0${e.kind}\0${e.mode}\0${e.target ?? ""}\0${e.rdev?.join(",") ?? ""}\0`);
      if (e.host) {
        const st = Deno.statSync(e.host);
        h.update(`host:${e.host}:${st.size}:${st.mtime?.getTime()}\0`);
      } else if (e.data) {
        h.update(e.data);
      }
    }
    return h.digest("hex").slice(0, 16);
  }
  archive(): Uint8Array {
    return writeCpio(this.sorted().map((e) => (e.host ? { ...e, data: Deno.readFileSync(e.host) } : e)));
  }
  private sorted() {
    return [...this.entries.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  }
}

/** Archives of the same name older than this are removed when a new one is written. */
const STALE_MS = 12 * 3600_000;

/**
 * The archive of `tree` under .cache/vm, written only when no archive with the same inputs is there. Writing one
 * removes archives of the same name not written for {@link STALE_MS} (older checkouts' images).
 */
function cached(name: string, tree: Tree, gzip = false): string {
  Deno.mkdirSync(CACHE, { recursive: true });
  const ext = gzip ? "cpio.gz" : "cpio";
  const path = `${CACHE}/${name}-${tree.key()}.${ext}`;
  try {
    Deno.statSync(path);
  } catch {
    const archive = tree.archive();
    const tmp = tmpPath(path);
    Deno.writeFileSync(tmp, gzip ? gzipSync(archive) : archive);
    Deno.renameSync(tmp, path);
    for (const e of Deno.readDirSync(CACHE)) {
      if (!new RegExp(`^${name}-[0-9a-f]{16}\\.${ext.replace(".", "\\.")}$`).test(e.name)) continue;
      const old = `${CACHE}/${e.name}`;
      try {
        if (Date.now() - (Deno.statSync(old).mtime?.getTime() ?? Date.now()) > STALE_MS) Deno.removeSync(old);
      } catch { /* another process removed it */ }
    }
  }
  return path;
}

/** Deterministic pseudo-random bytes (xorshift), so the big initrd is the same on every build. */
export function pseudoRandom(len: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(len);
  const words = new Uint32Array(out.buffer, 0, Math.floor(len / 4));
  let x = seed >>> 0;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return out;
}

/**
 * The guest kernels' efivarfs modules (scripts/setup.d/kernels.sh keeps them in .cache/kernels/ID/efivarfs/RELEASE/)
 * as /lib/modules/RELEASE/efivarfs.ko: Debian builds efivarfs as a module, and the UEFI tests list and read EFI
 * variables in the first, second and capture kernels. Every kernel's copy goes in (each is < 150 KB), so the
 * kernel-independent stage-2 initrd has the one for whichever kernel boots it.
 */
function addGuestModules(t: Tree): void {
  for (const id of KERNEL_IDS) {
    const dir = `${kernelDir(id)}/efivarfs`;
    let releases: Deno.DirEntry[];
    try {
      releases = [...Deno.readDirSync(dir)];
    } catch {
      continue;
    }
    for (const r of releases) {
      try {
        t.hostFile(`/lib/modules/${r.name}/efivarfs.ko`, `${dir}/${r.name}/efivarfs.ko`);
      } catch { /* that kernel's package had none */ }
    }
  }
}

/** The marker file the stage-2 initrd carries; the guest prints it so tests know our initrd was used. */
export const STAGE2_MARKER = "kexec-ts-stage2-initrd-7f3a";

function stage2Tree(payloadBytes: number): Tree {
  const t = new Tree();
  t.base();
  t.hostFile("/init", `${ROOT}/tests/vm/guest/stage2-init.sh`, 0o755);
  t.hostFile("/drain.sh", `${ROOT}/tests/vm/guest/drain.sh`, 0o644);
  t.program("/usr/bin/makedumpfile", HOST_PROGRAMS.makedumpfile);
  t.file("/kts-marker", STAGE2_MARKER + "\n");
  addGuestModules(t);
  if (payloadBytes) t.file("/payload.bin", pseudoRandom(payloadBytes));
  return t;
}

/**
 * The stage-2 initrd alone (built, or found in the cache): for guests whose first stage is not the main image (the
 * packaging tests boot a distribution's initramfs and kexec into a kernel with this initrd).
 */
export function stage2Image(): string {
  return cached("stage2", stage2Tree(0));
}

/** kexec-ts bundled into one JavaScript file (`deno task bundle`), the form a capture initramfs carries. */
export function kexecTsBundle(): Uint8Array {
  const out = Deno.makeTempFileSync({ suffix: ".js" });
  try {
    bundleTo(out);
    return Deno.readFileSync(out);
  } finally {
    Deno.removeSync(out);
  }
}

/** The capture stage-2 initrd: stage 2 plus Deno, the kexec-ts bundle, kexec-tools' vmcore-dmesg and the checks. */
function stage2CaptureTree(): Tree {
  const t = stage2Tree(0);
  t.program("/usr/local/bin/deno", DENO);
  t.file("/kts/kexec-ts.js", kexecTsBundle());
  t.program("/sbin/vmcore-dmesg", HOST_PROGRAMS.vmcoreDmesg);
  t.hostFile("/capture-tools.sh", `${ROOT}/tests/vm/guest/capture-tools.sh`, 0o755);
  t.file(
    "/bin/kexec-ts",
    // As the README's kdump recipe runs it: Deno 2 lets a program read /proc only with --allow-all.
    '#!/bin/sh\nexec /usr/local/bin/deno run --allow-all --no-prompt --quiet --no-config /kts/kexec-ts.js "$@"\n',
    0o755,
  );
  return t;
}

/** Paths of the built images. */
export interface GuestImages {
  main: string;
  stage2: string;
  stage2Big: string;
  /** The capture stage-2 initrd ("" unless asked for). */
  stage2Capture: string;
}

/** Size of the random payload in the big stage-2 initrd: 64 MiB. */
export const BIG_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** What goes into the guest images. */
export interface ImageOptions {
  /** Include the 64 MiB stage-2 initrd in the main image (only the tests that load it need it). */
  big?: boolean;
  /** The kernel the guest boots and carries as /boot/vmlinuz (default 6.12). */
  kernel?: KernelId;
  /** More host files for the main image (guest path -> host path), cached as the variant `main-KERNEL-NAME`. */
  extra?: { name: string; files: Record<string, string> };
  /**
   * kexec-ts bundled into one file (`deno task bundle`): /bin/kexec-ts then runs it laid out as the Debian package
   * does (packaging/launcher.sh, /usr/lib/kexec-ts/kexec-ts.js and deno), and /bin/kexec-ts-src runs the source tree.
   */
  bundle?: string;
  /** Include the capture stage-2 initrd (gzip) as /boot/stage2-capture.cpio.gz. */
  capture?: boolean;
}

/** Builds (or reuses) every guest image. */
export function buildImages(opts: ImageOptions = {}): GuestImages {
  const kernel = opts.kernel ?? DEFAULT_KERNEL;
  requireIngredients(kernel);
  const stage2 = cached("stage2", stage2Tree(0));
  const stage2Big = opts.big ? cached("stage2-big", stage2Tree(BIG_PAYLOAD_BYTES)) : "";
  // Compressed, as a distribution's kdump initramfs is: the capture kernel holds the archive and its unpacked
  // files at once, and Deno alone is 95 MB.
  const stage2Capture = opts.capture ? cached("stage2-capture", stage2CaptureTree(), true) : "";
  const t = new Tree();
  t.base();
  t.hostFile("/init", `${ROOT}/tests/vm/guest/init.sh`, 0o755);
  addGuestModules(t);
  t.program("/usr/local/bin/deno", DENO);
  t.program("/sbin/kexec", HOST_PROGRAMS.kexec);
  t.hostTree("/opt/kexec-new", PEER_NEW_DIR, () => true);
  t.file(
    "/sbin/kexec-new",
    '#!/bin/sh\nexec /opt/kexec-new/lib/ld-linux-x86-64.so.2 --library-path /opt/kexec-new/lib /opt/kexec-new/kexec "$@"\n',
    0o755,
  );
  t.program("/lib/systemd/systemd-udevd", HOST_PROGRAMS.udevd);
  t.program("/usr/bin/udevadm", HOST_PROGRAMS.udevadm);
  t.program("/usr/bin/flock", HOST_PROGRAMS.flock);
  t.dir("/etc/udev/rules.d");
  const fromSource = '#!/bin/sh\nexec /usr/local/bin/deno run --allow-all --quiet --cached-only /kts/main.ts "$@"\n';
  if (opts.bundle) {
    t.hostFile("/usr/sbin/kexec-ts", `${ROOT}/packaging/launcher.sh`, 0o755);
    t.symlink("/bin/kexec-ts", "/usr/sbin/kexec-ts");
    t.hostFile("/usr/lib/kexec-ts/kexec-ts.js", opts.bundle);
    t.symlink("/usr/lib/kexec-ts/deno", "/usr/local/bin/deno");
    t.file("/bin/kexec-ts-src", fromSource, 0o755);
  } else {
    t.file("/bin/kexec-ts", fromSource, 0o755);
  }
  t.hostFile("/kts/deno.json", `${ROOT}/deno.json`);
  t.hostFile("/kts/main.ts", `${ROOT}/main.ts`);
  // The shipped form, when built (`deno task bundle`; the benchmark builds it): the load benchmark times it too.
  if (exists(`${ROOT}/dist/kexec-ts.js`)) t.hostFile("/kts/dist/kexec-ts.js", `${ROOT}/dist/kexec-ts.js`);
  const ts = (rel: string) => !rel.includes(".") || rel.endsWith(".ts") || rel.endsWith(".sh") || rel.endsWith(".json");
  t.hostTree("/kts/lib", `${ROOT}/lib`, ts);
  t.hostTree("/kts/ffi", `${ROOT}/ffi`, ts);
  t.hostTree("/kts/tests/vm/guest", `${ROOT}/tests/vm/guest`, () => true);
  t.hostFile("/boot/vmlinuz", kernelImage(kernel));
  t.hostFile("/boot/stage2.cpio", stage2);
  if (stage2Big) t.hostFile("/boot/stage2-big.cpio", stage2Big);
  for (const [guest, host] of Object.entries(opts.extra?.files ?? {})) t.hostFile(guest, host);
  if (stage2Capture) t.hostFile("/boot/stage2-capture.cpio.gz", stage2Capture);
  const variant = `${opts.big ? "-big" : ""}${opts.extra ? `-${opts.extra.name}` : ""}${opts.bundle ? "-bundle" : ""}${
    opts.capture ? "-capture" : ""
  }`;
  const main = cached(`main-${kernel}${variant}`, t);
  return { main, stage2, stage2Big, stage2Capture };
}
