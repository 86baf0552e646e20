/**
 * The command line: kexec-tools' `kexec` grammar and mode semantics, plus kexec-ts' own subcommands.
 *
 * Modes follow kexec-tools' state machine, applied in command-line order (so `-p -u` unloads the crash kernel and
 * `-l ... -e` just executes): no mode = load, then run `shutdown -r now`; `-l` load; `-p` load a crash kernel;
 * `-u` unload; `-e` execute the loaded kernel; `-f` load (when a kernel is given) and execute at once, without
 * shutdown; `-S` report whether a kernel is loaded through the exit status (1 = loaded, 0 = not, as kexec-tools).
 *
 * Subcommands are recognised only as the first argument: `status`, `plan` (a load that only prints its plan),
 * `entries` (the boot entries), `udev-rules`, `reload`, `vmcore-dmesg`, `vmcore-info`, `help`, `version`. `--boot-entry=ID` loads a boot entry
 * instead of a KERNEL operand: the request is completed from the entry when the command runs (../boot/mod.ts). A kernel file literally named like a subcommand is passed as `./name`.
 *
 * @module
 */

import { fail } from "../errors.ts";
import { type HotplugChoice, type LoadRequest, loadRequest, type SyscallChoice } from "../load/request.ts";
import { tokenize } from "./grammar.ts";
import { OPTIONS, SUBCOMMANDS } from "./options.ts";

/** What the invocation asks for. */
export type Action =
  | { kind: "load"; then: "nothing" | "exec" | "shutdown"; unloadFirst: boolean }
  | { kind: "unload"; crash: boolean }
  | { kind: "exec" }
  | { kind: "status-exit"; crash: boolean }
  | { kind: "status" }
  | { kind: "entries"; bootRoot?: string }
  | { kind: "udev-rules"; install?: string }
  | { kind: "reload" }
  | { kind: "print-crash-size" }
  | { kind: "vmcore-dmesg"; file: string }
  | { kind: "vmcore-info"; file: string }
  | { kind: "help" }
  | { kind: "version" };

/** A parsed command line. */
export interface Invocation {
  action: Action;
  /** The load, for `load` actions. With {@link bootEntry} its kernel is empty until the entry is resolved. */
  load?: LoadRequest;
  /** `--boot-entry=ID`: load that boot entry (`default`: the default one); `--boot-root` says where entries are. */
  bootEntry?: { selector: string; bootRoot?: string };
  /** `-c`/`-s`/`-a`, also for unloads. */
  syscall: SyscallChoice;
  /** Print the plan and do not call the kernel (`--dry-run`, `plan`). */
  dryRun: boolean;
  json: boolean;
  debug: boolean;
  sync: boolean;
  /** Read the machine from a saved directory instead of `/` (planning only). */
  systemRoot?: string;
  /** Things the user should know about how the command line was read. */
  warnings: string[];
}

const SUBCOMMAND_NAMES: readonly string[] = SUBCOMMANDS.map((c) => c.name);

/** The dump vmcore-dmesg and vmcore-info read when no file is named: the capture kernel's view of the crash. */
export const DEFAULT_VMCORE = "/proc/vmcore";

/** Parses a size or address the way kexec-tools does (strtoull base 0): `0x100000`, `1048576`, `04000000`. */
export function parseAddress(text: string, what: string): bigint {
  const t = text.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return BigInt(t);
  if (/^0[0-7]+$/.test(t)) return BigInt("0o" + t.slice(1));
  if (/^0[0-9]+$/.test(t)) {
    return fail("usage", `${what} "${text}" is not a valid octal number (leading 0); use decimal or 0x hex`);
  }
  if (/^[0-9]+$/.test(t)) return BigInt(t);
  return fail("usage", `${what} "${text}" is not a number (use decimal or 0x hex)`);
}

/** Parses `--serial`: an I/O port (`0x3f8`) or `ttyS0`..`ttyS3`. */
function parseSerial(text: string): number {
  const legacy = [0x3f8, 0x2f8, 0x3e8, 0x2e8];
  const m = /^(?:\/dev\/)?ttyS([0-3])$/.exec(text);
  if (m) return legacy[Number(m[1])];
  const port = Number(parseAddress(text, "--serial port"));
  if (port <= 0 || port > 0xffff) fail("usage", `--serial port ${text} is not an I/O port (0x1-0xffff)`);
  return port;
}

/**
 * Parses argv (without the program name).
 * @throws KexecError("usage") for grammar errors; KexecError("not-implemented") for options a later version adds
 */
