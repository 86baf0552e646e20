/**
 * lib/images/uki.ts: sections as systemd-stub takes them (first of a name wins, VirtualSize 0 absent), profiles
 * overlaid on the base, the stub's command line mangling and `@N` selector, os-release identity, and refusals.
 */

import assert from "node:assert/strict";
import {
  mangleStubCmdline,
  parseUki,
  splitProfilePrefix,
  UKI_TEXT_MAX_BYTES,
  ukiProfile,
  ukiWrapper,
  unwrapUki,
} from "../../../lib/images/uki.ts";
import { bytesSource } from "../../../lib/images/pe.ts";
import { osIdentity, parseOsRelease } from "../../../lib/images/os_release.ts";
import { throwsKexec } from "../test_helpers.ts";
import { buildPe, syntheticUki } from "./pe_fixtures.ts";
import { syntheticBzImage } from "../load/golden_fixtures.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("unwrapUki: .linux, .ucode before and .initrd after the request's, the mangled .cmdline, .osrel/.uname", () => {
  const u = unwrapUki(syntheticUki(), "t.efi");
  assert.deepEqual(u.kernel.bytes, syntheticBzImage());
  assert.deepEqual(u.initrdsBefore.map((p) => [p.what, text(p.bytes)]), [[".ucode", "UCODE"]]);
  assert.deepEqual(u.initrdsAfter.map((p) => [p.what, text(p.bytes)]), [[".initrd", "INITRD"]]);
  assert.deepEqual(u.cmdline, { what: ".cmdline", text: "console=ttyS0 quiet" });
  assert.equal(u.info.title, "Test OS 1");
  assert.equal(u.info.version, "1");
  assert.equal(u.info.uname, "6.12.0-test");
  assert.equal(u.info.profile, 0);
  assert.equal(u.info.profileCount, 1);
  assert.equal(u.info.machine, "0x8664 (x86_64)");
  assert.ok(ukiWrapper.probe(syntheticUki()));
});

Deno.test("unwrapUki: the first section of a name wins; VirtualSize 0 counts as absent", () => {
  const u = unwrapUki(
    syntheticUki([{ name: ".initrd", data: "SECOND" }, { name: ".cmdline", data: "ignored" }], [
      { name: ".cmdline", data: "masked", virtualSize: 0 },
      { name: ".initrd", data: "FIRST" },
      { name: ".linux", data: syntheticBzImage() },
    ]),
    "t.efi",
  );
  assert.equal(text(u.initrdsAfter[0].bytes), "FIRST");
  assert.equal(u.cmdline, undefined, "a zero-size .cmdline is absent, and the later one is not used");
  assert.deepEqual(u.initrdsBefore, []);
});

Deno.test("profiles: base overlaid by the profile's sections; a zero-size one masks; @0 implied without .profile", () => {
  const file = syntheticUki([
    { name: ".profile", data: "ID=regular\nTITLE=Regular boot\n" },
    { name: ".profile", data: "ID=factory-reset\nTITLE='Factory reset'\n" },
    { name: ".cmdline", data: "systemd.unit=factory-reset.target" },
    { name: ".initrd", data: "", virtualSize: 0 },
    { name: ".profile", data: "ID=debug" },
    { name: ".cmdline", data: "debug" },
  ]);
  const uki = parseUki(bytesSource(file), "mp.efi");
  assert.equal(uki.profileCount, 3);
  const p0 = unwrapUki(file, "mp.efi");
  assert.equal(p0.cmdline?.text, "console=ttyS0 quiet");
  assert.equal(p0.info.profileId, "regular");
  assert.equal(p0.info.profileTitle, "Regular boot");
  const p1 = unwrapUki(file, "mp.efi", { profile: 1 });
  assert.equal(p1.cmdline?.text, "systemd.unit=factory-reset.target");
  assert.deepEqual(p1.initrdsAfter, [], "the profile's zero-size .initrd masks the base one");
  assert.equal(text(p1.initrdsBefore[0].bytes), "UCODE", "the base .ucode stays");
  assert.equal(p1.info.profileTitle, "Factory reset");
  assert.equal(unwrapUki(file, "mp.efi", { profile: 2 }).cmdline?.text, "debug");
  throwsKexec(
    () => unwrapUki(file, "mp.efi", { profile: 3 }),
    "usage",
    /^mp\.efi has profiles 0-2: profile 3 does not exist$/,
  );
  throwsKexec(
    () => unwrapUki(syntheticUki(), "p.efi", { profile: 1 }),
    "usage",
    /^p\.efi has no profiles \(no \.profile section\): profile 1 does not exist; use 0$/,
  );
  assert.equal(ukiProfile(parseUki(bytesSource(syntheticUki()), "p"), 0, "p").marker, undefined);
});

