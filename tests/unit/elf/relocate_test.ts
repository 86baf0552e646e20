/**
 * x86_64 ET_REL relocator, over tests/fixtures/reloc/reloc.o (built by tests/fixtures/reloc/build.sh from
 * reloc_asm.S and reloc_c.c; committed so this test needs no compiler).
 *
 * Facts of the committed fixture (readelf -S -r -s reloc.o), the basis of the hand-computed values:
 *
 * | section     | index | size | align | image offset |
 * |-------------|-------|------|-------|--------------|
 * | .text       | 1     | 0x3b | 16    | 0x00         |
 * | .data       | 3     | 0x40 | 32    | 0x40         |
 * | .bss NOBITS | 5     | 0x40 | 32    | 0x80         |
 *
 * Symbols: fixture_start = .text+0, helper = .text+0x30, table = .data+0, target_data = .data+0x20,
 * bss_buffer = .bss+0, abs_value = SHN_ABS 0x12345678.
 *
 * .rela.text (section 2): 0 PLT32 @0x01 helper-4; 1 PC32 @0x08 target_data-4; 2 32S @0x0f target_data;
 *   3 32 @0x14 target_data+4; 4 64 @0x1a target_data+8; 5 NONE @0x22; 6 PC32 @0x33 target_data+4.
 * .rela.data (section 4): 0 64 @0x00 helper+16; 1 PC32 @0x08 target_data; 2 32 @0x0c abs_value;
 *   3 64 @0x10 bss_buffer; 4 PC32 @0x18 abs_value.
 */

import assert from "node:assert/strict";
import { KexecError } from "../../../lib/errors.ts";
import { EHDR, RELA, SHDR, SYM } from "../../../lib/elf/constants.ts";
import { type ElfFile, findSection, parseElf } from "../../../lib/elf/reader.ts";
import {
  layoutRelocatable,
  lookupSymbol,
  R_X86_64_NONE,
  relocate,
  type RelocatedImage,
} from "../../../lib/elf/relocate.ts";

const FIXTURE = Deno.readFileSync(new URL("../../fixtures/reloc/reloc.o", import.meta.url));

const TEXT = 0x00n;
const DATA = 0x40n;
const BSS = 0x80n;
const HELPER = TEXT + 0x30n;
const TARGET_DATA = DATA + 0x20n;
const ABS_VALUE = 0x12345678n;

/** A parsed copy of the fixture after `edit` changed its bytes. */
function edited(edit: (bytes: Uint8Array, view: DataView, original: ElfFile) => void): ElfFile {
  const bytes = FIXTURE.slice();
  edit(bytes, new DataView(bytes.buffer), parseElf(FIXTURE));
  return parseElf(bytes);
}

/** The fixture with every relocation but one turned into R_X86_64_NONE. */
function onlyRelocation(relaSectionName: string, index: number): ElfFile {
  return edited((_bytes, view, original) => {
    for (const table of original.relaTables) {
      const keep = original.sections[table.section].name === relaSectionName;
      for (const rela of table.entries) {
        if (keep && rela.index === index) continue;
        view.setUint32(rela.fileOffset + RELA.info, R_X86_64_NONE, true); // low half of r_info = type
      }
    }
  });
}

function throwsRelocation(fn: () => unknown, expected: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KexecError, `expected KexecError, got ${e}`);
    assert.equal(e.code, "relocation");
    if (typeof expected === "string") assert.equal(e.message, expected);
    else assert.match(e.message, expected);
    return true;
  });
}

function u32(image: RelocatedImage, offset: bigint): number {
  return new DataView(image.buf.buffer).getUint32(Number(offset), true);
}
function i32(image: RelocatedImage, offset: bigint): number {
  return new DataView(image.buf.buffer).getInt32(Number(offset), true);
}
function u64(image: RelocatedImage, offset: bigint): bigint {
  return new DataView(image.buf.buffer).getBigUint64(Number(offset), true);
}

Deno.test("layoutRelocatable: PROGBITS in index order at their alignment, then NOBITS", () => {
  const layout = layoutRelocatable(parseElf(FIXTURE));
  assert.equal(layout.bufLen, 0x80);
  assert.equal(layout.memsz, 0xc0n);
  assert.equal(layout.align, 32n);
  assert.deepEqual([...layout.sectionOffsets], [[1, TEXT], [3, DATA], [5, BSS]]);
});

