/**
 * lib/load/inputs.ts: how a UKI's pieces and the request's combine (initrd order and padding, whose command line,
 * profiles), and what each syscall gets: kexec_load a plan with the UKI's facts, kexec_file_load memfds of the
 * parts and the files themselves for a plain kernel.
 */

import assert from "node:assert/strict";
import { joinInitrds, resolveInputs } from "../../../lib/load/inputs.ts";
import { loadRequest, type LoadRequestInit } from "../../../lib/load/request.ts";
import { buildLoadPlan } from "../../../lib/load/build.ts";
import { performLoad } from "../../../lib/load/load.ts";
import { x86_64 } from "../../../lib/arch/x86_64/mod.ts";
import { fsSystemView, recordSystemView, type SystemView } from "../../../lib/system.ts";
import { emptyInitramfs } from "../../../lib/load/initramfs.ts";
import { renderFilePlan } from "../../../lib/cli/output.ts";
import type { FileInput, KernelOps, RunEnv } from "../../../lib/runtime.ts";
import { machineDir, requireVmlinuz, throwsKexec, VMLINUZ_PATH } from "../test_helpers.ts";
import { buildPe, syntheticUki } from "../images/pe_fixtures.ts";
import { syntheticBzImage } from "./golden_fixtures.ts";

const dir = Deno.makeTempDirSync({ prefix: "kts-inputs-" });
const write = (name: string, bytes: Uint8Array | string) => {
  const p = `${dir}/${name}`;
  if (typeof bytes === "string") Deno.writeTextFileSync(p, bytes);
  else Deno.writeFileSync(p, bytes);
  return p;
};
const UKI = write("t.efi", syntheticUki());
const MULTI = write(
  "mp.efi",
  syntheticUki([
    { name: ".profile", data: "ID=a" },
    { name: ".profile", data: "ID=b" },
    { name: ".cmdline", data: "profile-one" },
  ]),
);
const ODD = write("odd.img", "12345");
const BZ = write("bz", syntheticBzImage());
const sys = recordSystemView({ "/proc/cmdline": "BOOT_IMAGE=/vmlinuz root=/dev/vda ro\n" });
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
const inputs = (init: Partial<LoadRequestInit>) => resolveInputs(loadRequest({ kernel: UKI, ...init }), sys, x86_64);

Deno.test("joinInitrds: one piece as it is; several with every one but the last zero-padded to 4 bytes", () => {
  assert.equal(joinInitrds([]), undefined);
  const one = new Uint8Array([1, 2, 3]);
  assert.equal(joinInitrds([one]), one);
  assert.deepEqual([...joinInitrds([one, new Uint8Array([4, 5, 6, 7, 8]), new Uint8Array([9])])!], [
    1,
    2,
    3,
    0,
    4,
    5,
    6,
    7,
    8,
    0,
    0,
    0,
    9,
  ]);
});

Deno.test("a UKI: .ucode, then --initrd, then .initrd; its .cmdline unless the request gives a command line", () => {
  const i = inputs({ initrds: [ODD] });
  assert.equal(i.loader.name, "bzImage64");
  assert.equal(i.kernelName, `${UKI} (.linux)`);
  assert.ok(i.kernelIsPart);
  assert.equal(text(i.initrd), "UCODE\0\0\x0012345\0\0\0INITRD");
  assert.equal(i.initrdPath, undefined);
  assert.equal(i.cmdline, "console=ttyS0 quiet");
  assert.deepEqual(i.info?.parts.slice(0, 3), [
    "kernel: .linux (61440 bytes)".replace("61440", String(syntheticBzImage().length)),
    "initrd: .ucode (5 bytes) + --initrd (5 bytes) + .initrd (6 bytes)",
    "command line: .cmdline",
  ]);
  assert.equal(inputs({ append: "root=/dev/sda" }).cmdline, "root=/dev/sda");
  assert.equal(inputs({ append: "x" }).info?.parts[2], "command line: the request's (replaces .cmdline)");
  assert.equal(
    inputs({ append: "   " }).cmdline,
    "console=ttyS0 quiet",
    "an empty command line is none, as in the stub",
  );
  assert.equal(inputs({ reuseCmdline: true }).cmdline, "root=/dev/vda ro");
  assert.ok(!("bootEntry" in i.info!), "no boot entry: no key (JSON would show null)");
});

