/**
 * kexec_file_load pre-checks against the real kernel (Debian 6.12): at each boundary kexec-ts' verdict is the
 * kernel's. Where kexec-ts refuses a `-s -p`, the loaded crash kernel stays; the same input through a raw
 * kexec_file_load (tests/vm/guest/rawfile.ts, no checks) is refused by the kernel as well, after it has freed the
 * crash kernel. Where kexec-ts accepts, so does the kernel. `-a` goes to kexec_load for what only kexec_file_load
 * refuses.
 */

import assert from "node:assert/strict";
import { block, boot, expectRc, marker } from "./harness.ts";

Deno.test("kexec_file_load: kexec-ts refuses exactly what the kernel refuses, before the kernel frees the crash kernel", async () => {
  const run = await boot("file-load-checks", { append: "crashkernel=256M" });
  const loaded = (k: string) => marker(run, k);
  assert.equal(loaded("start"), "1");

  // The command line: 2016 bytes is the most that fits (cmdline_size 2047 - NUL - MAX_ELFCOREHDR_STR_LEN 30).
  expectRc(run, "s-2016", 0);
  assert.match(
    block(run, "s-2016"),
    /^kexec-ts: note: kexec_file_load frees the loaded crash kernel before it checks /,
  );
  assert.equal(loaded("after-s-2016"), "1");
  expectRc(run, "s-2017", 1);
  assert.match(
    block(run, "s-2017"),
    /^kexec-ts: kexec_file_load would refuse this kernel: the command line is 2017 bytes; .* at most 2016 bytes\n$/,
  );
  assert.equal(loaded("after-s-2017"), "1", "our refusal kept the crash kernel");
  assert.equal(marker(run, "raw.cmdline-2017"), "EINVAL", "the kernel refuses 2017 bytes too");
  assert.equal(loaded("after-raw-2017"), "0", "the kernel's refusal cost the crash kernel");
  assert.equal(marker(run, "raw.cmdline-2016"), "ok", "the kernel accepts 2016 bytes");
  assert.equal(loaded("after-raw-2016"), "1");

  // No XLF_CAN_BE_LOADED_ABOVE_4G.
  expectRc(run, "below4g-s", 1);
  assert.match(block(run, "below4g-s"), /its xloadflags lack XLF_CAN_BE_LOADED_ABOVE_4G, .*; use -c\n$/);
  assert.equal(loaded("after-below4g-s"), "1");
  expectRc(run, "below4g-a", 0);
  assert.match(
    block(run, "below4g-a"),
    /^kexec-ts: note: kexec_file_load skipped \(kexec_file_load would refuse this kernel: .*\); kexec_load used$/m,
  );
  assert.equal(loaded("after-below4g-a"), "1");
  assert.equal(marker(run, "raw.below4g"), "ENOEXEC");
  assert.equal(loaded("after-raw-below4g"), "0");

  // An empty initrd.
  expectRc(run, "empty-initrd", 1);
  assert.equal(block(run, "empty-initrd"), "kexec-ts: kexec_file_load cannot take initrd /tmp/empty: it is empty\n");
  assert.equal(loaded("after-empty-initrd"), "1");
  assert.equal(marker(run, "raw.empty-initrd"), "EINVAL");
  assert.equal(loaded("after-raw-empty-initrd"), "0");

  // Lockdown and an unsigned kernel.
  expectRc(run, "lockdown-s", 1);
  assert.match(
    block(run, "lockdown-s"),
    /^kexec-ts: kexec_file_load under lockdown \(integrity\) needs a signed kernel, and \/boot\/vmlinuz carries no signature; .* \(the previously loaded crash kernel is still loaded\)\n$/,
  );
  assert.equal(loaded("after-lockdown-s"), "1");
  assert.equal(marker(run, "raw.lockdown"), "EPERM");
  assert.equal(loaded("after-raw-lockdown"), "0");
});
