/**
 * `kexec-ts udev-rules [--install [DIR]]`: the udev rules that keep a kexec-ts crash kernel current across CPU and
 * memory hotplug, printed or installed as `DIR/98-kexec-ts.rules` (default DIR /etc/udev/rules.d).
 *
 * The rules follow kdump-utils' 98-kexec.rules: when the kernel updates the elfcorehdr itself (`crash_hotplug`
 * reads 1) they do nothing; otherwise CPU add/remove and memory online/offline run `kexec-ts reload`. How they run
 * it is shaped by udev:
 *  - udev waits for RUN programs (and kills them after the event timeout, 180 s by default), and a reload takes
 *    the settle time plus the load, so the rule starts the reload in the background and returns at once;
 *  - under systemd, udevd's sandbox (a seccomp filter without the @reboot calls) refuses kexec_load, and udevd kills
 *    processes a RUN program leaves behind, so the rule hands the reload to `systemd-run --no-block`, as
 *    kdump-utils does; without systemd (`/run/systemd/system` absent: initramfs, busybox systems, the test VM) it
 *    detaches it with the shell's `&`;
 *  - a storm of events must not become a storm of processes: the rule marks the reload pending and, when flock(1)
 *    is installed and shows a reload holding the lock, stops there (the holder reloads after it; see
 *    ./coalesce.ts). It also stops when no crash kernel is loaded, without starting anything, unless a reload of
 *    ours did not finish (./inflight.ts).
 *  - RUN programs get the event's properties as their environment (no PATH, no HOME), so the rule sets PATH and
 *    names kexec-ts by absolute path.
 *
 * The command is the running kexec-ts (see {@link reloadCommand}): for a `deno compile` binary its own path; when
 * run from source, the Deno binary with `run --allow-all --quiet --cached-only /abs/main.ts` (Deno.execPath() and
 * Deno.mainModule; `--allow-all` as the guest's /bin/kexec-ts wrapper, `--cached-only` because a run started by
 * udev must never reach the network, `--quiet` because nobody reads its output; without HOME or DENO_DIR Deno
 * falls back to the user's home from the password database for its cache). Paths must be plain (letters, digits,
 * `/._+,:@=-`): a udev RUN value cannot carry quotes, spaces, `$` or `%` safely.
 *
 * Without flock(1) (busybox without the applet) the rule is still correct, only every event then starts a short
 * `kexec-ts reload` process that marks, fails the lock and exits.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { fail, KexecError } from "../errors.ts";
import type { SystemView } from "../system.ts";
import { findUdevRules, OUR_RULE_NAME } from "../crash/hotplug.ts";
import { DEFAULT_RUN_DIR, runDir } from "./record.ts";
import { describeFsError, writeFileAtomic } from "../files.ts";
import { LOCK_FILE, PENDING_FILE, reloadSettleMs } from "./coalesce.ts";
import { INFLIGHT_FILE } from "./inflight.ts";

/** Characters a path may have to appear unquoted inside a udev RUN value and a single-quoted shell script. */
const PLAIN = /^[A-Za-z0-9_\/.+,:@=-]+$/;

function requirePlain(text: string, what: string): string {
  if (!PLAIN.test(text)) {
    fail(
      "unsupported",
      `${what} ${JSON.stringify(text)} has characters a udev rule cannot carry (only letters, digits and /._+,:@=- ` +
        "are safe); install kexec-ts under a plain path",
    );
  }
  return text;
}

/**
 * The program part of the reload command: the launcher that started this run (`KEXEC_TS_LAUNCHER`, which the Debian
 * package's /usr/sbin/kexec-ts sets to itself), the compiled binary, or Deno running this source tree (or bundle).
 */
export function kexecTsProgram(): string[] {
  const launcher = Deno.env.get("KEXEC_TS_LAUNCHER");
  if (launcher) return [launcher];
  if (Deno.build.standalone) return [Deno.execPath()];
  const main = Deno.mainModule.startsWith("file:") ? fileURLToPath(Deno.mainModule) : Deno.mainModule;
  return [Deno.execPath(), "run", "--allow-all", "--quiet", "--cached-only", main];
}

/**
 * The shell command the rule runs: `[/usr/bin/env VAR=… ] PROGRAM reload`. `KEXEC_TS_RUN_DIR` (when not the
 * default) and `KEXEC_TS_RELOAD_SETTLE_MS` (when set) are carried into it, because udev runs the command with an
 * empty environment.
 * @throws KexecError("unsupported") when a path has characters the rule cannot carry
 */
export function reloadCommand(program = kexecTsProgram(), dir = runDir()): string {
  const vars: string[] = [];
  if (dir !== DEFAULT_RUN_DIR) vars.push(`KEXEC_TS_RUN_DIR=${requirePlain(dir, "KEXEC_TS_RUN_DIR")}`);
  // Checked as reload will read it: a value reload refuses must not go into a rule whose runs nobody watches.
  const settle = Deno.env.get("KEXEC_TS_RELOAD_SETTLE_MS");
  if (settle !== undefined && settle !== "") vars.push(`KEXEC_TS_RELOAD_SETTLE_MS=${reloadSettleMs()}`);
  const words = [...(vars.length ? ["/usr/bin/env", ...vars] : []), ...program, "reload"];
  return words.map((w) => requirePlain(w, "the kexec-ts path")).join(" ");
}

/**
 * The rules file for `command` (a shell command line of plain words, see {@link reloadCommand}). `dir` is the run
 * directory holding the pending mark and the lock. Pure: same arguments, same text.
 */
