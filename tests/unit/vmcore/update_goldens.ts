/**
 * Writes the golden outputs of the vmcore-dmesg fixtures from the real kexec-tools binary (Debian's
 * kexec-tools 2.0.25, /usr/sbin/vmcore-dmesg): for each fixture its stdout (tests/fixtures/vmcore/golden/NAME.stdout)
 * and, in goldens.json, its exit status and the SHA-256 of the core it was made from (so a changed fixture
 * generator is noticed). Also writes the two small cores the API examples read.
 *
 *   deno run -A tests/unit/vmcore/update_goldens.ts
 *
 * @module
 */

import { createHash } from "node:crypto";
import { coreBytes } from "./core_builder.ts";
import { FIXTURES } from "./fixtures.ts";
import { GOLDEN_DIR, PEER, runPeer } from "./peer.ts";

if (import.meta.main) {
  Deno.mkdirSync(`${GOLDEN_DIR}/golden`, { recursive: true });
  const index: Record<string, { coreSha256: string; rc: number }> = {};
  for (const f of FIXTURES) {
    const core = coreBytes(f.build());
    const sha = createHash("sha256").update(core).digest("hex");
    if (f.peer === false) {
      index[f.name] = { coreSha256: sha, rc: f.rc! };
      continue;
    }
    const r = runPeer(core);
    Deno.writeFileSync(`${GOLDEN_DIR}/golden/${f.name}.stdout`, r.stdout);
    index[f.name] = { coreSha256: sha, rc: r.rc };
    console.log(`${f.name}: rc ${r.rc}, ${r.stdout.length} bytes`);
  }
  Deno.writeTextFileSync(`${GOLDEN_DIR}/goldens.json`, JSON.stringify({ peer: PEER, fixtures: index }, null, 2) + "\n");
  for (const name of ["lockless", "structured"]) {
    Deno.writeFileSync(`${GOLDEN_DIR}/${name}.core`, coreBytes(FIXTURES.find((f) => f.name === name)!.build()));
  }
}
