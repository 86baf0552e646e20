/**
 * Fuzz targets on images and boot entries (issue 10's parsers): `uki` (a PE image: the PE reader, the UKI's sections
 * and profiles, unwrapping its kernel, initrds and command line, the Authenticode probe of the kexec_file_load
 * pre-checks) and `boot-entries` (Boot Loader Specification Type #1 entries, loader.conf, entry file names with boot
 * counters, the version order and glob matching).
 *
 * @module
 */

import { type Field, fieldsOf, type FuzzTarget, mutateBytes, mutateText, step, text } from "../engine.ts";
import { bytesSource, COFF, DOS, OPT, OPT64, parsePe, SECTION } from "../../../lib/images/pe.ts";
import { parseUki, unwrapUki } from "../../../lib/images/uki.ts";
import { authenticodeSignature } from "../../../lib/load/file_load.ts";
import {
  mangleEntryPath,
  parseConfLines,
  parseEntryName,
  parseLoaderConf,
  parseType1,
  validEntryFileName,
} from "../../../lib/boot/bls.ts";
import { compareVersions, globMatch } from "../../../lib/boot/version.ts";
import { syntheticUki } from "../../unit/images/pe_fixtures.ts";

/** The DOS, COFF and optional header fields and the first section headers of `bytes`, as far as they are in it. */
function peFields(bytes: Uint8Array): Field[] {
  const fields: Field[] = [{ at: DOS.e_lfanew, width: 4 }];
  if (bytes.length < DOS.size) return fields;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lfanew = dv.getUint32(DOS.e_lfanew, true);
  if (lfanew + COFF.size + 112 > bytes.length) return fields;
  fields.push(
    ...fieldsOf(COFF, { machine: 2, numberOfSections: 2, sizeOfOptionalHeader: 2, characteristics: 2 }, lfanew),
  );
  const opt = lfanew + COFF.size;
  fields.push(...fieldsOf(OPT, { magic: 2, subsystem: 2 }, opt), ...fieldsOf(OPT64, { imageBase: 8 }, opt));
  const table = opt + dv.getUint16(lfanew + COFF.sizeOfOptionalHeader, true);
  const count = Math.min(dv.getUint16(lfanew + COFF.numberOfSections, true), 16);
  for (let i = 0; i < count && table + (i + 1) * SECTION.size <= bytes.length; i++) {
    fields.push(...fieldsOf(SECTION, { name: 8 }, table + i * SECTION.size));
  }
  return fields;
}

const PROFILES = [
  { name: ".profile", data: "ID=rescue\nTITLE=Rescue\n" },
  { name: ".cmdline", data: "rescue" },
  { name: ".profile", data: "ID=kdump\n" },
  { name: ".cmdline", data: "irqpoll nr_cpus=1" },
];

export const ukiTarget: FuzzTarget = {
  name: "uki",
  about: "PE/UKI images: the PE reader, UKI sections and profiles, unwrapping, the Authenticode probe",
  memoryBoundBytes: 32 * 2 ** 20,
  seeds: () => [syntheticUki(), syntheticUki(PROFILES)],
  mutate: (input, rng, seeds) => mutateBytes(input, rng, peFields(input), rng.pick(seeds)),
  run(input) {
    authenticodeSignature(input);
    const src = bytesSource(input);
    parsePe(src, "fuzz.efi");
    step(() => parseUki(src, "fuzz.efi"));
    for (const profile of [undefined, 0, 1, 2]) step(() => unwrapUki(input, "fuzz.efi", { profile }));
  },
};

const ENTRY = `title Debian GNU/Linux 13
version 6.12.57+deb13-amd64
machine-id 0123456789abcdef0123456789abcdef
sort-key debian
linux /vmlinuz-6.12.57+deb13-amd64
initrd /intel-ucode.img
initrd /initrd.img-6.12.57+deb13-amd64
options root=UUID=1 ro quiet
`;
const LOADER_CONF = `default debian-*
timeout 3
console-mode keep
editor no
`;

export const bootEntriesTarget: FuzzTarget = {
  name: "boot-entries",
  about: "Boot Loader Specification entries and loader.conf, entry names with boot counters, version order, globs",
  memoryBoundBytes: 16 * 2 ** 20,
  seeds: () => [ENTRY, LOADER_CONF, "debian-6.12.57+1-2.conf\n6.12.57-rc1~1"].map(text.encode),
  mutate: (input, rng, seeds) => text.encode(mutateText(text.decode(input), rng, text.decode(rng.pick(seeds)))),
  run(input) {
    const t = text.decode(input);
    parseConfLines(t);
    parseType1(t);
    parseLoaderConf(t);
    const [a = "", b = ""] = t.split("\n");
    parseEntryName(a);
    validEntryFileName(a);
    mangleEntryPath(a);
    compareVersions(a, b);
    compareVersions(b, a);
    globMatch(a.slice(0, 64), b.slice(0, 256));
  },
};
