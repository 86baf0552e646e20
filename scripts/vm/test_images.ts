/**
 * Host-side ingredients of the image tests (tests/vm/images_test.ts), built from the guest kernel and stage-2
 * initrd and cached under .cache/vm by a hash of their inputs:
 *
 *  - the ELF vmlinux: taken out of Debian's bzImage (its payload, decompressed with the zstd/xz/gzip tools; the
 *    zstd and xz payloads end with the uncompressed size, 4 bytes, which the tools refuse and is cut off);
 *  - a UKI made with the real systemd-stub (`.cache/uki/linuxx64.efi.stub`, scripts/setup.d/images.sh) and objcopy,
 *    as systemd-stub(7) describes: each section at the next SectionAlignment boundary after the stub's last one,
 *    its VMA including the stub's ImageBase; profiles get distinct names first and are renamed to `.profile`, since
 *    objcopy cannot add two sections of one name;
 *  - an ESP disk image: a GPT with one EFI System Partition holding a vfat file system, filled with mtools (no
 *    loop devices, no mounts on the host).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { bytesSource, parsePe } from "../../lib/images/pe.ts";
import { DEFAULT_KERNEL, kernelDir, type KernelId, kernelImage } from "./kernels.ts";
import { writeCpio } from "./cpio.ts";
import { ROOT } from "./images.ts";
import { tmpPath } from "../tmp_path.ts";

const CACHE = `${ROOT}/.cache/vm`;
/** systemd-stub, as scripts/setup.d/images.sh unpacks it. */
export const STUB = `${ROOT}/.cache/uki/linuxx64.efi.stub`;

