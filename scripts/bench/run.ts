/**
 * `deno task bench`: kexec-ts against Debian's kexec-tools (-c, kexec_load), first at native speed on this machine
 * with the kexec syscalls intercepted (./native.ts; alone: `deno task bench native`), then in the same VM, on the
 * Debian 6.12 kernel under QEMU/TCG. Prints a markdown report and writes it to .cache/bench/report.md (and JSON
 * beside it).
 *
 *  1. load time: `-l` with the kernel + a 64 MiB initrd, `-p` with the kernel + the small stage-2 initrd,
 *     ours and theirs interleaved in one guest, median of 5 each; our peak RSS (VmHWM) during `-l`; the Deno
 *     runtime's start-up (an empty script) in the same guest, to show what is ours and what is the runtime's;
 *  2. panic to capture: from the "Kernel panic" console line to the capture kernel's first line, 3 boots each;
 *  3. hotplug storms: memory (8 x 256 MiB) back to back and paced (2 s apart), CPUs (6), with hotplug on vs
 *     off + the udev-driven kexec-ts reload: reloads, time spent reloading, the longest window without a crash
 *     kernel (syscall time, from reload.log) and how many of the guest poller's reads saw none.
 *
 * Absolute times are TCG times (about ten times slower than hardware); the ratios are the point.
 *
 * @module
 */

import { ROOT } from "../vm/images.ts";
import { boot, marker, type Run } from "../../tests/vm/harness.ts";
import { parseReloadLog, summarizeReloadLog } from "../../lib/reload/reload_log.ts";
import { buildBundle, nativeBench } from "./native.ts";

/** Timings compare with a machine whose CPUs run in parallel: multi-threaded TCG (see VmOptions.tcg). */
const TCG = "multi" as const;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const series = (run: Run, prefix: string) => [1, 2, 3, 4, 5].map((i) => Number(marker(run, `${prefix}.${i}`)));

async function loadBench() {
  buildBundle(); // the image carries dist/kexec-ts.js, the shipped form, and the guest times it beside main.ts
  const run = await boot("bench-load", { tcg: TCG, big: true, append: "crashkernel=256M", timeoutMs: 900_000 });
  const [kernelBytes, initrdBytes] = marker(run, "sizes").split(" ").map((kv) => Number(kv.split("=")[1]));
  const r = (p: string) => ({
    ours: median(series(run, `bench.${p}.ours`)),
    peer: median(series(run, `bench.${p}.peer`)),
    bundle: median(series(run, `bench.${p}.bundle`)),
  });
  const l = r("l"), p = r("p");
  const hwm = (who: string) =>
    Math.max(...series(run, `bench.l.${who}`).map((_, i) => Number(marker(run, `bench.l.${who}.${i + 1}-hwm`))));
  return {
    kernelBytes,
    initrdBytes,
    l,
    p,
    peakRssKiB: hwm("ours"),
    peakRssBundleKiB: hwm("bundle"),
    peerPeakRssKiB: hwm("peer"),
    denoStartMs: median(series(run, "bench.deno")),
  };
}

/** The kdump-sized initrd of the panic benchmark: a distribution's kdump initrd is 30-60 MB. */
const KDUMP_INITRD_MIB = 40;

/**
 * Panic to the capture kernel's first console line, ours and kexec-tools' crash kernel with a kdump-sized initrd,
 * `rounds` boots each, alternating. `qemu: "10", cpu: "max"` gives the guest the SHA extensions (our purgatory
 * uses them; kexec-tools' has no such path); the system QEMU (7.2) has none (both hash with integer code).
 */
