/** Guest-side timing of a crash load's steps (diagnostics for the load benchmark; not a test). */
const t0 = performance.now();
const { buildLoadPlan, executePlan } = await import("../../../lib/load.ts");
const { realEnv } = await import("../../../lib/cli/env.ts");
const { parseInvocation } = await import("../../../lib/cli/args.ts");
const t1 = performance.now();
const { createHash } = await import("node:crypto");
const t2 = performance.now();
const inv = parseInvocation(Deno.args);
const env = realEnv();
const crash = inv.action.kind === "load" && inv.action.crash;
const { plan, limits } = buildLoadPlan(inv.load!, crash, env.sys, new Uint8Array(32));
const t3 = performance.now();
const h = createHash("sha256");
for (const s of plan.segments) h.update(s.buf);
h.digest();
const t4 = performance.now();
executePlan(plan, limits, env);
const t5 = performance.now();
const ms = (a: number, b: number) => (b - a).toFixed(0);
console.log(
  `@@KTS prof imports=${ms(t0, t1)} node-crypto-after=${ms(t1, t2)} plan=${ms(t2, t3)} sha-again=${
    ms(t3, t4)
  } syscall=${ms(t4, t5)}`,
);