/** Runs a command synchronously; throws with its stderr when it fails. */
function run(cmd: string, args: string[]): Uint8Array {
  let r: Deno.CommandOutput;
  try {
    r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  } catch (e) {
    throw new Error(`${cmd} is missing (${(e as Error).message}): run scripts/setup --vm`);
  }
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(r.stderr).trim()}`);
  return r.stdout;
}

/** Fails (never skips) when a host ingredient is missing. */
function need(path: string, what: string): void {
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(`${path} (${what}) is missing: run scripts/setup --vm`);
  }
}

/** Identity of host files for cache keys: path, size, modification time. */
function fileKey(paths: readonly string[]): string {
  return paths.map((p) => {
    const st = Deno.statSync(p);
    return `${p}:${st.size}:${st.mtime?.getTime()}`;
  }).join("\0");
}

/** Artefacts of the same name older than this are removed when a new one is written (as scripts/vm/images.ts does). */
const STALE_MS = 12 * 3600_000;

/**
 * A cached artefact: `build(tmpPath)` runs only when no file for this key exists. Writing one removes files of the
 * same name and extension not written for {@link STALE_MS} (older checkouts' artefacts).
 */
function cachedFile(name: string, ext: string, key: string, build: (tmp: string) => void): string {
  Deno.mkdirSync(CACHE, { recursive: true });
  const path = `${CACHE}/${name}-${createHash("sha256").update(key).digest("hex").slice(0, 16)}.${ext}`;
  try {
    Deno.statSync(path);
    return path;
  } catch { /* build it */ }
  const tmp = tmpPath(path);
  try {
    build(tmp);
    Deno.renameSync(tmp, path);
  } finally {
    try {
      Deno.removeSync(tmp);
    } catch { /* renamed */ }
  }
  for (const e of Deno.readDirSync(CACHE)) {
    if (!new RegExp(`^${name}-[0-9a-f]{16}\\.${ext}$`).test(e.name)) continue;
    const old = `${CACHE}/${e.name}`;
    try {
      if (Date.now() - (Deno.statSync(old).mtime?.getTime() ?? Date.now()) > STALE_MS) Deno.removeSync(old);
    } catch { /* another process removed it */ }
  }
  return path;
}

/** The decompressor for a bzImage payload by its magic, and whether it carries the 4-byte size trailer. */
function payloadTool(head: Uint8Array): { cmd: string; args: string[]; trailer: boolean } {
  const is = (...m: number[]) => m.every((b, i) => head[i] === b);
  if (is(0x28, 0xb5, 0x2f, 0xfd)) return { cmd: "zstd", args: ["-qdc"], trailer: true };
  if (is(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return { cmd: "xz", args: ["-qdc"], trailer: true };
  if (is(0x1f, 0x8b)) return { cmd: "gzip", args: ["-qdc"], trailer: false };
  throw new Error(`unknown bzImage payload compression (magic ${[...head.subarray(0, 6)].map((b) => b.toString(16))})`);
}

/**
 * The ELF vmlinux inside a guest kernel's bzImage: `.cache/kernels/ID/vmlinux` (the relocation table the
 * decompressor appends stays after the ELF, which ELF readers ignore).
 */
export function guestVmlinux(kernel: KernelId = DEFAULT_KERNEL): string {
  const out = `${kernelDir(kernel)}/vmlinux`;
  const bz = kernelImage(kernel);
  need(bz, "the guest kernel");
  try {
    if (Deno.statSync(out).mtime! >= Deno.statSync(bz).mtime!) return out;
  } catch { /* extract it */ }
  const file = Deno.readFileSync(bz);
  const dv = new DataView(file.buffer);
  const setupSects = file[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + dv.getUint32(0x248, true);
  const payload = file.subarray(start, start + dv.getUint32(0x24c, true));
  const tool = payloadTool(payload);
  const input = tmpPath(`${out}.in`);
  Deno.writeFileSync(input, tool.trailer ? payload.subarray(0, payload.length - 4) : payload);
  try {
    const elf = run(tool.cmd, [...tool.args, input]);
    if (elf[0] !== 0x7f || elf[1] !== 0x45) throw new Error(`${bz}: the payload did not decompress to an ELF file`);
    const tmp = tmpPath(out);
    Deno.writeFileSync(tmp, elf);
    Deno.renameSync(tmp, out);
  } finally {
    Deno.removeSync(input);
  }
  return out;
}

/** One profile of a test UKI: its `.profile` text and the sections it overrides. */
export interface UkiProfileSpec {
  profile: string;
  cmdline?: string;
}

/** What goes into a test UKI. */
export interface UkiSpec {
  /** The bzImage for `.linux`. */
  kernel: string;
  /** The initrd for `.initrd`. */
  initrd?: string;
  /** `.ucode`: a small uncompressed cpio archive holding these files. */
  ucodeFiles?: Record<string, string>;
  cmdline?: string;
  osrel: string;
  uname?: string;
  profiles?: UkiProfileSpec[];
}

/** Builds (or finds) a UKI with the real systemd-stub and objcopy. */
export function buildUki(spec: UkiSpec): string {
  need(STUB, "systemd-stub from systemd-boot-efi");
  const hostFiles = [STUB, spec.kernel, ...(spec.initrd ? [spec.initrd] : [])];
  const key = fileKey(hostFiles) + JSON.stringify({ ...spec, v: 1 });
  return cachedFile("uki", "efi", key, (out) => {
    const dir = Deno.makeTempDirSync({ prefix: "kts-uki-" });
    try {
      const stub = parsePe(bytesSource(Deno.readFileSync(STUB)), STUB);
      const align = BigInt(stub.sectionAlignment);
      let next = stub.sections.reduce((end, s) => {
        const e = BigInt(s.virtualAddress + s.virtualSize);
        return e > end ? e : end;
      }, 0n);
      const sections: { name: string; file: string }[] = [];
      const text = (name: string, value: string) => {
        const f = `${dir}/${sections.length}.txt`;
        Deno.writeTextFileSync(f, value);
        sections.push({ name, file: f });
      };
      text(".osrel", spec.osrel);
      if (spec.cmdline !== undefined) text(".cmdline", spec.cmdline);
      if (spec.uname !== undefined) text(".uname", spec.uname);
      if (spec.ucodeFiles) {
        const f = `${dir}/ucode.cpio`;
        Deno.writeFileSync(
          f,
          writeCpio(
            Object.entries(spec.ucodeFiles).map(([path, data]) => ({
              path,
              kind: "file" as const,
              mode: 0o644,
              data: new TextEncoder().encode(data),
            })),
          ),
        );
        sections.push({ name: ".ucode", file: f });
      }
      if (spec.initrd) sections.push({ name: ".initrd", file: spec.initrd });
      sections.push({ name: ".linux", file: spec.kernel });
      for (const p of spec.profiles ?? []) {
        text(".profile", p.profile);
        if (p.cmdline !== undefined) text(".cmdline", p.cmdline);
      }
      // objcopy cannot add a second section of a name: add them all under unique names, then rename.
      const args: string[] = [];
      const renames: string[] = [];
      sections.forEach((s, i) => {
        const size = BigInt(Deno.statSync(s.file).size);
        next = (next + align - 1n) / align * align;
        const tmpName = `.k${i}`;
        args.push(
          "--add-section",
          `${tmpName}=${s.file}`,
          "--change-section-vma",
          `${tmpName}=0x${(stub.imageBase + next).toString(16)}`,
        );
        renames.push("--rename-section", `${tmpName}=${s.name}`);
        next += size;
      });
      run("objcopy", [...args, STUB, `${dir}/added.efi`]);
      run("objcopy", [...renames, `${dir}/added.efi`, out]);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

/** What goes on a test ESP: its path on the ESP to a host file or to text. */
export type EspContents = Record<string, { host: string } | { text: string }>;

/** The ESP partition's first sector (1 MiB, as partitioning tools align it). */
const ESP_START_SECTOR = 2048;

/**
 * Builds (or finds) a disk image: GPT, one EFI System Partition from 1 MiB with a vfat file system holding
 * `contents`. Sized to fit them.
 */
export function buildEspImage(contents: EspContents): string {
  const hosts = Object.values(contents).flatMap((c) => ("host" in c ? [c.host] : []));
  const key = fileKey(hosts) + JSON.stringify({ contents, v: 1 });
  return cachedFile("esp", "img", key, (out) => {
    const bytes = Object.values(contents).reduce(
      (n, c) => n + ("host" in c ? Deno.statSync(c.host).size : c.text.length),
      0,
    );
    const partMiB = Math.ceil(bytes / (1 << 20) * 1.1) + 40;
    const f = Deno.openSync(out, { write: true, create: true, truncate: true });
    f.truncate((partMiB + 2) * (1 << 20));
    f.close();
    const layout = `${out}.sfdisk`;
    Deno.writeTextFileSync(
      layout,
      `label: gpt\nstart=${ESP_START_SECTOR}, size=${partMiB * 2048}, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n`,
    );
    try {
      run("sh", ["-c", 'sfdisk --quiet "$1" < "$2"', "sh", out, layout]);
    } finally {
      Deno.removeSync(layout);
    }
    const offset = ESP_START_SECTOR * 512;
    run("mkfs.vfat", ["-F", "32", "-n", "KTS-ESP", "--offset", String(ESP_START_SECTOR), out, String(partMiB * 1024)]);
    const img = `${out}@@${offset}`;
    const dirs = new Set<string>();
    for (const p of Object.keys(contents)) {
      const parts = p.replace(/^\//, "").split("/").slice(0, -1);
      for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
    }
    for (const d of [...dirs].sort()) run("mmd", ["-i", img, `::/${d}`]);
    const tmp = Deno.makeTempDirSync({ prefix: "kts-esp-" });
    try {
      for (const [p, c] of Object.entries(contents)) {
        let src: string;
        if ("host" in c) src = c.host;
        else {
          src = `${tmp}/${p.replaceAll("/", "_")}`;
          Deno.writeTextFileSync(src, c.text);
        }
        run("mcopy", ["-i", img, src, `::${p.startsWith("/") ? p : "/" + p}`]);
      }
    } finally {
      Deno.removeSync(tmp, { recursive: true });
    }
  });
}
