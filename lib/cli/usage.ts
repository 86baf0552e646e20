/**
 * `kexec-ts --help`, made from the option and subcommand tables (./options.ts).
 *
 * @module
 */

import config from "../../deno.json" with { type: "json" };
import { type OptionGroup, OPTIONS, optionSpelling, SUBCOMMANDS } from "./options.ts";

/** Version of kexec-ts (deno.json's, the one place it is written). */
export const VERSION: string = config.version;

/** The help groups, in order, with their headings. Not-implemented compatibility options are not listed. */
export const HELP_GROUPS: readonly [OptionGroup, string][] = [
  ["mode", "Modes"],
  ["load", "Load options"],
  ["crash", "Crash kernels"],
  ["output", "Output"],
  ["misc", "Other"],
];

/** The environment variables kexec-ts reads, with their help. */
export const ENVIRONMENT: readonly [string, string][] = [
  ["KEXEC_TS_RUN_DIR", "state directory (default /run/kexec-ts): the last -p load, reload lock and log"],
  [
    "KEXEC_TS_RELOAD_SETTLE_MS",
    "how long reload waits for a burst of hotplug events to end (default 1000; 0 = none)",
  ],
  ["KEXEC_TS_LAUNCHER", "the command the udev rule runs (set by a launcher script such as the package's)"],
];

/** The kexec-tools-compatible forms of the command line, with what each does (help's "Usage", the man SYNOPSIS). */
export const USAGE_FORMS: readonly [string, string][] = [
  ["kexec-ts [-l|-p|-f] [options] KERNEL", 'load KERNEL (no mode: load, then "shutdown -r now")'],
  ["kexec-ts -e", "boot the loaded kernel now (syncs first unless -y)"],
  ["kexec-ts [-p] -u", "unload the kernel (-p: the crash kernel)"],
  ["kexec-ts [-p|-l] -S", "exit 1 if a crash (default, -p) or normal (-l) kernel is loaded, else 0"],
];

function table(rows: readonly [string, string][], indent: string): string[] {
  const width = Math.max(...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `${indent}${a.padEnd(width)}  ${b}`);
}

function helpText(): string {
  const lines = [
    `kexec-ts ${VERSION}: load and boot Linux kernels with kexec_load(2), crash kernels with hotplug support`,
    "",
    "Usage (kexec-tools compatible):",
    ...table(USAGE_FORMS, "  "),
    "",
    "kexec-ts commands:",
    ...table(SUBCOMMANDS.map((c) => [`kexec-ts ${c.name}${c.synopsis ? " " + c.synopsis : ""}`, c.help]), "  "),
    "",
  ];
  const rows = HELP_GROUPS.map(([group, heading]) => ({
    heading,
    rows: OPTIONS.filter((o) => o.group === group && !o.notImplemented && o.long.length > 0)
      .map((o): [string, string] => [(o.short ? "" : "    ") + optionSpelling(o), o.help]),
  }));
  const width = Math.max(...rows.flatMap((g) => g.rows.map(([a]) => a.length)));
  for (const g of rows) {
    lines.push(`${g.heading}:`, ...g.rows.map(([a, b]) => `  ${a.padEnd(width)}  ${b}`), "");
  }
  lines.push('kexec-tools options kexec-ts does not implement (each fails with "not implemented yet"):');
  let line = " ";
  for (const o of OPTIONS.filter((o) => o.notImplemented)) {
    if (line.length + o.long[0].length + 3 > 116) {
      lines.push(line);
      line = " ";
    }
    line += ` --${o.long[0]}`;
  }
  lines.push(
    line,
    "",
    "Environment:",
    ...table(ENVIRONMENT, "  "),
    "",
    "Exit status: 0 success; 1 error (one line on stderr: the cause and the fix); -S: 1 loaded, 0 not loaded.",
  );
  return lines.join("\n") + "\n";
}

/** The help text. */
export const USAGE: string = helpText();
