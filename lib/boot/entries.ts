/**
 * Boot entries (UAPI.1) as systemd-boot lists them: Type #1 entries (`loader/entries/*.conf`) and Type #2 entries
 * (UKIs in `EFI/Linux/*.efi`, one per profile) on the ESP and XBOOTLDR (./discover.ts), sorted by sd-boot's order,
 * and the default entry chosen the way `systemctl kexec` (bootctl) chooses it:
 * LoaderEntryOneShot, LoaderEntryPreferred, LoaderEntryDefault (EFI variables), loader.conf's `preferred`, then
 * its `default`, else the first entry. Patterns are globs matched case-insensitively against the ids; `@saved`
 * means the entry booted now (LoaderEntrySelected, else LoaderEntryLastBooted).
 *
 * Entries the boot menu would not show (no kernel, a file that is missing, another architecture) are listed but
 * never chosen as the default; entries kexec cannot boot (`efi` programs, `uki-url`) say why.
 *
 * @module
 */

import { fail, KexecError } from "../errors.ts";
import type { SystemView } from "../system.ts";
import { osIdentity } from "../images/os_release.ts";
import { parseUki, ukiIdentity, ukiProfile } from "../images/uki.ts";
import { type BootPartition, type DiscoveryOptions, findBootPartitions } from "./discover.ts";
import { type LoaderVariable, readLoaderVariable } from "./efivars.ts";
import type { BootFs } from "./fs.ts";
import { parseEntryName, parseLoaderConf, parseType1, validEntryFileName } from "./bls.ts";
import { compareVersions, globMatch } from "./version.ts";

/** One boot entry. Paths are absolute on this machine (partition mount point + the path the entry names). */
export interface BootEntry {
  /** The id: the file name with its suffix, boot counter removed; `@PROFILE` added for a UKI's profiles after 0. */
  id: string;
  /** Other names it answers to (the id without suffix, bootctl's spelling of profile ids). */
  aliases: string[];
  /** `type1`: a loader/entries/*.conf file; `type2`: a UKI in EFI/Linux. */
  type: "type1" | "type2";
  /** The .conf or .efi file. */
  path: string;
  /** The partition it is on. */
  partition: "esp" | "xbootldr";
  /** What a boot menu shows (the title, else the id). */
  title: string;
  /** `version` (Type #1) or the os-release version (Type #2): newest first among entries with a sort-key. */
  version?: string;
  /** `machine-id`: groups installations of one OS. */
  machineId?: string;
  /** `sort-key` (Type #1) or os-release IMAGE_ID/ID (Type #2): entries with one come first, by it. */
  sortKey?: string;
  /** Type #1 `linux`: the kernel (a bzImage, an ELF vmlinux or a UKI). */
  linux?: string;
  /** Type #1 `initrd`s, in order. */
  initrds: string[];
  /** Type #1 `options` (joined) or a UKI profile's `.cmdline`. */
  options?: string;
  /** The UKI: a Type #2 entry's file, or a Type #1 entry's `uki`. */
  uki?: string;
  /** The UKI profile (Type #2 entries, and Type #1 `profile`). */
  profile?: number;
  /** A Type #2 entry's id without `@PROFILE`. */
  idWithoutProfile?: string;
  /** Type #1 `efi`: an EFI program, which kexec cannot run. */
  efi?: string;
  /** Type #1 `architecture` (an EFI name: `x64`, `aa64`); another machine's entries are hidden. */
  architecture?: string;
  /** Type #1 `devicetree` (not used on x86). */
  devicetree?: string;
  /** Boot counting (`+LEFT-DONE` in the file name); 0 tries left: a bad entry, sorted last. */
  triesLeft?: number;
  /** Boot counting: tries done. */
  triesDone?: number;
  /** Why kexec-ts cannot boot it; absent when it can. */
  unbootable?: string;
  /** The boot menu would not show it (missing file, other architecture, no kernel): never the default. */
  hidden?: boolean;
  /** Problems met while reading it. */
  problems: string[];
}

/** All entries, sorted, and the default. */
export interface BootEntries {
  /** The ESP, when found. */
  esp?: BootPartition;
  /** XBOOTLDR, when there is one. */
  xbootldr?: BootPartition;
  /** Sorted as systemd-boot's menu. */
  entries: BootEntry[];
  /** The default entry's id. */
  defaultId?: string;
  /** Why that entry is the default (`loader.conf default "debian-*"`). */
  defaultReason?: string;
  /** What was passed over and why, and other remarks. */
  notes: string[];
}

