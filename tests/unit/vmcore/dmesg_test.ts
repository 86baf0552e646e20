/**
 * vmcore-dmesg against kexec-tools 2.0.25's: byte-identical stdout and the same exit status on every synthetic
 * dump (the golden outputs were made by the real binary, tests/unit/vmcore/update_goldens.ts), on random rings and
 * logs compared with the live binary, and on a 64 GiB sparse dump of which it reads only the log.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { concatBytes } from "../../../lib/bytes.ts";
import { KexecError } from "../../../lib/errors.ts";
import { writeDmesg } from "../../../lib/vmcore/dmesg.ts";
import { type CoreSource, memoryCoreSource, openCoreFile } from "../../../lib/vmcore/source.ts";
import { type Arch, coreBytes, type CoreImage, I386, S390X, writeSparseCore, X86_64 } from "./core_builder.ts";
import { pieceSource } from "./dump_builder.ts";
import { CORNER_RECORDS, FIXTURES } from "./fixtures.ts";
import { legacyCore, structuredCore } from "./log_buf_builder.ts";
import { GOLDEN_DIR, runPeer } from "./peer.ts";
import { ringCore, type RingRecord } from "./ring_builder.ts";

/** Runs kexec-ts' vmcore-dmesg: stdout bytes, exit status (0 or the error's), the error message and warnings. */
export function ours(src: CoreSource): { stdout: Uint8Array; rc: number; message?: string; warnings: string[] } {
  const parts: Uint8Array[] = [];
  const warnings: string[] = [];
  let rc = 0, message: string | undefined;
  try {
    writeDmesg(src, (b) => parts.push(b.slice()), (w) => warnings.push(w));
  } catch (e) {
    if (!(e instanceof KexecError)) throw e;
    rc = e.exitCode;
    message = e.message;
  }
  return { stdout: concatBytes(parts), rc, message, warnings };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const goldens = JSON.parse(Deno.readTextFileSync(`${GOLDEN_DIR}/goldens.json`)) as {
  fixtures: Record<string, { coreSha256: string; rc: number }>;
};

Deno.test("every golden fixture: same stdout bytes and exit status as kexec-tools' vmcore-dmesg, one-line errors", () => {
  for (const f of FIXTURES) {
    const core = coreBytes(f.build());
    const g = goldens.fixtures[f.name];
    assert.ok(g, `${f.name}: no golden (run tests/unit/vmcore/update_goldens.ts)`);
    assert.equal(createHash("sha256").update(core).digest("hex"), g.coreSha256, `${f.name}: the generator changed`);
    const r = ours(memoryCoreSource(core, f.name));
    assert.equal(r.rc, g.rc, `${f.name}: exit status (${r.message})`);
    if (f.peer !== false) {
      const want = Deno.readFileSync(`${GOLDEN_DIR}/golden/${f.name}.stdout`);
      assert.equal(text(r.stdout), text(want), `${f.name}: stdout`);
      assert.deepEqual(r.stdout, want, `${f.name}: stdout bytes`);
    }
    if (r.rc) assert.match(r.message ?? "", /^[^\n]{10,}$/, `${f.name}: one-line message`);
  }
});

Deno.test("an invalid NUMBER(PHYS_OFFSET)= is a warning, and the rest of that note is ignored, as kexec-tools does", () => {
  const r = ours(memoryCoreSource(coreBytes(FIXTURES.find((f) => f.name === "phys-offset-invalid")!.build())));
  assert.equal(r.rc, 0);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0], /NUMBER\(PHYS_OFFSET\)=zz/);
});

