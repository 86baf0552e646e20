/**
 * `deno task fuzz`: runs the mutation fuzzer (./engine.ts) over the targets (./targets.ts).
 *
 * ```
 * deno task fuzz [--cases N] [--seed S] [--target T[,T...]] [--jobs J] [--out DIR] [--json]
 * deno task fuzz --ci          # the fixed-seed slice the unit tests run (seed 1, each target's ciCases)
 * ```
 *
 * Each target runs in its own child process (`--child`), J at a time (default 2), with V8's heap capped at
 * {@link CHILD_HEAP_MB} MiB. The child announces every case before running it, so when a case hangs (no word for
 * {@link HANG_MS} ms: the parent kills the child) or kills the process (a runaway allocation), the parent knows
 * which case it was, records the finding and starts a new child after it. Findings are saved as
 * `OUT/<target>/<seed>-<case>-<kind>.bin` (default OUT: tests/fuzz/findings/, ignored by git): the exact input,
 * which `--replay FILE --target T` runs again. Once fixed, a finding moves to tests/fixtures/fuzz/<target>/, where
 * tests/unit/fuzz/fuzz_test.ts replays it forever. Exit status 1 when anything was found.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { caseInput, type CaseOutcome, CI_CASES, type FuzzContext, type FuzzTarget, runCase } from "./engine.ts";
import { targetNamed, TARGETS } from "./targets.ts";

/** V8 heap limit of a child, MiB: a case that allocates past it dies, and is reported as a finding. */
export const CHILD_HEAP_MB = 1024;
/** A child that says nothing for this long is hung on a case. */
export const HANG_MS = 10_000;
/** A target stops after this many findings: one bug tends to make many, and each hang or crash costs seconds. */
export const MAX_FINDINGS = 20;

const HERE = new URL(".", import.meta.url).pathname;

/** One finding. */
export interface Finding {
  target: string;
  seed: number;
  index: number;
  kind: CaseOutcome["kind"] | "hang" | "crash";
  message: string;
  /** Where its input was saved. */
  file?: string;
}

/** What one target's run amounted to. */
export interface TargetReport {
  target: string;
  cases: number;
  refused: number;
  findings: Finding[];
  /** Wall time of the target, ms. */
  ms: number;
  /** Slowest case, ms. */
  maxCaseMs: number;
  /** Largest memory growth of a case, bytes. */
  maxGrownBytes: number;
  /** Cases over the time or memory bound once but not when run again (load on the machine, GC timing). */
  retimed: number;
}

/** Prepares a target's scratch directory and seeds. */
function prepare(target: FuzzTarget): { ctx: FuzzContext; seeds: Uint8Array[]; done: () => void } {
  const ctx: FuzzContext = { tmp: Deno.makeTempDirSync({ prefix: `kts-fuzz-${target.name}-` }) };
  target.setup?.(ctx);
  const seeds = target.seeds(ctx);
  return { ctx, seeds, done: () => Deno.removeSync(ctx.tmp, { recursive: true }) };
}

// ---------------------------------------------------------------------------------------------------------------
// The child: runs cases [from, to) of one target, one line per case on stdout.

const encoder = new TextEncoder();

