/**
 * The one-file bundle (`deno task bundle`) on a real kernel: the guest runs kexec-ts as the Debian package lays it
 * out (launcher, bundle, Deno) for the load-exec scenario, and the second kernel boots with our command line and
 * initrd. The same boot times the start-up of the bundle and of the source tree, interleaved (--version and the
 * plan of a -l load), and compares their help.
 */

import assert from "node:assert/strict";
import { STAGE2_MARKER } from "../../scripts/vm/images.ts";
import { block, boot, check, expectRc, hasMarker, marker, type Run } from "./harness.ts";
import { testBundle } from "./ship.ts";

function medianMs(run: Run, key: string): number {
  const v = (run.markers.get(`${key}.ms`) ?? []).map((m) => Number(m.value)).sort((a, b) => a - b);
  check(run, v.length > 0, `no ${key}.ms markers`);
  return v[Math.floor(v.length / 2)];
}

Deno.test("the bundle, laid out as the package installs it, loads and boots a kernel (-l, -e)", async () => {
  const run = await boot("startup-bundle+load-exec", { bundle: testBundle() });
  assert.equal(block(run, "bundle-help"), block(run, "source-help"));
  for (const k of ["bundle-version", "source-version", "bundle-plan", "source-plan"]) expectRc(run, k, 0);
  expectRc(run, "load", 0);
  assert.match(block(run, "load"), /^kexec_load: entry = 0x[0-9a-f]+ flags = 0x3e0000\nnr_segments = 4\n/);
  check(run, hasMarker(run, "stage2.boot"), "the kexec'd kernel never reached its init");
  assert.equal(marker(run, "stage2.cmdline"), "console=ttyS0 panic=-1 kts.marker=ours-load-exec");
  assert.equal(marker(run, "stage2.marker"), STAGE2_MARKER);
  check(run, !hasMarker(run, "exec-returned"), "kexec -e returned to the first kernel");
  const m = Object.fromEntries(
    ["bundle-version", "source-version", "bundle-plan", "source-plan"].map((k) => [k, medianMs(run, k)]),
  );
  console.log(
    `start-up in the guest (median of 5, ms): --version bundle ${m["bundle-version"]} source ${m["source-version"]}` +
      ` (ratio ${(m["bundle-version"] / m["source-version"]).toFixed(2)}); plan bundle ${m["bundle-plan"]} source ` +
      `${m["source-plan"]} (ratio ${(m["bundle-plan"] / m["source-plan"]).toFixed(2)})`,
  );
});
