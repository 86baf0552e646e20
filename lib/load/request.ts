/**
 * The LoadRequest: the plain value a load is made from. The CLI builds it from argv, scripts build it through the
 * public API ({@link loadRequest}), and the crash-load record stores it as JSON so that `kexec-ts reload` can repeat
 * the load ({@link requestToJson}, {@link requestFromJson}).
 *
 * @module
 */

import { fail } from "../errors.ts";
import { jsonFields } from "../json_fields.ts";
import { readText, type SystemView } from "../system.ts";

/** Which syscall loads the image: kexec_load (the default), kexec_file_load, or file first with fallback (`-a`). */
export type SyscallChoice = "kexec_load" | "kexec_file_load" | "auto";

/** Crash hotplug policy for crash loads: on when the kernel supports it (`auto`), required, or off. */
export type HotplugChoice = "auto" | "require" | "off";

/** What kind of image a load installs: one for `kexec -e` (reboot) or a crash (kdump) kernel. */
export type LoadKind = "reboot" | "crash";

/** Everything that shapes a load. Paths are as given (the record stores them absolute). */
export interface LoadRequest {
  /** `reboot` (kexec -l) or `crash` (kexec -p). */
  kind: LoadKind;
  /** Path of the kernel image. */
  kernel: string;
  /** Initial ramdisks, concatenated in this order (the CLI's `--initrd` gives at most one, the last). */
  initrds: readonly string[];
  /** `--append` / `--command-line`: the command line, after `--reuse-cmdline`'s part. */
  append?: string;
  /** Start from `/proc/cmdline` without `BOOT_IMAGE=` (and, for crash loads, without `crashkernel=`). */
  reuseCmdline: boolean;
  /** `-t`: the loader by name; undefined = probe. */
  type?: string;
  /** Which syscall loads it (`-c`, `-s`, `-a`). */
  syscall: SyscallChoice;
  /** Crash loads only. */
  hotplug: HotplugChoice;
  /** Lowest physical address (bytes) a segment may use (`--mem-min`). */
  memMin?: bigint;
  /** Highest physical address (bytes, inclusive) a segment may use (`--mem-max`). */
  memMax?: bigint;
  /** `-i`: purgatory skips its SHA-256 check. */
  noChecks: boolean;
  /** I/O port purgatory reports its check on (`--console-serial`, `--serial=`); 0 = silent. */
  serialPort: number;
  /**
   * `--noefi`: hand the next kernel no EFI (runtime services, system table), as on a BIOS machine; it finds ACPI
   * through the RSDP. A crash record without this field was written before kexec-ts handed EFI over, so it reads
   * as true there (the load it repeats was made that way).
   */
  noefi: boolean;
  /** The profile of a multi-profile UKI (`--uki-profile`); undefined = 0, or the command line's `@N`. */
  ukiProfile?: number;
  /**
   * The boot entry this request was made from (`--boot-entry`, resolved by ../boot/): shown in plans and status.
   * Informational: the request's files are what is loaded, and `reload` repeats those, not the entry choice.
   */
  bootEntry?: string;
}

/** The fields a caller must give; everything else has the CLI's defaults. */
export type LoadRequestInit = Partial<LoadRequest> & { kernel: string };

/**
 * A complete request from the fields given: kind `reboot`, no initrd, kexec_load, hotplug `auto`, checks on.
 *
 * @example Fill in the defaults for a crash kernel
 * ```ts
 * import { loadRequest } from "./request.ts";
 *
 * const req = loadRequest({ kind: "crash", kernel: "/boot/vmlinuz", append: "irqpoll nr_cpus=1" });
 * if (req.hotplug !== "auto" || req.syscall !== "kexec_load" || req.initrds.length !== 0) {
 *   throw new Error("unexpected defaults");
 * }
 * ```
 */
export function loadRequest(init: LoadRequestInit): LoadRequest {
  return {
    kind: "reboot",
    initrds: [],
    reuseCmdline: false,
    syscall: "kexec_load",
    hotplug: "auto",
    noChecks: false,
    serialPort: 0,
    noefi: false,
    ...init,
  };
}

/**
 * Splits a kernel command line into parameters, keeping double-quoted values together.
 *
 * @example
 * ```ts
 * import { splitCmdline } from "./request.ts";
 *
 * const words = splitCmdline('root=/dev/vda1 dyndbg="file x.c +p" quiet');
 * if (words.length !== 3 || words[1] !== 'dyndbg="file x.c +p"') throw new Error(words.join("|"));
 * ```
 */
