/** lib/arch/hotplug_flag.ts and x86_64's table: the crash hotplug flag as a decision from the kernel version. */

import assert from "node:assert/strict";
import { chooseHotplugFlag, parseKernelVersion } from "../../../lib/arch/hotplug_flag.ts";
import { X86_HOTPLUG_FLAGS } from "../../../lib/arch/x86_64/mod.ts";
import { KEXEC_CRASH_HOTPLUG_SUPPORT, KEXEC_UPDATE_ELFCOREHDR } from "../../../lib/abi.ts";

Deno.test("parseKernelVersion: Debian, upstream and odd releases", () => {
  assert.deepEqual(parseKernelVersion("6.12.117+deb12-amd64"), [6, 12]);
  assert.deepEqual(parseKernelVersion("7.3.4+deb13-amd64"), [7, 3]);
  assert.deepEqual(parseKernelVersion("6.1.0-57-amd64"), [6, 1]);
  assert.deepEqual(parseKernelVersion("5.14.0-427.13.1.el9_4.x86_64"), [5, 14]);
  assert.deepEqual(parseKernelVersion("6.10-rc3"), [6, 10]);
  assert.equal(parseKernelVersion("linux"), undefined);
});

Deno.test("x86_64: 0x8 from 6.10 on, 0x4 for 6.6-6.9 (which refuse 0x8), backports and unknown releases", () => {
  const pick = (r: string | undefined) => chooseHotplugFlag(X86_HOTPLUG_FLAGS, r).flag;
  for (const r of ["6.10.0", "6.12.117+deb12-amd64", "7.3.4+deb13-amd64", "10.0.1"]) {
    assert.equal(pick(r), KEXEC_CRASH_HOTPLUG_SUPPORT, r);
  }
  for (const r of ["6.6.0", "6.9.12", "5.14.0-427.el9.x86_64", "6.1.0-57-amd64", undefined, "garbage"]) {
    assert.equal(pick(r), KEXEC_UPDATE_ELFCOREHDR, String(r));
  }
  const c = chooseHotplugFlag(X86_HOTPLUG_FLAGS, "6.9.1");
  assert.equal(c.name, "KEXEC_UPDATE_ELFCOREHDR");
  assert.match(c.why, /6\.6-6\.9 refuse 0x8/);
  assert.equal(c.release, "6.9.1");
  assert.throws(() => chooseHotplugFlag([], "6.12"));
});
