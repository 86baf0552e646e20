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
import { planGoldenText, syntheticBzImage, syntheticInitrd } from "./golden_fixtures.ts";
import { currentArch } from "../../../lib/arch/mod.ts";
import { readAll } from "../../../ffi/fd.ts";
import type { LoadRequest } from "../../../lib/load/request.ts";

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
  assert.equal(lazy.files.initrds[0].source, undefined, "nor read by kexec-ts");
  lazy.close();
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
  // A plain kernel's files go by the descriptors kexec-ts opened (and closed after the call).
  assert.equal(typeof got[1].kernel, "number");
  assert.equal(typeof got[1].initrd, "number");
  assert.equal(got[1].cmdline, "x");
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
  assert.equal(typeof got[1], "number"); // the initrd's descriptor, as given
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

// ---- each input file opened once: checks, hashing and the syscall use that open file ----

const SEED = new Uint8Array(32).fill(0xa5);
const NOCRASH = fsSystemView(machineDir("qemu-q35-2g-nocrash"));
const CRASH = fsSystemView(machineDir("qemu-q35-2g-crash256m"));
const ROOT = new URL("../../../", import.meta.url).pathname;

function workDir() {
  const dir = Deno.makeTempDirSync({ prefix: "kexec-ts-inputs-" });
  Deno.writeFileSync(`${dir}/bzImage`, syntheticBzImage());
  Deno.writeFileSync(`${dir}/initrd.img`, syntheticInitrd());
  return dir;
}

function feedFifo(path: string, from: string): Promise<Deno.CommandStatus> {
  assert.ok(new Deno.Command("mkfifo", { args: [path] }).outputSync().success);
  return new Deno.Command("sh", { args: ["-c", `cat "$0" > "$1"`, from, path] }).spawn().status;
}

function req(dir: string, over: Partial<LoadRequest> = {}): LoadRequest {
  return loadRequest({ kernel: `${dir}/bzImage`, initrds: [`${dir}/initrd.img`], append: "console=ttyS0", ...over });
}

