/**
 * lib/images/pe.ts: the headers and section table of good PE files, and a one-line error naming the structure and
 * offset for every truncated or hostile header; random corruption never escapes as anything but a KexecError.
 */

import assert from "node:assert/strict";
import { bytesSource, machineName, parsePe, sectionData } from "../../../lib/images/pe.ts";
import { KexecError } from "../../../lib/errors.ts";
import { throwsKexec } from "../test_helpers.ts";
import { buildPe, sectionHeaderAt } from "./pe_fixtures.ts";

const parse = (b: Uint8Array) => parsePe(bytesSource(b), "x.efi");
const sample = () =>
  buildPe({
    sections: [{ name: ".osrel", data: "ID=x\n" }, { name: ".cmdline", data: "quiet" }, {
      name: ".linux",
      data: "K".repeat(1000),
    }],
  });

Deno.test("parsePe: headers, 8-character names without a NUL, and payloads of VirtualSize bytes", () => {
  const file = sample();
  const pe = parse(file);
  assert.equal(pe.machine, 0x8664);
  assert.equal(pe.magic, 0x20b);
  assert.equal(pe.subsystem, 10);
  assert.equal(pe.sectionTableOffset, 0x80 + 24 + 0xf0);
  assert.deepEqual(pe.sections.map((s) => s.name), [".osrel", ".cmdline", ".linux"]);
  const cmdline = pe.sections[1];
  assert.equal(cmdline.sizeOfRawData, 0x200);
  assert.equal(cmdline.virtualSize, 5);
  assert.equal(new TextDecoder().decode(sectionData(bytesSource(file), cmdline)), "quiet");
  assert.equal(sectionData(bytesSource(file), pe.sections[2]).length, 1000);
  assert.equal(machineName(0xaa64), "0xaa64 (arm64)");
});

Deno.test("parsePe: PE32 images parse too", () => {
  const pe = parse(buildPe({ magic: 0x10b, optSize: 0xe0, machine: 0x14c, sections: [{ name: ".text", data: "x" }] }));
  assert.equal(pe.magic, 0x10b);
  assert.equal(pe.machine, 0x14c);
});

Deno.test("sectionData: VirtualSize larger than SizeOfRawData reads the file bytes only; 0 is empty", () => {
  const file = buildPe({ sections: [{ name: ".bss", data: "abc", virtualSize: 0x100000 }, { name: ".z", data: "" }] });
  const pe = parse(file);
  assert.equal(sectionData(bytesSource(file), pe.sections[0]).length, 0x200);
  assert.equal(sectionData(bytesSource(file), pe.sections[1]).length, 0);
});

Deno.test("parsePe: truncated files name what ran past the end", () => {
  const file = sample();
  throwsKexec(
    () => parse(new Uint8Array(0)),
    "bad-image",
    /^x\.efi: file is 0 bytes, shorter than the 64-byte DOS header/,
  );
  throwsKexec(
    () => parse(file.subarray(0, 0x90)),
    "bad-image",
    /e_lfanew at 0x3c is 0x80: the PE header would end past/,
  );
  throwsKexec(
    () => parse(file.subarray(0, 0x100)),
    "bad-image",
    /^x\.efi: optional header at 0x98 \(112 bytes\) runs past the end of the 0x100-byte file \(truncated\?\)$/,
  );
  throwsKexec(
    () => parse(file.subarray(0, 0x1c0)),
    "bad-image",
    /^x\.efi: section table \(3 headers\) at 0x188 \(120 bytes\) runs past the end of the 0x1c0-byte file/,
  );
  const linuxAt = sectionHeaderAt(2);
  throwsKexec(
    () => parse(file.subarray(0, file.length - 0x100)),
    "bad-image",
    new RegExp(
      `^x\\.efi: PE section header 2 \\("\\.linux"\\) at 0x${
        linuxAt.toString(16)
      }: PointerToRawData 0x600 \\+ 0x3e8 bytes runs past the end of the 0x[0-9a-f]+-byte file \\(truncated\\?\\)$`,
    ),
  );
});

