/**
 * A getopt_long-compatible tokenizer, so that scripts written for kexec-tools' `kexec` work unchanged:
 * options and operands may be interleaved (GNU permutation), `--name=value` and `--name value`, `-tvalue` and
 * `-t value`, bundled short flags (`-pu`), unique prefixes of long options (`--command` = `--command-line`),
 * and `--` ends option processing.
 *
 * @module
 */

import { fail } from "../errors.ts";

/** How an option takes its value. */
export type ArgKind = "none" | "required" | "optional";

/** One option of the grammar. `optional` values are only taken in the `--name=value` form, as getopt does. */
export interface OptionSpec {
  /** Canonical name; also the key in the result. */
  name: string;
  long: string[];
  short?: string;
  arg: ArgKind;
}

/** One parsed occurrence, in command-line order. */
export interface Occurrence {
  name: string;
  /** How the user spelled it (`-p`, `--load-panic`), for messages. */
  spelled: string;
  value?: string;
}

/** Tokenizer output: options in order, and the operands (non-options). */
export interface Tokens {
  options: Occurrence[];
  operands: string[];
}

/**
 * Splits argv into option occurrences and operands according to `specs`.
 * @throws KexecError("usage") for unknown or ambiguous options and missing or unexpected values
 */
export function tokenize(argv: readonly string[], specs: readonly OptionSpec[]): Tokens {
  const byShort = new Map<string, OptionSpec>();
  const byLong = new Map<string, OptionSpec>();
  for (const s of specs) {
    if (s.short) byShort.set(s.short, s);
    for (const l of s.long) byLong.set(l, s);
  }
  const options: Occurrence[] = [];
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const written = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const spec = lookupLong(written, byLong);
      const spelled = `--${written}`;
      if (spec.arg === "none") {
        if (eq >= 0) fail("usage", `option ${spelled} takes no value (got "${a.slice(eq + 1)}")`);
        options.push({ name: spec.name, spelled });
      } else if (eq >= 0) {
        options.push({ name: spec.name, spelled, value: a.slice(eq + 1) });
      } else if (spec.arg === "required") {
        if (i + 1 >= argv.length) fail("usage", `option ${spelled} needs a value`);
        options.push({ name: spec.name, spelled, value: argv[++i] });
      } else {
        options.push({ name: spec.name, spelled });
      }
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j];
        const spec = byShort.get(c);
        if (!spec) fail("usage", `unknown option -${c}${a.length > 2 ? ` (in ${a})` : ""}`);
        const spelled = `-${c}`;
        if (spec.arg === "none") {
          options.push({ name: spec.name, spelled });
          continue;
        }
        const rest = a.slice(j + 1);
        if (rest !== "") options.push({ name: spec.name, spelled, value: rest });
        else if (spec.arg === "required") {
          if (i + 1 >= argv.length) fail("usage", `option ${spelled} needs a value`);
          options.push({ name: spec.name, spelled, value: argv[++i] });
        } else options.push({ name: spec.name, spelled });
        break;
      }
      continue;
    }
    operands.push(a);
  }
  return { options, operands };
}

function lookupLong(written: string, byLong: Map<string, OptionSpec>): OptionSpec {
  const exact = byLong.get(written);
  if (exact) return exact;
  const candidates = [...byLong.entries()].filter(([l]) => l.startsWith(written));
  const distinct = new Set(candidates.map(([, s]) => s));
  if (written !== "" && distinct.size === 1) return candidates[0][1];
  if (distinct.size > 1) {
    fail("usage", `option --${written} is ambiguous (${candidates.map(([l]) => "--" + l).join(", ")})`);
  }
  return fail("usage", `unknown option --${written}`);
}
