/** Guest-side timing of a load's steps (diagnostics for the load benchmark; not a test). */
const t0 = performance.now();
const { buildLoadPlan } = await import("../../../lib/load/build.ts");
const { resolveInputs } = await import("../../../lib/load/inputs.ts");
const { executePlan } = await import("../../../lib/load/load.ts");
const { realEnv } = await import("../../../lib/runtime.ts");
const { parseInvocation } = await import("../../../lib/cli/args.ts");
const { sha256Hasher } = await import("../../../lib/purgatory/digest.ts");
const { currentArch } = await import("../../../lib/arch/mod.ts");
const t1 = performance.now();
const inv = parseInvocation(Deno.args);
const env = realEnv();
const inputs = resolveInputs(inv.load!, env.sys, currentArch());
const t2 = performance.now();
const { plan, limits } = buildLoadPlan(inv.load!, env.sys, new Uint8Array(32), currentArch(), inputs);
const t3 = performance.now();
const h = sha256Hasher();
for (const s of plan.segments) h.update(s.buf);
h.digest();
const t4 = performance.now();
executePlan(plan, limits, env);
const t5 = performance.now();
inputs.close();
const ms = (a: number, b: number) => (b - a).toFixed(0);
console.log(
  `@@KTS prof start=${t0.toFixed(0)} imports=${ms(t0, t1)} open-map-parse=${ms(t1, t2)} plan=${ms(t2, t3)} ` +
    `sha-again=${ms(t3, t4)} syscall=${ms(t4, t5)} via=${inputs.files.kernel.source},${
      inputs.files.initrds[0]?.source
    }`,
);