Deno.test("profiles: --uki-profile or the command line's @N (stripped); a clash, or a profile on a bzImage, is refused", () => {
  assert.equal(inputs({ kernel: MULTI }).cmdline, "console=ttyS0 quiet");
  assert.equal(inputs({ kernel: MULTI, ukiProfile: 1 }).cmdline, "profile-one");
  const at = inputs({ kernel: MULTI, append: "@1 quiet" });
  assert.equal(at.cmdline, "quiet");
  assert.equal(at.info?.profile, 1);
  assert.equal(inputs({ kernel: MULTI, append: "@1" }).cmdline, "profile-one", "@1 alone: the profile's .cmdline");
  throwsKexec(
    () => inputs({ kernel: MULTI, append: "@1 x", ukiProfile: 0 }),
    "usage",
    /selects profile @1 but --uki-profile=0/,
  );
  throwsKexec(
    () => inputs({ kernel: BZ, ukiProfile: 0 }),
    "usage",
    /--uki-profile applies to UKIs; .* is a bzImage64 image/,
  );
  assert.equal(inputs({ kernel: BZ, append: "@1 x" }).cmdline, "@1 x", "a bzImage's command line is its own");
});

Deno.test("a plain kernel: no image facts, its one initrd by path", () => {
  const i = inputs({ kernel: BZ, initrds: [ODD] });
  assert.equal(i.info, undefined);
  assert.equal(i.initrdPath, ODD);
  assert.equal(text(i.initrd), "12345");
  const lazy = resolveInputs(loadRequest({ kernel: BZ, initrds: [ODD] }), sys, x86_64, { readInitrd: false });
  assert.equal(lazy.initrd, undefined, "kexec_file_load opens it itself");
  throwsKexec(
    () => resolveInputs(loadRequest({ kernel: BZ, initrds: ["/nonexistent"] }), sys, x86_64, { readInitrd: false }),
    "io",
    /cannot read initrd \/nonexistent/,
  );
  const bootEntry = inputs({ kernel: BZ, bootEntry: "debian.conf" });
  assert.deepEqual(bootEntry.info, { format: "bzImage64", bootEntry: "debian.conf", parts: [] });
});

Deno.test("kexec_load plan of a UKI around Debian's kernel: the bzImage path, and the UKI's facts in the plan", () => {
  const vmlinuz = requireVmlinuz();
  const real = write(
    "real.efi",
    buildPe({
      sections: [{ name: ".osrel", data: "ID=debian\n" }, { name: ".initrd", data: "I".repeat(700) }, {
        name: ".linux",
        data: vmlinuz,
      }],
    }),
  );
  const m = fsSystemView(machineDir("qemu-q35-2g-crash256m"));
  const { plan } = buildLoadPlan(
    loadRequest({ kind: "crash", kernel: real, append: "nr_cpus=1" }),
    m,
    new Uint8Array(32),
  );
  const kernel = plan.segments.find((s) => s.role === "kernel")!;
  const fromFile = buildLoadPlan(
    loadRequest({ kind: "crash", kernel: VMLINUZ_PATH, initrds: [write("i", "I".repeat(700))], append: "nr_cpus=1" }),
    m,
    new Uint8Array(32),
  ).plan;
  assert.deepEqual(kernel.buf, fromFile.segments.find((s) => s.role === "kernel")!.buf);
  assert.deepEqual(plan.segments.map((s) => [s.role, s.mem]), fromFile.segments.map((s) => [s.role, s.mem]));
  assert.equal(plan.cmdline, fromFile.cmdline);
  assert.equal(plan.image?.format, "uki");
  assert.equal(plan.image?.title, "debian");
  assert.equal(fromFile.image, undefined, "plans of plain kernels are unchanged");
});

