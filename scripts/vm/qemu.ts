/**
 * Boots the guest under QEMU (TCG) and talks to it.
 *
 * Channels:
 *  - ttyS0: the kernel console, streamed from QEMU's stdio (kept for failure messages);
 *  - ttyS1: the data channel, a unix socket: guest scripts print `@@KTS key value` markers there, ask the host for
 *    things with `@@KTS-REQ id verb args` lines and read `@@KTS-ACK id ok|error ...` replies;
 *  - QMP: a unix socket the host uses for memory hot-add (and CPU hot-add once it works).
 *
 * Every wait has a timeout; a guest that hangs fails the run with the tail of both channels in the message.
 *
 * At most `KTS_VM_SLOTS` (default 2) QEMUs run at once on the machine, across every process and checkout: each run
 * first takes one of the flock(2) slots in /tmp/kexec-ts-vm-slots (one TCG vCPU thread keeps a core busy, and
 * these machines have two). The run's timeout starts once it has a slot.
 *
 * @module
 */

import { DEFAULT_KERNEL, type KernelId, kernelImage } from "./kernels.ts";
import { closeFd, openLockFile, tryLockExclusive } from "../../ffi/libc.ts";

/** The firmware a guest boots under. */
export type Firmware = "bios" | "uefi";

/**
 * Which QEMU runs the guest: the system's (Debian's qemu-system-x86, 7.2 on bookworm) or QEMU 10 from
 * bookworm-backports, unpacked into .cache/qemu10 by `scripts/setup --vm` (scripts/setup.d/qemu10.sh) and run
 * with its own data directories (-L). QEMU 10's TCG emulates the SHA extensions (`cpu: "max"`); 7.2's does not.
 */
export type QemuChoice = "system" | "10";

const QEMU10 = new URL("../../.cache/qemu10", import.meta.url).pathname;

/** The QEMU binary and the arguments it needs before any other; fails (never skips) when QEMU 10 is missing. */
export function qemuCommand(choice: QemuChoice): { binary: string; args: string[] } {
  if (choice === "system") return { binary: "qemu-system-x86_64", args: [] };
  const binary = `${QEMU10}/usr/bin/qemu-system-x86_64`;
  try {
    Deno.statSync(binary);
  } catch {
    throw new Error(`${binary} is missing: the QEMU 10 VM tests need it (scripts/setup --vm unpacks it)`);
  }
  // Its own ROMs and firmware first; the system's iPXE ROMs for NIC option ROMs QEMU looks for.
  return {
    binary,
    args: ["-L", `${QEMU10}/usr/share/qemu`, "-L", `${QEMU10}/usr/share/seabios`, "-L", "/usr/lib/ipxe/qemu"],
  };
}

/** OVMF as Debian's `ovmf` package installs it: one image with code and variables, for `-bios`. */
export const OVMF = "/usr/share/ovmf/OVMF.fd";

/** QEMU arguments for the firmware; fails (never skips) when OVMF is missing. */
export function firmwareArgs(firmware: Firmware): string[] {
  if (firmware === "bios") return [];
  try {
    Deno.statSync(OVMF);
  } catch {
    throw new Error(`${OVMF} is missing: the UEFI VM tests need Debian's ovmf package (scripts/setup --vm)`);
  }
  return ["-bios", OVMF];
}