function say(line: string): void {
  const bytes = encoder.encode(line + "\n");
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

function child(target: FuzzTarget, seed: number, from: number, to: number): void {
  const { ctx, seeds, done } = prepare(target);
  let refused = 0, maxMs = 0, maxGrown = 0, retimed = 0;
  try {
    for (let i = from; i < to; i++) {
      say(`s ${i}`);
      const input = caseInput(target, seeds, seed, i, ctx);
      let outcome = runCase(target, input, ctx);
      // Time and memory depend on the machine's load and on when V8 collects: a case is slow or big only if it is
      // so twice in a row.
      if (outcome.kind === "slow" || outcome.kind === "memory") {
        const again = runCase(target, input, ctx);
        if (again.kind !== outcome.kind) {
          outcome = again;
          retimed++;
        }
      }
      if (outcome.kind === "refused") refused++;
      maxMs = Math.max(maxMs, outcome.ms);
      maxGrown = Math.max(maxGrown, outcome.grownBytes);
      if ("message" in outcome) say(`f ${i} ${outcome.kind} ${JSON.stringify(outcome.message)}`);
    }
    say(`d ${refused} ${maxMs.toFixed(1)} ${maxGrown} ${retimed}`);
  } finally {
    done();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The parent

interface RunOptions {
  seed: number;
  cases: (t: FuzzTarget) => number;
  out: string;
  quiet: boolean;
}

/** Runs one target through as many children as it takes; returns its report. */
async function runTarget(target: FuzzTarget, opts: RunOptions, log: (line: string) => void): Promise<TargetReport> {
  const total = opts.cases(target);
  const report: TargetReport = {
    target: target.name,
    cases: total,
    refused: 0,
    findings: [],
    ms: 0,
    maxCaseMs: 0,
    maxGrownBytes: 0,
    retimed: 0,
  };
  const t0 = performance.now();
  let next = 0;
  while (next < total) {
    const proc = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--quiet",
        `--v8-flags=--max-old-space-size=${CHILD_HEAP_MB}`,
        `${HERE}main.ts`,
        "--child",
        "--target",
        target.name,
        "--seed",
        String(opts.seed),
        "--from",
        String(next),
        "--to",
        String(total),
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(proc.stderr).text();
    let started = next - 1, finished = false, lastWord = performance.now(), hung = false, stopped = false;
    const watchdog = setInterval(() => {
      if (performance.now() - lastWord > HANG_MS) {
        hung = true;
        try {
          proc.kill("SIGKILL");
        } catch { /* already gone */ }
      }
    }, 1000);
    let buffered = "";
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      lastWord = performance.now();
      buffered += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const [tag, a, b, ...rest] = line.split(" ");
        if (tag === "s") {
          started = Number(a);
          if (!opts.quiet && started > 0 && started % 10000 === 0) log(`${target.name}: ${started} cases`);
        } else if (tag === "f") {
          const message = JSON.parse(rest.join(" "));
          report.findings.push({
            target: target.name,
            seed: opts.seed,
            index: Number(a),
            kind: b as Finding["kind"],
            message,
          });
          if (report.findings.length >= MAX_FINDINGS && !stopped) {
            stopped = true;
            proc.kill("SIGKILL");
          }
        } else if (tag === "d") {
          finished = true;
          report.refused += Number(a);
          report.maxCaseMs = Math.max(report.maxCaseMs, Number(b));
          report.maxGrownBytes = Math.max(report.maxGrownBytes, Number(rest[0]));
          report.retimed += Number(rest[1]);
        }
      }
    }
    clearInterval(watchdog);
    const status = await proc.status;
    const err = await stderr;
    if (finished && status.success) break;
    if (stopped) {
      log(`${target.name}: stopped after ${report.findings.length} findings at case ${started}`);
      report.cases = started + 1;
      break;
    }
    if (started < next) {
      throw new Error(`fuzz child for ${target.name} failed before its first case (exit ${status.code}):\n${err}`);
    }
    report.findings.push({
      target: target.name,
      seed: opts.seed,
      index: started,
      kind: hung ? "hang" : "crash",
      message: hung
        ? `no progress for ${HANG_MS} ms: killed`
        : `the process died (exit ${status.code}${status.signal ? `, ${status.signal}` : ""}): ${err.slice(-2000)}`,
    });
    next = started + 1;
    if (report.findings.length >= MAX_FINDINGS) {
      log(`${target.name}: stopped after ${report.findings.length} findings at case ${started}`);
      report.cases = next;
      break;
    }
  }
  report.ms = performance.now() - t0;
  if (report.findings.length) saveFindings(target, report.findings, opts.out);
  return report;
}

/** Writes each finding's input to OUT/<target>/. */
function saveFindings(target: FuzzTarget, findings: Finding[], out: string): void {
  const { ctx, seeds, done } = prepare(target);
  try {
    Deno.mkdirSync(`${out}/${target.name}`, { recursive: true });
    for (const f of findings) {
      f.file = `${out}/${target.name}/${f.seed}-${f.index}-${f.kind}.bin`;
      Deno.writeFileSync(f.file, caseInput(target, seeds, f.seed, f.index, ctx));
    }
  } finally {
    done();
  }
}

/** Runs `targets` `jobs` at a time. */
async function runAll(targets: readonly FuzzTarget[], jobs: number, opts: RunOptions, log: (l: string) => void) {
  const reports: TargetReport[] = [];
  const queue = [...targets];
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      const r = await runTarget(t, opts, log);
      reports.push(r);
      log(
        `${r.target.padEnd(14)} ${String(r.cases).padStart(7)} cases  ${(r.ms / 1000).toFixed(1).padStart(7)} s  ` +
          `refused ${(100 * r.refused / r.cases).toFixed(0).padStart(3)}%  slowest ${r.maxCaseMs.toFixed(0)} ms  ` +
          `max growth ${
            (r.maxGrownBytes / 2 ** 20).toFixed(1)
          } MiB  retimed ${r.retimed}  findings ${r.findings.length}`,
      );
      for (const f of r.findings.slice(0, 5)) log(`  ${f.kind} at case ${f.index}: ${f.message.split("\n")[0]}`);
    }
  }));
  return TARGETS.map((t) => reports.find((r) => r.target === t.name)).filter((r): r is TargetReport => !!r);
}

