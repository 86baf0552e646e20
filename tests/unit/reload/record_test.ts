/**
 * lib/reload/record.ts: the crash-load record is written atomically, read back field by field, converted from the
 * 0.1.0 (argv) format, and refused in one line naming the field when it is damaged.
 */

import assert from "node:assert/strict";
import {
  type CrashLoadRecord,
  readCrashRecord,
  recordFromJson,
  recordText,
  removeCrashRecord,
  requestFromV1Argv,
  writeCrashRecord,
} from "../../../lib/reload/record.ts";
import { loadRequest } from "../../../lib/load/request.ts";
import { fsSystemView, recordSystemView } from "../../../lib/system.ts";
import { throwsKexec } from "../test_helpers.ts";

const BOOT_ID = "0f5e1a7e-0000-4000-8000-000000000001";
const PATH = "/run/kexec-ts/crash-load.json";

function record(over: Partial<CrashLoadRecord> = {}): CrashLoadRecord {
  return {
    version: 2,
    request: loadRequest({
      kind: "crash",
      kernel: "/boot/vmlinuz",
      initrds: ["/boot/kdump.img"],
      append: "irqpoll nr_cpus=1",
      memMax: 0x7fffffffn,
      serialPort: 0x3f8,
    }),
    syscall: "kexec_load",
    flags: 0x3e0005,
    hotplug: true,
    bootId: BOOT_ID,
    loadedAt: "2025-01-01T00:00:00.000Z",
    ...over,
  };
}

function read(text: string, bootId: string | undefined = BOOT_ID) {
  return readCrashRecord(
    recordSystemView({
      [PATH]: text,
      ...(bootId === undefined ? {} : { "/proc/sys/kernel/random/boot_id": bootId + "\n" }),
    }),
    PATH,
  );
}

Deno.test("readCrashRecord: this boot's record is read whole; another boot's is none; no file is none", () => {
  assert.deepEqual(read(recordText(record())), { kind: "ok", record: record() });
  assert.deepEqual(read(recordText(record({ bootId: "another-boot" }))), { kind: "none" }, "boot_id mismatch");
  assert.deepEqual(read(recordText(record()), undefined), { kind: "ok", record: record() }, "boot_id unreadable");
  assert.deepEqual(readCrashRecord(recordSystemView({}), PATH), { kind: "none" });
});

Deno.test("readCrashRecord: a damaged record is 'bad' with one line naming the field and the fix", () => {
  const json = JSON.parse(recordText(record()));
  const bad = (over: Record<string, unknown>, field: RegExp) => {
    const r = read(JSON.stringify({ ...json, ...over }));
    assert.equal(r.kind, "bad", JSON.stringify(over));
    if (r.kind === "bad") {
      assert.match(r.why, field);
      assert.match(r.why, /; load again with kexec-ts -p$/);
      assert.ok(!r.why.includes("\n"));
    }
  };
  bad({ version: 3 }, /field "version" is not 1 or 2/);
  bad({ flags: "5" }, /field "flags" is not a 32-bit number/);
  bad({ flags: undefined }, /field "flags"/);
  bad({ loadedAt: {} }, /field "loadedAt" is not a time/);
  bad({ syscall: { x: 1 } }, /field "syscall"/);
  bad({ hotplug: 1 }, /field "hotplug" is not true or false/);
  bad({ request: [] }, /field "request" is not an object/);
  bad({ request: { ...json.request, initrds: [1] } }, /field "initrds" is not a list of paths/);
  bad({ request: { ...json.request, kernel: "vmlinuz" } }, /field "kernel" is not an absolute path/);
  bad({ request: { ...json.request, memMax: 12 } }, /field "memMax" is not a 0x hex address/);
  bad({ request: { ...json.request, serialPort: 70000 } }, /field "serialPort"/);
  bad({ request: { ...json.request, kind: "reboot" } }, /field "request.kind" is not "crash"/);
  const notJson = read("{not json");
  assert.deepEqual(notJson, { kind: "bad", why: `${PATH} is not JSON; load again with kexec-ts -p` });
  assert.equal(read("null").kind, "bad");
});

