/**
 * Shell completions for kexec-ts (bash, zsh, fish), rendered from the option and subcommand tables
 * (lib/cli/options.ts). Options kexec-ts does not implement are not offered (they only fail); every other
 * spelling is. An option's value is completed by its metavar: FILE (files), DIR (directories), TYPE (the image
 * types of the loaders and wrappers, lib/load/loaders.ts), PORT and BAUD (the values `--serial` and `--serial-baud` accept);
 * any other metavar is free text.
 *
 * @module
 */

import { type OptionDef, OPTIONS, SUBCOMMANDS } from "../../lib/cli/options.ts";
import { currentArch } from "../../lib/arch/mod.ts";
import { loadersFor, WRAPPERS } from "../../lib/load/loaders.ts";

/** How an option's value is completed. */
export type ValueCompletion =
  | { kind: "file" }
  | { kind: "dir" }
  | { kind: "words"; words: readonly string[] }
  | { kind: "none" };

/** The image types `-t` accepts: each loader's and each wrapper's (UKI) name and aliases. */
export function imageTypes(): string[] {
  return [...loadersFor(currentArch()), ...WRAPPERS].flatMap((l) => [l.name, ...l.aliases]);
}

/** How the value of `o` is completed (by its metavar). */
export function valueCompletion(o: OptionDef): ValueCompletion {
  switch (o.metavar) {
    case "FILE":
      return { kind: "file" };
    case "DIR":
      return { kind: "dir" };
    case "TYPE":
      return { kind: "words", words: imageTypes() };
    case "PORT":
      return { kind: "words", words: ["0x3f8", "ttyS0", "ttyS1", "ttyS2", "ttyS3"] };
    case "BAUD":
      return { kind: "words", words: ["115200"] };
    default:
      return { kind: "none" };
  }
}

/** The options completions offer: all but the not-implemented ones. */
export function completedOptions(): OptionDef[] {
  return OPTIONS.filter((o) => !o.notImplemented);
}

const WORD = /^[A-Za-z0-9_.:+=\/-]+$/;
const SHORT = /^[A-Za-z0-9?]$/;

/** Words that go unquoted into generated shell code must be plain (the table is data others edit). */
function plain(w: string, what: string): string {
  if (!WORD.test(w)) throw new Error(`${what} ${JSON.stringify(w)} cannot go unquoted into a completion script`);
  return w;
}

function checkedShort(s: string): string {
  if (!SHORT.test(s)) throw new Error(`short option -${s} cannot go into a completion script`);
  return s;
}

const HEADER =
  "Generated from kexec-ts' option table (lib/cli/options.ts) by scripts/docs/completions.ts; do not edit.";

/** Single-quoted for sh (bash, zsh): `'` becomes `'\''`. */
function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------------------------- bash

function bashValueAction(c: ValueCompletion): string {
  switch (c.kind) {
    case "file":
      return '_kexec_ts_reply "$pre" -f -- "$val"';
    case "dir":
      return '_kexec_ts_reply "$pre" -d -- "$val"';
    case "words":
      return `_kexec_ts_reply "$pre" -W ${shQuote(c.words.map((w) => plain(w, "value")).join(" "))} -- "$val"`;
    case "none":
      return ":";
  }
}

/** The bash completion (bash-completion's completions directory, or `source` it). Needs no bash-completion. */
export function bashCompletion(): string {
  const opts = completedOptions();
  const words: string[] = [];
  for (const o of opts) {
    if (o.short) words.push(`-${checkedShort(o.short)}`);
    for (const l of o.long) words.push(`--${plain(l, "option")}${o.arg === "required" ? "=" : ""}`);
  }
  const withValue = opts.filter((o) => o.arg !== "none");
  // `--opt=VALUE` (required and optional values) and `--opt VALUE` / `-t VALUE` (required values only, as getopt).
  const attached = withValue.map((o) =>
    `    ${o.long.map((l) => `--${l}`).join("|")}) ${bashValueAction(valueCompletion(o))}; return 0 ;;`
  ).filter((l) => !/^\s+\)/.test(l));
  const separate = withValue.filter((o) => o.arg === "required").map((o) => {
    const names = [...(o.short ? [`-${o.short}`] : []), ...o.long.map((l) => `--${l}`)].join("|");
    return `    ${names}) ${bashValueAction(valueCompletion(o))}; return 0 ;;`;
  });
  const commands = SUBCOMMANDS.map((c) => plain(c.name, "subcommand")).join(" ");
  return `# bash completion for kexec-ts(8). ${HEADER}

# _kexec_ts_reply PREFIX COMPGEN-ARGS...: COMPREPLY from compgen, one word per line, each with PREFIX.
_kexec_ts_reply() {
  local pre=$1 w
  shift
  COMPREPLY=()
  while IFS= read -r w; do COMPREPLY+=("$pre$w"); done < <(compgen "$@")
  [[ $1 == -[fd] ]] && compopt -o filenames 2>/dev/null
  return 0
}

_kexec_ts() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev= opt= val pre=
  ((COMP_CWORD > 0)) && prev=\${COMP_WORDS[COMP_CWORD - 1]}
  # A value attached with '=': bash splits "--initrd=/bo" into "--initrd" "=" "/bo" when '=' is in COMP_WORDBREAKS
  # (the default), and keeps it one word otherwise.
  if [[ $cur == = ]]; then
    opt=$prev val=
  elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
    opt=\${COMP_WORDS[COMP_CWORD - 2]} val=$cur
  elif [[ $cur == --*=* ]]; then
    opt=\${cur%%=*} val=\${cur#*=} pre=\${cur%%=*}=
  fi
  if [[ -n $opt ]]; then
    case $opt in
${attached.join("\n")}
    esac
    return 0
  fi
  val=$cur
  case $prev in
${separate.join("\n")}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W ${shQuote(words.join(" "))} -- "$cur"))
    [[ \${#COMPREPLY[@]} == 1 && \${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
    return 0
  fi
  # The first argument may be a command; any argument may be the kernel.
  _kexec_ts_reply "" -f -- "$cur"
  if ((COMP_CWORD == 1)); then
    local c
    while IFS= read -r c; do COMPREPLY+=("$c"); done < <(compgen -W '${commands}' -- "$cur")
  fi
  return 0
}
complete -F _kexec_ts kexec-ts
`;
}