/** A deterministic random source. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0) / 2 ** 32;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)],
  };
}

function randomText(r: ReturnType<typeof rng>, max: number): Uint8Array {
  const b = new Uint8Array(r.int(max));
  for (let i = 0; i < b.length; i++) b[i] = r.next() < 0.7 ? 0x20 + r.int(95) : r.int(256);
  return b;
}

function randomRing(r: ReturnType<typeof rng>): CoreImage {
  const arch: Arch = r.pick([X86_64, S390X, I386, { ...X86_64, pointerBytes: 4, machine: 3 } as Arch]);
  const records: RingRecord[] = Array.from({ length: r.int(90) }, () => {
    const roll = r.next();
    return {
      tsNsec: r.next() < 0.05
        ? BigInt.asUintN(64, BigInt(Math.floor(r.next() * 2 ** 53)) << 11n)
        : BigInt(r.int(2 ** 31)) * 1117n,
      text: randomText(r, 160),
      dataless: roll < 0.04 ? "failed" : roll < 0.08 ? "empty" : undefined,
      state: roll > 0.97 ? r.int(4) : undefined,
      idMismatch: roll > 0.95 && roll <= 0.96,
      textLen: roll > 0.93 && roll <= 0.95 ? r.int(400) : undefined,
    };
  });
  return ringCore({ arch, countBits: 3 + r.int(5), sizeBits: 10 + r.int(4), records, dynamic: r.next() < 0.5 });
}

function randomStructured(r: ReturnType<typeof rng>): CoreImage {
  const arch = r.pick([X86_64, S390X]);
  const logBufLen = 512 + 8 * r.int(500);
  const records = Array.from({ length: r.int(80) }, () => ({
    tsNsec: BigInt(r.int(2 ** 31)) * 3331n,
    text: randomText(r, 120),
    dict: r.next() < 0.2 ? "SUBSYSTEM=x" : undefined,
  }));
  return structuredCore({ arch, logBufLen, startIdx: 8 * r.int(logBufLen / 16), records });
}

Deno.test("random rings and logs (every byte value, states, wraps, widths, byte orders): byte-identical to the live kexec-tools", () => {
  const r = rng(20261130);
  for (let i = 0; i < 60; i++) {
    const kind = i % 3 === 2 ? "structured" : "lockless";
    const core = coreBytes(kind === "lockless" ? randomRing(r) : randomStructured(r));
    const peer = runPeer(core);
    const got = ours(memoryCoreSource(core));
    assert.equal(got.rc, peer.rc, `case ${i} (${kind}): exit status; kexec-tools said ${peer.stderr}`);
    assert.deepEqual(got.stdout, peer.stdout, `case ${i} (${kind}): stdout differs`);
  }
});

Deno.test("legacy buffers of every fill level: byte-identical to the live kexec-tools", () => {
  const r = rng(7);
  for (let i = 0; i < 8; i++) {
    const buffer = randomText(r, 300);
    if (!buffer.length) continue;
    const core = coreBytes(legacyCore({ arch: X86_64, buffer, logEnd: r.int(3 * buffer.length) }));
    assert.deepEqual(ours(memoryCoreSource(core)).stdout, runPeer(core).stdout, `case ${i}`);
  }
});

Deno.test("a 64 GiB dump: reads only its headers and the log, whatever the dump's size", () => {
  const big = (gib: bigint) =>
    ringCore({
      arch: X86_64,
      countBits: 5,
      sizeBits: 12,
      records: CORNER_RECORDS,
      extras: { moreSegments: [{ vaddr: 0xffff888100000000n, paddr: 0x100000000n, memsz: gib << 30n, content: [] }] },
    });
  const small = pieceSource(big(1n)), huge = pieceSource(big(64n));
  const a = ours(small), b = ours(huge);
  assert.equal(b.rc, 0);
  assert.deepEqual(a.stdout, b.stdout);
  assert.equal(huge.bytesRead, small.bytesRead, "bytes read grew with the dump");
  // Headers, notes, the prb pointer and ring buffer, 32 descriptors and infos, the 4 KiB text ring: 9448 bytes.
  assert.ok(huge.bytesRead < 10 * 1024, `read ${huge.bytesRead} bytes`);
  assert.ok(huge.reads <= 10, `${huge.reads} reads`);
  // And through a real file descriptor on a sparse file.
  const path = Deno.makeTempFileSync({ suffix: ".core" });
  try {
    writeSparseCore(path, big(64n));
    const src = openCoreFile(path);
    const t0 = performance.now();
    const c = ours(src);
    const ms = performance.now() - t0;
    src.close();
    assert.deepEqual(c.stdout, a.stdout);
    assert.equal(src.bytesRead, small.bytesRead);
    assert.ok(ms < 2000, `${ms} ms`);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("the errors name what is missing", () => {
  const msg = (name: string) =>
    ours(memoryCoreSource(coreBytes(FIXTURES.find((f) => f.name === name)!.build()), "dump")).message;
  assert.match(
    msg("prb-unmapped")!,
    /no program header maps the prb pointer \(SYMBOL\(prb\)\) at virtual address 0xffff888012345678/,
  );
  assert.match(msg("truncated-in-ram")!, /the descriptor ring .* past the end of the file .*truncated dump/);
  assert.match(msg("no-vmcoreinfo")!, /has no VMCOREINFO note/);
  assert.match(msg("lockless-without-offset")!, /lacks OFFSET\(prb_desc\.text_blk_lpos\)/);
  assert.match(msg("lockless-head-unreachable")!, /ring buffer is corrupt: head id 0x5 is not within 32 descriptors/);
  assert.match(msg("structured-without-ts")!, /lacks OFFSET\(printk_log\.ts_nsec\)/);
  assert.match(msg("bad-magic")!, /not an ELF core/);
});

Deno.test("a legacy log_buf_len past any log is refused before a buffer that size is allocated", () => {
  const img = legacyCore({
    arch: X86_64,
    buffer: new TextEncoder().encode("abc\n"),
    logEnd: 4,
    override: { logBufLen: 0x7fff0000 },
  });
  const r = ours(pieceSource(img));
  assert.equal(r.rc, 51);
  assert.match(r.message!, /^log_buf_len is 2147418112 bytes, more than any kernel's log: the dump is corrupt$/);
});
