/**
 * kexec-ts(8), rendered from the option and subcommand tables (lib/cli/options.ts), the usage forms and environment
 * (lib/cli/usage.ts) and the man page's own text (lib/cli/manual.ts). Nothing in the page is written here but roff.
 *
 * @module
 */

import { type OptionDef, OPTIONS, SUBCOMMANDS } from "../../lib/cli/options.ts";
import { ENVIRONMENT, HELP_GROUPS, USAGE_FORMS, VERSION } from "../../lib/cli/usage.ts";
import {
  DESCRIPTION,
  EXAMPLES,
  EXIT_STATUS,
  FILES,
  type ManSection,
  SECTIONS,
  SEE_ALSO,
  SUMMARY,
} from "../../lib/cli/manual.ts";

/** Plain text as roff: backslashes as `\e`, every hyphen as `\-` (options must copy as ASCII hyphen-minus). */
export function roffEscape(text: string): string {
  return text.replaceAll("\\", "\\e").replaceAll("-", "\\-");
}

/** A body line: text that would start with `.` or `'` (a request) is protected with `\&`. */
function bodyLine(roff: string): string {
  return /^[.']/.test(roff) ? `\\&${roff}` : roff;
}

/** Prose with `code` spans: the spans bold, the rest plain. */
export function roffProse(text: string): string {
  return text.split("`").map((part, i) => (i % 2 ? `\\fB${roffEscape(part)}\\fR` : roffEscape(part))).join("");
}

const bold = (s: string) => `\\fB${roffEscape(s)}\\fR`;
const italic = (s: string) => `\\fI${roffEscape(s)}\\fR`;

/** A synopsis as roff: placeholders (upper case, `options`) italic, literal words bold, brackets and bars plain. */
export function roffSynopsis(form: string): string {
  return form.split(/(\s+|[\[\]|])/).map((w) => {
    if (w === "" || /^(\s+|[\[\]|])$/.test(w)) return w;
    if (/^[A-Z][A-Z_]*$/.test(w) || w === "options") return italic(w);
    return bold(w); // the program, its commands and options: literal
  }).join("");
}

/** One spelling of an option with its value: `\fB\-\-append\fR=\fISTRING\fR`. */
function spelledRoff(flag: string, o: OptionDef): string {
  if (o.arg === "none" || !o.metavar) return bold(flag);
  const sep = flag.startsWith("--") ? "=" : " ";
  return o.arg === "optional" ? `${bold(flag)}[=${italic(o.metavar)}]` : `${bold(flag)}${sep}${italic(o.metavar)}`;
}

/** Every spelling of the options named `name` (`-h`, `-?`, `--help` are one entry), short ones first. */
function tagOf(defs: readonly OptionDef[]): string {
  const shorts = defs.flatMap((o) => (o.short ? [spelledRoff(`-${o.short}`, o)] : []));
  const longs = defs.flatMap((o) => o.long.map((l) => spelledRoff(`--${l}`, o)));
  return [...shorts, ...longs].join(", ");
}

/** The options of a group, entries of the same name merged, in table order. */
function groupEntries(pred: (o: OptionDef) => boolean): OptionDef[][] {
  const byName = new Map<string, OptionDef[]>();
  for (const o of OPTIONS.filter(pred)) {
    const list = byName.get(o.name) ?? [];
    list.push(o);
    byName.set(o.name, list);
  }
  return [...byName.values()];
}

function tagged(tag: string, text: string): string[] {
  return [".TP", bodyLine(tag), bodyLine(text)];
}

function section(s: ManSection): string[] {
  return [`.SH ${s.title}`, ...s.paragraphs.flatMap((p, i) => [...(i ? [".PP"] : []), bodyLine(roffProse(p))])];
}

/**
 * The man page. `date` (YYYY-MM-DD) goes into the title line; the build passes the changelog's date so that the
 * page is the same for the same sources.
 */
export function manPage(date: string): string {
  const lines: string[] = [
    `.\\" kexec-ts(8). Generated from lib/cli/options.ts, usage.ts and manual.ts by scripts/docs/man.ts; do not edit.`,
    `.TH KEXEC\\-TS 8 ${date} "kexec\\-ts ${roffEscape(VERSION)}" "System Administration"`,
    ".SH NAME",
    `kexec\\-ts \\- ${roffEscape(SUMMARY)}`,
    ".SH SYNOPSIS",
    ".nf",
    ...USAGE_FORMS.map(([form]) => bodyLine(roffSynopsis(form))),
    ...SUBCOMMANDS.map((c) => bodyLine(roffSynopsis(`kexec-ts ${c.name}${c.synopsis ? " " + c.synopsis : ""}`))),
    ".fi",
    ...section({ title: "DESCRIPTION", paragraphs: DESCRIPTION }),
    ".PP",
    "The kexec\\-tools forms of the command line:",
    ...USAGE_FORMS.flatMap(([form, what]) => tagged(roffSynopsis(form), roffProse(what))),
    ".SH COMMANDS",
    "kexec\\-ts' own commands, recognised only as the first argument:",
    ...SUBCOMMANDS.flatMap((c) =>
      tagged(roffSynopsis(`kexec-ts ${c.name}${c.synopsis ? " " + c.synopsis : ""}`), roffProse(c.help))
    ),
    ".SH OPTIONS",
    "Options and the kernel may come in any order; long options may be abbreviated to a unique prefix, take their " +
    "value as \\fB\\-\\-opt\\fR=\\fIvalue\\fR or \\fB\\-\\-opt\\fR \\fIvalue\\fR, short options may be bundled " +
    "(\\fB\\-pu\\fR), and \\fB\\-\\-\\fR ends the options.",
  ];
  for (const [group, heading] of HELP_GROUPS) {
    const entries = groupEntries((o) => o.group === group && !o.notImplemented);
    if (!entries.length) continue;
    lines.push(`.SS ${roffEscape(heading)}`);
    for (const defs of entries) lines.push(...tagged(tagOf(defs), roffProse(defs[0].help)));
  }
  const listed = new Set(HELP_GROUPS.map(([g]) => g));
  const other = groupEntries((o) => !listed.has(o.group) && !o.notImplemented);
  if (other.length) {
    lines.push(".SS Other options");
    for (const defs of other) lines.push(...tagged(tagOf(defs), roffProse(defs[0].help)));
  }
  const compat = groupEntries((o) => !!o.notImplemented);
  if (compat.length) {
    lines.push(
      ".SS kexec\\-tools options kexec\\-ts does not implement",
      "Each is accepted by the parser and fails with \\(lqnot implemented yet\\(rq, never silently:",
      bodyLine(compat.map(tagOf).join(", ") + "."),
    );
  }
  for (const s of SECTIONS) lines.push(...section(s));
  lines.push(".SH ENVIRONMENT", ...ENVIRONMENT.flatMap(([name, what]) => tagged(bold(name), roffProse(what))));
  lines.push(".SH FILES", ...FILES.flatMap(([path, what]) => tagged(bold(path), roffProse(what))));
  lines.push(".SH EXIT STATUS", ...EXIT_STATUS.flatMap(([code, what]) => tagged(bold(code), roffProse(what))));
  lines.push(".SH EXAMPLES");
  EXAMPLES.forEach((e, i) => {
    if (i) lines.push(".PP");
    lines.push(bodyLine(roffProse(e.what)), ".PP", ".RS 4", ".nf", ...e.commands.map((c) => bodyLine(roffEscape(c))));
    lines.push(".fi", ".RE");
  });
  lines.push(
    ".SH SEE ALSO",
    SEE_ALSO.map((ref) => {
      const m = /^(.+)\((\d\w*)\)$/.exec(ref);
      return m ? `\\fB${roffEscape(m[1])}\\fR(${m[2]})` : roffEscape(ref);
    }).join(",\n"),
  );
  return lines.join("\n") + "\n";
}