Deno.test("unwrapUki: refusals name the cause", () => {
  throwsKexec(
    () => unwrapUki(buildPe({ sections: [{ name: ".text", data: "x" }, { name: ".cmdline", data: "y" }] }), "a.efi"),
    "bad-image",
    /^a\.efi: PE image without a \.linux section \(2 sections: \.text \.cmdline\): not a UKI \(a systemd-stub addon/,
  );
  throwsKexec(
    () =>
      unwrapUki(
        syntheticUki([{ name: ".profile", data: "ID=x" }, { name: ".linux", data: "", virtualSize: 0 }]),
        "m.efi",
      ),
    "bad-image",
    /^m\.efi: profile 0 has no \.linux section \(masked by a zero-size one\)$/,
  );
  const huge = syntheticUki([], [
    { name: ".cmdline", data: new Uint8Array(UKI_TEXT_MAX_BYTES + 1) },
    { name: ".linux", data: syntheticBzImage() },
  ]);
  throwsKexec(
    () => unwrapUki(huge, "h.efi"),
    "bad-image",
    /section \.cmdline .* is 0x400001 bytes; a text section may have at most 4 MiB/,
  );
});

Deno.test("mangleStubCmdline and the @N profile selector follow systemd-stub", () => {
  assert.equal(mangleStubCmdline("\x01\n  a\x7fb\tc  \n\n"), "a b c");
  assert.equal(mangleStubCmdline("text\x00more"), "text more");
  assert.deepEqual(splitProfilePrefix("@1 quiet"), { profile: 1, rest: "quiet" });
  assert.deepEqual(splitProfilePrefix("@12"), { profile: 12, rest: "" });
  assert.equal(splitProfilePrefix("@1quiet"), undefined);
  assert.equal(splitProfilePrefix("@x quiet"), undefined);
  assert.equal(splitProfilePrefix(" @1 quiet"), undefined);
  assert.equal(splitProfilePrefix("@256 x"), undefined);
});

Deno.test("os-release: quoting, comments, and the title/version/sort-key systemd derives", () => {
  const o = parseOsRelease(
    '# c\nNAME="Debian GNU/Linux"\nID=debian\n  VERSION_ID=\'12\'\nVERSION="12 (book\\"worm\\")"\nBAD LINE\nIMAGE_ID=\nBUILD_ID=x\\ y  \n',
  );
  assert.equal(o.get("NAME"), "Debian GNU/Linux");
  assert.equal(o.get("VERSION_ID"), "12");
  assert.equal(o.get("VERSION"), '12 (book"worm")');
  assert.equal(o.get("BUILD_ID"), "x y");
  assert.deepEqual(osIdentity(o), { title: "Debian GNU/Linux", version: '12 (book"worm")', sortKey: "debian" });
  assert.deepEqual(osIdentity(parseOsRelease("IMAGE_ID=img\nIMAGE_VERSION=7\nID=x")), {
    title: "img",
    version: "7",
    sortKey: "img",
  });
  assert.deepEqual(osIdentity(parseOsRelease("")), { title: undefined, version: undefined, sortKey: undefined });
});
