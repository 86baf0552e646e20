/**
 * Fuzz targets on what kexec-ts reads of the machine: `iomem` (/proc/iomem text and the walks over it), `cpu-list`
 * (cpu/possible), `boot-params` (/sys/kernel/boot_params/data) and `sysfs`: every file the status, load and reload
 * paths read, through a SystemView over a saved machine with a few files replaced, removed or made unreadable.
 *
 * The `sysfs` input is JSON: `{"machine": NAME, "edits": {PATH: {"text": S} | {"b64": S} | {"absent": true} |
 * {"denied": true}}}`. Which paths it edits comes from a traced run of the same pipeline over the unedited
 * machine (every path read or listed, present or not), so a new read in lib/ is fuzzed without touching this file.
 *
 * @module
 */

import {
  type FuzzContext,
  type FuzzTarget,
  mutateBytes,
  mutateJson,
  mutateText,
  type Rng,
  step,
  text,
} from "../engine.ts";
import { dumpRamRanges, parseCpuList } from "../../../lib/crash/elfcorehdr.ts";
import {
  findIomem,
  flattenIomem,
  iomemAddressesHidden,
  isSystemRam,
  parseIomem,
  walkIomem,
} from "../../../lib/memory/iomem.ts";
import { findCrashRegions } from "../../../lib/crash/region.ts";
import { captureMemmap } from "../../../lib/arch/x86_64/capture_memmap.ts";
import { memmapFromIomem } from "../../../lib/arch/x86_64/e820.ts";
import { LOW_RESERVED } from "../../../lib/arch/x86_64/abi.ts";
import { acpiRsdpOf, BP, buildBootParams } from "../../../lib/arch/x86_64/boot_params.ts";
import { readX86Machine } from "../../../lib/arch/x86_64/machine.ts";
import { gatherStatus } from "../../../lib/status.ts";
import { renderPlan, renderStatus, toJson } from "../../../lib/cli/output.ts";
import { buildLoadPlan } from "../../../lib/load/build.ts";
import { validatePlan } from "../../../lib/load/plan.ts";
import { loadRequest } from "../../../lib/load/request.ts";
import { decideReload } from "../../../lib/reload/reload.ts";
import { errnoContext } from "../../../lib/runtime.ts";
import type { SystemView } from "../../../lib/system.ts";
import { syntheticBzImage, syntheticInitrd } from "../../unit/load/golden_fixtures.ts";
import {
  cachedMachineFiles,
  type FileEdit,
  filesView,
  type MachineName,
  MACHINES,
  overlayView,
  tracingView,
} from "./machines.ts";

const SYNTHETIC_IOMEM = `00000000-00000fff : Reserved
00001000-0009fbff : System RAM
000f0000-000fffff : Reserved
  000f0000-000fffff : System ROM
00100000-3fffffff : System RAM
  01000000-01ffffff : Kernel code
  20000000-2fffffff : Crash kernel
40000000-7fffffff : System RAM (kmem)
80000000-8fffffff : ACPI Tables
90000000-9fffffff : ACPI Non-volatile Storage
100000000-17fffffff : System RAM
  170000000-17fffffff : Crash kernel
`;

export const iomemTarget: FuzzTarget = {
  name: "iomem",
  about: "/proc/iomem: parse, nesting, crash regions, RAM walks, dump ranges, capture and reboot memory maps",
  memoryBoundBytes: 32 * 2 ** 20,
  seeds: () => [
    cachedMachineFiles("qemu-q35-2g-crash256m").get("/proc/iomem")!,
    cachedMachineFiles("qemu-q35-2g-nocrash").get("/proc/iomem")!,
    text.encode(SYNTHETIC_IOMEM),
  ],
  mutate: (input, rng, seeds) => text.encode(mutateText(text.decode(input), rng, text.decode(rng.pick(seeds)))),
  run(input) {
    const iomem = parseIomem(text.decode(input));
    flattenIomem(iomem);
    iomemAddressesHidden(iomem);
    walkIomem(iomem, isSystemRam);
    findIomem(iomem, "Kernel code");
    memmapFromIomem(iomem);
    const regions = findCrashRegions(iomem, 0x10000000n) ?? findCrashRegions(iomem);
    if (regions) {
      dumpRamRanges(iomem, regions, LOW_RESERVED);
      const top = regions.main.end;
      captureMemmap(iomem, regions, { start: top - 0x1000n > regions.main.start ? top - 0x1000n : top, end: top });
    }
  },
};

