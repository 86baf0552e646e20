/** lib/load/request.ts: the command line a request composes, its hotplug decision, and its JSON form. */

import assert from "node:assert/strict";
import {
  composeCmdline,
  decideHotplug,
  type LoadRequest,
  loadRequest,
  requestFromJson,
  requestToJson,
} from "../../../lib/load/request.ts";
import { recordSystemView } from "../../../lib/system.ts";
import { throwsKexec } from "../test_helpers.ts";

function request(over: Partial<LoadRequest> = {}): LoadRequest {
  return loadRequest({ kernel: "/boot/vmlinuz", initrds: ["/boot/initrd.img"], append: "console=ttyS0", ...over });
}

Deno.test("composeCmdline: --reuse-cmdline drops BOOT_IMAGE= and, for -p, crashkernel=; --append follows", () => {
  const sys = recordSystemView({
    "/proc/cmdline": 'BOOT_IMAGE=/vmlinuz-6.12 root=/dev/vda1 crashkernel=256M dyndbg="file x.c +p" quiet\n',
  });
  const req = (over: Partial<LoadRequest>) => ({ ...request(), append: undefined, ...over });
  assert.equal(
    composeCmdline(req({ reuseCmdline: true }), sys),
    'root=/dev/vda1 crashkernel=256M dyndbg="file x.c +p" quiet',
  );
  assert.equal(
    composeCmdline(req({ kind: "crash", reuseCmdline: true, append: " nr_cpus=1 " }), sys),
    'root=/dev/vda1 dyndbg="file x.c +p" quiet nr_cpus=1',
  );
  assert.equal(composeCmdline(req({ kind: "crash", append: "a=1 b" }), sys), "a=1 b", "without --reuse-cmdline");
  assert.equal(composeCmdline(req({}), sys), "");
  throwsKexec(
    () => composeCmdline(req({ reuseCmdline: true }), recordSystemView({})),
    "io",
    /--reuse-cmdline: cannot read \/proc\/cmdline/,
  );
});

Deno.test("decideHotplug: auto follows CONFIG_CRASH_HOTPLUG, --hotplug requires it, --no-hotplug never", () => {
  assert.equal(decideHotplug(request({ kind: "crash", hotplug: "auto" }), 917616n), true);
  assert.equal(decideHotplug(request({ kind: "crash", hotplug: "auto" }), undefined), false);
  assert.equal(decideHotplug(request({ kind: "crash", hotplug: "require" }), 917616n), true);
  assert.equal(decideHotplug(request({ kind: "crash", hotplug: "off" }), 917616n), false);
  throwsKexec(
    () => decideHotplug(request({ kind: "crash", hotplug: "require" }), undefined),
    "unsupported",
    /^--hotplug needs a kernel built with CONFIG_CRASH_HOTPLUG \(no \/sys\/kernel\/crash_elfcorehdr_size\)/,
  );
});

Deno.test("noefi: a real field, written to the record; a record without it repeats a load that passed no EFI", () => {
  const req = loadRequest({ kind: "crash", kernel: "/boot/vmlinuz" });
  assert.equal(req.noefi, false);
  const json = requestToJson(req);
  assert.equal(json.noefi, false);
  assert.deepEqual(requestFromJson(json, "r"), req);
  assert.equal(requestFromJson({ ...json, noefi: true }, "r").noefi, true);
  const { noefi: _, ...old } = json;
  assert.equal(requestFromJson(old, "r").noefi, true, "absent: the old behaviour (no EFI handed over)");
  throwsKexec(() => requestFromJson({ ...json, noefi: "yes" }, "r"), "io", /field "noefi" is not true or false/);
});
