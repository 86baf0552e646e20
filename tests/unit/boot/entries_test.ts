/**
 * lib/boot/entries.ts and lib/boot/mod.ts: the entries of fixture ESP trees, in systemd-boot's order, the default
 * as bootctl picks it (EFI variables, loader.conf, first), entries kexec cannot boot, and the requests entries make.
 */

import assert from "node:assert/strict";
import { type BootEntry, compareEntries, listBootEntries } from "../../../lib/boot/entries.ts";
import { bootEntries, bootEntryLoad, entryRequest } from "../../../lib/boot/mod.ts";
import { x86_64 } from "../../../lib/arch/x86_64/mod.ts";
import { LOADER_GUID } from "../../../lib/boot/efivars.ts";
import { memoryBootFs, realBootFs } from "../../../lib/boot/fs.ts";
import { KexecError } from "../../../lib/errors.ts";
import { loadRequest } from "../../../lib/load/request.ts";
import { recordSystemView } from "../../../lib/system.ts";
import { throwsKexec } from "../test_helpers.ts";
import { buildPe } from "../images/pe_fixtures.ts";

const uki = (osrel: string, extra: { name: string; data: string }[] = []) =>
  buildPe({
    sections: [{ name: ".osrel", data: osrel }, { name: ".cmdline", data: "uki-cmdline" }, {
      name: ".linux",
      data: "K",
    }, ...extra],
  });
const efiVar = (s: string) => {
  const b = new Uint8Array(4 + (s.length + 1) * 2);
  for (let i = 0; i < s.length; i++) b[4 + i * 2] = s.charCodeAt(i);
  return b;
};

const ESP = "/efi";
const tree = (extra: Record<string, string | Uint8Array> = {}) =>
  memoryBootFs({
    "/efi/vmlinuz-6.1": "k",
    "/efi/vmlinuz-6.12": "k",
    "/efi/initrd-6.12": "i",
    "/efi/ucode": "u",
    "/efi/loader/loader.conf": "timeout 5\ndefault debian-6.1.*\n",
    "/efi/loader/entries/debian-6.1.conf": "title Debian\nversion 6.1\nlinux /vmlinuz-6.1\noptions quiet\n",
    "/efi/loader/entries/debian-6.12.conf":
      "title Debian\nversion 6.12\nlinux /vmlinuz-6.12\ninitrd /ucode\ninitrd /initrd-6.12\noptions root=/dev/vda\noptions ro\n",
    "/efi/loader/entries/windows.conf": "title Windows\nefi /vmlinuz-6.1\n",
    "/efi/loader/entries/arm.conf": "title ARM\nlinux /vmlinuz-6.1\narchitecture aa64\n",
    "/efi/loader/entries/gone.conf": "title Gone\nlinux /missing\n",
    "/efi/loader/entries/.hidden.conf": "linux /vmlinuz-6.1\n",
    "/efi/loader/entries/auto-windows.conf": "linux /vmlinuz-6.1\n",
    "/efi/loader/entries/notes.txt": "not an entry",
    "/efi/EFI/Linux/fedora-6.15.efi": uki('PRETTY_NAME="Fedora Linux 42"\nID=fedora\nVERSION_ID=42\n'),
    "/efi/EFI/Linux/noname.efi": uki("VERSION_ID=1\n"),
    "/efi/EFI/Linux/arm.efi": buildPe({
      machine: 0xaa64,
      sections: [{ name: ".osrel", data: "ID=x" }, { name: ".linux", data: "K" }],
    }),
    "/efi/EFI/Linux/broken.efi": "MZ but nothing else",
    ...extra,
  });
const opts = { efiArch: "x64", peMachine: 0x8664, bootRoot: ESP };