export function splitCmdline(cmdline: string): string[] {
  return cmdline.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
}

/**
 * The command line for the new kernel: `--reuse-cmdline` starts from /proc/cmdline without `BOOT_IMAGE=` (and,
 * for crash kernels, without `crashkernel=`), then `--append` follows, as kexec-tools concatenates them.
 * @throws KexecError("io") when `/proc/cmdline` is needed and unreadable
 */
export function composeCmdline(req: LoadRequest, sys: SystemView): string {
  const parts: string[] = [];
  if (req.reuseCmdline) {
    const current = readText(sys, "/proc/cmdline");
    if (current === undefined) fail("io", "--reuse-cmdline: cannot read /proc/cmdline");
    parts.push(
      ...splitCmdline(current).filter((p) =>
        !p.startsWith("BOOT_IMAGE=") && !(req.kind === "crash" && p.startsWith("crashkernel="))
      ),
    );
  }
  if (req.append) parts.push(req.append.trim());
  return parts.join(" ");
}

/**
 * Whether hotplug support goes into a crash load, given `/sys/kernel/crash_elfcorehdr_size` (undefined when the
 * kernel lacks CONFIG_CRASH_HOTPLUG).
 * @throws KexecError("unsupported") when hotplug is required and the kernel cannot do it
 */
export function decideHotplug(req: LoadRequest, sysfsBytes: bigint | undefined): boolean {
  if (req.kind !== "crash" || req.hotplug === "off") return false;
  if (sysfsBytes !== undefined) return true;
  if (req.hotplug === "require") {
    fail(
      "unsupported",
      "--hotplug needs a kernel built with CONFIG_CRASH_HOTPLUG (no /sys/kernel/crash_elfcorehdr_size); " +
        "drop --hotplug to load without it (hot-plug events will then need kexec-ts reload)",
    );
  }
  return false;
}

/** A request with every path absolute (relative ones resolved against `cwd`), for the record. */
export function absoluteRequest(req: LoadRequest, cwd = Deno.cwd()): LoadRequest {
  const abs = (p: string) => (p.startsWith("/") ? p : `${cwd.replace(/\/+$/, "")}/${p}`);
  return { ...req, kernel: abs(req.kernel), initrds: req.initrds.map(abs) };
}

/** A request as JSON-ready data: bigints as `0x` strings, absent fields left out. */
export function requestToJson(req: LoadRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) {
    if (v === undefined) continue;
    out[k] = typeof v === "bigint" ? "0x" + v.toString(16) : Array.isArray(v) ? [...v] : v;
  }
  return out;
}

/**
 * A request from {@link requestToJson}'s data, every field checked.
 * @param where names the source in messages (`/run/kexec-ts/crash-load.json`)
 * @throws KexecError("io") naming the first bad field
 */
export function requestFromJson(value: unknown, where: string): LoadRequest {
  const f = jsonFields(value, where, "request", "load again with kexec-ts -p");
  const req = loadRequest({
    kind: f.oneOf("kind", ["reboot", "crash"] as const),
    kernel: f.str("kernel"),
    initrds: f.strings("initrds", "a list of paths"),
    append: f.optionalStr("append"),
    reuseCmdline: f.bool("reuseCmdline"),
    type: f.optionalStr("type"),
    syscall: f.oneOf("syscall", ["kexec_load", "kexec_file_load", "auto"] as const),
    hotplug: f.oneOf("hotplug", ["auto", "require", "off"] as const),
    memMin: f.optionalHex("memMin"),
    memMax: f.optionalHex("memMax"),
    noChecks: f.bool("noChecks"),
    serialPort: f.int("serialPort", 0, 0xffff, "an I/O port number (0-65535)"),
    // Absent in records written before --noefi meant anything: those loads handed over no EFI.
    noefi: f.raw.noefi === undefined ? true : f.bool("noefi"),
    ukiProfile: f.raw.ukiProfile === undefined ? undefined : f.int("ukiProfile", 0, 255, "a profile number"),
    bootEntry: f.optionalStr("bootEntry"),
  });
  if (!req.kernel.startsWith("/") || req.kernel.includes("\0")) f.bad("kernel", "an absolute path");
  if (req.initrds.some((p) => !p.startsWith("/") || p.includes("\0"))) f.bad("initrds", "a list of absolute paths");
  for (const k of Object.keys(req) as (keyof LoadRequest)[]) if (req[k] === undefined) delete req[k];
  return req;
}