/** Holds one of the machine-wide VM slots (see the module doc) until released. */
async function acquireVmSlot(): Promise<() => void> {
  const slots = Math.max(1, Number(Deno.env.get("KTS_VM_SLOTS") ?? "2") || 2);
  const dir = "/tmp/kexec-ts-vm-slots";
  Deno.mkdirSync(dir, { recursive: true, mode: 0o777 });
  for (;;) {
    for (let i = 0; i < slots; i++) {
      const fd = openLockFile(`${dir}/slot-${i}.lock`);
      if (fd < 0) throw new Error(`cannot open ${dir}/slot-${i}.lock (errno ${-fd})`);
      if (tryLockExclusive(fd)) return () => closeFd(fd);
      closeFd(fd);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One `@@KTS key value` line from the guest. */
export interface Marker {
  key: string;
  value: string;
  /** Milliseconds since QEMU started. */
  atMs: number;
}

/** How to boot. */
export interface VmOptions {
  /** Initramfs path. */
  initrd: string;
  /** `kts.scenario=` for the guest init. */
  scenario: string;
  /** Extra kernel command line. */
  append?: string;
  /** The kernel QEMU boots (default 6.12). */
  kernel?: KernelId;
  /** `bios` (SeaBIOS, QEMU's default) or `uefi` (Debian's OVMF, booting the kernel's EFI stub). */
  firmware?: Firmware;
  /** Which QEMU (default: the system's); see {@link QemuChoice}. */
  qemu?: QemuChoice;
  /** `-cpu` model (default: QEMU's, qemu64), e.g. "max" for the SHA extensions under QEMU 10. */
  cpu?: string;
  /** Boot memory, e.g. "2G". */
  memory?: string;
  /** Hotplug: DIMM slots and the maximum memory (e.g. 8, "8G"). */
  slots?: number;
  maxmem?: string;
  smp?: string;
  machine?: string;
  /**
   * How TCG runs the vCPUs. "single" (the default) runs them in turn on one host thread; "multi" gives each its
   * own thread (QEMU's default for x86 on x86). Multi-threaded TCG loses the guest kernel's own cross-CPU code
   * patching now and then: when a static key flips (seen at ~1.28 s into a boot, as NO_HZ comes up), another
   * vCPU executes the int3 that text_poke_bp had already replaced, and the kernel dies with "Oops: int3" in
   * hrtimer_start_range_ns or enqueue_timer, on a plain boot as after a kexec. Measured on QEMU 7.2: 2 of about 60
   * boots of the second kernel. One thread costs 10-20% of wall time and makes code patching coherent, so the tests
   * use it; the benchmark uses "multi" because it compares timings and a real machine's CPUs do run in parallel.
   */
  tcg?: "single" | "multi";
  /** Raw disk images attached read-only as virtio disks (/dev/vda, /dev/vdb, ...; the guest needs virtio_blk). */
  drives?: string[];
  /** Whole-run limit. */
  timeoutMs: number;
  /** Handles `@@KTS-REQ` requests; the default knows `hotadd-mem SIZE_MIB`. */
  onRequest?: (verb: string, args: string[], vm: Vm) => Promise<string>;
  /**
   * End the run early once the console matches (a guest that halts on purpose never powers off):
   * QEMU is killed `graceMs` after the match, so anything that would follow still has time to show.
   */
  stopOnConsole?: { pattern: RegExp; graceMs: number };
  /** Called with every data-channel line as it arrives (the demo narrates from it). */
  onDataLine?: (line: string) => void;
  /** Log everything to stderr as it arrives (KTS_VM_VERBOSE=1). */
  verbose?: boolean;
  /**
   * The whole kernel command line, instead of the harness's (console=ttyS0 panic=-1 oops=panic ... kts.scenario=),
   * for images with an init of their own (a distribution's initramfs, whose shell panic= would turn into a reboot).
   */
  cmdline?: string;
  /**
   * Typed on the console (ttyS0), in order: each `send` once its `expect` has appeared on the console after the
   * previous step's match (for shells of images the harness did not build).
   */
  consoleScript?: ConsoleStep[];
}

/** One step of {@link VmOptions.consoleScript}. */
export interface ConsoleStep {
  expect: RegExp;
  send: string;
}

/** What a run produced. */
export interface VmResult {
  markers: Marker[];
  console: string;
  data: string;
  exitCode: number | null;
  timedOut: boolean;
  /** Console lines with their arrival time (ms since QEMU started), for timing boot phases. */
  consoleLines: { atMs: number; text: string }[];
  /** QEMU was killed because `stopOnConsole` matched. */
  stoppedOnConsole: boolean;
  elapsedMs: number;
}

/** A running VM. */
export interface Vm {
  qmp(command: string, args?: Record<string, unknown>): Promise<unknown>;
  /** Adds a DIMM of `sizeMiB` through QMP; returns its id. */
  hotAddMemory(sizeMiB: number): Promise<string>;
  /** Plugs the first free CPU slot QMP offers; returns its id. */
  hotAddCpu(): Promise<string>;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

async function connectUnix(path: string, deadline: number): Promise<Deno.UnixConn> {
  for (;;) {
    try {
      return await Deno.connect({ transport: "unix", path });
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`cannot connect to ${path}: ${e}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** A minimal QMP client: one command at a time, events skipped. */
async function openQmp(path: string, deadline: number) {
  const conn = await connectUnix(path, deadline);
  let buf = "";
  const reader = conn.readable.getReader();
  const nextMessage = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) return JSON.parse(line);
        continue;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("QMP connection closed");
      buf += decoder.decode(value);
    }
  };
  await nextMessage(); // greeting
  const command = async (execute: string, args?: Record<string, unknown>) => {
    await conn.write(encoder.encode(JSON.stringify(args ? { execute, arguments: args } : { execute }) + "\n"));
    for (;;) {
      const msg = await nextMessage();
      if ("event" in msg) continue;
      if ("error" in msg) throw new Error(`QMP ${execute}: ${JSON.stringify(msg.error)}`);
      return msg.return;
    }
  };
  await command("qmp_capabilities");
  return { command, close: () => conn.close() };
}

/**
 * Boots the guest and runs it until QEMU exits (guest poweroff, or reboot with -no-reboot) or the timeout.
 * Never throws for guest behaviour: the result says what happened. Throws only if QEMU cannot start.
 */
export async function runVm(opts: VmOptions): Promise<VmResult> {
  const release = await acquireVmSlot();
  try {
    return await runVmInSlot(opts);
  } finally {
    release();
  }
}

async function runVmInSlot(opts: VmOptions): Promise<VmResult> {
  const dir = Deno.makeTempDirSync({ prefix: "kts-vm-" });
  const dataSock = `${dir}/data.sock`;
  const qmpSock = `${dir}/qmp.sock`;
  const memory = opts.memory ?? "2G";
  const memArg = opts.slots ? `${memory},slots=${opts.slots},maxmem=${opts.maxmem ?? "8G"}` : memory;
  const append = opts.cmdline ?? [
    "console=ttyS0",
    "panic=-1",
    "oops=panic",
    "loglevel=4",
    `kts.scenario=${opts.scenario}`,
    opts.append ?? "",
  ].join(" ").trim();
  const qemu = qemuCommand(opts.qemu ?? "system");
  const args = [
    ...qemu.args,
    ...(opts.cpu ? ["-cpu", opts.cpu] : []),
    "-machine",
    opts.machine ?? "q35",
    "-accel",
    `tcg,thread=${opts.tcg ?? "single"}`,
    "-m",
    memArg,
    "-smp",
    opts.smp ?? "2",
    "-nographic",
    "-no-reboot",
    ...firmwareArgs(opts.firmware ?? "bios"),
    "-kernel",
    kernelImage(opts.kernel ?? DEFAULT_KERNEL),
    "-initrd",
    opts.initrd,
    "-append",
    append,
    "-chardev",
    "stdio,id=con,signal=off",
    "-serial",
    "chardev:con",
    "-chardev",
    `socket,id=data,path=${dataSock},server=on,wait=off`,
    "-serial",
    "chardev:data",
    "-qmp",
    `unix:${qmpSock},server=on,wait=off`,
    "-monitor",
    "none",
    "-net",
    "none",
    ...(opts.drives ?? []).flatMap((d) => ["-drive", `file=${d},if=virtio,format=raw,readonly=on`]),
  ];
  const start = Date.now();
  const deadline = start + opts.timeoutMs;
  const verbose = opts.verbose ?? Deno.env.get("KTS_VM_VERBOSE") === "1";
  const child = new Deno.Command(qemu.binary, {
    args,
    stdin: opts.consoleScript?.length ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let consoleText = "";
  let dataText = "";
  const markers: Marker[] = [];
  let timedOut = false;

  const pump = async (stream: ReadableStream<Uint8Array>, sink: (s: string) => void) => {
    for await (const chunk of stream) sink(decoder.decode(chunk, { stream: true }));
  };
  let stopping = false;
  // The console script: the next step, and where on the console its pattern is looked for.
  const script = opts.consoleScript ?? [];
  let step = 0;
  let scriptFrom = 0;
  const stdin = script.length ? child.stdin.getWriter() : undefined;
  const consoleLines: { atMs: number; text: string }[] = [];
  let partial = "";
  const consoleDone = pump(child.stdout, (s) => {
    consoleText += s;
    partial += s;
    let nl;
    while ((nl = partial.indexOf("\n")) >= 0) {
      consoleLines.push({ atMs: Date.now() - start, text: partial.slice(0, nl).replace(/\r/g, "") });
      partial = partial.slice(nl + 1);
    }
    while (step < script.length) {
      const m = script[step].expect.exec(consoleText.slice(scriptFrom));
      if (!m) break;
      scriptFrom += m.index + m[0].length;
      stdin?.write(encoder.encode(script[step++].send)).catch(() => {});
    }
    if (opts.stopOnConsole && !stopping && opts.stopOnConsole.pattern.test(consoleText)) {
      stopping = true;
      setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, opts.stopOnConsole.graceMs);
    }
    if (verbose) Deno.stderr.writeSync(encoder.encode(s));
  });
  const stderrDone = pump(child.stderr, (s) => {
    consoleText += s;
    if (verbose) Deno.stderr.writeSync(encoder.encode(s));
  });

  let qmp: Awaited<ReturnType<typeof openQmp>> | undefined;
  const vm: Vm = {
    async qmp(command, a) {
      qmp ??= await openQmp(qmpSock, Date.now() + 10_000);
      return qmp.command(command, a);
    },
    async hotAddMemory(sizeMiB) {
      const id = `dimm${Math.random().toString(36).slice(2, 8)}`;
      await vm.qmp("object-add", { "qom-type": "memory-backend-ram", id: `mem-${id}`, size: sizeMiB * 1024 * 1024 });
      await vm.qmp("device_add", { driver: "pc-dimm", id, memdev: `mem-${id}` });
      return id;
    },
    async hotAddCpu() {
      const slots = await vm.qmp("query-hotpluggable-cpus") as {
        type: string;
        props: Record<string, number>;
        "qom-path"?: string;
      }[];
      const free = slots.filter((s) => !s["qom-path"]).sort((a, b) =>
        (a.props["socket-id"] ?? 0) - (b.props["socket-id"] ?? 0)
      );
      if (!free.length) throw new Error("no free CPU slot (raise maxcpus)");
      const id = `cpu${free[0].props["socket-id"] ?? 0}-${free[0].props["core-id"] ?? 0}`;
      await vm.qmp("device_add", { driver: free[0].type, id, ...free[0].props });
      return id;
    },
  };
  const onRequest = opts.onRequest ?? (async (verb: string, a: string[], v: Vm) => {
    if (verb === "hotadd-mem") return await v.hotAddMemory(Number(a[0]));
    if (verb === "hotadd-cpu") return await v.hotAddCpu();
    throw new Error(`unknown request ${verb}`);
  });

  const data = await connectUnix(dataSock, deadline).catch(() => undefined);
  const dataDone = (async () => {
    if (!data) return;
    let pending = "";
    try {
      for await (const chunk of data.readable) {
        const s = decoder.decode(chunk, { stream: true }).replace(/\r/g, "");
        dataText += s;
        if (verbose) Deno.stderr.writeSync(encoder.encode(s.replace(/^/gm, "  [data] ")));
        pending += s;
        let nl;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          handleLine(line);
        }
      }
    } catch {
      // socket closed when QEMU exits
    }
  })();

  function handleLine(line: string) {
    opts.onDataLine?.(line);
    const at = line.indexOf("@@KTS");
    if (at < 0) return;
    const l = line.slice(at);
    const req = /^@@KTS-REQ (\S+) (\S+)(?: (.*))?$/.exec(l);
    if (req) {
      const [, id, verb, rest] = req;
      onRequest(verb, rest ? rest.split(" ") : [], vm).then(
        (r) => `@@KTS-ACK ${id} ok ${r}\n`,
        (e) => `@@KTS-ACK ${id} error ${String(e).replace(/\n/g, " ")}\n`,
      ).then((reply) => data?.write(encoder.encode(reply)).catch(() => {}));
      markers.push({ key: `req:${verb}`, value: rest ?? "", atMs: Date.now() - start });
      return;
    }
    const m = /^@@KTS (\S+)(?: (.*))?$/.exec(l);
    if (m) markers.push({ key: m[1], value: m[2] ?? "", atMs: Date.now() - start });
  }

  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, Math.max(0, deadline - Date.now()));
  const status = await child.status;
  clearTimeout(timer);
  await stdin?.close().catch(() => {});
  await Promise.allSettled([consoleDone, stderrDone, dataDone]);
  try {
    qmp?.close();
  } catch { /* closed */ }
  try {
    data?.close();
  } catch { /* closed */ }
  Deno.removeSync(dir, { recursive: true });
  return {
    markers,
    console: consoleText,
    data: dataText,
    exitCode: timedOut ? null : status.code,
    timedOut,
    stoppedOnConsole: stopping && !timedOut,
    consoleLines,
    elapsedMs: Date.now() - start,
  };
}

/** The last `lines` lines of a text, for failure messages. */
export function tail(text: string, lines = 40): string {
  return text.replace(/\r/g, "").split("\n").slice(-lines).join("\n");
}
