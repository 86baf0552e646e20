/** buildPurgatory: relocation of the embedded object and patching of its symbols. */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { KexecError } from "../../../lib/errors.ts";
import { SHF_ALLOC, SHN_ABS, SHN_UNDEF } from "../../../lib/elf/constants.ts";
import {
  R_X86_64_32,
  R_X86_64_32S,
  R_X86_64_64,
  R_X86_64_NONE,
  R_X86_64_PC32,
  R_X86_64_PLT32,
} from "../../../lib/elf/relocate.ts";
import {
  buildPurgatory,
  ENTRY64_REGS,
  ENTRY64_REGS_SIZE,
  type PurgatoryConfig,
  purgatoryLayout,
  purgatoryObject,
  SHA256_REGION_SIZE,
} from "../../../lib/purgatory/purgatory.ts";
import { PURGATORY_OBJECT, PURGATORY_OBJECT_BYTES, PURGATORY_OBJECT_SHA256 } from "../../../lib/purgatory/blob.ts";

const CONFIG: PurgatoryConfig = {
  kernelEntry: 0x1000200n,
  bootParams: 0x8b000n,
  shaRegions: [
    { start: 0x1000000n, len: 0x2a00000n },
    { start: 0x7c000000n, len: 0x3000n },
    { start: 0x8b000n, len: 0x1000n },
  ],
  digest: Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i),
  skipChecks: false,
  serialPort: 0x3f8,
};

const LOAD_ADDRESSES = [0x7f000000n, 0x1_2345_6000n];

Deno.test("blob.ts: size and SHA-256 constants match the embedded bytes", () => {
  assert.equal(PURGATORY_OBJECT.length, PURGATORY_OBJECT_BYTES);
  assert.equal(createHash("sha256").update(PURGATORY_OBJECT).digest("hex"), PURGATORY_OBJECT_SHA256);
});

Deno.test("purgatoryLayout: sizes independent of the load address, stack included in memsz", () => {
  const layout = purgatoryLayout();
  assert.ok(layout.bufLen > 0);
  assert.ok(layout.memsz >= BigInt(layout.bufLen) + 16384n, "memsz covers the 16 KiB stack");
  assert.ok(layout.align >= 16n && (layout.align & (layout.align - 1n)) === 0n);
  for (const load of LOAD_ADDRESSES) {
    const built = buildPurgatory(load, CONFIG);
    assert.equal(built.buf.length, layout.bufLen);
    assert.equal(built.memsz, layout.memsz);
    assert.ok(built.memsz >= BigInt(built.buf.length));
  }
});

