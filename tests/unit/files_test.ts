/** lib/files.ts: atomic replacement of state files. */

import assert from "node:assert/strict";
import { writeFileAtomic } from "../../lib/files.ts";

Deno.test("writeFileAtomic: creates the directory, replaces the file whole, leaves no temporary file", () => {
  const dir = Deno.makeTempDirSync({ prefix: "kexec-ts-record-" });
  try {
    const path = `${dir}/a/b/crash-load.json`;
    writeFileAtomic(path, "first\n");
    assert.equal(Deno.readTextFileSync(path), "first\n");
    writeFileAtomic(path, "second\n", 0o600);
    assert.equal(Deno.readTextFileSync(path), "second\n");
    assert.deepEqual([...Deno.readDirSync(`${dir}/a/b`)].map((e) => e.name), ["crash-load.json"]);
    const fresh = `${dir}/mode.json`;
    writeFileAtomic(fresh, "x", 0o600);
    assert.equal(Deno.statSync(fresh).mode! & 0o777, 0o600);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

// ---- input files: opened once, mapped where possible, read where not, the same bytes either way ----

import { openInput } from "../../lib/files.ts";
import { MAX_LIVE_MAPPINGS } from "../../ffi/fd.ts";
import { throwsKexec } from "./test_helpers.ts";
import { lcgBytes } from "./load/golden_fixtures.ts";

function tempFile(bytes: Uint8Array): { dir: string; path: string } {
  const dir = Deno.makeTempDirSync({ prefix: "kexec-ts-input-" });
  const path = `${dir}/initrd.img`;
  Deno.writeFileSync(path, bytes);
  return { dir, path };
}

/** A FIFO at `dir`/pipe fed with `bytes` by a child process (cat), so that reading it behaves as a real pipe. */
function fifo(dir: string, from: string): { path: string; done: Promise<Deno.CommandStatus> } {
  const path = `${dir}/pipe`;
  const mk = new Deno.Command("mkfifo", { args: [path] }).outputSync();
  assert.ok(mk.success, "mkfifo failed");
  const child = new Deno.Command("sh", { args: ["-c", `cat "$0" > "$1"`, from, path] }).spawn();
  return { path, done: child.status };
}

Deno.test("openInput: a regular file is mapped (read lease held), and its bytes are the file's", () => {
  const data = lcgBytes(3 * 4096 + 17, 7);
  const { dir, path } = tempFile(data);
  try {
    const f = openInput(path, "initrd");
    assert.equal(f.kind, "file");
    assert.ok(f.fd !== undefined && f.fd >= 0);
    assert.equal(f.leased, true, "a file we own can be leased");
    assert.equal(f.openForWriting, false);
    assert.equal(f.source, undefined, "nothing is read before the bytes are used");
    assert.equal(f.sizeBytes, data.length);
    assert.deepEqual(f.bytes, data);
    assert.equal(f.source, "mmap");
    assert.equal(f.bytes, f.bytes, "the contents are produced once");
    f.close();
    assert.deepEqual(f.bytes, data, "the bytes stay valid after close");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openInput: a pipe cannot be mapped and is read to its end, with the same bytes", async () => {
  const data = lcgBytes(2_500_000, 11); // more than one read chunk
  const { dir, path } = tempFile(data);
  try {
    const p = fifo(dir, path);
    const f = openInput(p.path, "initrd");
    assert.equal(f.kind, "pipe");
    assert.equal(f.leased, false);
    assert.deepEqual(f.bytes, data);
    assert.equal(f.source, "read");
    assert.equal(f.sizeBytes, data.length);
    f.close();
    assert.ok((await p.done).success);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openInput: a procfs file (st_size 0) is read to its end", () => {
  const f = openInput("/proc/self/status", "initrd");
  assert.equal(f.kind, "file");
  assert.match(new TextDecoder().decode(f.bytes), /^Name:/);
  assert.equal(f.source, "read");
  f.close();
});

Deno.test("openInput: a file another process has open for writing is read, not mapped", async () => {
  const data = lcgBytes(10_000, 3);
  const { dir, path } = tempFile(data);
  // A writer that holds the file open (appending nothing) until told to stop.
  const writer = new Deno.Command("sh", { args: ["-c", `exec 3>>"$0"; read line`, path], stdin: "piped" }).spawn();
  try {
    await new Promise((r) => setTimeout(r, 200));
    const f = openInput(path, "initrd");
    assert.equal(f.leased, false);
    assert.equal(f.openForWriting, true);
    assert.deepEqual(f.bytes, data);
    assert.equal(f.source, "read");
    f.close();
  } finally {
    const w = writer.stdin.getWriter();
    await w.write(new TextEncoder().encode("\n"));
    await w.close();
    await writer.status;
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openInput: while the input is open, a writer waits (the mapping cannot change under the load)", async () => {
  const data = lcgBytes(8192, 5);
  const { dir, path } = tempFile(data);
  try {
    const f = openInput(path, "kernel");
    assert.equal(f.leased, true);
    const before = f.bytes.slice();
    const writer = new Deno.Command("sh", { args: ["-c", `printf overwritten > "$0"`, path] }).spawn();
    let finished = false;
    const done = writer.status.then((s) => (finished = true, s));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(finished, false, "the writer got in while the input was open");
    assert.deepEqual(f.bytes, before);
    f.close(); // ends the lease: the writer proceeds
    assert.ok((await done).success);
    assert.equal(Deno.readTextFileSync(path), "overwritten");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openInput: a missing file, a directory and a device are refused with one line naming them", () => {
  throwsKexec(
    () => openInput("/nonexistent/initrd", "initrd"),
    "io",
    /^cannot read initrd \/nonexistent\/initrd: no such file$/,
  );
  throwsKexec(
    () => openInput("/tmp", "kernel"),
    "io",
    /^cannot read kernel \/tmp: it is a directory, not a file; give a regular file or a pipe$/,
  );
  // /dev/zero has no end: reading it "to the end" as a pipe would never return (a fuzzer finding, `-p /dev/zero`).
  throwsKexec(
    () => openInput("/dev/zero", "kernel"),
    "io",
    /^cannot read kernel \/dev\/zero: it is a character device, not a file; give a regular file or a pipe$/,
  );
});

Deno.test("openInput without FFI: opened through Deno and read, the same bytes", async () => {
  const data = lcgBytes(70_000, 9);
  const { dir, path } = tempFile(data);
  const script = `${dir}/probe.ts`;
  Deno.writeTextFileSync(
    script,
    `import { openInput } from "${new URL("../../lib/files.ts", import.meta.url).href}";
const f = openInput(${JSON.stringify(path)}, "initrd");
const b = f.bytes;
let h = 0;
for (const x of b) h = (h * 31 + x) >>> 0;
console.log(JSON.stringify({ fd: f.fd ?? null, source: f.source, size: f.sizeBytes, h }));
f.close();`,
  );
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--no-prompt", "--allow-read", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(r.success, new TextDecoder().decode(r.stderr));
    let h = 0;
    for (const x of data) h = (h * 31 + x) >>> 0;
    assert.deepEqual(JSON.parse(new TextDecoder().decode(r.stdout)), {
      fd: null,
      source: "read",
      size: data.length,
      h,
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openInput: writing into the mapped bytes changes this process's copy, never the file", () => {
  const data = lcgBytes(3 * 4096, 21);
  const { dir, path } = tempFile(data);
  try {
    const f = openInput(path, "initrd");
    const b = f.bytes;
    assert.equal(f.source, "mmap");
    b[4096] ^= 0xff;
    assert.equal(b[4096], data[4096] ^ 0xff);
    f.close();
    assert.deepEqual(Deno.readFileSync(path), data);
    assert.deepEqual(openInput(path, "initrd").bytes, data);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openInput in a synchronous loop: at most MAX_LIVE_MAPPINGS mappings, then read; mapped again later", async () => {
  // Mappings are released by a finalizer, which runs only when the event loop turns: 2,000 loads in one synchronous
  // loop once left 2,000 mappings (the fuzzer's sysfs target reached vm.max_map_count and V8 died with SIGTRAP).
  const data = lcgBytes(20_000, 5);
  const { dir, path } = tempFile(data);
  const script = `${dir}/loop.ts`;
  Deno.writeTextFileSync(
    script,
    `import { openInput } from "${new URL("../../lib/files.ts", import.meta.url).href}";
const maps = () => Deno.readTextFileSync("/proc/self/maps").split("\\n").length;
const want = Deno.readFileSync(${JSON.stringify(path)});
const count = { mmap: 0, read: 0, wrong: 0 };
const before = maps();
for (let i = 0; i < 2000; i++) {
  const f = openInput(${JSON.stringify(path)}, "kernel");
  const b = f.bytes;
  if (b.length !== want.length || b[0] !== want[0] || b[b.length - 1] !== want[want.length - 1]) count.wrong++;
  count[f.source]++;
  f.close();
}
const grown = maps() - before;
for (let i = 0; i < 20 && maps() - before > 50; i++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 20));
}
const later = openInput(${JSON.stringify(path)}, "kernel");
void later.bytes;
console.log(JSON.stringify({ ...count, grown, laterSource: later.source }));
later.close();`,
  );
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--no-prompt", "--allow-all", "--v8-flags=--expose-gc", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(r.success, new TextDecoder().decode(r.stderr));
    const got = JSON.parse(new TextDecoder().decode(r.stdout));
    assert.equal(got.wrong, 0);
    assert.equal(got.mmap, MAX_LIVE_MAPPINGS);
    assert.equal(got.read, 2000 - MAX_LIVE_MAPPINGS);
    assert.ok(got.grown <= MAX_LIVE_MAPPINGS + 64, `the loop left ${got.grown} more mappings`);
    assert.equal(got.laterSource, "mmap", "once the finalizers ran, files are mapped again");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
