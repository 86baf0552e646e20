/**
 * A saved machine laid over /proc and /sys in a private mount namespace, so that kexec-ts and kexec-tools plan a
 * crash load (`-p`) for the same crash region on a host that has none (and no kexec at all).
 *
 * The host's /proc is replaced, inside the namespace only, by a directory whose entries are symlinks into a fresh
 * procfs mounted beside it (so /proc/self, /proc/meminfo, ... still work) except the files the two tools read for
 * a crash load, which come from the snapshot: iomem, kcore (program headers only), cmdline and kallsyms (plus an
 * `_stext` line, which kexec-tools looks up and the snapshot leaves out; its address is the kernel-text entry of
 * the snapshot's kcore). Over /sys the snapshot's kernel/, devices/system/{cpu,memory}/ and firmware/memmap/ are
 * bind-mounted. Nothing outside the namespace changes; it ends with the process.
 *
 * @module
 */

import { kernelMapFromKcore } from "../../lib/crash/elfcorehdr.ts";
import { hex } from "../../lib/errors.ts";

/** The /proc files the snapshot provides (everything else is the host's). */
const SNAPSHOT_PROC_FILES = ["iomem", "kcore", "cmdline", "kallsyms"];
/** The /sys directories bind-mounted from the snapshot. */
const SNAPSHOT_SYS_DIRS = ["kernel", "devices/system/cpu", "devices/system/memory", "firmware/memmap"];
/** __START_KERNEL_map on x86_64: kcore's kernel-text entry is the one at or above it. */
const START_KERNEL_MAP = 0xffffffff80000000n;

/**
 * Builds `work`/fakeproc (and the empty mount point `work`/realproc) for `machine` (a snapshot directory) and
 * returns the shell commands that, run as root in a fresh mount namespace, put it in place.
 */
export function prepareCrashMachine(work: string, machine: string): string {
  const fake = `${work}/fakeproc`, real = `${work}/realproc`;
  Deno.mkdirSync(fake, { recursive: true });
  Deno.mkdirSync(real, { recursive: true });
  for (const e of Deno.readDirSync("/proc")) {
    if (/^\d+$/.test(e.name) || SNAPSHOT_PROC_FILES.includes(e.name)) continue;
    Deno.symlinkSync(`${real}/${e.name}`, `${fake}/${e.name}`);
  }
  for (const f of SNAPSHOT_PROC_FILES) Deno.copyFileSync(`${machine}/proc/${f}`, `${fake}/${f}`);
  const kcore = Deno.readFileSync(`${machine}/proc/kcore`);
  const stext = kernelMapFromKcore(kcore, START_KERNEL_MAP).text.vaddr;
  const kallsyms = Deno.readTextFileSync(`${fake}/kallsyms`).trimEnd();
  Deno.writeTextFileSync(`${fake}/kallsyms`, `${kallsyms}\n${hex(stext).slice(2)} T _stext\n`);
  for (const d of SNAPSHOT_SYS_DIRS) {
    try {
      Deno.statSync(`/sys/${d}`);
    } catch {
      throw new Error(`/sys/${d} is missing on this host: cannot lay the snapshot over it`);
    }
  }
  return [
    "set -e",
    `mount -t proc proc ${real}`,
    `mount --bind ${fake} /proc`,
    ...SNAPSHOT_SYS_DIRS.map((d) => `mount --bind ${machine}/sys/${d} /sys/${d}`),
  ].join("\n");
}

/**
 * Runs `argv` as root in a private mount namespace with `machine` laid over /proc and /sys; returns its stdout.
 * @throws Error with its stderr when it fails
 */
export function runWithCrashMachine(work: string, machine: string, argv: string[]): string {
  const setup = prepareCrashMachine(work, machine);
  const r = new Deno.Command("unshare", {
    args: ["-m", "--propagation", "private", "--", "sh", "-c", `${setup}\nexec "$@"`, "sh", ...argv],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const err = new TextDecoder().decode(r.stderr);
  if (!r.success) throw new Error(`the run inside the crash machine's namespace failed (exit ${r.code}):\n${err}`);
  if (err.trim()) Deno.stderr.writeSync(r.stderr);
  return new TextDecoder().decode(r.stdout);
}