/** How to read entries. */
export interface EntryOptions extends DiscoveryOptions {
  /** The EFI name of this architecture (`x64`): Type #1 `architecture` must match it. */
  efiArch: string;
  /** The PE machine of this architecture (0x8664): Type #2 UKIs for others are skipped. */
  peMachine: number;
}

const MAX_CONF_BYTES = 64 * 1024;

/** Reads every entry of the boot partitions and picks the default. */
export function listBootEntries(sys: SystemView, fs: BootFs, opts: EntryOptions): BootEntries {
  const found = findBootPartitions(sys, fs, opts);
  const notes = [...found.skipped];
  if (!found.esp && !found.xbootldr) {
    return { entries: [], notes: [...notes, "no ESP or XBOOTLDR found (looked at /efi, /boot, /boot/efi)"] };
  }
  const seen = new Set<string>();
  const entries: BootEntry[] = [];
  const partitions = [found.esp, found.xbootldr].filter((p): p is BootPartition => p !== undefined);
  for (const part of partitions) {
    entries.push(...type1Entries(fs, part, opts, seen, notes));
    entries.push(...type2Entries(fs, part, opts, seen, notes));
  }
  entries.sort(compareEntries);
  const conf = found.esp ? fs.readSmall(`${found.esp.path}/loader/loader.conf`, MAX_CONF_BYTES) : undefined;
  const loaderConf = parseLoaderConf(conf ? new TextDecoder().decode(conf) : "");
  const chosen = selectDefault(sys, entries, loaderConf);
  return {
    esp: found.esp,
    xbootldr: found.xbootldr,
    entries,
    defaultId: chosen?.entry.id,
    defaultReason: chosen?.reason,
    notes,
  };
}

/** Regular files of `dir` whose names end in `suffix` (case-insensitive), minus sd-boot's skips. */
function entryFiles(fs: BootFs, dir: string, suffix: string, seen: Set<string>, notes: string[]): string[] {
  const out: string[] = [];
  for (const name of fs.list(dir) ?? []) {
    if (!name.toLowerCase().endsWith(suffix) || name.startsWith(".") || name.toLowerCase().startsWith("auto-")) {
      continue;
    }
    const path = `${dir}/${name}`;
    const st = fs.stat(path);
    if (st?.kind !== "file") {
      notes.push(`${path}: ${st?.kind === "symlink" ? "a symlink" : "not a regular file"} (skipped)`);
      continue;
    }
    if (!validEntryFileName(name)) {
      notes.push(`${path}: name outside the entry character set [A-Za-z0-9+-_.@] (skipped)`);
      continue;
    }
    const key = st.dev !== undefined && st.ino !== undefined ? `${st.dev}:${st.ino}` : path;
    if (seen.has(key)) continue; // the same file reached twice (ESP and XBOOTLDR on one file system)
    seen.add(key);
    out.push(path);
  }
  return out;
}

