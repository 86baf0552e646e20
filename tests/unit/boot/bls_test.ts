/** lib/boot/bls.ts: Type #1 entries, loader.conf, entry names with boot counters, and the paths entries name. */

import assert from "node:assert/strict";
import {
  mangleEntryPath,
  parseConfLines,
  parseEntryName,
  parseLoaderConf,
  parseType1,
  validEntryFileName,
} from "../../../lib/boot/bls.ts";

Deno.test("parseType1: keys, repeated initrd and options, comments, literal values, last single value wins", () => {
  const f = parseType1(
    [
      "# a comment",
      "  title   Debian GNU/Linux 13  ",
      "title Debian",
      "version 6.12.57+deb13-amd64",
      "machine-id 0123456789abcdef0123456789abcdef",
      "sort-key debian",
      "linux vmlinuz-6.12",
      "initrd /intel-ucode.img",
      "initrd //initrd.img-6.12",
      'options root=UUID=1 "quoted stays"',
      "options\tquiet",
      "options",
      "architecture x64",
      "unknown-key whatever",
      "devicetree /dtb",
      "\r",
    ].join("\r\n"),
  );
  assert.equal(f.title, "Debian");
  assert.equal(f.version, "6.12.57+deb13-amd64");
  assert.equal(f.machineId, "0123456789abcdef0123456789abcdef");
  assert.equal(f.sortKey, "debian");
  assert.equal(f.linux, "/vmlinuz-6.12");
  assert.deepEqual(f.initrds, ["/intel-ucode.img", "/initrd.img-6.12"]);
  assert.equal(f.options, 'root=UUID=1 "quoted stays" quiet');
  assert.equal(f.architecture, "x64");
  assert.equal(f.devicetree, "/dtb");
  assert.deepEqual(f.problems, []);
  const u = parseType1("uki /EFI/Linux/x.efi\nprofile 2\nprofile x\nlinux /a/../b\n");
  assert.equal(u.uki, "/EFI/Linux/x.efi");
  assert.equal(u.profile, 2);
  assert.equal(u.linux, undefined);
  assert.deepEqual(u.problems, [
    "line 3: profile x: not a number (ignored)",
    "line 4: linux /a/../b: not a usable path (ignored)",
  ]);
  assert.deepEqual(parseConfLines("key\nkey value\n"), [{ key: "key", value: "value", line: 2 }]);
});

Deno.test("mangleEntryPath: absolute, collapsed; . and .. and a trailing / make it unusable", () => {
  assert.equal(mangleEntryPath("vmlinuz"), "/vmlinuz");
  assert.equal(mangleEntryPath("//EFI//Linux/x.efi"), "/EFI/Linux/x.efi");
  assert.equal(mangleEntryPath("/a/./b"), undefined);
  assert.equal(mangleEntryPath("/a/"), undefined);
  assert.equal(mangleEntryPath("/"), undefined);
});

Deno.test("parseLoaderConf: default and preferred; the rest is the menu's", () => {
  assert.deepEqual(parseLoaderConf("timeout 3\n#default x\ndefault  debian-*\neditor no\npreferred @saved\n"), {
    default: "debian-*",
    preferred: "@saved",
  });
  assert.deepEqual(parseLoaderConf(""), {});
});

Deno.test("parseEntryName: the id keeps the suffix, loses the boot counter", () => {
  assert.deepEqual(parseEntryName("arch.conf"), { id: "arch.conf", idOld: "arch" });
  assert.deepEqual(parseEntryName("arch+3.conf"), { id: "arch.conf", idOld: "arch", triesLeft: 3, triesDone: 0 });
  assert.deepEqual(parseEntryName("a+b+0-5.efi"), { id: "a+b.efi", idOld: "a+b", triesLeft: 0, triesDone: 5 });
  assert.deepEqual(parseEntryName("x+.conf"), { id: "x+.conf", idOld: "x+" });
  assert.deepEqual(parseEntryName("x+1-.conf"), { id: "x+1-.conf", idOld: "x+1-" });
  assert.deepEqual(parseEntryName("x+99999999999.conf"), { id: "x+99999999999.conf", idOld: "x+99999999999" });
  assert.ok(validEntryFileName("debian-6.12+3-1.conf"));
  assert.ok(!validEntryFileName("with space.conf"));
});