export function parseInvocation(argv: readonly string[]): Invocation {
  const sub = SUBCOMMAND_NAMES.includes(argv[0] ?? "") ? argv[0] : undefined;
  const rest = sub ? argv.slice(1) : argv;
  const { options, operands } = tokenize(rest, OPTIONS);

  // kexec-tools' mode state machine (kexec/kexec.c main()), applied in order.
  let doLoad = true, doExec = false, doShutdown = true, doSync = true, doUnload = false, doStatus = false;
  let skipSync = false; // -y is applied after every option, as kexec-tools' skip_sync is
  let crash = false, help = false, version = false, printCkr = false;
  let syscall: SyscallChoice = "kexec_load";
  let hotplug: HotplugChoice = "auto";
  let consoleSerial = false;
  let serialPort = 0x3f8;
  let install: string | undefined;
  let wantsInstall = false;
  let bootEntry: string | undefined;
  let bootRoot: string | undefined;
  const inv = { dryRun: sub === "plan", json: false, debug: false, systemRoot: undefined as string | undefined };
  const load = {
    append: undefined as string | undefined,
    initrdPath: undefined as string | undefined,
    reuseCmdline: false,
    type: undefined as string | undefined,
    memMin: undefined as bigint | undefined,
    memMax: undefined as bigint | undefined,
    noChecks: false,
    noefi: false,
    ukiProfile: undefined as number | undefined,
  };

  for (const o of options) {
    const spec = OPTIONS.find((s) => s.name === o.name);
    if (spec?.notImplemented) {
      fail("not-implemented", `not implemented yet: ${o.spelled} (kexec-ts does not support it; use kexec-tools)`);
    }
    switch (o.name) {
      case "help":
        help = true;
        break;
      case "version":
        version = true;
        break;
      case "force":
        doLoad = true, doShutdown = false, doSync = true, doExec = true;
        break;
      case "no-checks":
        load.noChecks = true;
        break;
      case "no-ifdown":
        break; // kexec-ts never takes interfaces down (see README: device_shutdown() quiesces them)
      case "no-sync":
        skipSync = true;
        break;
      case "load":
        doLoad = true, doExec = false, doShutdown = false;
        break;
      case "unload":
        doLoad = false, doShutdown = false, doSync = false, doUnload = true;
        break;
      case "exec":
        doLoad = false, doShutdown = false, doSync = true, doExec = true;
        break;
      case "load-panic":
        doLoad = true, doExec = false, doShutdown = false, doSync = false, crash = true;
        break;
      case "status":
        doStatus = true;
        break;
      case "type":
        load.type = o.value;
        break;
      case "kexec-file-syscall":
        syscall = "kexec_file_load";
        break;
      case "kexec-syscall":
        syscall = "kexec_load";
        break;
      case "kexec-syscall-auto":
        syscall = "auto";
        break;
      case "debug":
        inv.debug = true;
        break;
      case "mem-min":
        load.memMin = parseAddress(o.value!, "--mem-min");
        break;
      case "mem-max":
        load.memMax = parseAddress(o.value!, "--mem-max");
        break;
      case "hotplug":
        hotplug = "require";
        break;
      case "no-hotplug":
        hotplug = "off";
        break;
      case "print-ckr-size":
        printCkr = true;
        break;
      case "append":
        load.append = o.value;
        break;
      case "reuse-cmdline":
        load.reuseCmdline = true;
        break;
      case "initrd":
        load.initrdPath = o.value;
        break;
      case "console-serial":
        consoleSerial = true;
        break;
      case "serial":
        serialPort = parseSerial(o.value!);
        break;
      case "serial-baud":
        if (o.value !== "115200") fail("not-implemented", "not implemented yet: --serial-baud other than 115200");
        break;
      case "args-linux":
        break; // kexec-tools' elf-x86_64 option; kexec-ts always boots a vmlinux with boot_params
      case "elf64-core-headers":
        break; // x86_64 always writes ELF64 core headers
      case "noefi":
        load.noefi = true;
        break;
      case "dry-run":
        inv.dryRun = true;
        break;
      case "json":
        inv.json = true;
        break;
      case "system-root":
        if (!o.value) fail("usage", "--system-root needs a directory (a saved snapshot of /proc and /sys)");
        inv.systemRoot = o.value;
        break;
      case "install":
        wantsInstall = true;
        install = o.value;
        break;
      case "uki-profile":
        if (!/^[0-9]{1,3}$/.test(o.value!) || Number(o.value) > 255) {
          fail("usage", `--uki-profile=${o.value}: a UKI profile is a number from 0 to 255`);
        }
        load.ukiProfile = Number(o.value);
        break;
      case "boot-entry":
        if (!o.value) fail("usage", "--boot-entry needs an entry id (see kexec-ts entries) or default");
        bootEntry = o.value;
        break;
      case "boot-root":
        if (!o.value) fail("usage", "--boot-root needs a directory (the ESP)");
        bootRoot = o.value;
        break;
    }
  }

  const base = {
    syscall,
    dryRun: inv.dryRun,
    json: inv.json,
    debug: inv.debug,
    sync: doSync && !skipSync,
    systemRoot: inv.systemRoot,
    warnings: [] as string[],
  };
  const noOperands = (what: string) => {
    if (operands.length) fail("usage", `${what} takes no file argument (got ${operands[0]})`);
  };

  if (help || sub === "help") return { ...base, action: { kind: "help" } };
  if (version || sub === "version") return { ...base, action: { kind: "version" } };
  if (sub === "status") {
    noOperands("status");
    return { ...base, action: { kind: "status" } };
  }
  if (sub === "udev-rules") {
    // `--install DIR` and `--install=DIR` both work here: a lone operand after --install is its directory.
    if (wantsInstall && install === undefined && operands.length === 1) install = operands.shift();
    noOperands("udev-rules");
    return {
      ...base,
      action: { kind: "udev-rules", install: wantsInstall ? install ?? "/etc/udev/rules.d" : undefined },
    };
  }
  if (sub === "vmcore-dmesg" || sub === "vmcore-info") {
    const allowed = sub === "vmcore-info" ? ["json"] : [];
    const stray = options.find((o) => !allowed.includes(o.name));
    if (stray) {
      fail("usage", `${sub} takes ${sub === "vmcore-info" ? "only --json" : "no options"} (got ${stray.spelled})`);
    }
    if (operands.length > 1) fail("usage", `${sub} reads one dump (got ${operands.join(" ")})`);
    return { ...base, action: { kind: sub, file: operands[0] ?? DEFAULT_VMCORE } };
  }
  if (wantsInstall) fail("usage", "--install belongs to kexec-ts udev-rules");
  if (sub === "entries") {
    noOperands("entries");
    return { ...base, action: { kind: "entries", bootRoot } };
  }
  if (sub === "reload") {
    noOperands("reload");
    return { ...base, action: { kind: "reload" } };
  }
  if (sub === "plan") {
    doLoad = true, doExec = false, doShutdown = false, doUnload = false;
  }
  if (doStatus) {
    return {
      ...base,
      action: { kind: "status-exit", crash: crash || !options.some((o) => o.name === "load") },
    };
  }
  if (printCkr) return { ...base, action: { kind: "print-crash-size" } };
  if (hotplug !== "auto" && !crash) fail("usage", "--hotplug and --no-hotplug apply to crash kernels: add -p");

  if ((bootEntry !== undefined || bootRoot !== undefined) && !doLoad) {
    fail("usage", "--boot-entry and --boot-root choose what -l, -p or kexec-ts plan loads (or, --boot-root, entries)");
  }
  if (bootRoot !== undefined && bootEntry === undefined) {
    fail("usage", "--boot-root says where boot entries are: add --boot-entry=ID (or use kexec-ts entries)");
  }
  if (doLoad) {
    if (bootEntry !== undefined) {
      if (operands.length) fail("usage", `--boot-entry=${bootEntry} names what to load; drop ${operands.join(" ")}`);
      if (load.type !== undefined) fail("usage", "--boot-entry: the entry's kernel is probed; drop -t");
    } else if (operands.length === 0) {
      fail("usage", "no kernel specified (kexec-ts [-l|-p|-f] [options] KERNEL; see kexec-ts --help)");
    }
    if (operands.length > 1) fail("usage", `more than one kernel given: ${operands.join(" ")}`);
    const { initrdPath, ...rest } = load;
    const request = loadRequest({
      ...rest,
      kind: crash ? "crash" : "reboot",
      kernel: operands[0] ?? "",
      initrds: initrdPath === undefined ? [] : [initrdPath],
      syscall,
      hotplug,
      serialPort: consoleSerial ? serialPort : 0,
    });
    if (request.ukiProfile === undefined) delete request.ukiProfile;
    const then = inv.dryRun ? "nothing" : doExec ? "exec" : doShutdown ? "shutdown" : "nothing";
    return {
      ...base,
      action: { kind: "load", then, unloadFirst: doUnload },
      load: request,
      ...(bootEntry !== undefined ? { bootEntry: { selector: bootEntry, bootRoot } } : {}),
    };
  }
  // Like kexec-tools, a mode that does not load ignores the kernel file; unlike it, say so.
  if (operands.length && (doUnload || doExec)) {
    base.warnings.push(
      `ignoring ${operands.join(" ")}: ${doUnload ? "-u unloads" : "-e executes the kernel already loaded"}`,
    );
  }
  if (doUnload) return { ...base, action: { kind: "unload", crash } };
  if (doExec) return { ...base, action: { kind: "exec" } };
  return fail("usage", "nothing to do (see kexec-ts --help)");
}
