/**
 * Unified Kernel Images (UAPI.5): a PE file whose sections carry the kernel (`.linux`), its initrds (`.ucode`,
 * `.initrd`), command line (`.cmdline`), os-release (`.osrel`) and kernel release (`.uname`), optionally in several
 * profiles (`.profile`). kexec-ts reads them the way systemd-stub hands them to the kernel, without running the stub:
 *
 *  - sections: the first of each name wins; `VirtualSize` 0 means absent; payloads are
 *    `min(VirtualSize, SizeOfRawData)` bytes (./pe.ts);
 *  - profiles: the sections before the first `.profile` are the base; profile N is the base overlaid by the
 *    sections between the N-th `.profile` and the next (a zero-size section there masks the base one); an image
 *    without `.profile` has one profile, 0;
 *  - initrds, in systemd-stub's order: `.ucode` first (early microcode must be the first archive), then the
 *    request's own (`--initrd`, where the stub puts the boot loader's), then `.initrd`; concatenated with zero
 *    padding to 4 bytes (../load/inputs.ts);
 *  - command line: `.cmdline`, with control characters turned into spaces and the ends trimmed as the stub does
 *    (`mangle_stub_cmdline`), unless the request gives one: then the request's replaces it, as systemd-stub does
 *    without Secure Boot. There is no merging. A request command line starting with `@N ` selects profile N
 *    and loses that prefix, as the stub's load options do.
 *
 * kexec-tools' UKI support (2.0.30+, kexec_file_load only) takes `.linux` and the last `.initrd` only: it ignores
 * `.ucode`, `.cmdline` and profiles, and its `--initrd` replaces `.initrd`.
 *
 * @module
 */

import { fail, hex } from "../errors.ts";
import type { ImageInfo, ImageWrapper, UnwrapOptions, UnwrappedImage } from "../load/contract.ts";
import { osIdentity, parseOsRelease } from "./os_release.ts";
import {
  type ByteSource,
  bytesSource,
  hasMzMagic,
  machineName,
  parsePe,
  type PeFile,
  type PeSection,
  sectionData,
  SUBSYSTEM_EFI_APPLICATION,
} from "./pe.ts";

/** The most profiles a UKI may have (systemd's UNIFIED_PROFILES_MAX). */
export const UKI_PROFILES_MAX = 256;
/** Text sections (`.osrel`, `.cmdline`, `.uname`, `.profile`) larger than this are refused (bootctl's limit). */
export const UKI_TEXT_MAX_BYTES = 4 * 1024 * 1024;

/** The sections of one profile, by name. */
export interface UkiProfile {
  /** Its number, from 0. */
  index: number;
  /** The profile's sections overlaid on the base ones; a name is absent when neither has it (or it is masked). */
  sections: Map<string, PeSection>;
  /** The `.profile` section that starts it (absent for an image without profiles). */
  marker?: PeSection;
}

/** A parsed UKI: its PE headers and how many profiles it has. */
export interface Uki {
  pe: PeFile;
  /** 1 when the image has no `.profile` section. */
  profileCount: number;
}

/**
 * Parses a UKI's headers: a PE image (./pe.ts) with a `.linux` section in its base or in a profile.
 * @throws KexecError("bad-image") for a malformed PE file, or a PE file that is not a UKI (no `.linux`)
 */
export function parseUki(src: ByteSource, name: string): Uki {
  const pe = parsePe(src, name);
  const markers = pe.sections.filter((s) => s.name === ".profile").length;
  if (markers > UKI_PROFILES_MAX) {
    fail("bad-image", `${name}: ${markers} .profile sections; a UKI has at most ${UKI_PROFILES_MAX} profiles`);
  }
  if (!pe.sections.some((s) => s.name === ".linux" && s.virtualSize > 0)) {
    fail(
      "bad-image",
      `${name}: PE image without a .linux section (${pe.sections.length} sections: ${
        pe.sections.map((s) => s.name || "?").join(" ")
      }): not a UKI (a systemd-stub addon, or another EFI program?)`,
    );
  }
  return { pe, profileCount: Math.max(1, markers) };
}

/** The first section of each name in `sections`, absent when its VirtualSize is 0 (masked). */
function firstByName(sections: readonly PeSection[]): Map<string, PeSection | null> {
  const out = new Map<string, PeSection | null>();
  for (const s of sections) if (!out.has(s.name)) out.set(s.name, s.virtualSize > 0 ? s : null);
  return out;
}

/**
 * The sections of profile `index`: the base (before the first `.profile`) overlaid by the profile's own.
 * @throws KexecError("usage") when the image has no such profile
 */
export function ukiProfile(uki: Uki, index: number, name: string): UkiProfile {
  const all = uki.pe.sections;
  const markers = all.filter((s) => s.name === ".profile");
  const baseEnd = markers.length ? markers[0].index : all.length;
  const sections = new Map<string, PeSection>();
  for (const [k, s] of firstByName(all.slice(0, baseEnd))) if (s) sections.set(k, s);
  if (markers.length === 0) {
    if (index !== 0) {
      fail("usage", `${name} has no profiles (no .profile section): profile ${index} does not exist; use 0`);
    }
    return { index, sections };
  }
  const marker = markers[index];
  if (!marker) {
    fail("usage", `${name} has profiles 0-${markers.length - 1}: profile ${index} does not exist`);
  }
  const end = markers[index + 1]?.index ?? all.length;
  for (const [k, s] of firstByName(all.slice(marker.index, end))) {
    if (k === ".profile") continue;
    if (s) sections.set(k, s);
    else sections.delete(k); // a zero-size section in a profile masks the base one
  }
  return { index, sections, marker };
}

