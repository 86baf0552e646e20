/**
 * Carries out an {@link Invocation}: dispatches to the load path, unload, exec, status, reload and udev, and renders
 * what they return (./output.ts). The only module that decides what is printed for a command.
 *
 * @module
 */

import { KexecError } from "../errors.ts";
import { readKexecInteger } from "../crash/sysfs.ts";
import { readText } from "../system.ts";
import { DRY_RUN_KERNEL, type RunEnv } from "../runtime.ts";
import { execLoaded, unloadImage } from "../control.ts";
import { DEFAULT_VMCORE, type Invocation } from "./args.ts";
// The planners, status and the udev machinery are imported when a command needs them, so that the commands
// scripts call often (-S, -u, -e) start without loading them.

/**
 * Runs the invocation; returns the exit status.
 * @throws KexecError for every failure the user should see
 */
export async function run(inv: Invocation, env: RunEnv): Promise<number> {
  for (const w of inv.warnings) env.err(`kexec-ts: warning: ${w}`);
  const a = inv.action;
  const touchesKernel = a.kind === "load" || a.kind === "unload" || a.kind === "exec" || a.kind === "reload";
  if (inv.systemRoot !== undefined && touchesKernel && !inv.dryRun) {
    // A plan made against a saved snapshot must never be loaded into the running kernel.
    throw new KexecError("usage", "--system-root plans against a saved snapshot: add --dry-run (or use kexec-ts plan)");
  }
  if (inv.dryRun && (a.kind === "unload" || a.kind === "exec")) {
    throw new KexecError(
      "usage",
      `--dry-run prints load plans; ${a.kind === "exec" ? "-e" : "-u"} has none: drop --dry-run`,
    );
  }
  // A dry run, or a plan against a snapshot, never reaches the kernel, whatever path a command takes.
  if (inv.dryRun) env = { ...env, kernel: DRY_RUN_KERNEL };
  switch (a.kind) {
    case "help": {
      const { USAGE } = await import("./usage.ts"); // made from the option table: only when asked for
      env.out(USAGE);
      return 0;
    }
    case "version": {
      const { VERSION } = await import("./usage.ts");
      env.out(`kexec-ts ${VERSION}\n`);
      return 0;
    }
    case "status": {
      const { gatherStatus } = await import("../status.ts");
      const { renderStatus, toJson } = await import("./output.ts");
      const s = gatherStatus(env.sys);
      env.out(inv.json ? toJson(s) + "\n" : renderStatus(s));
      return 0;
    }
    case "status-exit": {
      // kexec-tools -S: the exit status is the value read, 1 when the image (crash by default, normal with -l) is
      // loaded, 0 when not, 255 when the file cannot be read.
      const v = readKexecInteger(env.sys, a.crash ? "crashLoaded" : "loaded");
      return v === undefined ? 255 : v === 1n ? 1 : 0;
    }
    case "print-crash-size": {
      env.out(`${readKexecInteger(env.sys, "crashSize") ?? 0n}\n`);
      return 0;
    }
    case "unload":
      unloadImage(env, a.crash, inv.syscall === "kexec_file_load");
      return 0;
    case "exec":
      execLoaded(env, inv.sync);
      return 0;
    case "entries": {
      const { renderEntries, toJson } = await import("./output.ts");
      const list = await machineEntries(env, inv.systemRoot, a.bootRoot);
      env.out(inv.json ? toJson(list) + "\n" : renderEntries(list));
      return 0;
    }
    case "load": {
      const { performLoad } = await import("../load/load.ts");
      let req = inv.load!;
      if (inv.bootEntry) {
        const { bootEntryLoad } = await import("../boot/mod.ts");
        const { renderEntryChoice } = await import("./output.ts");
        const list = await machineEntries(env, inv.systemRoot, inv.bootEntry.bootRoot);
        const chosen = bootEntryLoad(list, inv.bootEntry.selector, req);
        env.err(`kexec-ts: ${renderEntryChoice(chosen)}`);
        req = chosen.request;
      }
      const outcome = performLoad(req, env, {
        dryRun: inv.dryRun,
        debug: inv.debug,
        unloadFirst: a.unloadFirst ? () => unloadImage(env, req.kind === "crash", false) : undefined,
      });
      for (const w of outcome.warnings) env.err(`kexec-ts: warning: ${w}`);
      if (inv.dryRun) {
        const { renderOutcome } = await import("./output.ts"); // only a dry run prints the plan
        env.out(renderOutcome(outcome, inv.json));
        return 0;
      }
      if (a.then === "exec") execLoaded(env, inv.sync);
      if (a.then === "shutdown") env.shutdown();
      return 0;
    }
    case "reload": {
      const { runReload } = await import("../reload/reload.ts");
      const { renderOutcome } = await import("./output.ts");
      const report = await runReload({ dryRun: inv.dryRun, debug: inv.debug }, env);
      if (report.dryRun) env.out(renderOutcome(report.dryRun, inv.json));
      return 0;
    }
    case "vmcore-dmesg": {
      const { openCoreFile } = await import("../vmcore/source.ts");
      const { writeDmesg } = await import("../vmcore/dmesg.ts");
      const src = openCoreFile(a.file);
      const out = chunkedOutput(env);
      try {
        writeDmesg(src, out.write, (w) => env.err(`kexec-ts: warning: ${w}`));
      } finally {
        src.close();
        out.flush(); // what was printed before an error stays printed, as with kexec-tools
      }
      return 0;
    }
    case "vmcore-info": {
      const { openCoreFile } = await import("../vmcore/source.ts");
      const { vmcoreSummary } = await import("../vmcore/info.ts");
      const { renderVmcoreInfo, toJson } = await import("./output.ts");
      const src = openCoreFile(a.file);
      try {
        // Reading the live dump, the capture kernel's command line tells who loaded the crash kernel.
        const captureCmdline = a.file === DEFAULT_VMCORE ? readText(env.sys, "/proc/cmdline") : undefined;
        const summary = vmcoreSummary(src, { captureCmdline });
        env.out(inv.json ? toJson(summary) + "\n" : renderVmcoreInfo(summary));
      } finally {
        src.close();
      }
      return 0;
    }
    case "udev-rules": {
      const { currentUdevRules, installUdevRules } = await import("../reload/udev.ts");
      if (a.install === undefined) {
        env.out(currentUdevRules());
        return 0;
      }
      const done = installUdevRules(a.install, env.sys);
      env.out(done.path + "\n");
      if (done.otherRule) {
        env.err(
          `kexec-ts: note: ${done.otherRule} also reacts to hotplug (through the distribution's kdump service); ` +
            "keep one of the two in charge of the crash kernel",
        );
      }
      return 0;
    }
  }
}

