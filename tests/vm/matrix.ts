/**
 * The crash-hotplug table, cell by cell, on real kernels: for each kernel of the matrix (scripts/vm/kernels.ts),
 * each loader, with and without the loader's udev rule, `kexec-ts status` is asked what a hotplug event will do, a
 * 256 MiB DIMM is hot-added through QMP, and after a panic the capture kernel reports /proc/vmcore.
 *
 * Loaders:
 *  - `old`: Debian bookworm's kexec-tools 2.0.25, `-c` (kexec_load; it has no --hotplug);
 *  - `new`: the newest kexec-tools (trixie's 2.0.29), `-c --hotplug` (KEXEC_UPDATE_ELFCOREHDR);
 *  - `kexec-ts`: `kexec-ts -p` (hotplug on whenever the kernel has CONFIG_CRASH_HOTPLUG);
 *  - `kexec-ts-nohp`: `kexec-ts -p --no-hotplug` (only where that differs from the default).
 * "The udev rule" is the loader's own: kexec-ts' 98-kexec-ts.rules (kexec-ts reload) for kexec-ts, and for
 * kexec-tools a kdump-utils-style 98-kexec.rules that skips when crash_hotplug reads 1 and otherwise unloads and
 * reloads through the same kexec-tools command (tests/vm/guest/peer-reload.sh).
 *
 * One boot per kernel and loader holds both of its cells, as two phases ({@link PHASES}): with the rule (status,
 * then DIMM 1), then without it (udevd stopped, the rule removed; status, then DIMM 2), then the panic. A reload in
 * the first phase brings the crash kernel up to date, so the dump tells each phase apart: DIMM 1 is in it if the
 * kernel updated the header or the rule reloaded, DIMM 2 if the kernel updated it; a DIMM nobody handled is missing
 * exactly. Each cell asserts three answers agree: the table's, from the kernel's config and the loader alone
 * ({@link expectedCell}); what `kexec-ts status` predicted in that phase before its hot-add (verdict.behaviour,
 * reloader, dumpAfterHotplug); and what happened: an in-place update (no reload, the dump has the DIMM), an
 * unload-then-reload (a reload ran, the dump has it) or a stale dump (no reload, the DIMM is missing). Loads a
 * kernel must refuse (--hotplug without CONFIG_CRASH_HOTPLUG) are asserted as refusals.
 *
 * Cells are registered per kernel and per loader group from small files (matrix_*_test.ts), so `deno test
 * --parallel` spreads the boots over the two VM slots.
 *
 * @module
 */

import assert from "node:assert/strict";
import { kernelConfig, kernelDir, type KernelId, matrixKernels } from "../../scripts/vm/kernels.ts";
import { STAGE2_MARKER } from "../../scripts/vm/images.ts";
import { block, boot, check, expectRc, hasMarker, marker, numberMarker, type Run } from "./harness.ts";
import { expectedDumpRam, summarizeVmcore, uncovered } from "./vmcore.ts";
import { parseCpuList } from "../../lib/crash/elfcorehdr.ts";
import { isSystemRam, parseIomem, walkIomem } from "../../lib/memory/iomem.ts";
import { mergeRanges, subtractRanges } from "../../lib/memory/ranges.ts";
import { chooseHotplugFlag } from "../../lib/arch/hotplug_flag.ts";
import { X86_HOTPLUG_FLAGS } from "../../lib/arch/x86_64/mod.ts";

/** A crash-kernel loader of the table. */
export type Loader = "old" | "new" | "kexec-ts" | "kexec-ts-nohp";
/** With the loader's udev rule, or without any. */
export type UdevChoice = "rule" | "none";
/** What a hotplug event did to the crash kernel. */
export type Outcome = "in-place" | "reloaded" | "stale";

/** One cell of the table. */
export interface Cell {
  kernel: KernelId;
  loader: Loader;
  udev: UdevChoice;
}

/** How the README and test names call the loaders. */
export const LOADER_NAMES: Record<Loader, string> = {
  old: "kexec-tools 2.0.25 -c",
  new: "kexec-tools 2.0.29 -c --hotplug",
  "kexec-ts": "kexec-ts",
  "kexec-ts-nohp": "kexec-ts --no-hotplug",
};

const MiB = 1024n * 1024n;