function type1Entries(
  fs: BootFs,
  part: BootPartition,
  opts: EntryOptions,
  seen: Set<string>,
  notes: string[],
): BootEntry[] {
  const out: BootEntry[] = [];
  for (const path of entryFiles(fs, `${part.path}/loader/entries`, ".conf", seen, notes)) {
    const bytes = fs.readSmall(path, MAX_CONF_BYTES);
    if (!bytes) {
      notes.push(`${path}: unreadable or larger than 64 KiB (skipped)`);
      continue;
    }
    const f = parseType1(new TextDecoder().decode(bytes));
    const name = parseEntryName(path.slice(path.lastIndexOf("/") + 1));
    const abs = (p: string | undefined) => (p === undefined ? undefined : part.path.replace(/\/$/, "") + p);
    const e: BootEntry = {
      id: name.id,
      aliases: [name.idOld],
      type: "type1",
      path,
      partition: part.role,
      title: f.title ?? name.id,
      version: f.version,
      machineId: f.machineId,
      sortKey: f.sortKey,
      linux: abs(f.linux),
      initrds: f.initrds.map((p) => abs(p)!),
      options: f.options,
      uki: abs(f.uki),
      profile: f.profile,
      efi: abs(f.efi),
      architecture: f.architecture,
      devicetree: f.devicetree,
      triesLeft: name.triesLeft,
      triesDone: name.triesDone,
      problems: f.problems,
    };
    const loaders = [f.linux && "linux", f.efi && "efi", f.uki && "uki", f.ukiUrl && "uki-url"].filter(Boolean);
    const missing = [e.linux, ...e.initrds, e.uki, e.efi].find((p) => p !== undefined && fs.stat(p)?.kind !== "file");
    if (loaders.length === 0) {
      e.hidden = true;
      e.unbootable = "names no kernel (no linux, uki or efi line)";
    } else if (loaders.length > 1) {
      e.hidden = true;
      e.unbootable = `names more than one thing to boot (${loaders.join(", ")})`;
    } else if (f.architecture !== undefined && f.architecture.toLowerCase() !== opts.efiArch.toLowerCase()) {
      e.hidden = true;
      e.unbootable = `is for architecture ${f.architecture}, not ${opts.efiArch}`;
    } else if (missing) {
      e.hidden = true;
      e.unbootable = `names ${missing}, which is not a file`;
    } else if (f.efi) {
      e.unbootable = `runs the EFI program ${e.efi}, which kexec cannot start`;
    } else if (f.ukiUrl) {
      e.unbootable = "boots a UKI from a URL (uki-url), which kexec-ts does not fetch";
    }
    out.push(e);
  }
  return out;
}

function type2Entries(
  fs: BootFs,
  part: BootPartition,
  opts: EntryOptions,
  seen: Set<string>,
  notes: string[],
): BootEntry[] {
  const out: BootEntry[] = [];
  for (const path of entryFiles(fs, `${part.path}/EFI/Linux`, ".efi", seen, notes)) {
    let src;
    try {
      src = fs.open(path);
    } catch (e) {
      if (!(e instanceof KexecError)) throw e;
      notes.push(`${e.message} (skipped)`);
      continue;
    }
    try {
      const uki = parseUki(src, path);
      if (uki.pe.machine !== opts.peMachine) {
        notes.push(`${path}: a UKI for another machine (skipped)`);
        continue;
      }
      const name = parseEntryName(path.slice(path.lastIndexOf("/") + 1));
      for (let p = 0; p < uki.profileCount; p++) {
        const id = ukiIdentity(src, ukiProfile(uki, p, path), path);
        const os = osIdentity(id.osRelease);
        if (!os.title) {
          notes.push(`${path}: profile ${p} has no .osrel name (PRETTY_NAME, IMAGE_ID, NAME or ID) (skipped)`);
          continue;
        }
        const pid = id.profile.get("ID");
        const ptitle = id.profile.get("TITLE");
        const entryId = p === 0 ? name.id : `${name.id}@${pid ?? p}`;
        const aliases = [name.idOld, ...(pid !== undefined ? [`${name.id}@${pid}`] : []), `${name.id}@${p}`]
          .filter((a) => a !== entryId);
        out.push({
          id: entryId,
          aliases,
          type: "type2",
          path,
          partition: part.role,
          title: ptitle ? `${os.title} (${ptitle})` : p > 0 ? `${os.title} (${pid ?? `Profile #${p + 1}`})` : os.title,
          version: os.version,
          sortKey: os.sortKey,
          initrds: [],
          options: id.cmdline,
          uki: path,
          profile: p,
          idWithoutProfile: uki.profileCount > 1 ? name.id : undefined,
          triesLeft: name.triesLeft,
          triesDone: name.triesDone,
          problems: [],
        });
      }
    } catch (e) {
      // A malformed or unreadable UKI is one entry less; anything else is a bug and is not hidden as a note.
      if (!(e instanceof KexecError)) throw e;
      notes.push(`${e.message} (skipped)`);
    } finally {
      src.close();
    }
  }
  return out;
}

const byString = (a: string | undefined, b: string | undefined) =>
  a === b ? 0 : a === undefined ? -1 : b === undefined ? 1 : a < b ? -1 : 1;
