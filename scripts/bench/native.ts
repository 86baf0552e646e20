/**
 * `deno task bench native` (and the first part of `deno task bench`): kexec-ts against Debian's kexec-tools
 * (`/sbin/kexec -c`, i.e. kexec_load) at native speed on this machine, safely on any Linux box, kexec or not:
 *
 *  - every run is under `strace -f --seccomp-bpf -e trace=kexec_load,reboot -e inject=kexec_load,reboot:retval=0`:
 *    the kernel never sees a kexec_load or reboot call, strace answers 0 for it, so only user space is timed and
 *    a slip can never reboot the host; the call strace decoded must be a real plan (./strace_plan.ts), or the
 *    benchmark fails;
 *  - `-l` with the 6.12 kernel and a 64 MiB initrd, and without an initrd, on the host as it is;
 *  - `-p` with the kernel and a small initrd against the saved crash-region machine
 *    (tests/fixtures/machines/qemu-q35-2g-crash256m) laid over /proc and /sys in a private mount namespace
 *    (./crash_ns.ts), so both tools see the same crash region;
 *  - kexec-ts as shipped (the bundle, dist/kexec-ts.js, rebuilt first) and from source (main.ts); the floors: Deno
 *    running an empty script, Deno plus one FFI syscall, and that plus mapping and hashing the payload (./floor.ts);
 *  - rounds interleaved (one of each, in turn), after one warm-up round; wall time and CPU time (user + system, from
 *    bash's `time`), peak RSS (GNU time's %M: the largest of the process and its children, here the tool).
 *
 * Needs root (unshare, mount; both tools read /proc/iomem and /proc/kcore), strace, GNU time (`time`) and
 * kexec-tools. Writes .cache/bench/native.md and native.json. `--rounds N` (default 9).
 *
 * @module
 */

import { DENO, pseudoRandom, ROOT } from "../vm/images.ts";
import { kernelImage } from "../vm/kernels.ts";
import { parseBzImage } from "../../lib/arch/x86_64/bzimage.ts";
import { readIomem } from "../../lib/memory/iomem.ts";
import { fsSystemView } from "../../lib/system.ts";
import type { Range } from "../../lib/memory/ranges.ts";
import { type PlanExpectation, planProblems } from "./strace_plan.ts";
import { runWithCrashMachine } from "./crash_ns.ts";

const PEER = "/sbin/kexec";
const CRASH_MACHINE = `${ROOT}/tests/fixtures/machines/qemu-q35-2g-crash256m`;
const WORK = `${ROOT}/.cache/bench`;
/** All permissions: Deno 2.9 reads /proc/iomem and /proc/kcore only with --allow-all ("Requires all access"). */
const PERMS = ["--allow-all"];
const BIG_INITRD_BYTES = 64 << 20;
const SMALL_INITRD_BYTES = 1_400_000;
const APPEND = "console=ttyS0";
const CRASH_APPEND = "console=ttyS0 irqpoll nr_cpus=1 reset_devices";

/** A program measured: its argv up to the mode arguments, and whether it takes them. */
interface Tool {
  name: string;
  argv: string[];
  /** Baselines run without the case's arguments (the floor with the case's files instead). */
  role: "ours" | "ours-source" | "peer" | "empty" | "ffi" | "floor";
}

/** One benchmark case: the mode arguments and what its plan must show. */
interface Case {
  name: string;
  args: string[];
  files: string[];
  crash: boolean;
  want: PlanExpectation;
}

/** One measured run. */
interface Sample {
  wallMs: number;
  cpuMs: number;
  maxRssKiB: number;
}