/** Runs one saved input through its target and prints the outcome. */
function replay(target: FuzzTarget, file: string): CaseOutcome {
  const { ctx, done } = prepare(target);
  try {
    return runCase(target, Deno.readFileSync(file), ctx);
  } finally {
    done();
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      cases: { type: "string" },
      seed: { type: "string" },
      target: { type: "string" },
      jobs: { type: "string" },
      out: { type: "string" },
      ci: { type: "boolean" },
      json: { type: "boolean" },
      quiet: { type: "boolean" },
      child: { type: "boolean" },
      from: { type: "string" },
      to: { type: "string" },
      replay: { type: "string" },
    },
  });
  const names = values.target?.split(",") ?? TARGETS.map((t) => t.name);
  const targets = names.map((n) =>
    targetNamed(n) ?? (() => {
      throw new Error(`no fuzz target "${n}" (targets: ${TARGETS.map((t) => t.name).join(", ")})`);
    })()
  );
  const seed = Number(values.seed ?? (values.ci ? 1 : Date.now() % 1_000_000));
  if (values.child) {
    child(targets[0], seed, Number(values.from), Number(values.to));
    return 0;
  }
  if (values.replay) {
    const outcome = replay(targets[0], values.replay);
    console.log(JSON.stringify(outcome, null, 2));
    return outcome.kind === "ok" || outcome.kind === "refused" ? 0 : 1;
  }
  const cases = values.cases !== undefined ? Number(values.cases) : undefined;
  const opts: RunOptions = {
    seed,
    cases: (t) => cases ?? (values.ci ? t.ciCases ?? CI_CASES : 10_000),
    out: values.out ?? `${HERE}findings`,
    quiet: !!values.quiet,
  };
  const log = (line: string) => console.error(line);
  log(`kexec-ts fuzz: seed ${seed}, ${targets.length} targets`);
  const t0 = performance.now();
  const reports = await runAll(targets, Number(values.jobs ?? 2), opts, log);
  const findings = reports.flatMap((r) => r.findings);
  log(
    `${reports.reduce((n, r) => n + r.cases, 0)} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
      `${findings.length} findings${findings.length ? ` (inputs in ${opts.out})` : ""}`,
  );
  if (values.json) console.log(JSON.stringify({ seed, ms: performance.now() - t0, reports }, null, 2));
  return findings.length ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
