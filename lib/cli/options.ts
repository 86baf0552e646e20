/**
 * The one source for kexec-ts' command line: every option (kexec-tools' generic, x86_64 and bzImage64 ones, and
 * kexec-ts' own) and every subcommand, with its help text. The parser (./args.ts), `--help` (./usage.ts), and the
 * man page and shell completions are all made from these tables, so an option cannot be missing from one of them.
 *
 * @module
 */

import type { OptionSpec } from "./grammar.ts";

/** Where an option is listed in `--help` and the man page. */
export type OptionGroup = "mode" | "load" | "crash" | "output" | "misc" | "compat";

/** One option: its grammar and its documentation. */
export interface OptionDef extends OptionSpec {
  group: OptionGroup;
  /** The value's placeholder in help (`FILE`, `ADDR`), for options that take one. */
  metavar?: string;
  /** One line of help; the option is listed under its group. */
  help: string;
  /** Accepted for kexec-tools compatibility but not implemented: using it fails with "not implemented yet". */
  notImplemented?: boolean;
}

/** One subcommand, recognised only as the first argument. */
export interface SubcommandDef {
  name: string;
  /** Its synopsis after `kexec-ts NAME` (e.g. `[--json]`). */
  synopsis: string;
  help: string;
}

/** The options, in the order `--help` lists them within each group. */
export const OPTIONS: readonly OptionDef[] = [
  { name: "load", long: ["load"], short: "l", arg: "none", group: "mode", help: "load a kernel for kexec -e" },
  {
    name: "load-panic",
    long: ["load-panic"],
    short: "p",
    arg: "none",
    group: "mode",
    help: "load a crash (kdump) kernel into the crashkernel= region",
  },
  {
    name: "unload",
    long: ["unload"],
    short: "u",
    arg: "none",
    group: "mode",
    help: "unload (with -p: the crash kernel)",
  },
  { name: "exec", long: ["exec"], short: "e", arg: "none", group: "mode", help: "execute the loaded kernel" },
  {
    name: "force",
    long: ["force"],
    short: "f",
    arg: "none",
    group: "mode",
    help: "load KERNEL and execute it at once, without shutdown",
  },
  {
    name: "status",
    long: ["status"],
    short: "S",
    arg: "none",
    group: "mode",
    help: "exit status 1 when loaded, 0 when not (as kexec-tools)",
  },
  {
    name: "append",
    long: ["append", "command-line"],
    arg: "required",
    metavar: "STRING",
    group: "load",
    help: "kernel command line (the last one wins)",
  },
  {
    name: "reuse-cmdline",
    long: ["reuse-cmdline"],
    arg: "none",
    group: "load",
    help: "start from /proc/cmdline (drops BOOT_IMAGE=, and crashkernel= with -p)",
  },
  {
    name: "initrd",
    long: ["initrd", "ramdisk"],
    arg: "required",
    metavar: "FILE",
    group: "load",
    help: "initial ramdisk",
  },
  {
    name: "type",
    long: ["type"],
    short: "t",
    arg: "required",
    metavar: "TYPE",
    group: "load",
    help: "image type (bzImage64, elf-x86_64, uki; default: probe)",
  },
  {
    name: "uki-profile",
    long: ["uki-profile"],
    arg: "required",
    metavar: "N",
    group: "load",
    help: "the profile of a multi-profile UKI (default 0, or the command line's @N)",
  },
  {
    name: "boot-entry",
    long: ["boot-entry"],
    arg: "required",
    metavar: "ID",
    group: "load",
    help: "load a boot entry (an id from entries, or default)",
  },
  {
    name: "boot-root",
    long: ["boot-root"],
    arg: "required",
    metavar: "DIR",
    group: "load",
    help: "boot entries are in DIR (default: the ESP, XBOOTLDR)",
  },
  {
    name: "args-linux",
    long: ["args-linux"],
    arg: "none",
    group: "load",
    help: "accepted: an ELF vmlinux always gets Linux boot_params",
  },
  {
    name: "mem-min",
    long: ["mem-min"],
    arg: "required",
    metavar: "ADDR",
    group: "load",
    help: "lowest address a segment may use",
  },
  {
    name: "mem-max",
    long: ["mem-max"],
    arg: "required",
    metavar: "ADDR",
    group: "load",
    help: "highest address a segment may use (inclusive)",
  },
  {
    name: "no-checks",
    long: ["no-checks"],
    short: "i",
    arg: "none",
    group: "load",
    help: "purgatory skips the SHA-256 check of the segments",
  },
  {
    name: "kexec-syscall",
    long: ["kexec-syscall"],
    short: "c",
    arg: "none",
    group: "load",
    help: "use kexec_load (the default)",
  },
  {
    name: "kexec-file-syscall",
    long: ["kexec-file-syscall"],
    short: "s",
    arg: "none",
    group: "load",
    help: "use kexec_file_load (signed kernels under lockdown / Secure Boot)",
  },
  {
    name: "kexec-syscall-auto",
    long: ["kexec-syscall-auto"],
    short: "a",
    arg: "none",
    group: "load",
    help: "try kexec_file_load, fall back to kexec_load",
  },
  {
    name: "console-serial",
    long: ["console-serial"],
    arg: "none",
    group: "load",
    help: "purgatory reports its SHA-256 check on the serial port",
  },
  {
    name: "serial",
    long: ["serial"],
    arg: "required",
    metavar: "PORT",
    group: "load",
    help: "that port (0x3f8 or ttyS0..ttyS3; default 0x3f8)",
  },
  {
    name: "serial-baud",
    long: ["serial-baud"],
    arg: "required",
    metavar: "BAUD",
    group: "load",
    help: "accepted: 115200 only",
  },
  {
    name: "hotplug",
    long: ["hotplug"],
    arg: "none",
    group: "crash",
    help: "-p: require crash hotplug (fail if the kernel lacks CONFIG_CRASH_HOTPLUG)",
  },
  {
    name: "no-hotplug",
    long: ["no-hotplug"],
    arg: "none",
    group: "crash",
    help: "-p: load without the crash hotplug flag (default: on when the kernel supports it)",
  },
  {
    name: "elf64-core-headers",
    long: ["elf64-core-headers"],
    arg: "none",
    group: "crash",
    help: "accepted: x86_64 core headers are always ELF64",
  },
  {
    name: "print-ckr-size",
    long: ["print-ckr-size"],
    arg: "none",
    group: "crash",
    help: "print the size of the main crash region in bytes",
  },
  {
    name: "dry-run",
    long: ["dry-run"],
    arg: "none",
    group: "output",
    help: "build and print the plan, do not load",
  },
  {
    name: "json",
    long: ["json"],
    arg: "none",
    group: "output",
    help: "machine-readable output (status, plan, entries, vmcore-info)",
  },
  {
    name: "debug",
    long: ["debug"],
    short: "d",
    arg: "none",
    group: "output",
    help: "print the segment table before the syscall",
  },
  {
    name: "system-root",
    long: ["system-root"],
    arg: "required",
    metavar: "DIR",
    group: "output",
    help: "read /proc and /sys from a saved snapshot under DIR (planning)",
  },
  {
    name: "install",
    long: ["install"],
    arg: "optional",
    metavar: "DIR",
    group: "output",
    help: "udev-rules: write the rule into DIR (default /etc/udev/rules.d)",
  },
  { name: "no-sync", long: ["no-sync"], short: "y", arg: "none", group: "misc", help: "do not sync before -e" },
  {
    name: "no-ifdown",
    long: ["no-ifdown"],
    short: "x",
    arg: "none",
    group: "misc",
    help: "accepted; kexec-ts never takes interfaces down",
  },
  {
    name: "noefi",
    long: ["noefi"],
    arg: "none",
    group: "misc",
    help: "hand the new kernel no EFI (it boots as on a BIOS machine)",
  },
  { name: "help", long: ["help"], short: "h", arg: "none", group: "misc", help: "print this help" },
  { name: "help", long: [], short: "?", arg: "none", group: "misc", help: "print this help" },
  { name: "version", long: ["version"], short: "v", arg: "none", group: "misc", help: "print the version" },
  ...([
    ["entry", "required", "ADDR"],
    ["reuseinitrd", "none"],
    ["load-preserve-context", "none"],
    ["load-jump-back-helper", "none"],
    ["exec-live-update", "none"],
    ["load-live-update", "none"],
    ["real-mode", "none"],
    ["entry-32bit", "none"],
    ["reset-vga", "none"],
    ["console-vga", "none"],
    ["pass-memmap-cmdline", "none"],
    ["reuse-video-type", "none"],
    ["elf32-core-headers", "none"],
    ["args-elf", "none"],
    ["args-none", "none"],
    ["no-cma", "none"],
    ["force-dtb", "none"],
    ["dtb", "required", "FILE"],
  ] as const).map(([l, arg, metavar]): OptionDef => ({
    name: l,
    long: [l],
    arg,
    metavar,
    group: "compat",
    help: 'kexec-tools option kexec-ts does not implement (fails with "not implemented yet")',
    notImplemented: true,
  })),
];