async function panicBench(vm: { qemu?: "10"; cpu?: string } = {}, rounds = 5) {
  const out: Record<string, number[]> = { ours: [], peer: [] };
  // Panic to the purgatory's line: ours prints it after its hash, kexec-tools' on entry (before its hash).
  const toPurgatory: Record<string, number[]> = { ours: [], peer: [] };
  let initrdBytes = 0;
  for (let i = 0; i < rounds; i++) {
    for (const loader of ["ours", "peer"]) {
      const run = await boot("bench-panic", {
        tcg: TCG,
        ...vm,
        append: `crashkernel=256M kts.loader=${loader} kts.kdump_mib=${KDUMP_INITRD_MIB}`,
      });
      const lines = run.result.consoleLines;
      const panic = lines.findIndex((l) => l.text.includes("Kernel panic - not syncing"));
      const first = lines.findIndex((l, j) => j > panic && /^\[\s+0\.000000\]/.test(l.text));
      const purgatory = lines.findIndex((l, j) =>
        j > panic && /kexec-ts purgatory: SHA-256 ok|I'm in purgatory/.test(l.text)
      );
      if (panic < 0 || first < 0) throw new Error(`${loader}: no panic or capture kernel line in the console`);
      out[loader].push(lines[first].atMs - lines[panic].atMs);
      if (purgatory > 0) toPurgatory[loader].push(lines[purgatory].atMs - lines[panic].atMs);
      initrdBytes = Number(marker(run, "initrd-bytes"));
    }
  }
  return {
    ours: median(out.ours),
    peer: median(out.peer),
    oursToPurgatoryLine: median(toPurgatory.ours),
    peerToPurgatoryLine: median(toPurgatory.peer),
    samples: out,
    purgatorySamples: toPurgatory,
    initrdBytes,
  };
}

interface StormResult {
  name: string;
  reloads: number;
  reloadMs: number;
  longestWindowMs: number;
  zeroReads: number;
  reads: number;
}

function stormResult(name: string, run: Run): StormResult {
  const log = summarizeReloadLog(parseReloadLog(run.blocks.get("reload-log") ?? ""));
  return {
    name,
    reloads: log.reloads,
    reloadMs: Math.round(log.totalMs),
    longestWindowMs: Math.round(log.longestWindowMs * 10) / 10,
    zeroReads: Number(marker(run, "storm.zero-reads")),
    reads: Number(marker(run, "storm.reads")),
  };
}

async function stormBench(): Promise<StormResult[]> {
  const results: StormResult[] = [];
  const mem = (mode: string, pace?: number) =>
    boot("hotplug-mem", {
      tcg: TCG,
      append: `crashkernel=256M kts.mode=${mode}${pace ? ` kts.pace=${pace}` : ""}`,
      slots: 8,
      maxmem: "8G",
      timeoutMs: 600_000,
    });
  for (const [mode, label] of [["storm-on", "hotplug on"], ["storm-reload", "off + reload"]]) {
    results.push(stormResult(`memory, 8 x 256 MiB back to back, ${label}`, await mem(mode)));
    results.push(stormResult(`memory, 8 x 256 MiB 2 s apart, ${label}`, await mem(mode, 2000)));
    const cpu = await boot("hotplug-cpu", {
      tcg: TCG,
      append: `crashkernel=256M kts.mode=${mode}`,
      maxCpus: 8,
      timeoutMs: 600_000,
    });
    results.push(stormResult(`CPUs, 6 hot-added, ${label}`, cpu));
  }
  return results;
}

