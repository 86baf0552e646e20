/**
 * The fuzzer in CI: every regression input under tests/fixtures/fuzz/<target>/ (a past finding, fixed) replays
 * without a finding, and the fixed-seed slice (`deno task fuzz --ci`: seed 1, a few thousand cases per target) finds
 * nothing. See tests/fuzz/README.md.
 */

import assert from "node:assert/strict";
import { CI_CASES, runCase } from "../../fuzz/engine.ts";
import { targetNamed, TARGETS } from "../../fuzz/targets.ts";

const FIXTURES = new URL("../../fixtures/fuzz/", import.meta.url).pathname;
const MAIN = new URL("../../fuzz/main.ts", import.meta.url).pathname;

Deno.test("fuzz: every saved finding replays as a refusal or a success, within the time and memory bounds", () => {
  let replayed = 0;
  for (const dir of Deno.readDirSync(FIXTURES)) {
    const target = targetNamed(dir.name);
    assert.ok(target, `tests/fixtures/fuzz/${dir.name} is not a fuzz target (${TARGETS.map((t) => t.name)})`);
    const ctx = { tmp: Deno.makeTempDirSync({ prefix: `kts-fuzz-replay-${target.name}-` }) };
    try {
      target.setup?.(ctx);
      for (const f of Deno.readDirSync(`${FIXTURES}${dir.name}`)) {
        const outcome = runCase(target, Deno.readFileSync(`${FIXTURES}${dir.name}/${f.name}`), ctx);
        assert.ok(
          outcome.kind === "ok" || outcome.kind === "refused",
          `${dir.name}/${f.name}: ${outcome.kind}: ${"message" in outcome ? outcome.message : ""}`,
        );
        replayed++;
      }
    } finally {
      Deno.removeSync(ctx.tmp, { recursive: true });
    }
  }
  assert.ok(replayed >= 2, `only ${replayed} saved inputs`);
});

Deno.test("fuzz: the fixed-seed CI slice (seed 1) finds nothing in any target", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", MAIN, "--ci", "--quiet", "--json", "--out", Deno.makeTempDirSync()],
  }).output();
  const stderr = new TextDecoder().decode(r.stderr);
  const summary = JSON.parse(new TextDecoder().decode(r.stdout));
  assert.equal(summary.seed, 1);
  assert.deepEqual(summary.reports.map((t: { target: string }) => t.target), TARGETS.map((t) => t.name));
  for (const t of summary.reports) {
    assert.equal(t.cases, targetNamed(t.target)!.ciCases ?? CI_CASES, t.target);
    assert.deepEqual(t.findings, [], `${t.target}: ${JSON.stringify(t.findings)}`);
  }
  assert.equal(r.code, 0, stderr);
});