for (const load of LOAD_ADDRESSES) {
  Deno.test(`buildPurgatory at 0x${load.toString(16)}: entry and patched symbols`, () => {
    const built = buildPurgatory(load, CONFIG);
    const { image } = built;
    const start = image.symbols.get("purgatory_start")!;
    assert.equal(built.entry, start.addr);
    assert.ok(start.addr >= load && start.addr < load + BigInt(built.buf.length));

    const view = new DataView(built.buf.buffer, built.buf.byteOffset, built.buf.byteLength);
    const offsetOf = (name: string) => {
      const symbol = image.symbols.get(name)!;
      assert.equal(symbol.addr, load + symbol.offset!, name);
      return Number(symbol.offset);
    };

    const regions = offsetOf("sha256_regions");
    for (let i = 0; i < 16; i++) {
      const region = CONFIG.shaRegions[i] ?? { start: 0n, len: 0n };
      assert.equal(view.getBigUint64(regions + i * SHA256_REGION_SIZE, true), region.start, `region ${i} start`);
      assert.equal(view.getBigUint64(regions + i * SHA256_REGION_SIZE + 8, true), region.len, `region ${i} len`);
    }
    const digest = offsetOf("sha256_digest");
    assert.deepEqual(built.buf.subarray(digest, digest + 32), CONFIG.digest);
    assert.equal(built.buf[offsetOf("skip_checks")], 0);
    assert.equal(view.getUint16(offsetOf("serial_port"), true), 0x3f8);

    const regs = offsetOf("entry64_regs");
    for (const [name, at] of Object.entries(ENTRY64_REGS)) {
      const expected = name === "rsi" ? CONFIG.bootParams : name === "rip" ? CONFIG.kernelEntry : 0n;
      assert.equal(view.getBigUint64(regs + at, true), expected, name);
    }
    assert.equal(ENTRY64_REGS.rip + 8, ENTRY64_REGS_SIZE);
  });

  Deno.test(`buildPurgatory at 0x${load.toString(16)}: every relocation field holds its resolved value`, () => {
    const obj = purgatoryObject();
    const built = buildPurgatory(load, CONFIG);
    const view = new DataView(built.buf.buffer);
    const sectionAddr = (index: number) => load + built.image.layout.sectionOffsets.get(index)!;
    let checked = 0;
    for (const table of obj.relaTables) {
      if ((obj.sections[table.target].flags & SHF_ALLOC) === 0n) continue;
      const symbols = obj.symbolTables.find((t) => t.section === table.symtab)!.symbols;
      for (const rela of table.entries) {
        const symbol = symbols[rela.sym];
        assert.notEqual(symbol.shndx, SHN_UNDEF, `relocation against undefined ${symbol.name}`);
        const s = symbol.shndx === SHN_ABS ? symbol.value : sectionAddr(symbol.shndx) + symbol.value;
        const p = sectionAddr(table.target) + rela.offset;
        const at = Number(p - load);
        switch (rela.type) {
          case R_X86_64_64:
            assert.equal(view.getBigUint64(at, true), s + rela.addend);
            break;
          case R_X86_64_PC32:
          case R_X86_64_PLT32:
            assert.equal(BigInt(view.getInt32(at, true)), s + rela.addend - p);
            break;
          case R_X86_64_32:
            assert.equal(BigInt(view.getUint32(at, true)), s + rela.addend);
            break;
          case R_X86_64_32S:
            assert.equal(BigInt(view.getInt32(at, true)), s + rela.addend);
            break;
          case R_X86_64_NONE:
            break;
          default:
            assert.fail(`purgatory has relocation type ${rela.type}`);
        }
        checked++;
      }
    }
    assert.ok(checked > 10, `only ${checked} relocations`);
  });
}

Deno.test("buildPurgatory: skipChecks, silent serial, stackTop, fresh buffers", () => {
  const a = buildPurgatory(0x7f000000n, { ...CONFIG, skipChecks: true, serialPort: 0, stackTop: 0x9000n });
  const b = buildPurgatory(0x7f000000n, CONFIG);
  const offset = (name: string) => Number(a.image.symbols.get(name)!.offset);
  assert.equal(a.buf[offset("skip_checks")], 1);
  assert.equal(a.buf[offset("serial_port")] | a.buf[offset("serial_port") + 1], 0);
  const regs = offset("entry64_regs");
  assert.equal(new DataView(a.buf.buffer).getBigUint64(regs + ENTRY64_REGS.rsp, true), 0x9000n);
  assert.notEqual(a.buf, b.buf);
  assert.equal(b.buf[offset("skip_checks")], 0);
});

Deno.test("buildPurgatory: bad configurations and load addresses are relocation errors", () => {
  const rejects = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof KexecError && e.code === "relocation" && pattern.test(e.message));
  const region = { start: 0x100000n, len: 0x1000n };
  rejects(
    () => buildPurgatory(0x7f000000n, { ...CONFIG, shaRegions: Array(17).fill(region) }),
    /^purgatory: 17 regions to hash, but sha256_regions holds 16$/,
  );
  rejects(
    () => buildPurgatory(0x7f000000n, { ...CONFIG, shaRegions: [{ start: 0x1000n, len: 0n }] }),
    /^purgatory: region 0 \(start 0x1000, len 0x0\) is empty/,
  );
  rejects(
    () => buildPurgatory(0x7f000000n, { ...CONFIG, digest: new Uint8Array(31) }),
    /^purgatory: digest is 31 bytes, expected 32$/,
  );
  rejects(
    () => buildPurgatory(0x7f000000n, { ...CONFIG, serialPort: 0x10000 }),
    /^purgatory: serial port 65536 is not a 16-bit I\/O port$/,
  );
  rejects(() => buildPurgatory(0x7f000008n, CONFIG), /^load address 0x7f000008 is not a multiple of/);
});