/**
 * CONFIG_CRASH_HOTPLUG of a matrix kernel, from its config. A kernel without a config file fails the test: the table
 * cannot say what to expect.
 */
export function hasCrashHotplug(kernel: KernelId): boolean {
  try {
    Deno.statSync(`${kernelDir(kernel)}/config`);
  } catch {
    throw new Error(`${kernelDir(kernel)}/config is missing; run scripts/setup --vm (as root)`);
  }
  return kernelConfig(kernel, "CONFIG_CRASH_HOTPLUG") === "y";
}

/** What the table says a cell does, from the kernel's config and the loader alone. */
export function expectedCell(cell: Cell): { refused: boolean; outcome: Outcome } {
  const hotplug = hasCrashHotplug(cell.kernel);
  const flag = cell.loader === "new" || (cell.loader === "kexec-ts" && hotplug);
  const refused = cell.loader === "new" && !hotplug;
  const outcome: Outcome = hotplug && flag ? "in-place" : cell.udev === "rule" ? "reloaded" : "stale";
  return { refused, outcome };
}

/** The loaders of a kernel's table: --no-hotplug only where it differs from kexec-ts' default. */
export function loadersOf(kernel: KernelId): Loader[] {
  return hasCrashHotplug(kernel) ? ["old", "new", "kexec-ts", "kexec-ts-nohp"] : ["old", "new", "kexec-ts"];
}

/** The udev phases of a loader's boot, in order: a reload in the first brings the crash kernel up to date, so the
 * dump shows the second phase's DIMM missing exactly when nothing reloaded it. */
export const PHASES: readonly UdevChoice[] = ["rule", "none"];

/**
 * Boots both cells of a kernel and loader (hotplug-mem scenario, one udev phase and one 256 MiB hot-add per cell);
 * `refuse` also tries the loads the kernel must refuse first.
 */
export function loaderRun(kernel: KernelId, loader: Loader, refuse = false): Promise<Run> {
  return boot("hotplug-mem", {
    kernel,
    // memhp_default_state=online: 6.1 leaves hot-added memory offline (no CONFIG_MHP_DEFAULT_ONLINE_TYPE_*).
    append: `crashkernel=256M memhp_default_state=online kts.loader=${loader} kts.udev=${PHASES.join(",")}${
      refuse ? " kts.refuse=1" : ""
    }`,
    slots: 8,
    maxmem: "8G",
    timeoutMs: 300_000,
  });
}

/** The verdict's reason for each loader's load on a kernel with CONFIG_CRASH_HOTPLUG. */
const VERDICT_REASON: Record<Loader, string> = {
  old: "loaded-without-flag",
  new: "loaded-by-other-tool",
  "kexec-ts": "loaded-with-flag",
  "kexec-ts-nohp": "loaded-without-flag",
};

/** The prediction `status --json` made, as an outcome. */
function predicted(verdict: { behaviour: string; dumpAfterHotplug: string }): Outcome | "none" {
  if (verdict.behaviour === "in-place") return "in-place";
  if (verdict.behaviour === "reload") return verdict.dumpAfterHotplug === "current" ? "reloaded" : "stale";
  return "none";
}

/** The capture kernel's dump, checked as in crash_test.ts: notes, VMCOREINFO, RAM coverage, makedumpfile. */
export function checkDump(run: Run, opts: { exact: boolean; excludeFromDump?: { start: bigint; end: bigint }[] }) {
  check(run, hasMarker(run, "capture.vmcore-size"), "the capture kernel did not boot or has no /proc/vmcore");
  assert.equal(marker(run, "stage2.marker"), STAGE2_MARKER);
  const vmcore = summarizeVmcore(block(run, "capture.vmcore-head"));
  assert.equal(vmcore.prstatus, parseCpuList(marker(run, "first-cpus")).length, "one NT_PRSTATUS per online CPU");
  const release = marker(run, "kernel");
  check(
    run,
    new RegExp(`^OSRELEASE=${release.replace(/[.+]/g, "\\$&")}$`, "m").test(vmcore.vmcoreinfo ?? ""),
    `no VMCOREINFO note with OSRELEASE=${release}`,
  );
  const want = expectedDumpRam(block(run, "first-iomem"), opts.excludeFromDump);
  const extra = subtractRanges(mergeRanges(vmcore.loads), mergeRanges(want));
  const extraBytes = extra.reduce((n, r) => n + r.end - r.start, 0n);
  if (opts.exact) {
    assert.deepEqual(extra, [], "the dump covers memory outside the first kernel's dumpable RAM");
  } else {
    // kexec-tools dumps the low 640 KiB too (its backup region); nothing else beyond the dumpable RAM.
    check(run, extra.every((r) => r.end <= 0x100000n), `the dump covers ${extraBytes} bytes outside the RAM`);
  }
  assert.equal(numberMarker(run, "capture.makedumpfile-rc"), 0, "makedumpfile -l -d 31 failed");
  check(run, numberMarker(run, "capture.dump-size") > 1_000_000, "makedumpfile wrote an empty dump");
  assert.equal(marker(run, "capture.dmesg-marker"), marker(run, "first-kernel-token"));
  return { vmcore, missing: uncovered(want, vmcore.loads) };
}

