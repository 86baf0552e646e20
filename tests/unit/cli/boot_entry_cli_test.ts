/**
 * The command line of boot entries and UKIs: `entries`, `--boot-entry`, `--boot-root`, `--uki-profile` parse as
 * documented, `entries` lists a fixture ESP, and `-l --boot-entry=default` loads the default entry's kernel and
 * says which entry it is, through a fake kernel.
 */

import assert from "node:assert/strict";
import { parseInvocation } from "../../../lib/cli/args.ts";
import { run } from "../../../lib/cli/run.ts";
import type { KernelOps, RunEnv } from "../../../lib/runtime.ts";
import { fsSystemView } from "../../../lib/system.ts";
import { machineDir, requireVmlinuz, throwsKexec } from "../test_helpers.ts";

Deno.test("args: --boot-entry instead of KERNEL, --boot-root, --uki-profile, and the entries subcommand", () => {
  const inv = parseInvocation(["-l", "--boot-entry=default", "--boot-root=/esp", "--append=x"]);
  assert.deepEqual(inv.bootEntry, { selector: "default", bootRoot: "/esp" });
  assert.equal(inv.load?.kernel, "");
  assert.equal(inv.load?.append, "x");
  assert.equal(parseInvocation(["-p", "--uki-profile=2", "/boot/x.efi"]).load?.ukiProfile, 2);
  assert.equal("ukiProfile" in parseInvocation(["-l", "/boot/x.efi"]).load!, false);
  assert.deepEqual(parseInvocation(["entries", "--json", "--boot-root=/esp"]).action, {
    kind: "entries",
    bootRoot: "/esp",
  });
  assert.deepEqual(parseInvocation(["entries"]).action, { kind: "entries", bootRoot: undefined });
  throwsKexec(
    () => parseInvocation(["-l", "--boot-entry=a", "/boot/vmlinuz"]),
    "usage",
    /--boot-entry=a names what to load; drop \/boot\/vmlinuz/,
  );
  throwsKexec(() => parseInvocation(["-l", "--boot-root=/esp", "/boot/vmlinuz"]), "usage", /add --boot-entry=ID/);
  throwsKexec(() => parseInvocation(["-u", "--boot-entry=a"]), "usage", /--boot-entry and --boot-root choose what/);
  throwsKexec(() => parseInvocation(["-l", "--boot-entry=a", "-t", "bzImage"]), "usage", /drop -t/);
  throwsKexec(() => parseInvocation(["-l", "--uki-profile=256", "k"]), "usage", /a number from 0 to 255/);
  throwsKexec(() => parseInvocation(["-l", "--uki-profile=-1", "k"]), "usage", /a number from 0 to 255/);
  throwsKexec(() => parseInvocation(["entries", "x"]), "usage", /entries takes no file argument/);
  assert.equal(parseInvocation(["-l", "--args-linux", "/boot/vmlinux"]).load?.kernel, "/boot/vmlinux");
  throwsKexec(() => parseInvocation(["-l", "--args-elf", "/boot/vmlinux"]), "not-implemented", /--args-elf/);
});

function fakeEnv() {
  const out: string[] = [];
  const err: string[] = [];
  const loads: { segments: number; flags: bigint }[] = [];
  const kernel: KernelOps = {
    kexecLoad(_e, segments, flags) {
      loads.push({ segments: segments.length, flags });
    },
    kexecFileLoad: () => assert.fail("kexec_file_load"),
    rebootIntoKexec: () => assert.fail("reboot"),
    sync() {},
  };
  const env: RunEnv = {
    sys: fsSystemView(machineDir("qemu-q35-2g-nocrash")),
    kernel,
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    shutdown: () => assert.fail("shutdown"),
    uid: 0,
  };
  return { env, out, err, loads };
}