/** The subcommands, in `--help` order. */
export const SUBCOMMANDS: readonly SubcommandDef[] = [
  {
    name: "status",
    synopsis: "[--json]",
    help: "kexec state, crash region, crash hotplug and what a hotplug event will do",
  },
  {
    name: "plan",
    synopsis: "[-p] [options] KERNEL",
    help: "print the load plan (segments, entry, flags, command line), load nothing",
  },
  {
    name: "entries",
    synopsis: "[--json] [--boot-root=DIR]",
    help: "list the boot entries (BLS Type #1, UKIs) and the default",
  },
  {
    name: "udev-rules",
    synopsis: "[--install [DIR]]",
    help: "print (or atomically install) the udev rule for crash hotplug",
  },
  { name: "reload", synopsis: "", help: "repeat the last successful -p load (for udev; coalesces bursts)" },
  {
    name: "vmcore-dmesg",
    synopsis: "[FILE]",
    help: "the crashed kernel's log (default /proc/vmcore), as kexec-tools' vmcore-dmesg",
  },
  {
    name: "vmcore-info",
    synopsis: "[FILE] [--json]",
    help: "a dump's release, crash time, panic, CPUs, memory, hot-added memory, loader",
  },
  { name: "help", synopsis: "", help: "print this help" },
  { name: "version", synopsis: "", help: "print the version" },
];

/** The option spellings as help shows them: `-p, --load-panic`, `--append=STRING, --command-line=STRING`. */
export function optionSpelling(o: OptionDef): string {
  const value = (flag: string) =>
    o.arg === "none" ? flag : o.arg === "optional" ? `${flag}[=${o.metavar}]` : `${flag}=${o.metavar}`;
  const longs = o.long.map((l) => value(`--${l}`));
  if (o.short) return [`-${o.short}`, ...longs].join(", ");
  return longs.join(", ");
}