Deno.test("version 1 records (kexec-ts 0.1.0 argv) still read, as the same request", () => {
  const v1 = {
    version: 1,
    argv: [
      "-p",
      "--initrd=/boot/kdump.img",
      "--append=irqpoll nr_cpus=1",
      "--mem-max=0x7fffffff",
      "--console-serial",
      "--serial=0x3f8",
      "/boot/vmlinuz",
    ],
    syscall: "kexec_load",
    flags: 0x3e0005,
    hotplug: true,
    bootId: BOOT_ID,
    loadedAt: "2025-01-01T00:00:00.000Z",
  };
  // 0.1.0 handed over no EFI: the request repeats that (noefi).
  const v1Record = record();
  v1Record.request = { ...v1Record.request, noefi: true };
  assert.deepEqual(read(JSON.stringify(v1)), { kind: "ok", record: v1Record });
  assert.deepEqual(
    requestFromV1Argv(["-s", "-p", "--reuse-cmdline", "--type=bzImage", "-i", "--no-hotplug", "/k"], "r"),
    loadRequest({
      kind: "crash",
      kernel: "/k",
      syscall: "kexec_file_load",
      reuseCmdline: true,
      type: "bzImage",
      noChecks: true,
      hotplug: "off",
      noefi: true,
    }),
  );
  throwsKexec(() => requestFromV1Argv(["-p", "--bogus", "/k"], "r"), "io", /unexpected element "--bogus"/);
  throwsKexec(() => requestFromV1Argv(["-p", 7 as unknown as string, "/k"], "r"), "io", /non-string element at 1/);
  throwsKexec(() => requestFromV1Argv(["/k"], "r"), "io", /no -p or no absolute kernel path/);
  throwsKexec(() => recordFromJson({ ...v1, argv: "-p K" }, "r"), "io", /field "argv" is not a list/);
});

Deno.test("writeCrashRecord / readCrashRecord round trip; failures are returned, not thrown", () => {
  const root = Deno.makeTempDirSync({ prefix: "kexec-ts-root-" });
  try {
    Deno.mkdirSync(`${root}/proc/sys/kernel/random`, { recursive: true });
    Deno.writeTextFileSync(`${root}/proc/sys/kernel/random/boot_id`, BOOT_ID + "\n");
    assert.equal(writeCrashRecord(record(), root + PATH), undefined);
    assert.deepEqual(readCrashRecord(fsSystemView(root), PATH), { kind: "ok", record: record() });
    removeCrashRecord(root + PATH);
    assert.deepEqual(readCrashRecord(fsSystemView(root), PATH), { kind: "none" });
    removeCrashRecord(root + PATH); // missing is fine

    Deno.writeTextFileSync(`${root}/file`, "");
    const msg = writeCrashRecord(record(), `${root}/file/sub/crash-load.json`);
    assert.match(msg ?? "", /^could not record the load in .*\/file\/sub\/crash-load\.json: /);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("a UKI crash load's record keeps the profile, the boot entry and the image facts, each field checked", () => {
  const uki = record({
    request: loadRequest({ kind: "crash", kernel: "/efi/EFI/Linux/os.efi", ukiProfile: 1, bootEntry: "os.efi@kdump" }),
    image: {
      format: "uki",
      title: "OS",
      version: "1",
      uname: "6.12.0",
      profile: 1,
      profileCount: 2,
      profileId: "kdump",
      bootEntry: "os.efi@kdump",
      parts: ["kernel: .linux (5 bytes)"],
    },
  });
  assert.deepEqual(read(recordText(uki)), { kind: "ok", record: uki });
  const json = JSON.parse(recordText(uki));
  const bad = (patch: Record<string, unknown>, re: RegExp) => {
    const r = read(JSON.stringify({ ...json, ...patch }));
    assert.equal(r.kind, "bad");
    assert.match((r as { why: string }).why, re);
  };
  bad({ image: { ...json.image, parts: "x" } }, /crash-load\.json \(image\): field "parts" is not a list of text/);
  bad({ image: { ...json.image, profile: -1 } }, /\(image\): field "profile" is not a small number/);
  bad({ image: { ...json.image, format: 3 } }, /\(image\): field "format" is not a string/);
  bad({ image: [] }, /\(image\): field "image" is not an object/);
  bad({ request: { ...json.request, ukiProfile: "1" } }, /field "ukiProfile" is not a profile number/);
});
