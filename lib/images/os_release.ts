/**
 * os-release(5) text, as a UKI's `.osrel` section carries it: `KEY=VALUE` lines with shell-like quoting, and the
 * names and versions boot loaders derive from it (systemd's bootspec-fundamental.c rules).
 *
 * @module
 */

/**
 * Parses os-release text: `KEY=VALUE` per line; `#` comment lines and blank lines skipped; values may be
 * single-quoted (literal), double-quoted (`\"`, `\\`, `` \` ``, `\$` unescaped) or bare (a backslash escapes the next
 * character; trailing blanks dropped). Lines that are not assignments are ignored. The last assignment wins.
 *
 * @example
 * ```ts
 * import { parseOsRelease } from "./os_release.ts";
 *
 * const o = parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n# comment\nVERSION_ID="12"\n');
 * if (o.get("PRETTY_NAME") !== "Debian GNU/Linux 12 (bookworm)" || o.get("VERSION_ID") !== "12") throw new Error();
 * ```
 */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^[ \t]+/, "");
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*)$/.exec(line);
    if (!m) continue;
    out.set(m[1], unquote(m[2]));
  }
  return out;
}

function unquote(value: string): string {
  let out = "";
  let i = 0;
  let bareEnd = 0; // length of `out` up to the last character that is not trailing bare whitespace
  while (i < value.length) {
    const c = value[i];
    if (c === "'") {
      const end = value.indexOf("'", i + 1);
      out += value.slice(i + 1, end < 0 ? value.length : end);
      i = end < 0 ? value.length : end + 1;
      bareEnd = out.length;
    } else if (c === '"') {
      i++;
      while (i < value.length && value[i] !== '"') {
        if (value[i] === "\\" && i + 1 < value.length && '"\\`$'.includes(value[i + 1])) {
          out += value[i + 1];
          i += 2;
        } else {
          out += value[i++];
        }
      }
      i++;
      bareEnd = out.length;
    } else if (c === "\\" && i + 1 < value.length) {
      out += value[i + 1];
      i += 2;
      bareEnd = out.length;
    } else {
      out += c;
      i++;
      if (c !== " " && c !== "\t") bareEnd = out.length;
    }
  }
  return out.slice(0, bareEnd);
}

/** What boot loaders show for an OS: its name, version and sort key (undefined when os-release has none). */
export interface OsIdentity {
  /** PRETTY_NAME, else IMAGE_ID, NAME, ID. */
  title?: string;
  /** IMAGE_VERSION, else VERSION, VERSION_ID, BUILD_ID. */
  version?: string;
  /** IMAGE_ID, else ID (a Type #2 entry's sort-key). */
  sortKey?: string;
}

/** The name, version and sort key systemd derives from os-release (bootspec-fundamental.c). */
export function osIdentity(o: ReadonlyMap<string, string>): OsIdentity {
  const first = (...keys: string[]) => keys.map((k) => o.get(k)).find((v) => v !== undefined && v !== "");
  return {
    title: first("PRETTY_NAME", "IMAGE_ID", "NAME", "ID"),
    version: first("IMAGE_VERSION", "VERSION", "VERSION_ID", "BUILD_ID"),
    sortKey: first("IMAGE_ID", "ID"),
  };
}