/** The boot entries of the machine (or of `--boot-root`), the way the API lists them (lib/boot/mod.ts). */
async function machineEntries(env: RunEnv, systemRoot: string | undefined, bootRoot: string | undefined) {
  const { bootEntries } = await import("../boot/mod.ts");
  const { currentArch } = await import("../arch/mod.ts");
  return bootEntries(env.sys, { bootRoot, systemRoot, arch: currentArch() });
}

/** Stdout for a stream of bytes, written in 64 KiB chunks; a closed pipe is one clear error, not a stack trace. */
function chunkedOutput(env: RunEnv): { write: (bytes: Uint8Array) => void; flush: () => void } {
  const CHUNK = 64 * 1024;
  const put = env.outBytes ?? ((b: Uint8Array) => {
    let text = "";
    for (let i = 0; i < b.length; i += 4096) text += String.fromCharCode(...b.subarray(i, i + 4096));
    env.out(text);
  });
  let buf = new Uint8Array(CHUNK);
  let len = 0;
  const flush = () => {
    if (!len) return;
    const bytes = buf.subarray(0, len);
    len = 0;
    try {
      put(bytes);
    } catch (e) {
      if (e instanceof Deno.errors.BrokenPipe) throw new KexecError("io", "standard output was closed", 54);
      throw e;
    }
  };
  const write = (bytes: Uint8Array) => {
    if (len + bytes.length > buf.length) flush();
    if (bytes.length > buf.length) buf = new Uint8Array(bytes.length);
    buf.set(bytes, len);
    len += bytes.length;
  };
  return { write, flush };
}
