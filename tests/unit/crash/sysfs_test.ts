/** lib/crash/sysfs.ts: the 6.19+ /sys/kernel/kexec/ attributes first, the deprecated /sys/kernel/kexec_* names else. */

import assert from "node:assert/strict";
import {
  cmaRangesText,
  kexecAttrPath,
  kexecSysfsLayout,
  parseCmaRanges,
  readCmaRanges,
  readKexecInteger,
} from "../../../lib/crash/sysfs.ts";
import { recordSystemView } from "../../../lib/system.ts";

/** What 6.1 and 6.12 show: the old names only (6.1 without crash_elfcorehdr_size). */
const OLD = recordSystemView({
  "/sys/kernel/kexec_loaded": "0\n",
  "/sys/kernel/kexec_crash_loaded": "1\n",
  "/sys/kernel/kexec_crash_size": "268435456\n",
  "/sys/kernel/crash_elfcorehdr_size": "917616\n",
});

/** What 7.3 shows (seen in the guest): the directory, and the old names as symlinks into it. */
function newest(files: Record<string, string> = {}) {
  const dir = {
    "/sys/kernel/kexec/loaded": "1\n",
    "/sys/kernel/kexec/crash_loaded": "0\n",
    "/sys/kernel/kexec/crash_size": "268435456\n",
    "/sys/kernel/kexec/crash_elfcorehdr_size": "917616\n",
    "/sys/kernel/kexec/crash_cma_ranges": "57000000-66ffffff\n",
  };
  const old = {
    "/sys/kernel/kexec_loaded": "1\n",
    "/sys/kernel/kexec_crash_loaded": "0\n",
    "/sys/kernel/kexec_crash_size": "268435456\n",
    "/sys/kernel/crash_elfcorehdr_size": "917616\n",
    "/sys/kernel/kexec_crash_cma_ranges": "57000000-66ffffff\n",
  };
  return recordSystemView({ ...dir, ...old, ...files });
}

Deno.test("kexecAttrPath: the new directory when it has the attribute, else the old name, else nothing", () => {
  assert.equal(kexecAttrPath(OLD, "crashLoaded"), "/sys/kernel/kexec_crash_loaded");
  assert.equal(kexecAttrPath(OLD, "crashCmaRanges"), undefined);
  assert.equal(kexecAttrPath(newest(), "crashLoaded"), "/sys/kernel/kexec/crash_loaded");
  assert.equal(kexecAttrPath(newest(), "crashElfcorehdrSize"), "/sys/kernel/kexec/crash_elfcorehdr_size");
  // The values come from the path chosen: a (hypothetical) disagreement shows which one is read.
  const disagree = newest({ "/sys/kernel/kexec_crash_loaded": "1\n" });
  assert.equal(readKexecInteger(disagree, "crashLoaded"), 0n);
  assert.equal(readKexecInteger(OLD, "crashLoaded"), 1n);
  // An unreadable new attribute is still the one to read (it exists): no silent fallback to a stale value.
  const denied = newest({ "/sys/kernel/kexec/crash_loaded": "<denied>" });
  assert.equal(kexecAttrPath(denied, "crashLoaded"), "/sys/kernel/kexec/crash_loaded");
  assert.equal(readKexecInteger(denied, "crashLoaded"), undefined);
});

Deno.test("kexecSysfsLayout: which layout status read, and the path of each attribute", () => {
  assert.deepEqual(kexecSysfsLayout(OLD), {
    layout: "legacy",
    paths: {
      loaded: "/sys/kernel/kexec_loaded",
      crashLoaded: "/sys/kernel/kexec_crash_loaded",
      crashSize: "/sys/kernel/kexec_crash_size",
      crashElfcorehdrSize: "/sys/kernel/crash_elfcorehdr_size",
    },
    legacyAlsoPresent: false,
  });
  const l = kexecSysfsLayout(newest());
  assert.equal(l.layout, "kexec-dir");
  assert.equal(l.legacyAlsoPresent, true);
  assert.ok(Object.values(l.paths).every((p) => p.startsWith("/sys/kernel/kexec/")), JSON.stringify(l.paths));
  const dirOnly = recordSystemView({ "/sys/kernel/kexec/loaded": "0\n", "/sys/kernel/kexec/crash_loaded": "0\n" });
  assert.deepEqual(kexecSysfsLayout(dirOnly).legacyAlsoPresent, false);
  assert.deepEqual(kexecSysfsLayout(recordSystemView({})), { layout: "none", paths: {}, legacyAlsoPresent: false });
});

Deno.test("crash_cma_ranges: %08llx-%08llx lines, inclusive ends, up to four; empty when none reserved", () => {
  assert.deepEqual(parseCmaRanges("57000000-66ffffff\n"), [{ start: 0x57000000n, end: 0x67000000n }]);
  assert.deepEqual(parseCmaRanges("57000000-66ffffff\n1000000000-100fffffff\n"), [
    { start: 0x57000000n, end: 0x67000000n },
    { start: 0x1000000000n, end: 0x1010000000n },
  ]);
  assert.deepEqual(parseCmaRanges(""), []);
  assert.equal(parseCmaRanges("0x57000000-0x66ffffff\n"), undefined);
  assert.equal(parseCmaRanges("66ffffff-57000000\n"), undefined);
  assert.deepEqual(readCmaRanges(newest()), [{ start: 0x57000000n, end: 0x67000000n }]);
  assert.equal(readCmaRanges(OLD), undefined, "before 6.17: no such attribute");
  assert.equal(cmaRangesText([{ start: 0x57000000n, end: 0x67000000n }]), "0x57000000-0x66ffffff");
});