Deno.test("listBootEntries: Type #1 and Type #2 entries with their fields; skipped files say why", () => {
  const list = listBootEntries(recordSystemView({}), tree(), opts);
  const ids = list.entries.map((e) => e.id);
  assert.deepEqual(ids, [
    "fedora-6.15.efi",
    "windows.conf",
    "gone.conf",
    "debian-6.12.conf",
    "debian-6.1.conf",
    "arm.conf",
  ]);
  const d = list.entries.find((e) => e.id === "debian-6.12.conf")!;
  assert.equal(d.linux, "/efi/vmlinuz-6.12");
  assert.deepEqual(d.initrds, ["/efi/ucode", "/efi/initrd-6.12"]);
  assert.equal(d.options, "root=/dev/vda ro");
  assert.deepEqual(d.aliases, ["debian-6.12"]);
  const f = list.entries[0];
  assert.equal(f.type, "type2");
  assert.equal(f.title, "Fedora Linux 42");
  assert.equal(f.version, "42");
  assert.equal(f.sortKey, "fedora");
  assert.equal(f.options, "uki-cmdline");
  assert.equal(f.uki, "/efi/EFI/Linux/fedora-6.15.efi");
  assert.equal(
    list.entries.find((e) => e.id === "windows.conf")!.unbootable,
    "runs the EFI program /efi/vmlinuz-6.1, which kexec cannot start",
  );
  assert.equal(list.entries.find((e) => e.id === "windows.conf")!.hidden, undefined, "the menu shows it");
  const gone = list.entries.find((e) => e.id === "gone.conf")!;
  assert.ok(gone.hidden);
  assert.equal(gone.unbootable, "names /efi/missing, which is not a file");
  assert.equal(list.entries.find((e) => e.id === "arm.conf")!.unbootable, "is for architecture aa64, not x64");
  assert.deepEqual(list.notes.map((n) => n.replace(/: .*?(\(skipped\))$/, ": $1")), [
    "/efi/EFI/Linux/arm.efi: (skipped)",
    "/efi/EFI/Linux/broken.efi: (skipped)",
    "/efi/EFI/Linux/noname.efi: (skipped)",
  ]);
  assert.match(list.notes[1], /broken\.efi: file is 19 bytes, shorter than the 64-byte DOS header/);
  assert.match(list.notes[2], /profile 0 has no \.osrel name/);
  assert.equal(list.defaultId, "debian-6.1.conf");
  assert.equal(list.defaultReason, 'loader.conf default "debian-6.1.*"');
});

Deno.test("Type #2: an unreadable UKI is a note; a bug while reading one (not a KexecError) is not hidden", () => {
  const base = tree();
  const withOpen = (open: typeof base.open) => ({ ...base, open });
  const failing = (err: Error) =>
    withOpen((path) => {
      const src = base.open(path);
      return path.endsWith("fedora-6.15.efi")
        ? {
          ...src,
          read: () => {
            throw err;
          },
        }
        : src;
    });
  const io = listBootEntries(recordSystemView({}), failing(new KexecError("io", "x.efi: short read")), opts);
  assert.ok(io.notes.includes("x.efi: short read (skipped)"), io.notes.join("; "));
  assert.ok(!io.entries.some((e) => e.id === "fedora-6.15.efi"));
  assert.throws(() => listBootEntries(recordSystemView({}), failing(new TypeError("bug")), opts), TypeError);
  const unopenable = withOpen((path) => {
    if (path.endsWith("fedora-6.15.efi")) throw new KexecError("io", `${path}: cannot open (EACCES)`);
    return base.open(path);
  });
  assert.ok(
    listBootEntries(recordSystemView({}), unopenable, opts).notes.includes(
      "/efi/EFI/Linux/fedora-6.15.efi: cannot open (EACCES) (skipped)",
    ),
  );
  assert.throws(
    () =>
      listBootEntries(
        recordSystemView({}),
        withOpen(() => {
          throw new RangeError("bug");
        }),
        opts,
      ),
    RangeError,
  );
});