function report(
  load: Awaited<ReturnType<typeof loadBench>>,
  panic: Awaited<ReturnType<typeof panicBench>>,
  panicShaNi: Awaited<ReturnType<typeof panicBench>>,
  storms: StormResult[],
) {
  const s = (ms: number) => (ms / 1000).toFixed(2);
  const budgetKiB = Math.round((2 * (load.kernelBytes + load.initrdBytes)) / 1024);
  return [
    `## Benchmarks (${new Date().toISOString().slice(0, 10)}, QEMU/TCG, Debian 6.12, kexec-tools ${"2.0.25"} -c)`,
    "",
    "| measurement | kexec-ts | kexec-tools -c | ratio |",
    "|---|---|---|---|",
    `| -l, 6.12 kernel + 64 MiB initrd, median of 5 | ${s(load.l.ours)} s | ${s(load.l.peer)} s | ${
      (load.l.ours / load.l.peer).toFixed(2)
    } |`,
    `| -p, 6.12 kernel + 5.6 MiB initrd, median of 5 | ${s(load.p.ours)} s | ${s(load.p.peer)} s | ${
      (load.p.ours / load.p.peer).toFixed(2)
    } |`,
    `| -l, the same, the bundle (dist/kexec-ts.js) | ${s(load.l.bundle)} s | ${s(load.l.peer)} s | ${
      (load.l.bundle / load.l.peer).toFixed(2)
    } |`,
    `| -p, the same, the bundle | ${s(load.p.bundle)} s | ${s(load.p.peer)} s | ${
      (load.p.bundle / load.p.peer).toFixed(2)
    } |`,
    `| panic to capture kernel's first console line, ${
      Math.round(panic.initrdBytes / 1048576)
    } MiB initrd, median of 5 | ${s(panic.ours)} s | ${s(panic.peer)} s | ${(panic.ours / panic.peer).toFixed(2)} |`,
    `| the same under QEMU 10 -cpu max (SHA extensions), median of 5 | ${s(panicShaNi.ours)} s | ${
      s(panicShaNi.peer)
    } s | ${(panicShaNi.ours / panicShaNi.peer).toFixed(2)} |`,
    "",
    `The Deno runtime's own start-up (an empty script) takes ${
      s(load.denoStartMs)
    } s in the same VM. Net of it, -l takes ` +
    `${s(load.l.ours - load.denoStartMs)} s (ratio ${
      ((load.l.ours - load.denoStartMs) / load.l.peer).toFixed(2)
    }) and -p ` +
    `${s(load.p.ours - load.denoStartMs)} s (ratio ${((load.p.ours - load.denoStartMs) / load.p.peer).toFixed(2)}).`,
    "",
    `Peak RSS during -l: kexec-ts ${Math.round(load.peakRssKiB / 1024)} MiB (bundle ${
      Math.round(load.peakRssBundleKiB / 1024)
    } MiB), kexec-tools ${Math.round(load.peerPeakRssKiB / 1024)} MiB; kernel + initrd ${
      Math.round(budgetKiB / 2048)
    } MiB.`,
    "",
    "| hotplug storm | reloads | time reloading | longest window without a crash kernel | poller reads that saw none |",
    "|---|---|---|---|---|",
    ...storms.map((r) =>
      `| ${r.name} | ${r.reloads} | ${s(r.reloadMs)} s | ${r.longestWindowMs} ms | ${r.zeroReads} of ${r.reads} |`
    ),
    "",
  ].join("\n");
}

if (import.meta.main) {
  const part = Deno.args[0];
  if (part === "native") { // `deno task bench native [--rounds N]`: only the native side-by-side
    const r = Deno.args.indexOf("--rounds");
    console.log(nativeBench(r >= 0 ? Number(Deno.args[r + 1]) : undefined).text);
    Deno.exit(0);
  }
  if (part === "load") { // `deno task bench load`: only the in-VM load times, as JSON
    console.log(JSON.stringify(await loadBench()));
    Deno.exit(0);
  }
  if (part === "panic") { // `deno task bench panic`: only panic-to-capture, both QEMUs, as JSON
    console.log(JSON.stringify({ system: await panicBench(), shaNi: await panicBench({ qemu: "10", cpu: "max" }) }));
    Deno.exit(0);
  }
  const native = nativeBench();
  console.error(native.text);
  const load = await loadBench();
  console.error(`load: ${JSON.stringify(load)}`);
  const panic = await panicBench();
  console.error(`panic: ${JSON.stringify(panic)}`);
  const panicShaNi = await panicBench({ qemu: "10", cpu: "max" });
  console.error(`panic (QEMU 10, SHA-NI): ${JSON.stringify(panicShaNi)}`);
  const storms = await stormBench();
  const text = native.text + "\n" + report(load, panic, panicShaNi, storms);
  Deno.mkdirSync(`${ROOT}/.cache/bench`, { recursive: true });
  Deno.writeTextFileSync(`${ROOT}/.cache/bench/report.md`, text);
  Deno.writeTextFileSync(
    `${ROOT}/.cache/bench/results.json`,
    JSON.stringify({ native: native.summary, load, panic, panicShaNi, storms }, null, 2),
  );
  console.log(text);
}