for (const load of [0x100000n, 0x7fff0000n]) {
  Deno.test(`relocate at ${load.toString(16)}: every relocation type gives the hand-computed value`, () => {
    const image = relocate(parseElf(FIXTURE), load, "fixture_start");
    assert.equal(image.buf.length, 0x80);
    assert.equal(image.memsz, 0xc0n);
    assert.equal(image.entry, load);

    // .text
    assert.equal(i32(image, TEXT + 0x01n), Number(HELPER - 4n - (TEXT + 0x01n)), "PLT32 helper-4");
    assert.equal(i32(image, TEXT + 0x08n), Number(TARGET_DATA - 4n - (TEXT + 0x08n)), "PC32 target_data-4");
    assert.equal(i32(image, TEXT + 0x0fn), Number(load + TARGET_DATA), "32S target_data");
    assert.equal(u32(image, TEXT + 0x14n), Number(load + TARGET_DATA + 4n), "32 target_data+4");
    assert.equal(u64(image, TEXT + 0x1an), load + TARGET_DATA + 8n, "64 target_data+8");
    assert.deepEqual([...image.buf.subarray(0x22, 0x27)], [0x90, 0x90, 0x90, 0x90, 0xc3], "NONE leaves nops");
    assert.equal(i32(image, TEXT + 0x33n), Number(TARGET_DATA + 4n - (TEXT + 0x33n)), "PC32 in C code");

    // .data
    assert.equal(u64(image, DATA + 0x00n), load + HELPER + 16n, "64 helper+16");
    assert.equal(i32(image, DATA + 0x08n), Number(TARGET_DATA - (DATA + 0x08n)), "PC32 target_data - .");
    assert.equal(u32(image, DATA + 0x0cn), Number(ABS_VALUE), "32 abs_value");
    assert.equal(u64(image, DATA + 0x10n), load + BSS, "64 bss_buffer");
    assert.equal(i32(image, DATA + 0x18n), Number(ABS_VALUE - (load + DATA + 0x18n)), "PC32 abs_value - .");
    // target_data's initializer is untouched
    assert.deepEqual([0n, 1n, 2n, 3n].map((i) => u64(image, TARGET_DATA + 8n * i)), [1n, 2n, 3n, 4n]);

    // symbols
    const sym = (name: string) => {
      const s = lookupSymbol(image, name);
      return [s.addr, s.size, s.offset, s.nobits];
    };
    assert.deepEqual(sym("fixture_start"), [load, 39n, 0n, false]);
    assert.deepEqual(sym("helper"), [load + HELPER, 11n, HELPER, false]);
    assert.deepEqual(sym("table"), [load + DATA, 28n, DATA, false]);
    assert.deepEqual(sym("target_data"), [load + TARGET_DATA, 32n, TARGET_DATA, false]);
    assert.deepEqual(sym("bss_buffer"), [load + BSS, 64n, BSS, true]);
    assert.deepEqual(sym("abs_value"), [ABS_VALUE, 0n, undefined, false]);
  });
}

Deno.test("relocate: the two load addresses differ exactly in the relocated fields", () => {
  const a = relocate(parseElf(FIXTURE), 0x100000n, "fixture_start").buf;
  const b = relocate(parseElf(FIXTURE), 0x7fff0000n, "fixture_start").buf;
  const differing = new Set<number>();
  a.forEach((byte, i) => byte !== b[i] && differing.add(i));
  const fields = [[0x0f, 4], [0x14, 4], [0x1a, 8], [0x40, 8], [0x50, 8], [0x58, 4]]; // absolute + PC32 to ABS
  for (const i of differing) assert.ok(fields.some(([at, n]) => i >= at && i < at + n), `byte ${i} differs`);
});

Deno.test("relocate: R_X86_64_32 overflow names the symbol and value", () => {
  const obj = onlyRelocation(".rela.text", 3);
  relocate(obj, 0xffff_ff80n, "fixture_start"); // target_data+4 = 0xffff_ffe4: fits
  throwsRelocation(
    () => relocate(obj, 0xffff_ffa0n, "fixture_start"),
    'R_X86_64_32 (10) relocation 3 in section 2 [.rela.text] at .text+0x14 against "target_data": ' +
      "value 0x100000004 does not fit in unsigned 32 bits (load address 0xffffffa0)",
  );
});

Deno.test("relocate: R_X86_64_32S overflow", () => {
  const obj = onlyRelocation(".rela.text", 2);
  relocate(obj, 0x7fff_ff80n, "fixture_start"); // target_data = 0x7fff_ffe0: fits
  throwsRelocation(
    () => relocate(obj, 0x7fff_ffa0n, "fixture_start"),
    'R_X86_64_32S (11) relocation 2 in section 2 [.rela.text] at .text+0xf against "target_data": ' +
      "value 0x80000000 does not fit in signed 32 bits (load address 0x7fffffa0)",
  );
});

Deno.test("relocate: R_X86_64_PC32 overflow (far from an absolute symbol)", () => {
  const obj = onlyRelocation(".rela.data", 4);
  relocate(obj, 0x9000_0000n, "fixture_start"); // 0x12345678 - 0x90000058 = -0x7dcba9e0: fits
  throwsRelocation(
    () => relocate(obj, 0x1_0000_0000n, "fixture_start"),
    'R_X86_64_PC32 (2) relocation 4 in section 4 [.rela.data] at .data+0x18 against "abs_value": ' +
      "value -0xedcba9e0 does not fit in signed 32 bits (S + A - P) (load address 0x100000000)",
  );
});

