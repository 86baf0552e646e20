/** lib/boot/version.ts: the UAPI.10 version order (its own test vectors) and fnmatch with FNM_CASEFOLD. */

import assert from "node:assert/strict";
import { compareVersions, globMatch } from "../../../lib/boot/version.ts";

Deno.test("compareVersions: the UAPI.10 specification's ordered list, each older than the next", () => {
  const order = [
    "122.1",
    "123~rc1-1",
    "123",
    "123-a",
    "123-a.1",
    "123-1",
    "123-1.1",
    "123^post1",
    "123.a-1",
    "123.1-1",
    "123a-1",
    "124-1",
  ];
  for (let i = 0; i < order.length; i++) {
    for (let j = 0; j < order.length; j++) {
      assert.equal(compareVersions(order[i], order[j]), Math.sign(i - j), `${order[i]} vs ${order[j]}`);
    }
  }
});

Deno.test("compareVersions: the specification's equalities and inequalities", () => {
  const eq: [string, string][] = [
    ["11", "11"],
    ["systemd-123", "systemd-123"],
    ["11α", "11β"],
    ["1_", "1"],
    ["_1", "1"],
    [
      "1+",
      "1",
    ],
    ["+1", "1"],
    ["00123", "123"],
  ];
  for (const [a, b] of eq) assert.equal(compareVersions(a, b), 0, `${a} == ${b}`);
  const lt: [string, string][] = [
    ["bar-123", "foo-123"],
    ["123", "123a"],
    ["123", "123.a"],
    ["123.a", "123.b"],
    ["123.a", "123a"],
    ["B", "a"],
    ["", "0"],
    ["0", "0."],
    ["0", "0.0"],
    ["~", "0"],
    ["~", ""],
    ["1_", "1.2"],
    ["1.3.3", "1_2_3"],
    ["1+", "1.2"],
    ["1.3.3", "1+2+3"],
  ];
  for (const [a, b] of lt) {
    assert.equal(compareVersions(a, b), -1, `${a} < ${b}`);
    assert.equal(compareVersions(b, a), 1, `${b} > ${a}`);
  }
  assert.equal(compareVersions(undefined, ""), 0);
  assert.equal(compareVersions("6.12.57+deb13-amd64", "6.1.0-40-amd64"), 1);
});

Deno.test("globMatch: *, ?, sets, ranges, negation, escapes, case-folded", () => {
  const yes: [string, string][] = [
    ["*", ""],
    ["*", "anything"],
    ["debian-*", "DEBIAN-6.12.conf"],
    ["*.conf", "a.conf"],
    ["a?c", "abc"],
    ["[abc]x", "bx"],
    ["[a-c]x", "Cx"],
    ["[!a-c]x", "dx"],
    ["[^a]x", "bx"],
    ["\\*x", "*x"],
    ["a*b*c", "aXXbYYc"],
    ["*a*a*a", "aaaa"],
    ["[]x]", "]"],
    ["[", "["],
  ];
  for (const [p, t] of yes) assert.ok(globMatch(p, t), `${p} ~ ${t}`);
  const no: [string, string][] = [["a?c", "ac"], ["[!a-c]x", "ax"], ["\\*x", "ax"], ["*.conf", "a.efi"], [
    "a*b",
    "acb c",
  ], [
    "abc",
    "abcd",
  ]];
  for (const [p, t] of no) assert.ok(!globMatch(p, t), `${p} !~ ${t}`);
});