Deno.test('realBootFs: a file that cannot be opened, or reads short, is KexecError("io")', () => {
  const dir = Deno.makeTempDirSync({ prefix: "kts-bootfs-" });
  try {
    const fs = realBootFs();
    throwsKexec(() => fs.open(`${dir}/missing.efi`), "io", /missing\.efi: cannot open \(/);
    Deno.writeFileSync(`${dir}/small.efi`, new Uint8Array(10));
    const src = fs.open(`${dir}/small.efi`);
    try {
      throwsKexec(() => src.read(4, 10), "io", /small\.efi: short read at 4 \(6 of 10 bytes\)/);
    } finally {
      src.close();
    }
    throwsKexec(() => memoryBootFs({}).open("/nope"), "io", /\/nope: cannot open \(no such file\)/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the default: LoaderEntryOneShot, then LoaderEntryDefault, then loader.conf, @saved, else the first shown", () => {
  const v = (name: string, value: string) => ({ [`/sys/firmware/efi/efivars/${name}-${LOADER_GUID}`]: efiVar(value) });
  const pick = (vars: Record<string, Uint8Array>, conf?: string) => {
    const fs = tree(conf === undefined ? {} : { "/efi/loader/loader.conf": conf });
    const l = listBootEntries(recordSystemView(vars), fs, opts);
    return [l.defaultId, l.defaultReason];
  };
  assert.deepEqual(
    pick({ ...v("LoaderEntryOneShot", "FEDORA-6.15.EFI"), ...v("LoaderEntryDefault", "debian-6.12.conf") }),
    [
      "fedora-6.15.efi",
      'EFI variable LoaderEntryOneShot="FEDORA-6.15.EFI"',
    ],
  );
  assert.deepEqual(pick({ ...v("LoaderEntryOneShot", "nomatch"), ...v("LoaderEntryDefault", "debian-6.12*") }), [
    "debian-6.12.conf",
    'EFI variable LoaderEntryDefault="debian-6.12*"',
  ]);
  assert.deepEqual(pick({ ...v("LoaderEntrySelected", "debian-6.12.conf") }, "default @saved\n"), [
    "debian-6.12.conf",
    'loader.conf default "@saved"',
  ]);
  assert.deepEqual(pick({}, "default gone.conf\n"), [
    "fedora-6.15.efi",
    "the first entry (no default set, or it matches no entry)",
  ], "a hidden entry is never the default");
  assert.deepEqual(pick({}, "preferred debian-6.12.conf\ndefault debian-6.1.conf\n")[0], "debian-6.12.conf");
  assert.deepEqual(pick({}, "default @other\n")[0], "fedora-6.15.efi");
});

Deno.test("order: sort-key first (by key, machine-id, newest version), then ids newest first, bad entries last, profiles in order", () => {
  const e = (id: string, more: Partial<BootEntry> = {}): BootEntry => ({
    id,
    aliases: [],
    type: "type1",
    path: `/x/${id}`,
    partition: "esp",
    title: id,
    initrds: [],
    problems: [],
    ...more,
  });
  const list = [
    e("zzz.conf"),
    e("old.conf", { sortKey: "debian", version: "6.1" }),
    e("new.conf", { sortKey: "debian", version: "6.12" }),
    e("arch.conf", { sortKey: "arch", version: "1" }),
    e("bad.conf", { sortKey: "aaa", triesLeft: 0 }),
    e("linux-6.9.conf"),
    e("linux-6.10.conf"),
    e("m2.conf", { sortKey: "debian", version: "7", machineId: "b" }),
    e("m1.conf", { sortKey: "debian", version: "5", machineId: "a" }),
    e("u.efi@b", { idWithoutProfile: "u.efi", profile: 1 }),
    e("u.efi", { idWithoutProfile: "u.efi", profile: 0 }),
    e("t2.conf", { triesLeft: 2, triesDone: 1 }),
    e("t2.conf", { triesLeft: 3, triesDone: 0, path: "/x/more" }),
  ].sort(compareEntries);
  assert.deepEqual(list.map((x) => x.id + (x.path === "/x/more" ? "*" : "")), [
    "arch.conf",
    "new.conf",
    "old.conf",
    "m1.conf",
    "m2.conf",
    "zzz.conf",
    "u.efi",
    "u.efi@b",
    "t2.conf*",
    "t2.conf",
    "linux-6.10.conf",
    "linux-6.9.conf",
    "bad.conf",
  ]);
});

Deno.test("Type #2 profiles: one entry each, sd-boot's ids and titles, bootctl's spellings as aliases", () => {
  const fs = memoryBootFs({
    "/efi/EFI/Linux/os.efi": uki('NAME="OS"\n', [
      { name: ".profile", data: "ID=regular\nTITLE=Regular" },
      { name: ".profile", data: "ID=rescue" },
      { name: ".cmdline", data: "rescue" },
      { name: ".profile", data: "" },
    ]),
  });
  const list = listBootEntries(recordSystemView({}), fs, opts);
  assert.deepEqual(list.entries.map((e) => [e.id, e.title, e.profile, e.options]), [
    ["os.efi", "OS (Regular)", 0, "uki-cmdline"],
    ["os.efi@rescue", "OS (rescue)", 1, "rescue"],
    ["os.efi@2", "OS (Profile #3)", 2, "uki-cmdline"],
  ]);
  assert.deepEqual(list.entries[0].aliases, ["os", "os.efi@regular", "os.efi@0"]);
});

Deno.test("entryRequest: linux entries give kernel, initrds, options; UKIs their profile; own command lines replace", () => {
  const list = listBootEntries(recordSystemView({}), tree(), opts);
  const base = loadRequest({ kernel: "", kind: "crash", initrds: ["/extra.img"] });
  const d = bootEntryLoad(list, "DEBIAN-6.12", base);
  assert.equal(d.why, 'named "DEBIAN-6.12"');
  assert.deepEqual(
    [d.request.kind, d.request.kernel, d.request.initrds, d.request.append, d.request.bootEntry],
    [
      "crash",
      "/efi/vmlinuz-6.12",
      ["/efi/ucode", "/efi/initrd-6.12", "/extra.img"],
      "root=/dev/vda ro",
      "debian-6.12.conf",
    ],
  );
  assert.equal(bootEntryLoad(list, "default", base).request.kernel, "/efi/vmlinuz-6.1");
  assert.match(bootEntryLoad(list, "default", base).why, /^the default: loader\.conf default/);
  assert.equal(bootEntryLoad(list, "debian-6.12.conf", { ...base, append: "mine" }).request.append, "mine");
  assert.equal(bootEntryLoad(list, "debian-6.12.conf", { ...base, reuseCmdline: true }).request.append, undefined);
  const f = bootEntryLoad(list, "fedora*", loadRequest({ kernel: "" })).request;
  assert.deepEqual([f.kernel, f.ukiProfile, f.append, f.initrds], ["/efi/EFI/Linux/fedora-6.15.efi", 0, undefined, []]);
  const t1uki = entryRequest(
    { ...list.entries[0], type: "type1", options: "from-entry", profile: 2 },
    loadRequest({ kernel: "" }),
  );
  assert.deepEqual([t1uki.append, t1uki.ukiProfile], ["from-entry", 2]);
  throwsKexec(
    () => bootEntryLoad(list, "windows.conf", base),
    "unsupported",
    /^boot entry windows\.conf runs the EFI program \/efi\/vmlinuz-6\.1, which kexec cannot start; choose another$/,
  );
  throwsKexec(
    () => bootEntryLoad(list, "nope", base),
    "usage",
    /^no boot entry "nope" on \/efi; entries: fedora-6\.15\.efi, windows\.conf, .* \(see kexec-ts entries\)$/,
  );
  throwsKexec(
    () => bootEntryLoad(list, "fedora-6.15.efi", loadRequest({ kernel: "", ukiProfile: 1 })),
    "usage",
    /is profile 0; drop --uki-profile/,
  );
  const none = bootEntries(recordSystemView({}), { arch: x86_64, env: {} }, memoryBootFs({}));
  assert.deepEqual(none.notes, ["no ESP or XBOOTLDR found (looked at /efi, /boot, /boot/efi)"]);
  throwsKexec(
    () => bootEntryLoad(none, "default", base),
    "usage",
    /no boot entry to use as the default \(no ESP or XBOOTLDR found; give --boot-root=DIR\)/,
  );
});

Deno.test("bootEntries: $SYSTEMD_ESP_PATH from the environment unless given (the CLI and the API take this path)", () => {
  const fs = memoryBootFs({ "/esp/loader/entries/a.conf": "title A\nlinux /vmlinuz\n", "/esp/vmlinuz": "k" });
  const saved = Deno.env.get("SYSTEMD_ESP_PATH");
  Deno.env.set("SYSTEMD_ESP_PATH", "/esp");
  try {
    const fromEnv = bootEntries(recordSystemView({}), { arch: x86_64 }, fs);
    assert.deepEqual(fromEnv.esp, { path: "/esp", role: "esp", how: "$SYSTEMD_ESP_PATH" });
    assert.deepEqual(fromEnv.entries.map((e) => e.id), ["a.conf"]);
    assert.equal(bootEntries(recordSystemView({}), { arch: x86_64, env: {} }, fs).esp, undefined, "given: as given");
  } finally {
    if (saved === undefined) Deno.env.delete("SYSTEMD_ESP_PATH");
    else Deno.env.set("SYSTEMD_ESP_PATH", saved);
  }
});

Deno.test("XBOOTLDR: its entries join the ESP's; loader.conf is read from the ESP only; one file seen twice counts once", () => {
  const sys = recordSystemView({
    "/proc/self/mountinfo": [
      "22 1 8:1 / / rw - ext4 /dev/sda1 rw",
      "23 22 8:2 / /efi rw - vfat /dev/sda2 rw",
      "24 22 8:3 / /boot rw - xfs /dev/sda3 rw",
    ].join("\n"),
  });
  const fs = memoryBootFs({
    "/efi/loader/loader.conf": "default b.conf\n",
    "/efi/k": "",
    "/efi/loader/entries/a.conf": "linux /k\n",
    "/boot/k": "",
    "/boot/loader/loader.conf": "default a.conf\n",
    "/boot/loader/entries/b.conf": "linux /k\n",
  });
  const list = listBootEntries(sys, fs, { efiArch: "x64", peMachine: 0x8664 });
  assert.deepEqual(list.entries.map((e) => [e.id, e.partition, e.linux]), [["b.conf", "xbootldr", "/boot/k"], [
    "a.conf",
    "esp",
    "/efi/k",
  ]]);
  assert.equal(list.defaultId, "b.conf");
  assert.equal(list.xbootldr?.how, "mount point /boot: xfs on /dev/sda3");
});