export function udevRulesText(command: string, dir = DEFAULT_RUN_DIR): string {
  requirePlain(dir, "the run directory");
  for (const w of command.split(" ")) requirePlain(w, "the reload command word");
  const pending = `${dir}/${PENDING_FILE}`;
  const lock = `${dir}/${LOCK_FILE}`;
  const inflight = `${dir}/${INFLIGHT_FILE}`;
  // One line of /bin/sh; udev turns `$$` into `$`. No double quotes, no single quotes, no `%` inside.
  const script = [
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    `read -r loaded 2>/dev/null </sys/kernel/kexec_crash_loaded && [ $$loaded = 1 ] || [ -e ${inflight} ] || exit 0`,
    `mkdir -p ${dir}`,
    `: >>${pending}`,
    `if command -v flock >/dev/null && ! flock -n ${lock} true; then exit 0; fi`,
    "if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null; " +
    `then exec systemd-run --quiet --no-block --collect ${command}; fi`,
    `${command} </dev/null >/dev/null 2>&1 &`,
  ].join("; ");
  return `# ${OUR_RULE_NAME}: keep a kexec-ts crash kernel current across CPU and memory hotplug.
# Generated by "kexec-ts udev-rules"; regenerate it with "kexec-ts udev-rules --install" rather than edit it.
#
# A crash kernel carries an ELF core header (elfcorehdr) that lists the machine's memory ranges and CPUs; the
# dump taken after a panic covers what it lists. Hot-added or removed memory and CPUs make that list stale.

# 1. The kernel rewrites the elfcorehdr in place when it was built with CONFIG_CRASH_HOTPLUG and the crash kernel
#    was loaded with kexec_file_load or with KEXEC_UPDATE_ELFCOREHDR (kexec-ts -p does that by default). The
#    crash_hotplug attribute of /sys/devices/system/cpu and /sys/devices/system/memory then reads 1: no reload.
SUBSYSTEM=="cpu", ATTRS{crash_hotplug}=="1", GOTO="kexec_ts_end"
SUBSYSTEM=="memory", ATTRS{crash_hotplug}=="1", GOTO="kexec_ts_end"

# 2. Otherwise the crash kernel is reloaded after a CPU is added or removed and after a memory block goes online
#    or offline (the events kdump-utils' 98-kexec.rules reacts to).
SUBSYSTEM=="cpu", ACTION=="add", GOTO="kexec_ts_reload"
SUBSYSTEM=="cpu", ACTION=="remove", GOTO="kexec_ts_reload"
SUBSYSTEM=="memory", ACTION=="online", GOTO="kexec_ts_reload"
SUBSYSTEM=="memory", ACTION=="offline", GOTO="kexec_ts_reload"
GOTO="kexec_ts_end"

LABEL="kexec_ts_reload"
# The command returns at once (udev waits for RUN programs and kills slow ones). Hot-adding N GiB brings 8 memory
# block events per GiB, so it also avoids starting a process per event. In order, it:
#  - does nothing unless a crash kernel is loaded (/sys/kernel/kexec_crash_loaded reads 1) or a kexec-ts reload
#    did not finish (${inflight}: it had unloaded the crash kernel when it failed or was killed);
#  - marks a reload pending (${pending});
#  - if flock(1) is installed and a kexec-ts reload holds ${lock}, stops: that reload waits for the
#    events to settle (KEXEC_TS_RELOAD_SETTLE_MS, default 1000 ms) and reloads again while marks keep coming;
#  - otherwise starts "kexec-ts reload" in the background: through systemd-run when systemd runs the machine
#    (udev's sandbox refuses kexec_load and kills what a RUN program leaves behind), else detached by the shell.
# kexec-ts reload repeats the last kexec-ts -p load (${dir}/crash-load.json) and appends a line per
# reload to ${dir}/reload.log.
RUN+="/bin/sh -c '${script}'"

LABEL="kexec_ts_end"
`;
}

/**
 * Writes `text` as `dir/name` atomically (lib/files.ts writeFileAtomic). `dir` must exist. Returns the path.
 * @throws KexecError("io") naming the path and the cause
 */
export function installFileAtomic(dir: string, name: string, text: string): string {
  const path = `${dir.replace(/\/+$/, "")}/${name}`;
  try {
    if (!Deno.statSync(dir).isDirectory) throw new Deno.errors.NotADirectory();
    writeFileAtomic(path, text, 0o644);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such directory" : describeFsError(e);
    const elsewhere = "install into a writable rules directory (kexec-ts udev-rules --install /run/udev/rules.d " +
      "lasts until reboot) or save the output of kexec-ts udev-rules";
    const fix = /EROFS|ENOSPC/.test(why)
      ? `; ${elsewhere}`
      : e instanceof Deno.errors.PermissionDenied
      ? `; run as root, or ${elsewhere}`
      : "";
    throw new KexecError("io", `cannot install ${path}: ${why}${fix}`);
  }
  return path;
}

/** The rules for the running kexec-ts, as `kexec-ts udev-rules` prints them. */
export function currentUdevRules(): string {
  return udevRulesText(reloadCommand(), runDir());
}

/** What `udev-rules --install` did. */
export interface UdevInstall {
  /** The file written. */
  path: string;
  /** Another kdump rule (the distribution's) that reacts to hotplug too, if one is installed. */
  otherRule?: string;
}

/**
 * `kexec-ts udev-rules --install DIR`: writes the rules as `DIR/98-kexec-ts.rules` atomically.
 * @throws KexecError("io") when the file cannot be written; KexecError("unsupported") for unsafe paths
 */
export function installUdevRules(dir: string, sys: SystemView): UdevInstall {
  const path = installFileAtomic(dir, OUR_RULE_NAME, currentUdevRules());
  return { path, otherRule: findUdevRules(sys).other };
}
