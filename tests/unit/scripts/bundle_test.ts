/**
 * `deno task bundle` (scripts/deb/bundle.ts): the one-file bundle behaves as main.ts. Both run as programs, the
 * bundle as the Debian package's launcher runs it (--no-config, from another directory): the same --help and
 * --version, the same plans (--json, against the saved machines, for the golden cases) up to the bytes that come
 * from the random seed, the same status of a saved machine, the same errors with the same exit status.
 */

import assert from "node:assert/strict";
import { bundleTo, ROOT } from "../../../scripts/deb/bundle.ts";
import { syntheticBzImage, syntheticInitrd } from "../load/golden_fixtures.ts";
import { machineDir } from "../test_helpers.ts";

const tmp = Deno.makeTempDirSync({ prefix: "kexec-ts-bundle-" });
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));
const BUNDLE = `${tmp}/kexec-ts.js`;
const KERNEL = `${tmp}/bzImage`;
const INITRD = `${tmp}/initrd.img`;
Deno.writeFileSync(KERNEL, syntheticBzImage());
Deno.writeFileSync(INITRD, syntheticInitrd());
let built = false;

interface Ran {
  rc: number;
  out: string;
  err: string;
}

const decoder = new TextDecoder();

/** Runs kexec-ts from the source tree (main.ts) or from the bundle, the way each is run as a program. */
function kexecTs(from: "source" | "bundle", ...args: string[]): Ran {
  if (from === "bundle" && !built) {
    bundleTo(BUNDLE);
    built = true;
  }
  const program = from === "source"
    ? ["run", "--allow-all", "--quiet", `${ROOT}main.ts`]
    : ["run", "--quiet", "--no-config", "--no-lock", "--no-remote", "--no-npm", "--allow-all", BUNDLE];
  const r = new Deno.Command(Deno.execPath(), {
    args: [...program, ...args],
    cwd: tmp,
    env: { KEXEC_TS_RUN_DIR: `${tmp}/run`, KEXEC_TS_LAUNCHER: "/usr/sbin/kexec-ts" },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  return { rc: r.code, out: decoder.decode(r.stdout), err: decoder.decode(r.stderr) };
}

function same(...args: string[]): Ran {
  const s = kexecTs("source", ...args);
  const b = kexecTs("bundle", ...args);
  assert.deepEqual(b, s, `kexec-ts ${args.join(" ")}`);
  return s;
}

/** A plan without what the random seed decides: SETUP_RNG_SEED in boot_params, and so the digest in purgatory. */
function seedless(json: string): unknown {
  const plan = JSON.parse(json);
  for (const s of plan.segments) if (s.role === "boot-params" || s.role === "purgatory") delete s.sha256;
  delete plan.digest;
  return plan;
}

Deno.test("the bundle is one file that imports nothing", () => {
  kexecTs("bundle", "--version");
  const text = Deno.readTextFileSync(BUNDLE);
  const imports = [...text.matchAll(/^\s*import\b.*?from\s+"([^"]+)"/gm)].map((m) => m[1]);
  assert.ok(imports.every((i) => i.startsWith("node:")), `imports ${imports.join(", ")}`);
  assert.ok(!/await import\("\.{1,2}\//.test(text), "no dynamic import of a relative file");
});

Deno.test("bundle and source: the same --help, --version and udev rule", () => {
  assert.match(same("--help").out, /^kexec-ts \d+\.\d+\.\d+: /);
  assert.match(same("--version").out, /^kexec-ts \d+\.\d+\.\d+\n$/);
  assert.match(same("udev-rules").out, /\/usr\/sbin\/kexec-ts reload/);
});

Deno.test("bundle and source: the same plans of the golden cases, up to the random seed", () => {
  const crash = `--system-root=${machineDir("qemu-q35-2g-crash256m")}`;
  const nocrash = `--system-root=${machineDir("qemu-q35-2g-nocrash")}`;
  const cases = [
    [nocrash, KERNEL, `--initrd=${INITRD}`, "--append=console=ttyS0 root=/dev/vda"],
    [crash, KERNEL, `--initrd=${INITRD}`, "--append=console=ttyS0 root=/dev/vda"],
    [crash, "-p", KERNEL, `--initrd=${INITRD}`, "--append=console=ttyS0 root=/dev/vda"],
    [crash, "-p", "--no-hotplug", "--reuse-cmdline", KERNEL],
    [nocrash, "--mem-min=0x2000000", "--mem-max=0x3fffffff", "-i", "--console-serial", KERNEL, `--initrd=${INITRD}`],
  ];
  for (const c of cases) {
    const s = kexecTs("source", "plan", "--json", ...c);
    const b = kexecTs("bundle", "plan", "--json", ...c);
    assert.equal(s.rc, 0, s.err);
    assert.deepEqual([b.rc, b.err], [s.rc, s.err]);
    assert.deepEqual(seedless(b.out), seedless(s.out), c.join(" "));
  }
});

Deno.test("bundle and source: the same status of a saved machine, and the same errors", () => {
  same("status", "--json", `--system-root=${machineDir("qemu-q35-2g-crash256m")}`);
  assert.equal(same("--no-such-option").rc, 1);
  assert.equal(same("plan", "-p", "--system-root=/nonexistent", "/nonexistent").rc, 1);
  assert.equal(same("plan", `--initrd=${tmp}/missing`, KERNEL).rc, 1);
  assert.equal(same("--entry=0x1000", KERNEL).rc, 1);
});