// ----------------------------------------------------------------------------------------------------------- zsh

/** Text inside an _arguments `[description]`, itself inside single quotes. */
function zshDescription(help: string): string {
  return help.replaceAll("\\", "\\\\").replaceAll("[", "\\[").replaceAll("]", "\\]").replaceAll("'", `'\\''`);
}

function zshAction(c: ValueCompletion): string {
  switch (c.kind) {
    case "file":
      return "_files";
    case "dir":
      return "_files -/";
    case "words":
      return `(${c.words.map((w) => plain(w, "value")).join(" ")})`;
    case "none":
      return " ";
  }
}

/** One _arguments spec per spelling. */
function zshSpecs(o: OptionDef): string[] {
  const desc = zshDescription(o.help);
  const meta = (o.metavar ?? "VALUE").replaceAll(":", "");
  const action = zshAction(valueCompletion(o));
  const specs: string[] = [];
  if (o.short) {
    const s = checkedShort(o.short) === "?" ? "\\?" : o.short;
    specs.push(o.arg === "required" ? `-${s}+[${desc}]:${meta}:${action}` : `-${s}[${desc}]`);
  }
  for (const l of o.long) {
    const name = `--${plain(l, "option")}`;
    if (o.arg === "none") specs.push(`${name}[${desc}]`);
    else if (o.arg === "required") specs.push(`${name}=[${desc}]:${meta}:${action}`);
    else specs.push(`${name}=-[${desc}]::${meta}:${action}`);
  }
  return specs;
}

/** The zsh completion (a `_kexec-ts` file on $fpath; Debian's zsh reads /usr/share/zsh/vendor-completions). */
export function zshCompletion(): string {
  const specs = completedOptions().flatMap(zshSpecs);
  const commands = SUBCOMMANDS.map((c) => `    '${plain(c.name, "subcommand")}:${c.help.replaceAll("'", `'\\''`)}'`);
  return `#compdef kexec-ts
# zsh completion for kexec-ts(8). ${HEADER}

_kexec_ts() {
  local curcontext=$curcontext state line ret=1
  local -a commands
  commands=(
${commands.join("\n")}
  )
  _arguments -s -S -C \\
${specs.map((s) => `    '${s}' \\`).join("\n")}
    '1:command or kernel:->first' \\
    '*:kernel image:_files' && ret=0
  if [[ $state == first ]]; then
    _describe -t commands 'kexec-ts command' commands && ret=0
    _files && ret=0
  fi
  return ret
}

_kexec_ts "$@"
`;
}

// ---------------------------------------------------------------------------------------------------------- fish

/** Single-quoted for fish: `\` and `'` escaped. */
function fishQuote(s: string): string {
  return `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

function fishValue(c: ValueCompletion): string {
  switch (c.kind) {
    case "file":
      return " -r -F";
    case "dir":
      return " -x -a '(__fish_complete_directories)'";
    case "words":
      return ` -x -a ${fishQuote(c.words.map((w) => plain(w, "value")).join(" "))}`;
    case "none":
      return " -x";
  }
}

/** The fish completion (Debian's fish reads /usr/share/fish/vendor_completions.d). */
export function fishCompletion(): string {
  const lines: string[] = [];
  for (const c of SUBCOMMANDS) {
    lines.push(
      `complete -c kexec-ts -n __fish_use_subcommand -a ${plain(c.name, "subcommand")} -d ${fishQuote(c.help)}`,
    );
  }
  for (const o of completedOptions()) {
    const value = o.arg === "required" ? fishValue(valueCompletion(o)) : "";
    const longs = o.long.map((l) => plain(l, "option"));
    const first = [
      ...(o.short ? [`-s ${fishQuote(checkedShort(o.short))}`] : []),
      ...(longs[0] ? [`-l ${longs[0]}`] : []),
    ];
    lines.push(`complete -c kexec-ts ${first.join(" ")}${value} -d ${fishQuote(o.help)}`);
    for (const l of longs.slice(1)) lines.push(`complete -c kexec-ts -l ${l}${value} -d ${fishQuote(o.help)}`);
  }
  return `# fish completion for kexec-ts(8). ${HEADER}
${lines.join("\n")}
`;
}
