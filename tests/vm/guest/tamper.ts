/**
 * Guest-side: builds a real plan with kexec-ts' own code, tampers with it, and hands it to the same door the CLI
 * uses (executePlan). Modes:
 *   overlap          move the initrd onto the kernel: must be refused before the syscall
 *   too-many         split the initrd into pieces until there are 17 segments: must be refused
 *   corrupt-loaded   flip one initrd byte after the digest was taken, then load: the kernel accepts it, and
 *                    purgatory must catch the corruption at exec time and halt
 * Prints `@@KTS tamper.<mode> <outcome>` on stdout.
 */

import { buildLoadPlan } from "../../../lib/load/build.ts";
import { executePlan } from "../../../lib/load/load.ts";
import { realEnv } from "../../../lib/runtime.ts";
import { parseInvocation } from "../../../lib/cli/args.ts";
import { KexecError } from "../../../lib/errors.ts";
import type { PlanSegment } from "../../../lib/load/plan.ts";

const [mode, ...argv] = Deno.args;
const inv = parseInvocation(argv);
const env = realEnv();
const { plan, limits } = buildLoadPlan(inv.load!, env.sys, new Uint8Array(32));
const initrd = plan.segments.findIndex((s) => s.role === "initrd");
const kernel = plan.segments.find((s) => s.role === "kernel")!;
if (initrd < 0) throw new Error("tamper needs an --initrd");

if (mode === "overlap") {
  plan.segments[initrd] = { ...plan.segments[initrd], mem: kernel.mem + 0x100000n };
} else if (mode === "too-many") {
  const s = plan.segments[initrd];
  const pieces: PlanSegment[] = [];
  const n = 17 - (plan.segments.length - 1);
  const step = ((s.memsz / BigInt(n)) / 4096n) * 4096n;
  for (let i = 0n; i < BigInt(n); i++) {
    const mem = s.mem + i * step;
    const memsz = i === BigInt(n - 1) ? s.memsz - i * step : step;
    const from = Number(i * step);
    pieces.push({
      role: "initrd",
      mem,
      memsz,
      buf: s.buf.subarray(Math.min(from, s.buf.length), Math.min(from + Number(memsz), s.buf.length)),
    });
  }
  plan.segments.splice(initrd, 1, ...pieces);
} else if (mode === "corrupt-loaded") {
  const copy = plan.segments[initrd].buf.slice();
  copy[copy.length >> 1] ^= 0xff;
  plan.segments[initrd] = { ...plan.segments[initrd], buf: copy };
} else {
  throw new Error(`unknown mode ${mode}`);
}

try {
  executePlan(plan, limits, env);
  console.log(`@@KTS tamper.${mode} loaded ${plan.segments.length}`);
} catch (e) {
  if (!(e instanceof KexecError)) throw e;
  console.log(`@@KTS tamper.${mode} refused ${e.code}: ${e.message}`);
}
