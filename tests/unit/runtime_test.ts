/**
 * lib/runtime.ts: what a failed crash load or unload says about the crash kernel loaded now.
 */

import assert from "node:assert/strict";
import { crashStateAfterFailure } from "../../lib/runtime.ts";
import { recordSystemView } from "../../lib/system.ts";
import { Errno } from "../../ffi/errno.ts";

Deno.test("crashStateAfterFailure: sysfs first (new path, then the old one), else where the refusal came from", () => {
  const loaded = recordSystemView({ "/sys/kernel/kexec/crash_loaded": "1\n", "/sys/kernel/kexec_crash_loaded": "0\n" });
  assert.equal(crashStateAfterFailure(loaded), " (the previously loaded crash kernel is still loaded)");
  const old = recordSystemView({ "/sys/kernel/kexec_crash_loaded": "0\n" });
  assert.equal(crashStateAfterFailure(old, "precheck"), " (no crash kernel is loaded now)");
  const unreadable = recordSystemView({});
  assert.equal(
    crashStateAfterFailure(unreadable, "precheck"),
    " (refused before any syscall: a loaded crash kernel is untouched)",
  );
  assert.equal(
    crashStateAfterFailure(unreadable, "kexec_load", Errno.EPERM),
    " (the kernel refused before touching the loaded crash kernel)",
  );
  assert.match(crashStateAfterFailure(unreadable, "kexec_file_load", Errno.EPERM), /unknown/);
});