Deno.test("relocate: unsupported relocation types are named with section and offset", () => {
  const withType = (type: number) =>
    edited((_b, view, original) => {
      view.setUint32(original.relaTables[0].entries[0].fileOffset + RELA.info, type, true);
    });
  throwsRelocation(
    () => relocate(withType(9), 0x100000n, "fixture_start"),
    "unsupported R_X86_64_GOTPCREL (9) relocation 0 in section 2 [.rela.text] at .text+0x1: " +
      "this relocator handles NONE, 64, 32, 32S, PC32, PLT32",
  );
  throwsRelocation(
    () => relocate(withType(200), 0x100000n, "fixture_start"),
    /^unsupported 200 relocation 0 in section 2 \[\.rela\.text\] at \.text\+0x1:/,
  );
});

Deno.test("relocate: undefined and common symbols are errors naming the symbol", () => {
  const withTargetShndx = (shndx: number) =>
    edited((_b, view, original) => {
      const symbol = original.symbolTables[0].symbols.find((s) => s.name === "target_data")!;
      view.setUint16(symbol.fileOffset + SYM.shndx, shndx, true);
    });
  throwsRelocation(
    () => relocate(withTargetShndx(0), 0x100000n, "fixture_start"),
    'symbol "target_data" is undefined (SHN_UNDEF); the object must be complete',
  );
  throwsRelocation(
    () => relocate(withTargetShndx(0xfff2), 0x100000n, "fixture_start"),
    'symbol "target_data" is a common symbol (SHN_COMMON); compile with -fno-common',
  );
});

Deno.test("relocate: misaligned load address, missing entry symbol, not ET_REL", () => {
  const obj = parseElf(FIXTURE);
  throwsRelocation(
    () => relocate(obj, 0x100010n, "fixture_start"),
    "load address 0x100010 is not a multiple of the object's alignment 0x20",
  );
  throwsRelocation(
    () => relocate(obj, 0x100000n, "nope"),
    'entry symbol "nope" is not defined as a global symbol in the object',
  );
  throwsRelocation(() => lookupSymbol(relocate(obj, 0x100000n, "helper"), "nope"), /symbol "nope" is not defined/);
  const exec = edited((_b, view) => view.setUint16(EHDR.type, 2, true));
  throwsRelocation(() => layoutRelocatable(exec), "object is ELF type 2, expected ET_REL (1)");
});

Deno.test("relocate: a relocation past the end of its section is refused", () => {
  const obj = edited((_b, view, original) => {
    const text = findSection(original, ".text")!;
    view.setBigUint64(original.relaTables[0].entries[4].fileOffset + RELA.offset, text.size - 4n, true);
  });
  throwsRelocation(
    () => relocate(obj, 0x100000n, "fixture_start"),
    "R_X86_64_64 (1) relocation 4 in section 2 [.rela.text] at .text+0x37 patches 8 bytes past the end of the " +
      "section (0x3b bytes)",
  );
});

Deno.test("layoutRelocatable: a huge sh_addralign or NOBITS size is refused before any allocation (fuzz findings)", () => {
  // Found by mutation: .bss's sh_addralign of 2^46 made relocate() throw a RangeError from new Uint8Array, and
  // 2^28..2^34 allocated 256 MiB..16 GiB before failing. The image is bounded at 1 MiB now.
  const data = (e: ElfFile) => findSection(e, ".data")!.headerOffset;
  const bss = (e: ElfFile) => findSection(e, ".bss")!.headerOffset;
  for (const align of [1n << 46n, 1n << 28n, 1n << 34n, 1n << 21n]) {
    const obj = edited((_b, view, original) => view.setBigUint64(data(original) + SHDR.addralign, align, true));
    const t0 = performance.now();
    assert.throws(() => relocate(obj, 0n, "fixture_start"), (e: unknown) => {
      assert.ok(e instanceof KexecError, `${e}`);
      assert.equal(e.code, "relocation");
      assert.match(e.message, /^section 3 \[\.data\] \(sh_size 0x40, sh_addralign 0x[0-9a-f]+\) takes the image past/);
      assert.match(e.message, /past 0x100000 bytes, the most a purgatory may take$/);
      return true;
    });
    assert.ok(performance.now() - t0 < 100);
  }
  const bigBss = edited((_b, view, original) => view.setBigUint64(bss(original) + SHDR.size, 1n << 40n, true));
  assert.throws(() => layoutRelocatable(bigBss), /\.bss\] \(sh_size 0x10000000000, .* takes the image past 0x100000/);
});
