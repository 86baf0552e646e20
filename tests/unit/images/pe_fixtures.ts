/**
 * Synthetic PE files for the unit tests, laid out independently of lib/: a DOS header with e_lfanew, the PE
 * signature, a COFF header, a PE32+ optional header with 16 data directories (0xf0 bytes, as objcopy writes for
 * systemd's stub), the section table, and each section's bytes at FileAlignment (0x200), VirtualSize = the exact
 * length, SizeOfRawData rounded up, as objcopy and ukify build UKIs.
 */

import { syntheticBzImage } from "../load/golden_fixtures.ts";

/** One section to write. */
export interface FixtureSection {
  name: string;
  data: Uint8Array | string;
  /** Override VirtualSize (default: the data's length). */
  virtualSize?: number;
}

/** What to build. */
export interface FixturePe {
  sections: FixtureSection[];
  machine?: number;
  magic?: number;
  subsystem?: number;
  lfanew?: number;
  /** SizeOfOptionalHeader (default 0xf0). */
  optSize?: number;
}

const FILE_ALIGN = 0x200;

/** Builds the PE file; returns the bytes and where each section header is. */
export function buildPe(spec: FixturePe): Uint8Array {
  const enc = new TextEncoder();
  const lfanew = spec.lfanew ?? 0x80;
  const optSize = spec.optSize ?? 0xf0;
  const tableAt = lfanew + 24 + optSize;
  const headersEnd = Math.ceil((tableAt + spec.sections.length * 40) / FILE_ALIGN) * FILE_ALIGN;
  const datas = spec.sections.map((s) => (typeof s.data === "string" ? enc.encode(s.data) : s.data));
  const raw = datas.map((d) => Math.ceil(d.length / FILE_ALIGN) * FILE_ALIGN);
  const size = headersEnd + raw.reduce((a, b) => a + b, 0);
  const file = new Uint8Array(size);
  const dv = new DataView(file.buffer);
  file.set([0x4d, 0x5a]); // "MZ"
  dv.setUint32(0x3c, lfanew, true);
  file.set([0x50, 0x45, 0, 0], lfanew); // "PE\0\0"
  dv.setUint16(lfanew + 4, spec.machine ?? 0x8664, true);
  dv.setUint16(lfanew + 6, spec.sections.length, true);
  dv.setUint16(lfanew + 20, optSize, true);
  dv.setUint16(lfanew + 22, 0x206, true);
  const opt = lfanew + 24;
  dv.setUint16(opt, spec.magic ?? 0x20b, true);
  dv.setUint32(opt + 32, FILE_ALIGN, true); // SectionAlignment
  dv.setUint32(opt + 36, FILE_ALIGN, true); // FileAlignment
  dv.setUint32(opt + 60, headersEnd, true); // SizeOfHeaders
  dv.setUint16(opt + 68, spec.subsystem ?? 10, true);
  if (optSize >= 112) dv.setUint32(opt + 108, Math.min(16, (optSize - 112) / 8), true);
  let fileOff = headersEnd;
  let rva = headersEnd;
  spec.sections.forEach((s, i) => {
    const h = tableAt + i * 40;
    file.set(enc.encode(s.name).subarray(0, 8), h);
    dv.setUint32(h + 8, s.virtualSize ?? datas[i].length, true);
    dv.setUint32(h + 12, rva, true);
    dv.setUint32(h + 16, raw[i], true);
    dv.setUint32(h + 20, datas[i].length ? fileOff : 0, true);
    dv.setUint32(h + 36, 0x40000040, true);
    file.set(datas[i], fileOff);
    fileOff += raw[i];
    rva += Math.max(raw[i], FILE_ALIGN);
  });
  dv.setUint32(opt + 56, rva, true); // SizeOfImage
  return file;
}

/** Offset of section header `i` in a file built with the defaults (lfanew 0x80, optional header 0xf0). */
export function sectionHeaderAt(i: number, lfanew = 0x80, optSize = 0xf0): number {
  return lfanew + 24 + optSize + i * 40;
}

/** A UKI with the synthetic bzImage in .linux. */
export function syntheticUki(extra: FixtureSection[] = [], base?: FixtureSection[]): Uint8Array {
  return buildPe({
    sections: [
      ...(base ?? [
        { name: ".osrel", data: 'PRETTY_NAME="Test OS 1"\nID=testos\nVERSION_ID=1\n' },
        { name: ".cmdline", data: "\n console=ttyS0\tquiet\n" },
        { name: ".uname", data: "6.12.0-test\n" },
        { name: ".ucode", data: "UCODE" },
        { name: ".initrd", data: "INITRD" },
        { name: ".linux", data: syntheticBzImage() },
      ]),
      ...extra,
    ],
  });
}
