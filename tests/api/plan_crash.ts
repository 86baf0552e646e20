/**
 * A script that uses kexec-ts as a library: plans a crash load against a saved machine and prints a summary as JSON.
 * tests/unit/mod_test.ts runs it with read access only (no root, no FFI, no system info).
 *
 *   deno run --allow-read tests/api/plan_crash.ts KERNEL SNAPSHOT_DIR
 */

import { KexecError, loadRequest, plan, type PlanSegment } from "../../mod.ts";

const [kernel, snapshot] = Deno.args;
try {
  const p = plan(
    loadRequest({ kind: "crash", kernel, append: "irqpoll nr_cpus=1 reset_devices" }),
    { systemRoot: snapshot, rngSeed: new Uint8Array(32) },
  );
  const seg = (s: PlanSegment) => ({ role: s.role, mem: "0x" + s.mem.toString(16), memsz: Number(s.memsz) });
  console.log(
    JSON.stringify({ flags: "0x" + p.flags.toString(16), cmdline: p.cmdline, segments: p.segments.map(seg) }),
  );
} catch (e) {
  if (!(e instanceof KexecError)) throw e;
  console.log(JSON.stringify({ error: e.code, message: e.message }));
  Deno.exit(1);
}
