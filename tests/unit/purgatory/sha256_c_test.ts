/**
 * The purgatory's SHA-256 (purgatory/sha256.c and, with the SHA extensions, purgatory/sha256_ni.c), compiled for the
 * host with the purgatory's own compiler flags (scripts/build-purgatory --print-cflags, --print-sse-cflags) plus
 * tests/fixtures/purgatory/sha256_harness.c, against node:crypto. Needs gcc; without it this test FAILS (it never
 * skips): the purgatory is the last check before a new kernel. The SHA-extension path runs where the host CPU has
 * them (a CPU without them reports that case as ignored); the VM test under QEMU 10 (tests/vm/shani_test.ts) runs
 * it in purgatory itself on any host.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";

const ROOT = new URL("../../../", import.meta.url).pathname;
const decoder = new TextDecoder();

async function run(cmd: string, args: string[], stdin?: Uint8Array): Promise<string> {
  let child;
  try {
    child = new Deno.Command(cmd, { args, stdin: stdin ? "piped" : "null", stdout: "piped", stderr: "piped" })
      .spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `${cmd} not found: this test compiles purgatory/sha256.c for the host; install gcc (apt-get install gcc)`,
      );
    }
    throw e;
  }
  if (stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${decoder.decode(out.stderr)}`);
  }
  return decoder.decode(out.stdout);
}

async function buildHarness(dir: string): Promise<string> {
  const cflags = (await run(`${ROOT}scripts/build-purgatory`, ["--print-cflags"])).trim().split("\n");
  const sseCflags = (await run(`${ROOT}scripts/build-purgatory`, ["--print-sse-cflags"])).trim().split("\n");
  await run("gcc", [...cflags, "-c", `${ROOT}purgatory/sha256.c`, "-o", `${dir}/sha256.o`]);
  await run("gcc", [...sseCflags, "-c", `${ROOT}purgatory/sha256_ni.c`, "-o", `${dir}/sha256_ni.o`]);
  const harness = `${dir}/sha256_harness`;
  await run("gcc", [
    "-O2",
    "-no-pie",
    `-I${ROOT}purgatory`,
    `${ROOT}tests/fixtures/purgatory/sha256_harness.c`,
    `${dir}/sha256.o`,
    `${dir}/sha256_ni.o`,
    "-o",
    harness,
  ]);
  return harness;
}

/** Deterministic pseudo-random bytes (xorshift32). */
function noise(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

const sha256Hex = (...slices: Uint8Array[]) => {
  const hash = createHash("sha256");
  for (const slice of slices) hash.update(slice);
  return hash.digest("hex");
};

/** Whether this host's CPU has the SHA extensions (and SSSE3, SSE4.1) that sha256_ni.c executes. */
const HOST_SHA_NI = (() => {
  // Through grep: Deno wants --allow-all to read /proc/cpuinfo itself.
  const line = new Deno.Command("grep", { args: ["-m1", "^flags", "/proc/cpuinfo"], stdout: "piped" }).outputSync();
  const flags = new TextDecoder().decode(line.stdout).split(/\s+/);
  return ["sha_ni", "ssse3", "sse4_1"].every((f) => flags.includes(f));
})();

async function checkAgainstNodeCrypto(t: Deno.TestContext, impl: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "kexec-ts-sha256-" });
  try {
    const harness = await buildHarness(dir);

    for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 1 << 20]) {
      await t.step(`one region of ${length} bytes`, async () => {
        const input = noise(length, length + 1);
        const got = (await run(harness, [...impl, ...(length === 0 ? [] : [`0:${length}`])], input)).trim();
        assert.equal(got, sha256Hex(input));
      });
    }

    // Regions in memory order or not, with gaps, unused (len 0) entries in the middle, boundaries that split
    // 64-byte blocks in every way; the digest is over the regions' bytes, in array order.
    const input = noise((1 << 20) + 4096, 99);
    const cases: [number, number][][] = [
      [[0, 1], [1, 55], [56, 0], [56, 64], [120, 1000]],
      [[5000, 63], [0, 65], [70000, 1 << 19]],
      [[0, 0], [100, 0], [3, 3]],
      Array.from({ length: 16 }, (_, i) => [i * 4096 + i, 64 * i + (i % 3)] as [number, number]),
      [[4096, 1 << 20]],
      [[1, 64 * 1000 + 7], [7, 129]], // unaligned starts, many whole blocks at once
    ];
    for (const regions of cases) {
      await t.step(`regions ${regions.map(([o, l]) => `${o}:${l}`).join(" ").slice(0, 60)}`, async () => {
        const got = (await run(harness, [...impl, ...regions.map(([o, l]) => `${o}:${l}`)], input)).trim();
        assert.equal(got, sha256Hex(...regions.map(([o, l]) => input.subarray(o, o + l))));
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("purgatory SHA-256, portable, matches node:crypto", (t) => checkAgainstNodeCrypto(t, []));

Deno.test({
  name: `purgatory SHA-256 with the SHA extensions matches node:crypto${HOST_SHA_NI ? "" : " (this CPU lacks them)"}`,
  ignore: !HOST_SHA_NI,
  fn: (t) => checkAgainstNodeCrypto(t, ["--shani"]),
});