/** Milliseconds from the guest's panic to the capture kernel's init, as the host saw the two markers arrive. */
export function panicToCaptureMs(run: Run): number {
  const at = (key: string) => {
    const m = run.markers.get(key);
    if (!m?.length) throw new Error(`${run.name}: no ${key} marker`);
    return m[m.length - 1].atMs;
  };
  return at("stage2.boot") - at("panic-now");
}

/** The loads a kernel without crash hotplug must refuse, tried in `run` before its own load: nothing loaded. */
function checkRefusals(run: Run) {
  expectRc(run, "refuse-new", 1);
  assert.match(
    block(run, "refuse-new"),
    /Path \/sys\/kernel\/crash_elfcorehdr_size does not exist, the kernel needs CONFIG_CRASH_HOTPLUG/,
  );
  assert.equal(marker(run, "refuse-new.crash_loaded"), "0");
  expectRc(run, "refuse-kexec-ts", 1);
  assert.match(block(run, "refuse-kexec-ts"), /^kexec-ts: --hotplug needs a kernel built with CONFIG_CRASH_HOTPLUG/);
  assert.equal(marker(run, "refuse-kexec-ts.crash_loaded"), "0");
}

/** Everything a cell asserts, in the boot of its loader; returns what happened in its phase. */
export function checkCell(run: Run, cell: Cell): Outcome {
  const hotplug = hasCrashHotplug(cell.kernel);
  const { outcome: want } = expectedCell(cell);
  const ours = cell.loader.startsWith("kexec-ts");
  const n = PHASES.indexOf(cell.udev) + 1;
  expectRc(run, "load", 0);
  assert.equal(marker(run, "before.kexec_crash_loaded"), "1");
  assert.equal(marker(run, `phase${n}.udev`), cell.udev);

  // 1. The prediction, made in this cell's phase before its hot-add.
  const before = JSON.parse(block(run, `status-phase${n}`));
  const v = before.verdict;
  assert.equal(predicted(v), want, `status predicted ${JSON.stringify(v)}`);
  assert.equal(v.reason, hotplug ? VERDICT_REASON[cell.loader] : "no-crash-hotplug");
  assert.equal(v.reloader, want === "reloaded" ? (ours ? "kexec-ts" : "other-rule") : "none");
  if (cell.udev === "rule") {
    assert.match(ours ? before.udev.ours : before.udev.other, ours ? /98-kexec-ts\.rules$/ : /98-kexec\.rules$/);
  } else {
    assert.equal(before.udev.ours ?? before.udev.other ?? null, null, "a rule is still installed");
  }
  if (ours) {
    // kexec-ts' record: the flag it chose for this kernel's version (0x8 on 6.10+, none without crash hotplug).
    const flag = cell.loader === "kexec-ts" && hotplug
      ? chooseHotplugFlag(X86_HOTPLUG_FLAGS, marker(run, "kernel")).flag
      : 0n;
    assert.equal(BigInt(before.record.flags), 0x3e0001n | flag, "the flags kexec-ts loaded with");
  } else {
    assert.equal(before.record, null, "kexec-ts has no record of a peer's load");
  }

  // 2. What happened: reloads in this phase, and whether the dump has this phase's DIMM.
  assert.equal(marker(run, "after.kexec_crash_loaded"), "1");
  assert.equal(
    marker(run, `phase${n}.memory_crash_hotplug`),
    hotplug ? (want === "in-place" ? "1" : "0") : "absent",
  );
  const ourReloads = numberMarker(run, `phase${n}.reloads`), peerReloads = numberMarker(run, `phase${n}.peer-reloads`);
  assert.equal(ours ? peerReloads : ourReloads, 0, "the other tool's rule reloaded");
  const reloads = ourReloads + peerReloads;
  const dimms = walkIomem(parseIomem(block(run, "first-iomem")), isSystemRam)
    .filter((e) => e.start >= 0x100000000n).map((e) => ({ start: e.start, end: e.end }))
    .sort((a, b) => (a.start < b.start ? -1 : 1));
  assert.equal(dimms.length, PHASES.length, "one hot-added DIMM per phase");
  const { vmcore, missing } = checkDump(run, { exact: ours });
  if (ours) {
    check(run, run.result.console.includes("kexec-ts purgatory: SHA-256 ok"), "purgatory did not accept the image");
  }
  check(
    run,
    numberMarker(run, "stage2.memtotal") < 256 * 1024,
    `capture kernel MemTotal ${marker(run, "stage2.memtotal")} KiB: it onlined memory it should dump`,
  );
  const dimm = dimms[n - 1];
  const dimmMissing = uncovered([dimm], vmcore.loads);
  check(run, dimmMissing === 0n || dimmMissing === 256n * MiB, `the dump has part of DIMM ${n}`);
  const seen: Outcome = reloads > 0 ? "reloaded" : dimmMissing === 0n ? "in-place" : "stale";
  if (seen === "reloaded") {
    assert.equal(dimmMissing, 0n, "the dump misses the DIMM after the reload");
    check(run, reloads <= 2, `${reloads} reloads for one DIMM (2 memory blocks)`);
    const log = block(run, ours ? "reload-log" : "peer-reload-log").split("\n").filter(Boolean);
    check(run, log.every((l) => l.includes(ours ? "outcome=ok" : " rc=0 ")), "a reload failed");
  }
  if (seen === "in-place") {
    const zeros = numberMarker(run, n === 1 ? "storm.zero-reads" : `phase${n}.zero-reads`);
    check(run, zeros <= 2, `${zeros} reads saw no crash kernel during 2 in-place updates`);
  }
  // Nothing else is missing from the dump: only the DIMMs of stale phases.
  const staleBytes = dimms.reduce((sum, d) => sum + uncovered([d], vmcore.loads), 0n);
  assert.equal(missing, staleBytes, "the dump misses RAM other than a stale phase's DIMM");
  assert.equal(seen, want, `the table says ${want}; it was ${seen}`);
  return seen;
}

