/**
 * Inputs and the serialisation of the golden-plan tests: a small synthetic bzImage and initrd (deterministic, so the
 * goldens do not depend on which Debian kernel the setup script fetched), and a plan written as JSON with every
 * segment's SHA-256. Goldens live in tests/fixtures/golden/; `UPDATE_GOLDEN=1` rewrites them.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BOOT_RST as O } from "../test_helpers.ts";

/** Deterministic bytes: an LCG stream. */
export function lcgBytes(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = seed >>> 0;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/**
 * A protocol 2.15 relocatable 64-bit bzImage: 3 setup sectors, a 60 KiB "protected-mode kernel" of pseudo-random
 * bytes, init_size 24 MiB, kernel_alignment 2 MiB, pref_address 16 MiB, cmdline_size 2047. Not bootable; every
 * field the loaders read is plausible.
 */
export function syntheticBzImage(opts: { xloadflags?: number; initSize?: number } = {}): Uint8Array {
  const setupSects = 3;
  const kernelOffset = (setupSects + 1) * 512;
  const kernelLen = 60 * 1024;
  const file = new Uint8Array(kernelOffset + kernelLen);
  file.set(lcgBytes(kernelLen, 0x1234), kernelOffset);
  const dv = new DataView(file.buffer);
  dv.setUint8(O.setup_sects, setupSects);
  dv.setUint32(O.syssize, kernelLen / 16, true);
  dv.setUint16(O.boot_flag, 0xaa55, true);
  dv.setUint8(O.jump, 0xeb);
  dv.setUint8(O.jump + 1, 0x6a); // header ends at 0x26c (protocol 2.15)
  dv.setUint32(O.header, 0x53726448, true); // "HdrS"
  dv.setUint16(O.version, 0x020f, true);
  dv.setUint8(O.loadflags, 0x01); // LOADED_HIGH
  dv.setUint32(O.initrd_addr_max, 0x7fffffff, true);
  dv.setUint32(O.kernel_alignment, 0x200000, true);
  dv.setUint8(O.relocatable_kernel, 1);
  dv.setUint8(O.min_alignment, 21);
  dv.setUint16(O.xloadflags, opts.xloadflags ?? 0x7f, true); // KERNEL_64 | ABOVE_4G | EFI handovers | 5LEVEL
  dv.setUint32(O.cmdline_size, 2047, true);
  dv.setUint32(O.payload_offset, 0x400, true);
  dv.setUint32(O.payload_length, 0x8000, true);
  dv.setBigUint64(O.pref_address, 0x1000000n, true);
  dv.setUint32(O.init_size, opts.initSize ?? 0x1800000, true);
  return file;
}

/** The synthetic initrd of the goldens: 1 MiB + 123 bytes. */
export function syntheticInitrd(): Uint8Array {
  return lcgBytes(0x100000 + 123, 0x77);
}

/** What a golden records of a plan. */
export interface PlanLike {
  kind: string;
  loader: string;
  entry: bigint;
  flags: bigint;
  cmdline: string;
  kernelEntry: bigint;
  bootParams: bigint;
  hotplug: boolean;
  segments: readonly { role: string; buf: Uint8Array; mem: bigint; memsz: bigint }[];
  shaRegions: readonly { start: bigint; len: bigint }[];
  digest: Uint8Array;
  notes: readonly string[];
  firmware?: unknown;
}

const h = (v: bigint) => "0x" + v.toString(16);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/**
 * A plan as stable JSON text: addresses in hex, every buffer as its length and SHA-256; with `firmware`, also what
 * the plan says it hands over about the firmware (the EFI goldens; the older goldens predate the field).
 */
export function planGoldenText(plan: PlanLike, opts: { firmware?: boolean } = {}): string {
  return JSON.stringify(
    {
      kind: plan.kind,
      loader: plan.loader,
      entry: h(plan.entry),
      flags: h(plan.flags),
      cmdline: plan.cmdline,
      kernelEntry: h(plan.kernelEntry),
      bootParams: h(plan.bootParams),
      hotplug: plan.hotplug,
      segments: plan.segments.map((s) => ({
        role: s.role,
        mem: h(s.mem),
        memsz: h(s.memsz),
        bufsz: s.buf.length,
        sha256: sha(s.buf),
      })),
      shaRegions: plan.shaRegions.map((r) => ({ start: h(r.start), len: h(r.len) })),
      digest: [...plan.digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
      notes: plan.notes,
      ...(opts.firmware ? { firmware: plan.firmware ?? null } : {}),
    },
    null,
    2,
  ) + "\n";
}

/** Compares `text` with the golden `name`, or writes it when UPDATE_GOLDEN=1. */
export function assertGolden(name: string, text: string): void {
  const path = new URL(`../../fixtures/golden/${name}`, import.meta.url).pathname;
  if (Deno.env.get("UPDATE_GOLDEN") === "1") {
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(path, text);
    return;
  }
  let want: string;
  try {
    want = Deno.readTextFileSync(path);
  } catch {
    throw new Error(`golden ${path} is missing; create it with UPDATE_GOLDEN=1 (and review it)`);
  }
  assert.equal(text, want, `plan differs from golden ${name}`);
}