function tools(): Tool[] {
  return [
    { name: "kexec-ts (bundle)", role: "ours", argv: [DENO, "run", ...PERMS, `${ROOT}/dist/kexec-ts.js`] },
    { name: "kexec-ts (main.ts)", role: "ours-source", argv: [DENO, "run", ...PERMS, `${ROOT}/main.ts`] },
    { name: "kexec-tools -c", role: "peer", argv: [PEER, "-c"] },
    { name: "deno, empty script", role: "empty", argv: [DENO, "run", `${WORK}/empty.js`] },
    {
      name: "deno + one FFI syscall",
      role: "ffi",
      argv: [DENO, "run", "--allow-ffi", `${ROOT}/scripts/bench/floor.ts`],
    },
    {
      name: "deno + FFI + map and SHA-256 the files",
      role: "floor",
      argv: [DENO, "run", "--allow-ffi", "--allow-read", `${ROOT}/scripts/bench/floor.ts`],
    },
  ];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs `argv` under strace's interception, timed; fails on a non-zero exit. */
function measure(argv: string[], env: Record<string, string>): Sample & { log: string } {
  const log = `${WORK}/strace.log`, rss = `${WORK}/rss.txt`;
  const r = new Deno.Command("bash", {
    args: [
      "-c",
      'TIMEFORMAT="@@time %3R %3U %3S"; time "$@" >/dev/null',
      "bash",
      "/usr/bin/time",
      "-f",
      "%M",
      "-o",
      rss,
      "strace",
      "-f",
      "-qq",
      "--seccomp-bpf",
      "-e",
      "trace=kexec_load,reboot",
      "-e",
      "inject=kexec_load,reboot:retval=0",
      "-o",
      log,
      "--",
      ...argv,
    ],
    env,
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  const err = new TextDecoder().decode(r.stderr);
  const m = /@@time ([\d.]+) ([\d.]+) ([\d.]+)\s*$/.exec(err);
  if (!r.success || !m) throw new Error(`${argv.join(" ")} failed (exit ${r.code}):\n${err}`);
  return {
    wallMs: Number(m[1]) * 1000,
    cpuMs: (Number(m[2]) + Number(m[3])) * 1000,
    maxRssKiB: Number(Deno.readTextFileSync(rss).trim().split("\n").pop()),
    log: Deno.readTextFileSync(log),
  };
}

/** The argv of `tool` for `c`. */
function command(tool: Tool, c: Case): string[] {
  if (tool.role === "empty" || tool.role === "ffi") return tool.argv;
  if (tool.role === "floor") return [...tool.argv, ...c.files];
  return [...tool.argv, ...c.args];
}

/** Runs every case with every tool, `rounds` times interleaved after a warm-up round; checks each plan. */
function runCases(cases: Case[], rounds: number): Record<string, Record<string, Sample[]>> {
  // The crash-load record goes where /run is on a real machine: tmpfs.
  const runDir = Deno.makeTempDirSync({ prefix: "kexec-ts-bench-run-", dir: "/dev/shm" });
  const env = { ...Deno.env.toObject(), KEXEC_TS_RUN_DIR: runDir, NO_COLOR: "1" };
  const out: Record<string, Record<string, Sample[]>> = {};
  try {
    for (let round = 0; round <= rounds; round++) {
      for (const c of cases) {
        for (const tool of tools()) {
          const s = measure(command(tool, c), env);
          if (tool.role === "ours" || tool.role === "ours-source" || tool.role === "peer") {
            const problems = planProblems(s.log, c.want);
            if (problems.length) {
              throw new Error(`${tool.name} ${c.name}: the intercepted kexec_load is not a real plan: ${problems}`);
            }
          }
          if (round === 0) continue; // warm-up
          ((out[c.name] ??= {})[tool.name] ??= []).push({ wallMs: s.wallMs, cpuMs: s.cpuMs, maxRssKiB: s.maxRssKiB });
        }
      }
    }
  } finally {
    Deno.removeSync(runDir, { recursive: true });
  }
  return out;
}

function ensureFile(path: string, bytes: number, seed: number): string {
  try {
    if (Deno.statSync(path).size === bytes) return path;
  } catch { /* make it */ }
  Deno.writeFileSync(path, pseudoRandom(bytes, seed));
  return path;
}

function requireHost(): void {
  if (Deno.uid() !== 0) throw new Error("the native benchmark needs root (unshare, mount, /proc/iomem addresses)");
  for (const [p, pkg] of [["/usr/bin/strace", "strace"], ["/usr/bin/time", "time"], [PEER, "kexec-tools"]]) {
    try {
      Deno.statSync(p);
    } catch {
      throw new Error(`${p} is missing: install Debian's ${pkg} (scripts/setup --vm)`);
    }
  }
}

/** `deno task bundle`: dist/kexec-ts.js, the shipped form. */
export function buildBundle(): void {
  const r = new Deno.Command(DENO, {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", `${ROOT}/dist/kexec-ts.js`, `${ROOT}/main.ts`],
    stdout: "inherit",
    stderr: "inherit",
  }).outputSync();
  if (!r.success) throw new Error("deno bundle failed");
}

function systemRam(root: string): Range[] {
  return readIomem(fsSystemView(root)).filter((e) => e.name === "System RAM").map((e) => ({
    start: e.start,
    end: e.end,
  }));
}

function crashRange(machine: string): Range[] {
  const find = (es: ReturnType<typeof readIomem>): Range[] =>
    es.flatMap((e) => (e.name === "Crash kernel" ? [{ start: e.start, end: e.end }] : find(e.children)));
  return find(readIomem(fsSystemView(machine)));
}

/** The cases, with the inputs made (or found) under .cache/bench. */
function makeCases(): { host: Case[]; crash: Case[]; kernelBytes: number; bigBytes: number; smallBytes: number } {
  Deno.mkdirSync(WORK, { recursive: true });
  Deno.writeTextFileSync(`${WORK}/empty.js`, "1;\n");
  const kernel = kernelImage();
  const big = ensureFile(`${WORK}/initrd-64m.img`, BIG_INITRD_BYTES, 0x5eed64);
  const small = ensureFile(`${WORK}/initrd-small.img`, SMALL_INITRD_BYTES, 0x5eed01);
  const image = parseBzImage(Deno.readFileSync(kernel));
  const kernelWant = { kernelBytes: BigInt(image.kernel.length), kernelMemsz: image.memsz };
  const ram = systemRam("/");
  const host: Case[] = [
    {
      name: "-l, kernel + 64 MiB initrd",
      args: ["-l", kernel, `--initrd=${big}`, `--append=${APPEND}`],
      files: [kernel, big],
      crash: false,
      want: { crash: false, within: ram, ...kernelWant, initrdBytes: BigInt(BIG_INITRD_BYTES) },
    },
    {
      name: "-l, kernel only",
      args: ["-l", kernel, `--append=${APPEND}`],
      files: [kernel],
      crash: false,
      want: { crash: false, within: ram, ...kernelWant },
    },
  ];
  const crash: Case[] = [{
    name: "-p, kernel + 1.4 MB initrd (saved crash machine)",
    args: ["-p", kernel, `--initrd=${small}`, `--append=${CRASH_APPEND}`],
    files: [kernel, small],
    crash: true,
    want: { crash: true, within: crashRange(CRASH_MACHINE), ...kernelWant, initrdBytes: BigInt(SMALL_INITRD_BYTES) },
  }, {
    name: "-l, kernel only (saved crash machine)",
    args: ["-l", kernel, `--append=${APPEND}`],
    files: [kernel],
    crash: false,
    want: { crash: false, within: systemRam(CRASH_MACHINE), ...kernelWant },
  }];
  return {
    host,
    crash,
    kernelBytes: Deno.statSync(kernel).size,
    bigBytes: BIG_INITRD_BYTES,
    smallBytes: SMALL_INITRD_BYTES,
  };
}

/** Per case and tool: medians of wall, CPU and peak RSS. */
export interface NativeSummary {
  [caseName: string]: {
    [tool: string]: { wallMs: number; minWallMs: number; cpuMs: number; maxRssKiB: number; runs: number };
  };
}

function summarize(results: Record<string, Record<string, Sample[]>>): NativeSummary {
  const out: NativeSummary = {};
  for (const [c, byTool] of Object.entries(results)) {
    out[c] = {};
    for (const [t, samples] of Object.entries(byTool)) {
      out[c][t] = {
        wallMs: Math.round(median(samples.map((s) => s.wallMs))),
        minWallMs: Math.round(Math.min(...samples.map((s) => s.wallMs))),
        cpuMs: Math.round(median(samples.map((s) => s.cpuMs))),
        maxRssKiB: median(samples.map((s) => s.maxRssKiB)),
        runs: samples.length,
      };
    }
  }
  return out;
}

const bigints = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);

const loadAverage = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");

/** Runs the native benchmark; returns the summary and a markdown report. */
export function nativeBench(rounds = 9): { summary: NativeSummary; text: string } {
  requireHost();
  buildBundle();
  const { host, crash, kernelBytes, bigBytes, smallBytes } = makeCases();
  const loadBefore = loadAverage();
  const hostResults = runCases(host, rounds);
  const inner = runWithCrashMachine(
    Deno.makeTempDirSync({ prefix: "kexec-ts-bench-ns-" }),
    CRASH_MACHINE,
    [
      DENO,
      "run",
      "--allow-all",
      new URL(import.meta.url).pathname,
      "--inner",
      JSON.stringify({ crash, rounds }, bigints),
    ],
  );
  const crashResults = JSON.parse(inner.trim().split("\n").pop()!);
  const summary = summarize({ ...hostResults, ...crashResults });
  const text = report(summary, { kernelBytes, bigBytes, smallBytes, rounds, loadBefore, loadAfter: loadAverage() });
  Deno.writeTextFileSync(`${WORK}/native.json`, JSON.stringify(summary, null, 2));
  Deno.writeTextFileSync(`${WORK}/native.md`, text);
  return { summary, text };
}

function report(
  s: NativeSummary,
  o: {
    kernelBytes: number;
    bigBytes: number;
    smallBytes: number;
    rounds: number;
    loadBefore: string;
    loadAfter: string;
  },
): string {
  const MiB = (kib: number) => (kib / 1024).toFixed(0);
  const lines = [
    `## Native (${new Date().toISOString().slice(0, 10)}, ${Deno.osRelease()}, kexec_load and reboot intercepted)`,
    "",
    `Medians of ${o.rounds} interleaved rounds (and the fastest wall time, the least disturbed by other load); wall / ` +
    `CPU (user + system) / peak RSS. Load average before ${o.loadBefore}, after ${o.loadAfter}.`,
    "",
    "| case | tool | wall | fastest | CPU | peak RSS | wall ratio | fastest ratio | CPU ratio |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const [c, byTool] of Object.entries(s)) {
    const peer = byTool["kexec-tools -c"];
    for (const [t, v] of Object.entries(byTool)) {
      const ratio = (a: number, b: number) => (t.startsWith("kexec-ts") ? (a / b).toFixed(2) : "");
      lines.push(
        `| ${c} | ${t} | ${v.wallMs} ms | ${v.minWallMs} ms | ${v.cpuMs} ms | ${MiB(v.maxRssKiB)} MiB | ${
          ratio(v.wallMs, peer.wallMs)
        } | ${ratio(v.minWallMs, peer.minWallMs)} | ${ratio(v.cpuMs, peer.cpuMs)} |`,
      );
    }
  }
  const l = s["-l, kernel + 64 MiB initrd"], l0 = s["-l, kernel only (saved crash machine)"];
  const p = Object.entries(s).find(([k]) => k.startsWith("-p"))![1];
  const ours = "kexec-ts (bundle)", peer = "kexec-tools -c";
  const payloadKiB = (o.kernelBytes + o.bigBytes) / 1024;
  lines.push(
    "",
    `Goals (median wall): -l ${(l[ours].wallMs / l[peer].wallMs).toFixed(2)} x kexec-tools (goal <= 0.35), -p ${
      (p[ours].wallMs / p[peer].wallMs).toFixed(2)
    } x (goal <= 0.5); in the same namespace -p takes ${p[ours].wallMs} ms (CPU ${p[ours].cpuMs} ms) and -l without ` +
      `initrd ${l0[ours].wallMs} ms (CPU ${l0[ours].cpuMs} ms) (goal: -p no dearer).`,
    `Peak RSS of -l: ${MiB(l[ours].maxRssKiB)} MiB; Deno's empty script + the payload (${MiB(payloadKiB)} MiB) = ${
      MiB(l["deno, empty script"].maxRssKiB + payloadKiB)
    } MiB; the floor (Deno + FFI + the mapped, hashed payload) ${
      MiB(l["deno + FFI + map and SHA-256 the files"].maxRssKiB)
    } MiB.`,
    `Inputs: kernel ${o.kernelBytes} bytes, initrds ${o.bigBytes} and ${o.smallBytes} bytes.`,
    "",
  );
  return lines.join("\n");
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--inner");
  if (i >= 0) {
    const { crash, rounds } = JSON.parse(Deno.args[i + 1]) as { crash: Case[]; rounds: number };
    for (const c of crash) c.want.within = c.want.within.map((r) => ({ start: BigInt(r.start), end: BigInt(r.end) }));
    for (const c of crash) {
      c.want.kernelBytes = BigInt(c.want.kernelBytes);
      c.want.kernelMemsz = BigInt(c.want.kernelMemsz);
      if (c.want.initrdBytes !== undefined) c.want.initrdBytes = BigInt(c.want.initrdBytes);
    }
    console.log(JSON.stringify(runCases(crash, rounds)));
  } else {
    const r = Deno.args.indexOf("--rounds");
    console.log(nativeBench(r >= 0 ? Number(Deno.args[r + 1]) : 9).text);
  }
}