Deno.test("parsePe: hostile headers get one line each", () => {
  const mutate = (f: (dv: DataView, b: Uint8Array) => void) => {
    const b = sample();
    f(new DataView(b.buffer), b);
    return b;
  };
  const cases: [Uint8Array, RegExp][] = [
    [mutate((_, b) => b.set([0x7f, 0x45])), /DOS header at 0x0: magic 0x457f, expected 0x5a4d \("MZ"\): not a PE file/],
    [mutate((dv) => dv.setUint32(0x3c, 0x10, true)), /e_lfanew at 0x3c is 0x10: the PE header would overlap/],
    [
      mutate((dv) => dv.setUint32(0x3c, 0xfffffff0, true)),
      /e_lfanew at 0x3c is 0xfffffff0: the PE header would end past/,
    ],
    [mutate((_, b) => b.set([0x4e], 0x80)), /no PE signature "PE\\0\\0" at 0x80 \(e_lfanew\): a DOS executable/],
    [mutate((dv) => dv.setUint16(0x86, 0, true)), /NumberOfSections at 0x86 is 0: the image has no sections/],
    [
      mutate((dv) => dv.setUint16(0x94, 1, true)),
      /SizeOfOptionalHeader at 0x94 is 1: an image needs an optional header/,
    ],
    [
      mutate((dv) => dv.setUint16(0x98, 0x107, true)),
      /optional header magic at 0x98 is 0x107, expected 0x20b \(PE32\+\) or 0x10b/,
    ],
    [
      mutate((dv) => dv.setUint16(0x94, 0x60, true)),
      /SizeOfOptionalHeader at 0x94 is 0x60, smaller than the 0x70-byte PE32\+/,
    ],
    [
      mutate((dv) => dv.setUint32(0x98 + 108, 0x10000000, true)),
      /NumberOfRvaAndSizes at 0x104 is 268435456: .* do not fit/,
    ],
    [mutate((dv) => dv.setUint16(0x86, 0xffff, true)), /section table \(65535 headers\) at 0x188 .* runs past the end/],
    [
      mutate((dv) => {
        dv.setUint32(sectionHeaderAt(0) + 12, 0xfffff000, true);
        dv.setUint32(sectionHeaderAt(0) + 8, 0x2000, true);
      }),
      /PE section header 0 \("\.osrel"\) at 0x188: VirtualAddress 0xfffff000 \+ VirtualSize 0x2000 overflows 32 bits/,
    ],
    [
      mutate((dv) => dv.setUint32(sectionHeaderAt(1) + 20, 0xffffff00, true)),
      /PE section header 1 \("\.cmdline"\) at 0x1b0: PointerToRawData 0xffffff00 \+ 0x5 bytes runs past the end/,
    ],
  ];
  for (const [file, re] of cases) {
    throwsKexec(() => parse(file), "bad-image", /^x\.efi: /, re);
    assert.throws(() => parse(file), (e: Error) => !e.message.includes("\n"));
  }
});

Deno.test("parsePe: random corruption of the headers is either parsed or refused with a KexecError", () => {
  const good = sample();
  let seed = 0x1234567;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const b = good.slice(0, rand(4) === 0 ? rand(good.length) : good.length);
    for (let k = 0, n = 1 + rand(6); k < n; k++) b[rand(Math.min(b.length, 0x300)) || 0] = rand(256);
    try {
      const pe = parse(b);
      for (const s of pe.sections) sectionData(bytesSource(b), s);
    } catch (e) {
      assert.ok(e instanceof KexecError, `iteration ${i}: ${e}`);
      assert.equal(e.code, "bad-image");
      refused++;
    }
  }
  assert.ok(refused > 100, `only ${refused} corruptions were refused`);
});
