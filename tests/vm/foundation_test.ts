/**
 * The foundation on a real kernel: `status --json` inside the guest agrees with what the kernel says, unload and
 * exec behave like kexec-tools, and errors are clear. Boots the Debian 6.12 kernel under QEMU (TCG).
 */

import assert from "node:assert/strict";
import { block, boot, check, expectRc, marker, type Run } from "./harness.ts";

/** The JSON `kexec-ts status --json` printed, checked against the raw kernel values the guest also printed. */
function checkStatusAgainstKernel(run: Run, crashReserved: boolean) {
  expectRc(run, "status-json", 0);
  const s = JSON.parse(block(run, "status-json"));
  const sys = (k: string) => marker(run, `sys.${k}`);
  check(run, s.kexecSupported === true, "status says kexec is unsupported on a KEXEC kernel");
  assert.deepEqual(s.syscalls, { kexecLoad: "yes", kexecFileLoad: "yes" });
  assert.equal(marker(run, "sys.kallsyms_kexec_load"), "T");
  assert.equal(s.kexecLoaded, sys("kexec_loaded") === "1");
  assert.equal(s.crashLoaded, sys("kexec_crash_loaded") === "1");
  assert.equal(s.crashSizeBytes, Number(sys("kexec_crash_size")));
  assert.equal(s.hotplug.elfcorehdrSizeBytes, Number(sys("crash_elfcorehdr_size")));
  assert.equal(String(s.hotplug.cpu), sys("cpu_crash_hotplug"));
  assert.equal(String(s.hotplug.memory), sys("memory_crash_hotplug"));
  assert.equal(s.lockdown, /\[(\w+)\]/.exec(sys("lockdown"))![1]);
  assert.equal(s.kexecLoadDisabled, sys("kexec_load_disabled") === "1");
  assert.equal(s.loadLimitPanic, Number(sys("kexec_load_limit_panic")));
  assert.equal(s.loadLimitReboot, Number(sys("kexec_load_limit_reboot")));
  if (crashReserved) {
    const [start, end] = sys("crash_region").split("-").map((x) => BigInt("0x" + x));
    assert.equal(s.crashRegion.kind, "reserved");
    assert.equal(BigInt(s.crashRegion.main.start), start);
    assert.equal(BigInt(s.crashRegion.main.end), end + 1n);
    assert.equal(Number(end + 1n - start), s.crashSizeBytes);
  } else {
    assert.equal(s.crashRegion.kind, "none");
    assert.equal(s.crashSizeBytes, 0);
  }
  assert.equal(s.verdict.behaviour, "none");
  assert.equal(s.verdict.reason, "nothing-loaded");
  expectRc(run, "status-text", 0);
  check(
    run,
    block(run, "status-text").includes("hotplug verdict: nothing to update"),
    "human status lacks the verdict",
  );
}

Deno.test("status --json matches the kernel (crashkernel=256M); unload, -S and -e behave like kexec-tools", async () => {
  const run = await boot("status+unload-exec", { append: "crashkernel=256M" });
  checkStatusAgainstKernel(run, true);
  for (const name of ["unload", "unload-crash", "unload-crash-bundled", "unload-file", "unload-file-crash"]) {
    expectRc(run, name, 0);
  }
  // kexec-tools -S: exit status 1 when loaded, 0 when not; ours must agree with Debian's kexec in the same VM.
  expectRc(run, "status-exit-crash", 0);
  expectRc(run, "status-exit-normal", 0);
  assert.equal(marker(run, "kexec-tools-status.rc"), marker(run, "status-exit-crash.rc"));
  expectRc(run, "exec-nothing", 1);
  assert.match(block(run, "exec-nothing"), /^kexec-ts: no kernel is loaded for kexec -e .*kexec-ts -l KERNEL\n$/);
  expectRc(run, "unload-nonroot", 1);
  assert.match(
    block(run, "unload-nonroot"),
    /^kexec-ts: unloading failed \(EPERM\): kexec needs root \(CAP_SYS_BOOT\); run it as root \(no crash kernel is loaded now\)\n$/,
  );
  assert.equal(marker(run, "sys.kexec_crash_loaded"), "0");
  assert.equal(marker(run, "end"), "rc=0");
});

Deno.test("status --json matches the kernel without crashkernel=", async () => {
  const run = await boot("status");
  checkStatusAgainstKernel(run, false);
});