Deno.test("an initrd read from a pipe gives the same plan, byte for byte, as the mapped file", async () => {
  const dir = workDir();
  try {
    const mapped = buildLoadPlan(req(dir), NOCRASH, SEED).plan;
    const fed = feedFifo(`${dir}/pipe`, `${dir}/initrd.img`);
    const pipeReq = req(dir, { initrds: [`${dir}/pipe`] });
    const inputs = resolveInputs(pipeReq, NOCRASH, currentArch());
    const piped = buildLoadPlan(pipeReq, NOCRASH, SEED, currentArch(), inputs).plan;
    assert.equal(inputs.files.initrds[0].source, "read");
    assert.equal(inputs.files.kernel.source, "mmap");
    inputs.close();
    assert.ok((await fed).success);
    assert.equal(planGoldenText(piped).replaceAll("/pipe", "/initrd.img"), planGoldenText(mapped));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("an empty initrd is named", () => {
  const d = workDir();
  try {
    Deno.writeFileSync(`${d}/empty`, new Uint8Array());
    throwsKexec(
      () => resolveInputs(req(d, { initrds: [`${d}/initrd.img`, `${d}/empty`] }), NOCRASH, currentArch()),
      "io",
      /^initrd .*\/empty is empty$/,
    );
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

/** A kernel that, at kexec_file_load, replaces both files at their paths and reads what its descriptors hold. */
function fileLoadKernel(dir: string) {
  const seen: { kernel?: Uint8Array; initrd?: Uint8Array; calls: string[] } = { calls: [] };
  const kernel: KernelOps = {
    kexecLoad: () => void seen.calls.push("kexec_load"),
    kexecFileLoad(kernelFd, initrdFd) {
      seen.calls.push("kexec_file_load");
      // A package upgrade between the checks and the syscall: new files renamed over the old paths.
      Deno.writeFileSync(`${dir}/new`, new TextEncoder().encode("not what was checked"));
      Deno.renameSync(`${dir}/new`, `${dir}/bzImage`);
      Deno.writeFileSync(`${dir}/new`, new TextEncoder().encode("nor this"));
      Deno.renameSync(`${dir}/new`, `${dir}/initrd.img`);
      const contents = (input: FileInput | undefined) => {
        if (typeof input !== "number") throw new Error(`expected a descriptor, got ${JSON.stringify(input)}`);
        const fd = input;
        const r = readAll(fd);
        if (!(r instanceof Uint8Array)) throw new Error(`read of fd ${fd} failed: errno ${r.errno}`);
        return r;
      };
      seen.kernel = contents(kernelFd);
      seen.initrd = contents(initrdFd);
    },
    rebootIntoKexec: () => assert.fail("no reboot"),
    sync() {},
  };
  const warnings: string[] = [];
  const env: RunEnv = { sys: CRASH, kernel, out: () => {}, err: (t) => warnings.push(t), shutdown: () => {}, uid: 0 };
  return { env, seen };
}

Deno.test("-s: kexec_file_load gets the descriptors that were checked, whatever the paths point to by then", () => {
  const dir = workDir();
  const runDir = Deno.makeTempDirSync({ prefix: "kexec-ts-run-" });
  Deno.env.set("KEXEC_TS_RUN_DIR", runDir);
  try {
    const { env, seen } = fileLoadKernel(dir);
    const outcome = performLoad(req(dir, { syscall: "kexec_file_load" }), env);
    assert.equal(outcome.syscall, "kexec_file_load");
    assert.deepEqual(seen.calls, ["kexec_file_load"]);
    assert.deepEqual(seen.kernel, syntheticBzImage());
    assert.deepEqual(seen.initrd, syntheticInitrd());
  } finally {
    Deno.env.delete("KEXEC_TS_RUN_DIR");
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(runDir, { recursive: true });
  }
});

Deno.test("-s with an initrd from a pipe is refused before the syscall; -a loads it with kexec_load instead", async () => {
  const dir = workDir();
  try {
    const { env, seen } = fileLoadKernel(dir);
    const fed = feedFifo(`${dir}/pipe`, `${dir}/initrd.img`);
    throwsKexec(
      () => performLoad(req(dir, { syscall: "kexec_file_load", initrds: [`${dir}/pipe`] }), env),
      "io",
      /^kexec_file_load cannot take initrd .*\/pipe: it is not a regular file; use -c \(kexec_load\)$/,
    );
    assert.deepEqual(seen.calls, []);
    await fed.catch(() => {}); // the writer may see EPIPE: nothing read the pipe
    Deno.removeSync(`${dir}/pipe`);
    const fed2 = feedFifo(`${dir}/pipe`, `${dir}/initrd.img`);
    const outcome = performLoad(req(dir, { syscall: "auto", initrds: [`${dir}/pipe`] }), env);
    assert.equal(outcome.syscall, "kexec_load");
    assert.deepEqual(seen.calls, ["kexec_load"]);
    assert.match(
      outcome.plan!.notes.join("\n"),
      /kexec_file_load skipped \(kexec_file_load cannot take initrd .*\/pipe: it is not a regular file\); kexec_load used/,
    );
    assert.ok((await fed2).success);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("-s with a pipe whose writer never closes is refused at once: the pipe is not read to find its size", async () => {
  const dir = workDir();
  assert.ok(new Deno.Command("mkfifo", { args: [`${dir}/pipe`] }).outputSync().success);
  // A writer that opens the pipe and keeps it open (as `--initrd <(cat /dev/zero)` would, or a stuck producer).
  const writer = new Deno.Command("sh", { args: ["-c", 'exec 3>"$0"; echo x >&3; sleep 30', `${dir}/pipe`] }).spawn();
  try {
    const { env, seen } = fileLoadKernel(dir);
    const t0 = performance.now();
    throwsKexec(
      () => performLoad(req(dir, { syscall: "kexec_file_load", initrds: [`${dir}/pipe`] }), env),
      "io",
      /^kexec_file_load cannot take initrd .*\/pipe: it is not a regular file; use -c \(kexec_load\)$/,
    );
    assert.ok(performance.now() - t0 < 5000, "the refusal waited for the pipe's writer");
    assert.deepEqual(seen.calls, []);
  } finally {
    writer.kill();
    await writer.status;
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("-s with two initrds: kexec_file_load gets them joined through one memfd, in order", () => {
  const dir = workDir();
  const runDir = Deno.makeTempDirSync({ prefix: "kexec-ts-run-" });
  Deno.env.set("KEXEC_TS_RUN_DIR", runDir);
  try {
    Deno.writeFileSync(`${dir}/extra.img`, new TextEncoder().encode("second initrd"));
    const got: (FileInput | undefined)[] = [];
    const kernel: KernelOps = {
      kexecLoad: () => assert.fail("kexec_load"),
      kexecFileLoad: (_k, initrd) => void got.push(initrd),
      rebootIntoKexec: () => assert.fail("reboot"),
      sync() {},
    };
    const env: RunEnv = { sys: CRASH, kernel, out() {}, err() {}, shutdown() {}, uid: 0 };
    const two = req(dir, { initrds: [`${dir}/initrd.img`, `${dir}/extra.img`] });
    for (const syscall of ["kexec_file_load", "auto"] as const) {
      const outcome = performLoad({ ...two, syscall }, env);
      assert.equal(outcome.syscall, "kexec_file_load");
    }
    for (const initrd of got) {
      assert.ok(initrd !== undefined && typeof initrd !== "number", "a memfd, not a descriptor");
      assert.deepEqual(
        (initrd as { bytes: Uint8Array }).bytes,
        joinInitrds([syntheticInitrd(), new TextEncoder().encode("second initrd")]), // 4-byte aligned, as -c joins them
      );
    }
    assert.equal(got.length, 2);
  } finally {
    Deno.env.delete("KEXEC_TS_RUN_DIR");
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(runDir, { recursive: true });
  }
});

/**
 * How often each path was opened while kexec-ts ran `args`, from strace, which also intercepts every kexec call
 * (answering 0: nothing reaches the kernel, whatever the host); and the kexec_file_load calls it saw.
 */
function opensOf(args: string[], paths: string[]): { opens: number[]; fds: string[]; fileLoads: string[] } {
  const log = Deno.makeTempFileSync({ prefix: "kexec-ts-opens-" });
  const runDir = Deno.makeTempDirSync({ prefix: "kexec-ts-run-" });
  try {
    const r = new Deno.Command("strace", {
      args: [
        ...["-f", "-qq", "-e", "trace=open,openat,openat2,kexec_load,kexec_file_load,reboot"],
        ...["-e", "inject=kexec_load,kexec_file_load,reboot:retval=0", "-o", log],
        ...[Deno.execPath(), "run", "-A", `${ROOT}main.ts`, ...args],
      ],
      env: { KEXEC_TS_RUN_DIR: runDir },
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    assert.ok(r.success, `kexec-ts ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
    const lines = Deno.readTextFileSync(log).split("\n");
    return {
      opens: paths.map((p) => lines.filter((l) => l.includes(`"${p}"`)).length),
      fds: paths.map((p) => / = (\d+)$/.exec(lines.find((l) => l.includes(`"${p}"`)) ?? "")?.[1] ?? "none"),
      fileLoads: lines.filter((l) => l.includes("kexec_file_load(")),
    };
  } finally {
    Deno.removeSync(log);
    Deno.removeSync(runDir, { recursive: true });
  }
}

Deno.test("one open per file: the kernel and initrd are opened once, the syscall included (counted with strace)", () => {
  const dir = workDir();
  const K = `${dir}/bzImage`, I = `${dir}/initrd.img`;
  const machine = machineDir("qemu-q35-2g-crash256m");
  try {
    for (const mode of [["-l"], ["-s", "-l"], ["-a", "-l"], ["-p"], ["-s", "-p"]]) {
      const args = [...mode, K, `--initrd=${I}`, "--dry-run", `--system-root=${machine}`];
      assert.deepEqual(opensOf(args, [K, I]).opens, [1, 1], `opens of kernel and initrd for ${mode.join(" ")}`);
    }
    // A real -s load (the syscall intercepted): kexec_file_load gets the descriptors opened for the checks.
    const real = opensOf(["-s", "-l", K, `--initrd=${I}`, "--append=console=ttyS0"], [K, I]);
    assert.deepEqual(real.opens, [1, 1]);
    assert.equal(real.fileLoads.length, 1, real.fileLoads.join("\n"));
    const [kfd, ifd] = real.fds;
    assert.match(
      real.fileLoads[0],
      new RegExp(`kexec_file_load\\(${kfd}, ${ifd}, 14, "console=ttyS0\\\\0", 0\\) = 0 \\(INJECTED\\)`),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