export const cpuListTarget: FuzzTarget = {
  name: "cpu-list",
  about: "CPU lists (/sys/devices/system/cpu/possible, present, online)",
  memoryBoundBytes: 8 * 2 ** 20,
  seeds: () => ["0-1\n", "0-3,8,10-11\n", "0\n", "0-255\n"].map(text.encode),
  mutate: (input, rng) => text.encode(mutateText(text.decode(input), rng)),
  run(input) {
    parseCpuList(text.decode(input));
  },
};

let nocrashIomem: ReturnType<typeof parseIomem> | undefined;

export const bootParamsTarget: FuzzTarget = {
  name: "boot-params",
  about: "/sys/kernel/boot_params/data: firmware fields copied into the next kernel's boot_params, the ACPI RSDP",
  memoryBoundBytes: 8 * 2 ** 20,
  seeds: () => [
    cachedMachineFiles("qemu-q35-2g-crash256m").get("/sys/kernel/boot_params/data")!,
    new Uint8Array(BP.size),
  ],
  mutate: (input, rng, seeds) =>
    mutateBytes(input, rng, [
      { at: BP.acpi_rsdp_addr, width: 8 },
      { at: BP.e820_entries, width: 1 },
      { at: BP.eddbuf_entries, width: 1 },
      { at: BP.edd_mbr_sig_buf_entries, width: 1 },
      { at: 0x23c, width: 4 }, // hardware_subarch
    ], rng.pick(seeds)),
  run(input) {
    acpiRsdpOf(input);
    nocrashIomem ??= parseIomem(text.decode(cachedMachineFiles("qemu-q35-2g-nocrash").get("/proc/iomem")!));
    const iomem = nocrashIomem;
    const sys = filesView({ "/sys/kernel/boot_params/data": input });
    step(() => readX86Machine(sys, iomem, "reboot"));
    buildBootParams({
      setupHeader: syntheticBzImage().subarray(0x1f1, 0x26c),
      setupHeaderOffset: 0x1f1,
      cmdlineAddr: 0x9f000n,
      e820: [{ start: 0n, end: 0x9f000n, type: 1 }],
      firmware: input,
      acpiRsdpAddr: acpiRsdpOf(input),
      setupDataAddr: 0n,
    });
  },
};

// ---------------------------------------------------------------------------------------------------------------
// sysfs: the whole read side over an edited machine

/** Files that are binary (byte mutations, base64 in the input). */
const BINARY = new Set(["/proc/kcore", "/sys/kernel/boot_params/data"]);

/** Plausible contents for files the fixtures lack, so mutation starts from something the parser accepts. */
const TEMPLATES: Record<string, string> = {
  "/proc/cpuinfo": "processor\t: 0\nflags\t\t: fpu vme de pse la57\n",
  "/proc/meminfo": "MemTotal:        2030000 kB\nMemFree:          1000000 kB\n",
  "/sys/firmware/efi/systab": "ACPI20=0x7fb7e014\nACPI=0x7fb7e000\nSMBIOS=0x7f9b4000\n",
  "/sys/kernel/security/lockdown": "none [integrity] confidentiality\n",
  "/proc/sys/kernel/random/boot_id": "5d5f2a2e-0d0f-4bdb-9e31-6f3a0c0f2f11\n",
  "/run/kexec-ts/crash-load.json": JSON.stringify({
    version: 2,
    request: {
      kind: "crash",
      kernel: "/boot/vmlinuz",
      initrds: [],
      reuseCmdline: false,
      syscall: "kexec_load",
      hotplug: "auto",
      noChecks: false,
      serialPort: 0,
    },
    syscall: "kexec_load",
    flags: 0x3e0005,
    hotplug: true,
    bootId: "5d5f2a2e-0d0f-4bdb-9e31-6f3a0c0f2f11",
    loadedAt: "2026-01-01T00:00:00.000Z",
  }),
};

interface SysfsCase {
  machine: MachineName;
  edits: Record<string, { text: string } | { b64: string } | { absent: true } | { denied: true }>;
}

function decodeCase(input: Uint8Array): SysfsCase {
  const c = JSON.parse(text.decode(input)) as SysfsCase;
  if (!MACHINES.includes(c.machine)) c.machine = MACHINES[0];
  return c;
}