const byNumber = (a: number, b: number) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * systemd-boot's order (boot_entry_compare): entries with no tries left last; entries with a sort-key first, by
 * sort-key, machine-id, then version (newest first); then by id (newest first, UAPI.10 order); a UKI's profiles
 * in order; then more tries left, fewer tries done. The sort is stable, so equal entries keep the order they were
 * found in (ESP before XBOOTLDR, Type #1 before Type #2, by file name).
 */
export function compareEntries(a: BootEntry, b: BootEntry): number {
  let r = byNumber(a.triesLeft === 0 ? 1 : 0, b.triesLeft === 0 ? 1 : 0);
  if (r) return r;
  r = byNumber(a.sortKey === undefined ? 1 : 0, b.sortKey === undefined ? 1 : 0);
  if (r) return r;
  if (a.sortKey !== undefined && b.sortKey !== undefined) {
    r = byString(a.sortKey, b.sortKey) || byString(a.machineId, b.machineId) || -compareVersions(a.version, b.version);
    if (r) return r;
  }
  r = -compareVersions(a.idWithoutProfile ?? a.id, b.idWithoutProfile ?? b.id);
  if (r) return r;
  if (a.idWithoutProfile !== undefined && b.idWithoutProfile !== undefined) {
    r = byNumber(a.profile ?? 0, b.profile ?? 0);
    if (r) return r;
  }
  if (a.triesLeft === undefined || b.triesLeft === undefined) return 0;
  return -byNumber(a.triesLeft, b.triesLeft) || byNumber(a.triesDone ?? 0, b.triesDone ?? 0);
}

/** The first entry a pattern (a glob, or `@saved`) names, among those the menu shows. */
function findByPattern(sys: SystemView, entries: readonly BootEntry[], pattern: string): BootEntry | undefined {
  let p = pattern;
  if (p.startsWith("@")) {
    if (p.toLowerCase() !== "@saved") return undefined;
    const saved = readLoaderVariable(sys, "LoaderEntrySelected") ?? readLoaderVariable(sys, "LoaderEntryLastBooted");
    if (saved === undefined) return undefined;
    p = saved;
  }
  return entries.find((e) => !e.hidden && globMatch(p, e.id));
}

/** The default entry and why, in bootctl's order (see the module doc); undefined when no entry is shown. */
export function selectDefault(
  sys: SystemView,
  entries: readonly BootEntry[],
  conf: { default?: string; preferred?: string },
): { entry: BootEntry; reason: string } | undefined {
  const vars: LoaderVariable[] = ["LoaderEntryOneShot", "LoaderEntryPreferred", "LoaderEntryDefault"];
  for (const v of vars) {
    const value = readLoaderVariable(sys, v);
    const e = value === undefined ? undefined : findByPattern(sys, entries, value);
    if (e) return { entry: e, reason: `EFI variable ${v}=${JSON.stringify(value)}` };
  }
  for (const key of ["preferred", "default"] as const) {
    const value = conf[key];
    const e = value === undefined ? undefined : findByPattern(sys, entries, value);
    if (e) return { entry: e, reason: `loader.conf ${key} ${JSON.stringify(value)}` };
  }
  const first = entries.find((e) => !e.hidden);
  return first ? { entry: first, reason: "the first entry (no default set, or it matches no entry)" } : undefined;
}

/**
 * The entry `selector` names: `default`, an id (case-insensitive), an alias (the id without suffix, another
 * spelling of a profile), or a glob over the ids.
 * @throws KexecError("usage") when none matches, listing the ids
 */
export function findEntry(list: BootEntries, selector: string): BootEntry {
  const entries = list.entries;
  const where = list.esp || list.xbootldr
    ? `on ${[list.esp?.path, list.xbootldr?.path].filter(Boolean).join(" and ")}`
    : "(no ESP or XBOOTLDR found; give --boot-root=DIR)";
  if (selector === "default") {
    const e = entries.find((x) => x.id === list.defaultId);
    if (!e) fail("usage", `no boot entry to use as the default ${where}`);
    return e;
  }
  const lower = selector.toLowerCase();
  const e = entries.find((x) => x.id.toLowerCase() === lower) ??
    entries.find((x) => x.aliases.some((a) => a.toLowerCase() === lower)) ??
    entries.find((x) => globMatch(selector, x.id));
  if (!e) {
    const ids = entries.map((x) => x.id);
    fail(
      "usage",
      `no boot entry "${selector}" ${where}${ids.length ? `; entries: ${ids.join(", ")}` : ""} (see kexec-ts entries)`,
    );
  }
  return e;
}
