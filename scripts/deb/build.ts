/**
 * The Debian package of kexec-ts, built with dpkg-deb from the checkout (no debian/ source package, no debhelper):
 *
 *  - /usr/sbin/kexec-ts: the `deno compile` binary when a denort runtime is at hand (the "compiled" form), else a
 *    launcher (packaging/launcher.sh) that runs /usr/lib/kexec-ts/kexec-ts.js (the bundle) with
 *    /usr/lib/kexec-ts/deno (the pinned Deno runtime of .tools/) (the "launcher" form);
 *  - kexec-ts(8) and the bash, zsh and fish completions (scripts/docs, from the option table);
 *  - /usr/share/kexec-ts/98-kexec-ts.rules: the crash-hotplug udev rule for /usr/sbin/kexec-ts, inactive until
 *    the admin links or installs it (`kexec-ts udev-rules --install`);
 *  - the initramfs-tools hook with its switch /etc/kexec-ts/initramfs.conf (a conffile, off), the dracut module;
 *  - copyright, changelog, lintian overrides (each with its reason).
 *
 * The package is reproducible: every file carries the changelog's date, owners are root, and the dependencies come
 * from dpkg-shlibdeps. A build whose inputs did not change reuses the package already there (`.key` beside it).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { bundleTo, compileTo, ROOT } from "./bundle.ts";
import { CHANGELOG, latestEntry } from "./changelog.ts";
import { generatedDocs } from "../docs/mod.ts";
import { udevRulesText } from "../../lib/reload/udev.ts";
import { DEFAULT_RUN_DIR } from "../../lib/reload/record.ts";
import { closeFd, openLockFile, tryLockExclusive } from "../../ffi/libc.ts";
import config from "../../deno.json" with { type: "json" };
import { tmpPath } from "../tmp_path.ts";

/** How /usr/sbin/kexec-ts is made: see the module doc. */
export type PackageForm = "compiled" | "launcher";

