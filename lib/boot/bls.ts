/**
 * The Boot Loader Specification's (UAPI.1) text formats, as systemd reads them (src/shared/bootspec.c, sd-boot):
 * Type #1 entry files (`loader/entries/*.conf`), `loader/loader.conf`, entry file names with a boot counter
 * (`NAME+LEFT[-DONE].conf`), and the paths entries name.
 *
 * Line syntax: UTF-8; blank lines and lines whose first non-blank character is `#` are comments; the first word is
 * the key, the rest of the line after the blanks that follow it is the value, literally (no quote removal: bootctl
 * and the specification; sd-boot alone strips one pair of double quotes). A key without a value is ignored.
 *
 * @module
 */

/** One `key value` line. */
export interface ConfLine {
  key: string;
  value: string;
  /** Line number, from 1. */
  line: number;
}

/** Splits a Type #1 entry or loader.conf into key/value lines (comments and valueless keys dropped). */
export function parseConfLines(text: string): ConfLine[] {
  const out: ConfLine[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/^[ \t\r]+|[ \t\r]+$/g, "");
    if (line === "" || line.startsWith("#")) return;
    const m = /^(\S+)[ \t]+(.*)$/.exec(line);
    if (m && m[2] !== "") out.push({ key: m[1], value: m[2], line: i + 1 });
  });
  return out;
}

/** What a Type #1 entry file says. Paths are as written (relative to its partition's root), mangled (see {@link mangleEntryPath}). */
export interface Type1Fields {
  title?: string;
  version?: string;
  machineId?: string;
  sortKey?: string;
  linux?: string;
  /** Every `initrd`, in order. */
  initrds: string[];
  /** Every `options`, joined with single spaces; undefined when there is none. */
  options?: string;
  efi?: string;
  uki?: string;
  ukiUrl?: string;
  /** The `profile` key, for `uki` entries. */
  profile?: number;
  devicetree?: string;
  devicetreeOverlay?: string;
  architecture?: string;
  /** Problems met (an unusable path, a bad profile number), one phrase each. */
  problems: string[];
}

/**
 * A path an entry names, as bootctl's `mangle_path` takes it: made absolute (a leading `/` is optional), repeated
 * slashes collapsed; undefined (the field is ignored) when it ends with `/` or has a `.` or `..` component.
 */
export function mangleEntryPath(value: string): string | undefined {
  if (value.endsWith("/")) return undefined;
  const parts = value.split("/").filter((p) => p !== "");
  if (parts.length === 0 || parts.some((p) => p === "." || p === "..")) return undefined;
  return "/" + parts.join("/");
}

/** Parses a Type #1 entry file. Single-valued keys: the last one wins; `initrd` and `options` accumulate. */
export function parseType1(text: string): Type1Fields {
  const f: Type1Fields = { initrds: [], problems: [] };
  const options: string[] = [];
  const path = (l: ConfLine): string | undefined => {
    const p = mangleEntryPath(l.value);
    if (p === undefined) f.problems.push(`line ${l.line}: ${l.key} ${l.value}: not a usable path (ignored)`);
    return p;
  };
  for (const l of parseConfLines(text)) {
    switch (l.key) {
      case "title":
        f.title = l.value;
        break;
      case "version":
        f.version = l.value;
        break;
      case "machine-id":
        f.machineId = l.value;
        break;
      case "sort-key":
        f.sortKey = l.value;
        break;
      case "linux":
        f.linux = path(l) ?? f.linux;
        break;
      case "initrd": {
        const p = path(l);
        if (p) f.initrds.push(p);
        break;
      }
      case "efi":
        f.efi = path(l) ?? f.efi;
        break;
      case "uki":
        f.uki = path(l) ?? f.uki;
        break;
      case "uki-url":
        f.ukiUrl = l.value;
        break;
      case "profile":
        if (/^[0-9]{1,9}$/.test(l.value)) f.profile = Number(l.value);
        else f.problems.push(`line ${l.line}: profile ${l.value}: not a number (ignored)`);
        break;
      case "options":
        options.push(l.value);
        break;
      case "devicetree":
        f.devicetree = l.value;
        break;
      case "devicetree-overlay":
        f.devicetreeOverlay = l.value;
        break;
      case "architecture":
        f.architecture = l.value;
        break;
    }
  }
  if (options.length) f.options = options.join(" ");
  return f;
}

/** What kexec-ts uses of loader.conf: the default and preferred patterns (the rest drives the boot menu). */
export interface LoaderConf {
  default?: string;
  preferred?: string;
}

/** Parses loader.conf. */
export function parseLoaderConf(text: string): LoaderConf {
  const out: LoaderConf = {};
  for (const l of parseConfLines(text)) {
    if (l.key === "default") out.default = l.value;
    if (l.key === "preferred") out.preferred = l.value;
  }
  return out;
}

/** An entry file name taken apart: the id (suffix kept, boot counter removed) and the counter. */
export interface EntryName {
  /** `NAME.conf` / `NAME.efi`: the file name without `+LEFT[-DONE]`. */
  id: string;
  /** The id without its suffix (bootctl accepts it when an entry is named). */
  idOld: string;
  /** Boot counting: tries left (0: the entry is bad) and done; undefined without a counter. */
  triesLeft?: number;
  triesDone?: number;
}

/**
 * Takes an entry file name apart (bootctl's `boot_filename_extract_tries`): the counter is `+LEFT` or
 * `+LEFT-DONE` right before the suffix, in decimal.
 *
 * @example
 * ```ts
 * import { parseEntryName } from "./bls.ts";
 *
 * const n = parseEntryName("debian-6.12+3-1.conf");
 * if (n.id !== "debian-6.12.conf" || n.triesLeft !== 3 || n.triesDone !== 1) throw new Error(JSON.stringify(n));
 * ```
 */
export function parseEntryName(file: string): EntryName {
  const dot = file.lastIndexOf(".");
  const stem = dot < 0 ? file : file.slice(0, dot);
  const suffix = dot < 0 ? "" : file.slice(dot);
  const m = /^(.*)\+([0-9]+)(?:-([0-9]+))?$/.exec(stem);
  if (m && Number(m[2]) <= 0x7fffffff && (m[3] === undefined || Number(m[3]) <= 0x7fffffff)) {
    return {
      id: m[1] + suffix,
      idOld: m[1],
      triesLeft: Number(m[2]),
      triesDone: m[3] === undefined ? 0 : Number(m[3]),
    };
  }
  return { id: file, idOld: stem };
}

/** The BLS entry-name character set (letters, digits, `+-_.@`), 1 to 255 characters. */
export function validEntryFileName(name: string): boolean {
  return /^[A-Za-z0-9+\-_.@]{1,255}$/.test(name);
}