/**
 * A text section's contents: UTF-8 up to the first NUL.
 * @throws KexecError("bad-image") for a section over 4 MiB
 */
export function sectionText(src: ByteSource, section: PeSection, name: string): string {
  const length = Math.min(section.virtualSize, section.sizeOfRawData);
  if (length > UKI_TEXT_MAX_BYTES) {
    fail(
      "bad-image",
      `${name}: section ${section.name} (header at ${hex(section.headerOffset)}) is ${
        hex(length)
      } bytes; a text section may have at most 4 MiB`,
    );
  }
  const bytes = sectionData(src, section);
  const nul = bytes.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/**
 * systemd-stub's `mangle_stub_cmdline`: control characters (below 0x20, and 0x7f) become spaces, leading ones are
 * dropped, trailing whitespace is trimmed.
 *
 * @example
 * ```ts
 * import { mangleStubCmdline } from "./uki.ts";
 *
 * if (mangleStubCmdline("\n quiet\troot=/dev/vda1\n") !== "quiet root=/dev/vda1") throw new Error();
 * ```
 */
export function mangleStubCmdline(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/^[\x00-\x20\x7f]+/, "").replace(/[\x00-\x1f\x7f]/g, " ").trimEnd();
}

/**
 * The stub's profile selector at the start of its load options: `@N` followed by one space or the end.
 * @returns the profile and the rest, or undefined when the text does not start with one
 */
export function splitProfilePrefix(cmdline: string): { profile: number; rest: string } | undefined {
  const m = /^@([0-9]+)(?: |$)/.exec(cmdline);
  if (!m || Number(m[1]) >= UKI_PROFILES_MAX) return undefined;
  return { profile: Number(m[1]), rest: cmdline.slice(m[0].length) };
}

/** What a UKI profile says about itself, read without its kernel or initrds (for listing boot entries). */
export interface UkiIdentity {
  /** The profile's `.osrel`, parsed (empty when it has none). */
  osRelease: Map<string, string>;
  /** The profile's `.cmdline`, mangled as the stub does. */
  cmdline?: string;
  /** `.uname`, trimmed. */
  uname?: string;
  /** The profile's `.profile` keys (`ID`, `TITLE`). */
  profile: Map<string, string>;
}

/** Reads the text sections of one profile. */
export function ukiIdentity(src: ByteSource, profile: UkiProfile, name: string): UkiIdentity {
  const text = (section: string) => {
    const s = profile.sections.get(section);
    return s ? sectionText(src, s, name) : undefined;
  };
  const cmdline = text(".cmdline");
  return {
    osRelease: parseOsRelease(text(".osrel") ?? ""),
    cmdline: cmdline === undefined ? undefined : mangleStubCmdline(cmdline),
    uname: text(".uname")?.trim() || undefined,
    profile: parseOsRelease(profile.marker ? sectionText(src, profile.marker, name) : ""),
  };
}

/**
 * Takes a UKI apart for loading: the profile's `.linux`, `.ucode` (before the request's initrds), `.initrd`
 * (after them), `.cmdline` and what `.osrel`, `.uname` and `.profile` say.
 * @throws KexecError("bad-image") for a malformed image; KexecError("usage") for a profile it does not have
 */
export function unwrapUki(bytes: Uint8Array, name: string, opts: UnwrapOptions = {}): UnwrappedImage {
  const src = bytesSource(bytes);
  const uki = parseUki(src, name);
  const index = opts.profile ?? 0;
  const profile = ukiProfile(uki, index, name);
  const linux = profile.sections.get(".linux");
  if (!linux) {
    fail("bad-image", `${name}: profile ${index} has no .linux section (masked by a zero-size one)`);
  }
  const id = ukiIdentity(src, profile, name);
  const os = osIdentity(id.osRelease);
  const piece = (section: string) => {
    const s = profile.sections.get(section);
    return s ? [{ what: section, bytes: sectionData(src, s) }] : [];
  };
  const info: ImageInfo = {
    format: "uki",
    title: os.title,
    version: os.version,
    uname: id.uname,
    profile: index,
    profileCount: uki.profileCount,
    profileId: id.profile.get("ID"),
    profileTitle: id.profile.get("TITLE"),
    machine: machineName(uki.pe.machine),
    parts: [],
  };
  if (uki.pe.subsystem !== SUBSYSTEM_EFI_APPLICATION) {
    info.parts.push(`PE subsystem ${uki.pe.subsystem}, not an EFI application (10)`);
  }
  return {
    kernel: { what: ".linux", bytes: sectionData(src, linux) },
    initrdsBefore: piece(".ucode"),
    initrdsAfter: piece(".initrd"),
    cmdline: id.cmdline === undefined ? undefined : { what: ".cmdline", text: id.cmdline },
    info,
  };
}

/** The UKI wrapper (`-t uki`). Probed after the kernels' loaders: a bzImage with an EFI stub is also "MZ". */
export const ukiWrapper: ImageWrapper = {
  name: "uki",
  aliases: ["UKI", "pe-uki"],
  probe: hasMzMagic,
  unwrap: unwrapUki,
};