/** The cells of one kernel and loader group, as Deno tests (none when the kernel is not in the matrix). */
export function registerCells(kernel: KernelId, group: "peers" | "kexec-ts"): void {
  if (!matrixKernels().includes(kernel)) return;
  const loaders = loadersOf(kernel).filter((l) => (group === "peers") === !l.startsWith("kexec-ts"));
  // On a kernel without crash hotplug the old peer's boot also tries the loads that kernel refuses.
  const refusing = !hasCrashHotplug(kernel) && group === "peers";
  const runs = new Map<Loader, Promise<Run>>();
  const runOf = (loader: Loader) => {
    let run = runs.get(loader);
    if (!run) runs.set(loader, run = loaderRun(kernel, loader, refusing && loader === "old"));
    return run;
  };
  for (const loader of loaders) {
    for (const udev of PHASES) {
      const cell = { kernel, loader, udev };
      const { refused, outcome } = expectedCell(cell);
      const name = `${kernel} × ${LOADER_NAMES[loader]} × ${udev === "rule" ? "udev rule" : "no udev rule"}: ${
        refused ? "refused" : outcome
      }`;
      Deno.test(name, async () => {
        if (refused) {
          checkRefusals(await runOf("old"));
          return;
        }
        const run = await runOf(loader);
        const seen = checkCell(run, cell);
        console.log(
          `matrix ${kernel} ${loader} ${udev}: ${seen} (VM ${Math.round(run.result.elapsedMs / 1000)} s for both ` +
            `cells, panic to capture init ${(panicToCaptureMs(run) / 1000).toFixed(1)} s)`,
        );
      });
    }
  }
}
