/**
 * The ACPI table upgrade the VM harness uses for CPU hot-add (scripts/vm/acpi.ts): revisions, Online Capable
 * bits on disabled entries only, bumped OEM revision, valid checksums.
 */

import assert from "node:assert/strict";
import { patchFadt, patchMadt } from "../../../../scripts/vm/acpi.ts";

const sum = (t: Uint8Array) => t.reduce((a, b) => (a + b) & 0xff, 0);

function table(sig: string, length: number, revision: number): Uint8Array {
  const t = new Uint8Array(length);
  t.set(new TextEncoder().encode(sig));
  new DataView(t.buffer).setUint32(4, length, true);
  t[8] = revision;
  new DataView(t.buffer).setUint32(24, 1, true); // OEM revision
  return t;
}

Deno.test("patchFadt: revision 6.3, OEM revision + 1, checksum zero", () => {
  const fadt = table("FACP", 244, 3);
  const out = patchFadt(fadt);
  assert.equal(out[8], 6);
  assert.equal(out[131], 3);
  assert.equal(new DataView(out.buffer).getUint32(24, true), 2);
  assert.equal(sum(out), 0);
  assert.equal(fadt[8], 3, "input untouched");
  assert.throws(() => patchFadt(table("FACP", 116, 1)), /too short/);
});

Deno.test("patchMadt: Online Capable on disabled LAPIC and x2APIC entries only, revision 5, checksum zero", () => {
  const madt = table("APIC", 44 + 8 * 3 + 16, 1);
  const dv = new DataView(madt.buffer);
  const lapic = (off: number, id: number, flags: number) => {
    madt.set([0, 8, id, id], off);
    dv.setUint32(off + 4, flags, true);
  };
  lapic(44, 0, 1);
  lapic(52, 1, 1);
  lapic(60, 2, 0);
  madt.set([9, 16], 68);
  dv.setUint32(68 + 8, 0, true);
  const { table: out, marked } = patchMadt(madt);
  const odv = new DataView(out.buffer);
  assert.equal(marked, 2);
  assert.equal(out[8], 5);
  assert.equal(odv.getUint32(48, true), 1, "enabled CPU 0 unchanged");
  assert.equal(odv.getUint32(56, true), 1, "enabled CPU 1 unchanged");
  assert.equal(odv.getUint32(64, true), 2, "disabled LAPIC gets Online Capable");
  assert.equal(odv.getUint32(76, true), 2, "disabled x2APIC gets Online Capable");
  assert.equal(sum(out), 0);
  madt[45] = 0;
  assert.throws(() => patchMadt(madt), /has length 0/);
});