function editsOf(c: SysfsCase): Map<string, FileEdit> {
  const out = new Map<string, FileEdit>();
  for (const [path, e] of Object.entries(c.edits)) {
    if ("text" in e) out.set(path, { bytes: text.encode(e.text) });
    else if ("b64" in e) out.set(path, { bytes: text.fromBase64(e.b64) });
    else if ("denied" in e) out.set(path, { denied: true });
    else out.set(path, { absent: true });
  }
  return out;
}

/** Paths the pipeline reads on each machine (traced once). */
const readPaths = new Map<MachineName, string[]>();

function pathsRead(machine: MachineName, ctx: FuzzContext): string[] {
  let paths = readPaths.get(machine);
  if (!paths) {
    const seen = new Set<string>();
    pipeline(tracingView(overlayView(cachedMachineFiles(machine), new Map()), seen), ctx);
    paths = [...seen].filter((p) => !p.endsWith("/")).concat(Object.keys(TEMPLATES)).sort();
    readPaths.set(machine, [...new Set(paths)]);
  }
  return readPaths.get(machine)!;
}

let tmpFiles: { kernel: string; initrd: string } | undefined;

/** Everything kexec-ts does with what it reads of the machine, short of calling the kernel. */
function pipeline(sys: SystemView, ctx: FuzzContext): void {
  tmpFiles ??= { kernel: `${ctx.tmp}/bzImage`, initrd: `${ctx.tmp}/initrd` };
  step(() => {
    const s = gatherStatus(sys);
    renderStatus(s);
    toJson(s);
  });
  const seed = new Uint8Array(32).fill(0x42);
  for (const kind of ["crash", "reboot"] as const) {
    step(() => {
      const req = loadRequest({
        kind,
        kernel: tmpFiles!.kernel,
        initrds: kind === "crash" ? [tmpFiles!.initrd] : [],
        append: "console=ttyS0",
        reuseCmdline: kind === "crash",
      });
      const built = buildLoadPlan(req, sys, seed);
      validatePlan(built.plan, built.limits);
      renderPlan(built.plan);
    });
  }
  step(() => decideReload(sys, "/run/kexec-ts/crash-load.json", false, () => {}));
  step(() => errnoContext({ sys, uid: 0 }, true));
}

export const sysfsTarget: FuzzTarget = {
  name: "sysfs",
  about: "every /proc and /sys value read by status, load planning and reload, over an edited saved machine",
  memoryBoundBytes: 128 * 2 ** 20,
  ciCases: 2500,
  setup(ctx) {
    Deno.writeFileSync(`${ctx.tmp}/bzImage`, syntheticBzImage());
    Deno.writeFileSync(`${ctx.tmp}/initrd`, syntheticInitrd().subarray(0, 8192));
  },
  seeds: () => MACHINES.map((machine) => text.encode(JSON.stringify({ machine, edits: {} }))),
  mutate(input, rng, _seeds, ctx) {
    const c = decodeCase(input);
    if (rng.chance(0.05)) c.machine = rng.pick(MACHINES);
    const paths = pathsRead(c.machine, ctx);
    const path = rng.chance(0.2) && Object.keys(c.edits).length ? rng.pick(Object.keys(c.edits)) : rng.pick(paths);
    c.edits[path] = editFile(c, path, rng);
    return text.encode(JSON.stringify(c));
  },
  run(input, ctx) {
    const c = decodeCase(input);
    pipeline(overlayView(cachedMachineFiles(c.machine), editsOf(c)), ctx);
  },
};

function editFile(c: SysfsCase, path: string, rng: Rng): SysfsCase["edits"][string] {
  const roll = rng.int(20);
  if (roll === 0) return { absent: true };
  if (roll === 1) return { denied: true };
  const current = c.edits[path];
  const base = cachedMachineFiles(c.machine).get(path);
  if (BINARY.has(path)) {
    const bytes = current && "b64" in current ? text.fromBase64(current.b64) : base ?? new Uint8Array(64);
    return { b64: text.toBase64(mutateBytes(bytes, rng)) };
  }
  const now = current && "text" in current ? current.text : base ? text.decode(base) : TEMPLATES[path] ?? "";
  if (path.endsWith(".json") && rng.chance(0.6)) {
    try {
      return { text: JSON.stringify(mutateJson(JSON.parse(now), rng)) };
    } catch { /* not JSON any more: text mutation below */ }
  }
  return { text: mutateText(now, rng) };
}