Deno.test("run: entries lists a fixture ESP; -l --boot-entry=default loads the default's kernel and says which", async () => {
  const esp = Deno.makeTempDirSync({ prefix: "kts-esp-" });
  Deno.mkdirSync(`${esp}/loader/entries`, { recursive: true });
  Deno.writeFileSync(`${esp}/vmlinuz`, requireVmlinuz());
  Deno.writeTextFileSync(`${esp}/loader/loader.conf`, "default b.conf\n");
  Deno.writeTextFileSync(`${esp}/loader/entries/a.conf`, "title A\nlinux /vmlinuz\noptions console=ttyS0 kts=a\n");
  Deno.writeTextFileSync(`${esp}/loader/entries/b.conf`, "title B\nversion 2\nlinux /vmlinuz\noptions kts=b\n");

  const listing = fakeEnv();
  assert.equal(await run(parseInvocation(["entries", `--boot-root=${esp}`]), listing.env), 0);
  const text = listing.out.join("");
  assert.match(
    text,
    new RegExp(
      `^ESP        ${esp} \\(--boot-root\\)\nXBOOTLDR   none\ndefault    b\\.conf \\(loader\\.conf default "b\\.conf"\\)\n`,
    ),
  );
  assert.match(text, /^ \* b\.conf +1 +B \(2\)$/m);
  assert.match(text, /^ {3}a\.conf +1 +A$/m);
  const json = fakeEnv();
  await run(parseInvocation(["entries", "--json", `--boot-root=${esp}`]), json.env);
  const parsed = JSON.parse(json.out.join(""));
  assert.equal(parsed.defaultId, "b.conf");
  assert.deepEqual(parsed.entries.map((e: { id: string }) => e.id), ["b.conf", "a.conf"]);

  const load = fakeEnv();
  assert.equal(await run(parseInvocation(["-l", "--boot-entry=default", `--boot-root=${esp}`]), load.env), 0);
  assert.deepEqual(load.loads.map((l) => l.segments), [3], "purgatory, boot_params, kernel");
  assert.deepEqual(load.err, [
    `kexec-ts: boot entry b.conf: "B" 2 (the default: loader.conf default "b.conf"), from ${esp}/loader/entries/b.conf`,
  ]);
  const plan = fakeEnv();
  await run(parseInvocation(["plan", "--json", "--boot-entry=a", `--boot-root=${esp}`]), plan.env);
  const p = JSON.parse(plan.out.join(""));
  assert.equal(p.cmdline, "console=ttyS0 kts=a");
  assert.deepEqual(p.image, { format: "bzImage64", bootEntry: "a.conf", parts: [] });
  assert.deepEqual(plan.loads, []);
});

Deno.test("run --system-root: the saved machine's mount table names the ESP, and it is read under the system root", async () => {
  const snap = Deno.makeTempDirSync({ prefix: "kts-snap-" });
  try {
    // A saved machine (the SeaBIOS snapshot) with a mount table and its ESP's files.
    const cp = new Deno.Command("cp", { args: ["-r", `${machineDir("qemu-q35-2g-nocrash")}/.`, snap] }).outputSync();
    assert.ok(cp.success, new TextDecoder().decode(cp.stderr));
    Deno.mkdirSync(`${snap}/proc/self`, { recursive: true });
    Deno.writeTextFileSync(
      `${snap}/proc/self/mountinfo`,
      "36 1 254:1 / /efi rw,relatime - vfat /dev/vda1 rw\n",
    );
    Deno.mkdirSync(`${snap}/efi/loader/entries`, { recursive: true });
    Deno.writeFileSync(`${snap}/efi/vmlinuz`, requireVmlinuz());
    Deno.writeTextFileSync(`${snap}/efi/loader/entries/saved.conf`, "title Saved\nlinux /vmlinuz\noptions kts=s\n");
    const inSnapshot = (e: ReturnType<typeof fakeEnv>) => ({ ...e.env, sys: fsSystemView(snap) });
    const listing = fakeEnv();
    assert.equal(await run(parseInvocation(["entries", `--system-root=${snap}`]), inSnapshot(listing)), 0);
    assert.match(
      listing.out.join(""),
      new RegExp(`^ESP {8}${snap}/efi \\(mount point /efi: vfat on /dev/vda1\\)$`, "m"),
    );
    assert.match(listing.out.join(""), /^ \* saved\.conf +1 +Saved$/m);
    const plan = fakeEnv();
    const argv = ["plan", "--json", `--system-root=${snap}`, "--boot-entry=default"];
    assert.equal(await run(parseInvocation(argv), inSnapshot(plan)), 0);
    assert.equal(JSON.parse(plan.out.join("")).cmdline, "kts=s");
    assert.deepEqual(plan.err, [
      `kexec-ts: boot entry saved.conf: "Saved" (the default: the first entry (no default set, or it matches no entry)), ` +
      `from ${snap}/efi/loader/entries/saved.conf`,
    ]);
  } finally {
    Deno.removeSync(snap, { recursive: true });
  }
});
