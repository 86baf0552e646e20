/**
 * The UAPI.10 version order (systemd's `strverscmp_improved`), which the Boot Loader Specification sorts entry ids
 * and versions by, and `fnmatch(3)` with FNM_CASEFOLD, which `loader.conf`'s `default` patterns and the
 * LoaderEntry* EFI variables are matched with.
 *
 * @module
 */

const isDigit = (c: string) => c >= "0" && c <= "9";
const isAlpha = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
const isVersionChar = (c: string) => isDigit(c) || isAlpha(c) || c === "~" || c === "-" || c === "^" || c === ".";
const cmp = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Compares two version strings the UAPI.10 way: -1 when `a` is older, 1 when newer, 0 when equal. Segments of
 * digits compare numerically, letters byte-wise; `~` sorts before everything (pre-releases), `-` before `^` before
 * `.`; characters outside `[A-Za-z0-9~^.-]` are skipped. Undefined counts as "".
 *
 * @example
 * ```ts
 * import { compareVersions } from "./version.ts";
 *
 * const order = ["122.1", "123~rc1-1", "123", "123-a", "123-1", "123^post1", "123.1-1", "124-1"];
 * for (let i = 1; i < order.length; i++) {
 *   if (compareVersions(order[i - 1], order[i]) !== -1) throw new Error(order[i]);
 * }
 * ```
 */
export function compareVersions(aIn: string | undefined, bIn: string | undefined): number {
  const a = aIn ?? "";
  const b = bIn ?? "";
  let i = 0;
  let j = 0;
  const at = (s: string, k: number) => (k < s.length ? s[k] : "");
  for (;;) {
    while (i < a.length && !isVersionChar(a[i])) i++;
    while (j < b.length && !isVersionChar(b[j])) j++;

    if (at(a, i) === "~" || at(b, j) === "~") {
      const r = cmp(at(a, i) !== "~" ? 1 : 0, at(b, j) !== "~" ? 1 : 0);
      if (r !== 0) return r;
      i++;
      j++;
    }
    // The end of either string: the longer is newer ("" < "0"; C compares the next characters' codes).
    if (i >= a.length || j >= b.length) {
      return cmp(i < a.length ? a.charCodeAt(i) : 0, j < b.length ? b.charCodeAt(j) : 0);
    }
    for (const sep of ["-", "^", "."]) {
      if (a[i] === sep || b[j] === sep) {
        const r = cmp(a[i] !== sep ? 1 : 0, b[j] !== sep ? 1 : 0);
        if (r !== 0) return r;
        i++;
        j++;
      }
    }
    if (isDigit(at(a, i)) || isDigit(at(b, j))) {
      let ie = i;
      let je = j;
      while (isDigit(at(a, ie))) ie++;
      while (isDigit(at(b, je))) je++;
      const r = cmp(ie !== i ? 1 : 0, je !== j ? 1 : 0);
      if (r !== 0) return r;
      while (at(a, i) === "0") i++;
      while (at(b, j) === "0") j++;
      const len = cmp(ie - i, je - j);
      if (len !== 0) return len;
      const s = cmp(a.slice(i, ie), b.slice(j, je));
      if (s !== 0) return s;
      i = ie;
      j = je;
    } else {
      let ie = i;
      let je = j;
      while (isAlpha(at(a, ie))) ie++;
      while (isAlpha(at(b, je))) je++;
      const n = Math.min(ie - i, je - j);
      const s = cmp(a.slice(i, i + n), b.slice(j, j + n));
      if (s !== 0) return s;
      const len = cmp(ie - i, je - j);
      if (len !== 0) return len;
      i = ie;
      j = je;
    }
  }
}

/**
 * `fnmatch(pattern, text, FNM_CASEFOLD)`: `*` any run, `?` one character, `[...]` a set (ranges, `!` or `^`
 * negation), `\` escapes the next character; case-insensitive (ASCII).
 *
 * @example
 * ```ts
 * import { globMatch } from "./version.ts";
 *
 * if (!globMatch("debian-*", "Debian-6.12.conf") || globMatch("arch?.conf", "arch.conf")) throw new Error();
 * ```
 */
export function globMatch(pattern: string, text: string): boolean {
  const p = pattern.toLowerCase();
  const t = text.toLowerCase();
  // Iterative matching with one backtrack point for the last `*` (enough for fnmatch without FNM_PATHNAME).
  let pi = 0;
  let ti = 0;
  let starP = -1;
  let starT = 0;
  while (ti < t.length) {
    const step = matchOne(p, pi, t[ti]);
    if (step > 0) {
      pi += step;
      ti++;
    } else if (pi < p.length && p[pi] === "*") {
      starP = ++pi;
      starT = ti;
    } else if (starP >= 0) {
      pi = starP;
      ti = ++starT;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === "*") pi++;
  return pi === p.length;
}

/** How many pattern characters match `c` at `pi` (0 when they do not, or `*` is there). */
function matchOne(p: string, pi: number, c: string): number {
  if (pi >= p.length) return 0;
  const ch = p[pi];
  if (ch === "*") return 0;
  if (ch === "?") return 1;
  if (ch === "\\" && pi + 1 < p.length) return p[pi + 1] === c ? 2 : 0;
  if (ch === "[") {
    let k = pi + 1;
    const negate = p[k] === "!" || p[k] === "^";
    if (negate) k++;
    let matched = false;
    let first = true;
    while (k < p.length && (p[k] !== "]" || first)) {
      first = false;
      let lo = p[k];
      if (lo === "\\" && k + 1 < p.length) lo = p[++k];
      if (p[k + 1] === "-" && k + 2 < p.length && p[k + 2] !== "]") {
        let hi = p[k + 2];
        k += 2;
        if (hi === "\\" && k + 1 < p.length) hi = p[++k];
        if (c >= lo && c <= hi) matched = true;
      } else if (c === lo) {
        matched = true;
      }
      k++;
    }
    if (k >= p.length) return ch === c ? 1 : 0; // no closing bracket: a literal "["
    return matched !== negate ? k + 1 - pi : 0;
  }
  return ch === c ? 1 : 0;
}