Deno.test("kexec_file_load of a UKI gets memfds of its kernel and initrd; of a bzImage, the files", () => {
  const got: { kernel?: FileInput; initrd?: FileInput; cmdline?: string }[] = [];
  const kernel: KernelOps = {
    kexecLoad: () => assert.fail("kexec_load"),
    kexecFileLoad(k, i, c) {
      got.push({ kernel: k, initrd: i, cmdline: c });
    },
    rebootIntoKexec: () => assert.fail("reboot"),
    sync() {},
  };
  const env: RunEnv = { sys, kernel, out() {}, err() {}, shutdown() {}, uid: 0 };
  const outcome = performLoad(loadRequest({ kernel: UKI, syscall: "kexec_file_load", initrds: [ODD] }), env);
  assert.equal(outcome.syscall, "kexec_file_load");
  const k = got[0].kernel as { name: string; bytes: Uint8Array };
  assert.equal(k.name, "t.efi:kernel");
  assert.deepEqual(k.bytes, syntheticBzImage());
  const i = got[0].initrd as { name: string; bytes: Uint8Array };
  assert.equal(text(i.bytes), "UCODE\0\0\x0012345\0\0\0INITRD");
  assert.equal(got[0].cmdline, "console=ttyS0 quiet");
  assert.equal(outcome.filePlan?.image?.format, "uki");
  performLoad(loadRequest({ kernel: BZ, syscall: "kexec_file_load", initrds: [ODD], append: "x" }), env);
  assert.deepEqual(got[1], { kernel: BZ, initrd: ODD, cmdline: "x" });
});

Deno.test("kexec_file_load with no initrd on an EFI machine: an empty initramfs through a memfd, and a note", () => {
  const got: (FileInput | undefined)[] = [];
  const kernel: KernelOps = {
    kexecLoad: () => assert.fail("kexec_load"),
    kexecFileLoad: (_k, i) => void got.push(i),
    rebootIntoKexec: () => assert.fail("reboot"),
    sync() {},
  };
  const envOn = (m: SystemView): RunEnv => ({ sys: m, kernel, out() {}, err() {}, shutdown() {}, uid: 0 });
  const ovmf = fsSystemView(machineDir("qemu-q35-2g-ovmf-crash256m"));
  const outcome = performLoad(loadRequest({ kernel: BZ, syscall: "kexec_file_load", append: "x" }), envOn(ovmf));
  assert.deepEqual(got[0], { name: "bz:initrd", bytes: emptyInitramfs() });
  assert.equal(outcome.filePlan?.initrd, "bz:initrd (memfd, empty initramfs)");
  assert.match(
    outcome.filePlan!.notes![0],
    /kexec_file loader hands EFI over and a kernel handed EFI with ramdisk_size 0/,
  );
  // -a too (kexec_file_load is tried first), and the dry run shows it.
  const dry = performLoad(loadRequest({ kernel: BZ, syscall: "auto", append: "x" }), envOn(ovmf), { dryRun: true });
  assert.match(renderFilePlan(dry.filePlan!), /^initrd {4}bz:initrd \(memfd, empty initramfs\)$/m);
  assert.match(renderFilePlan(dry.filePlan!), /^note: no initrd: an empty initramfs .* through a memfd/m);
  // A given initrd goes as it is; no EFI to hand over (BIOS, efi=noruntime): no initrd made up.
  performLoad(loadRequest({ kernel: BZ, syscall: "kexec_file_load", initrds: [ODD], append: "x" }), envOn(ovmf));
  assert.equal(got[1], ODD);
  for (const m of ["qemu-q35-2g-nocrash", "qemu-q35-2g-ovmf-noruntime"] as const) {
    const o = performLoad(
      loadRequest({ kernel: BZ, syscall: "kexec_file_load", append: "x" }),
      envOn(fsSystemView(machineDir(m))),
    );
    assert.equal(got.at(-1), undefined, m);
    assert.equal(o.filePlan?.notes, undefined, m);
  }
});

Deno.test("Secure Boot on: replacing a UKI's .cmdline is done, with a warning that systemd-stub would not", () => {
  const efi = (b: number) => new Uint8Array([6, 0, 0, 0, b]);
  const sb = (secure: number, setup: number) =>
    recordSystemView({
      "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c": efi(secure),
      "/sys/firmware/efi/efivars/SetupMode-8be4df61-93ca-11d2-aa0d-00e098032b8c": efi(setup),
    });
  const warn = (view = sb(1, 0), append?: string) =>
    resolveInputs(loadRequest({ kernel: UKI, append }), view, x86_64).warnings;
  assert.deepEqual(warn(sb(1, 0), "mine"), [
    `Secure Boot is on: systemd-stub would boot ${UKI} with its .cmdline and ignore this command line; kexec-ts uses yours`,
  ]);
  assert.deepEqual(warn(sb(1, 0)), [], "no command line of its own: the UKI's is used");
  assert.deepEqual(warn(sb(0, 0), "mine"), []);
  assert.deepEqual(warn(sb(0, 1), "mine"), [], "setup mode does not enforce");
  assert.deepEqual(warn(recordSystemView({}), "mine"), [], "a BIOS machine");
});