/** Options of {@link buildDeb}. */
export interface DebOptions {
  /** Where the .deb goes (default dist/). */
  outDir?: string;
  /** "auto" (the default): compiled when DENORT_BIN is set, else the launcher. */
  form?: PackageForm | "auto";
  /**
   * data.tar's compression: "xz" (the default, as Debian's archive; 31 MB, but minutes for the 96 MB runtime) or
   * "gzip" (42 MB, ten times faster: what the tests build). dpkg and lintian take either; zstd, though dpkg
   * installs it, is a malformed-deb-archive error for bookworm's lintian.
   */
  compress?: "xz" | "gzip";
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** A built package. */
export interface DebResult {
  path: string;
  form: PackageForm;
  sizeBytes: number;
  /** The installed size dpkg reports, in KiB. */
  installedKiB: number;
  /** The package was already there, built from the same inputs. */
  reused: boolean;
}

/** The pinned Deno runtime the launcher form ships. */
export const DENO_RUNTIME = `${ROOT}.tools/deno/node_modules/@deno/linux-x64-glibc/deno`;
const PACKAGING = `${ROOT}packaging`;
const PACKAGE = "kexec-ts";
const decoder = new TextDecoder();

interface StagedFile {
  path: string;
  mode: number;
  /** Inline bytes, or a host file copied in. */
  data?: Uint8Array;
  host?: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): string {
  const r = new Deno.Command(cmd, { args, ...opts, stdout: "piped", stderr: "piped" }).outputSync();
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${decoder.decode(r.stdout)}${decoder.decode(r.stderr)}`);
  }
  return decoder.decode(r.stdout);
}

/** gzip -9n (no name, no time stamp), as Debian wants man pages and changelogs. */
function gzip(data: Uint8Array, tmpDir: string): Uint8Array {
  const p = `${tmpDir}/gz-input`;
  Deno.writeFileSync(p, data);
  run("gzip", ["-9nf", p]);
  const out = Deno.readFileSync(`${p}.gz`);
  Deno.removeSync(`${p}.gz`);
  return out;
}

const text = (s: string) => new TextEncoder().encode(s);

/** The package's Depends, from dpkg-shlibdeps over its ELF files. */
function shlibDepends(elfFiles: string[], tmpDir: string): string {
  const dir = `${tmpDir}/shlibdeps`;
  Deno.mkdirSync(`${dir}/debian`, { recursive: true });
  Deno.writeTextFileSync(`${dir}/debian/control`, `Source: ${PACKAGE}\n\nPackage: ${PACKAGE}\nArchitecture: any\n`);
  const out = run("dpkg-shlibdeps", ["-O", ...elfFiles], { cwd: dir });
  const m = /^shlibs:Depends=(.+)$/m.exec(out);
  if (!m) throw new Error(`dpkg-shlibdeps printed no shlibs:Depends:\n${out}`);
  return m[1];
}

/** Holds the build lock (parallel test files build the same package) until released. */
async function buildLock(dir: string): Promise<() => void> {
  const fd = openLockFile(`${dir}/.deb-build.lock`);
  if (fd < 0) throw new Error(`cannot open ${dir}/.deb-build.lock (errno ${-fd})`);
  while (!tryLockExclusive(fd)) await new Promise((r) => setTimeout(r, 200));
  return () => closeFd(fd);
}

/**
 * Builds (or reuses) the package.
 * @throws Error when the changelog and deno.json disagree, a tool fails, or the compiled form was asked for and
 *   cannot be built
 */
export async function buildDeb(opts: DebOptions = {}): Promise<DebResult> {
  const log = opts.log ?? (() => {});
  const outDir = opts.outDir ?? `${ROOT}dist`;
  Deno.mkdirSync(outDir, { recursive: true });
  const release = await buildLock(outDir);
  const tmp = Deno.makeTempDirSync({ prefix: "kexec-ts-deb-" });
  try {
    return build(outDir, tmp, opts, log);
  } finally {
    Deno.removeSync(tmp, { recursive: true });
    release();
  }
}

function build(outDir: string, tmp: string, opts: DebOptions, log: (l: string) => void): DebResult {
  const entry = latestEntry(Deno.readTextFileSync(CHANGELOG));
  if (entry.version !== config.version) {
    throw new Error(
      `packaging/changelog's latest entry is ${entry.version} but deno.json says ${config.version}: add an entry`,
    );
  }
  const version = config.version;
  const date = entry.date.toISOString().slice(0, 10);
  const mtime = entry.date;

  let form: PackageForm = opts.form === "compiled" || opts.form === "launcher"
    ? opts.form
    : Deno.env.get("DENORT_BIN")
    ? "compiled"
    : "launcher";
  const files: StagedFile[] = [];
  const elf: string[] = [];
  if (form === "compiled") {
    const bin = `${tmp}/kexec-ts`;
    const r = compileTo(bin, version);
    if (!r.ok) throw new Error(`the compiled form cannot be built: ${r.reason}`);
    files.push({ path: "usr/sbin/kexec-ts", mode: 0o755, host: bin });
    elf.push(bin);
  } else {
    form = "launcher";
    const bundle = `${tmp}/kexec-ts.js`;
    bundleTo(bundle);
    files.push(
      { path: "usr/sbin/kexec-ts", mode: 0o755, host: `${PACKAGING}/launcher.sh` },
      { path: "usr/lib/kexec-ts/kexec-ts.js", mode: 0o644, host: bundle },
      { path: "usr/lib/kexec-ts/deno", mode: 0o755, host: DENO_RUNTIME },
    );
    elf.push(DENO_RUNTIME);
  }
  for (const d of generatedDocs(date)) {
    if (d.installPath.startsWith("usr/share/man/")) {
      files.push({ path: `${d.installPath}.gz`, mode: 0o644, data: gzip(text(d.text), tmp) });
    } else {
      files.push({ path: d.installPath, mode: 0o644, data: text(d.text) });
    }
  }
  files.push(
    {
      path: "usr/share/kexec-ts/98-kexec-ts.rules",
      mode: 0o644,
      data: text(udevRulesText("/usr/sbin/kexec-ts reload", DEFAULT_RUN_DIR)),
    },
    { path: "usr/share/initramfs-tools/hooks/kexec-ts", mode: 0o755, host: `${PACKAGING}/initramfs-tools/hook` },
    { path: "etc/kexec-ts/initramfs.conf", mode: 0o644, host: `${PACKAGING}/initramfs.conf` },
    {
      path: "usr/lib/dracut/modules.d/90kexec-ts/module-setup.sh",
      mode: 0o755,
      host: `${PACKAGING}/dracut/module-setup.sh`,
    },
    { path: "usr/share/doc/kexec-ts/copyright", mode: 0o644, host: `${PACKAGING}/copyright` },
    { path: "usr/share/doc/kexec-ts/changelog.gz", mode: 0o644, data: gzip(Deno.readFileSync(CHANGELOG), tmp) },
    { path: "usr/share/lintian/overrides/kexec-ts", mode: 0o644, host: `${PACKAGING}/lintian-overrides.${form}` },
  );

  // The key: everything the package is made of.
  const h = createHash("sha256");
  const compress = opts.compress ?? "xz";
  h.update(`${form}\0${version}\0${compress}\0`);
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    h.update(`${f.path}\0${f.mode}\0`);
    h.update(f.data ?? Deno.readFileSync(f.host!));
  }
  for (const src of ["control.in"]) h.update(Deno.readFileSync(`${PACKAGING}/${src}`));
  h.update(Deno.readFileSync(new URL(import.meta.url)));
  const key = h.digest("hex");
  const path = `${outDir}/${PACKAGE}_${version}_amd64.deb`;
  try {
    if (Deno.readTextFileSync(`${path}.key`).trim() === key) {
      log(`${path}: up to date`);
      return { path, form, sizeBytes: Deno.statSync(path).size, installedKiB: installedKiB(path), reused: true };
    }
  } catch { /* not built yet */ }

  log(`staging the ${form} form`);
  const stage = `${tmp}/stage`;
  for (const f of files) {
    const dest = `${stage}/${f.path}`;
    Deno.mkdirSync(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
    if (f.host) Deno.copyFileSync(f.host, dest);
    else Deno.writeFileSync(dest, f.data!);
    Deno.chmodSync(dest, f.mode);
  }
  const depends = shlibDepends(elf, tmp);
  const sizeKiB = files.reduce((sum, f) => sum + Math.ceil(Deno.statSync(`${stage}/${f.path}`).size / 1024), 0);
  Deno.mkdirSync(`${stage}/DEBIAN`);
  const control = Deno.readTextFileSync(`${PACKAGING}/control.in`)
    .replace("@VERSION@", version)
    .replace("@INSTALLED_SIZE@", String(sizeKiB))
    .replace("@DEPENDS@", depends);
  Deno.writeTextFileSync(`${stage}/DEBIAN/control`, control);
  Deno.writeTextFileSync(`${stage}/DEBIAN/conffiles`, "/etc/kexec-ts/initramfs.conf\n");
  const md5 = files.filter((f) => !f.path.startsWith("etc/")).map((f) =>
    `${createHash("md5").update(Deno.readFileSync(`${stage}/${f.path}`)).digest("hex")}  ${f.path}`
  ).sort();
  Deno.writeTextFileSync(`${stage}/DEBIAN/md5sums`, md5.join("\n") + "\n");
  for (const f of ["control", "conffiles", "md5sums"]) Deno.chmodSync(`${stage}/DEBIAN/${f}`, 0o644);
  // Every file and directory carries the changelog's date; directories are 0755.
  const walk = (dir: string) => {
    Deno.chmodSync(dir, 0o755);
    for (const e of Deno.readDirSync(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) walk(p);
      Deno.utimeSync(p, mtime, mtime);
    }
  };
  walk(stage);
  Deno.utimeSync(stage, mtime, mtime);
  log(`dpkg-deb --build (${compress})`);
  const tmpDeb = tmpPath(path);
  run("dpkg-deb", ["--root-owner-group", `-Z${compress}`, "-z6", "--build", stage, tmpDeb], {
    env: { SOURCE_DATE_EPOCH: String(Math.floor(mtime.getTime() / 1000)) },
  });
  Deno.renameSync(tmpDeb, path);
  Deno.writeTextFileSync(`${path}.key`, key + "\n");
  return { path, form, sizeBytes: Deno.statSync(path).size, installedKiB: sizeKiB, reused: false };
}

function installedKiB(deb: string): number {
  return Number(run("dpkg-deb", ["-f", deb, "Installed-Size"]).trim());
}
