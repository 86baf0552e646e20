/**
 * The fixture machines (tests/fixtures/machines/) held in memory, for targets that read the machine: an overlay
 * SystemView whose files a case replaces, removes or makes unreadable, and the planner's inputs of each machine
 * computed once.
 *
 * @module
 */

import { fsSystemView, type ReadResult, recordSystemView, type SystemView } from "../../../lib/system.ts";
import { readIomem } from "../../../lib/memory/iomem.ts";
import { requireCrashRegions } from "../../../lib/crash/region.ts";
import { readCoreInputs } from "../../../lib/crash/elfcorehdr.ts";
import { readHotplugSysfs } from "../../../lib/crash/hotplug.ts";
import { x86_64 } from "../../../lib/arch/x86_64/mod.ts";
import type { X86Machine } from "../../../lib/arch/x86_64/machine.ts";
import type { PlannerInput } from "../../../lib/load/planner.ts";
import type { BzImage } from "../../../lib/arch/x86_64/bzimage.ts";
import { bzImageLoader } from "../../../lib/arch/x86_64/bzimage_loader.ts";

/** The saved machines. */
export const MACHINES = ["qemu-q35-2g-crash256m", "qemu-q35-2g-nocrash"] as const;
/** One of {@link MACHINES}. */
export type MachineName = typeof MACHINES[number];

const ROOT = new URL("../../fixtures/machines/", import.meta.url).pathname;

/** Every file of a fixture machine, by absolute path inside the machine. */
export function machineFiles(name: MachineName): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const walk = (dir: string, rel: string) => {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isDirectory) walk(`${dir}/${e.name}`, `${rel}/${e.name}`);
      else files.set(`${rel}/${e.name}`, Deno.readFileSync(`${dir}/${e.name}`));
    }
  };
  walk(ROOT + name, "");
  return files;
}

const cache = new Map<MachineName, Map<string, Uint8Array>>();

/** {@link machineFiles}, read once per process. */
export function cachedMachineFiles(name: MachineName): Map<string, Uint8Array> {
  let files = cache.get(name);
  if (!files) cache.set(name, files = machineFiles(name));
  return files;
}

/** What a case does to one file: new contents, gone, or unreadable. */
export type FileEdit = { bytes: Uint8Array } | { absent: true } | { denied: true };

/** A view of `base` with `edits` applied (paths not in `base` may be added). */
export function overlayView(base: Map<string, Uint8Array>, edits: ReadonlyMap<string, FileEdit>): SystemView {
  const read = (path: string, maxBytes?: number): ReadResult => {
    const e = edits.get(path);
    const bytes = e === undefined ? base.get(path) : "bytes" in e ? e.bytes : undefined;
    if (e && "denied" in e) return { kind: "denied" };
    if (bytes === undefined) return { kind: "absent" };
    return { kind: "ok", bytes: maxBytes === undefined ? bytes : bytes.subarray(0, maxBytes) };
  };
  const list = (path: string): string[] | undefined => {
    const dir = path.endsWith("/") ? path : path + "/";
    const names = new Set<string>();
    for (const p of [...base.keys(), ...edits.keys()]) {
      if (!p.startsWith(dir)) continue;
      const e = edits.get(p);
      if (e && !("bytes" in e) && !p.slice(dir.length).includes("/")) continue;
      names.add(p.slice(dir.length).split("/")[0]);
    }
    return names.size ? [...names].sort() : undefined;
  };
  return { origin: "<fuzz>", read, list };
}

/** A view that records every path read or listed, to learn which files a pipeline reads. */
export function tracingView(inner: SystemView, seen: Set<string>): SystemView {
  return {
    origin: inner.origin,
    read: (path, maxBytes) => {
      seen.add(path);
      return inner.read(path, maxBytes);
    },
    list: (path) => {
      seen.add(path + "/");
      return inner.list(path);
    },
  };
}

/** The planner input of a fixture machine, without the image (computed once). */
export interface MachinePlanInputs {
  reboot: Omit<PlannerInput<BzImage, X86Machine>, "image" | "kernelName"> & { sys: SystemView };
  crash: Omit<PlannerInput<BzImage, X86Machine>, "image" | "kernelName"> & { sys: SystemView };
}

let planInputs: MachinePlanInputs | undefined;

/** The crash-region machine's planner inputs, for targets that plan a mutated image. */
export function crashMachinePlanInputs(): MachinePlanInputs {
  if (planInputs) return planInputs;
  const sys = fsSystemView(ROOT + "qemu-q35-2g-crash256m");
  const iomem = readIomem(sys);
  const common = {
    arch: x86_64,
    loader: bzImageLoader,
    cmdline: "console=ttyS0 root=/dev/vda",
    skipChecks: false,
    serialPort: 0,
    rngSeed: new Uint8Array(32).fill(0x5a),
  };
  const regions = requireCrashRegions(sys, iomem);
  planInputs = {
    reboot: { ...common, sys, kind: "reboot", machine: x86_64.readMachine(sys, iomem, "reboot") },
    crash: {
      ...common,
      sys,
      kind: "crash",
      machine: x86_64.readMachine(sys, iomem, "crash"),
      crash: {
        regions,
        iomem,
        core: readCoreInputs(sys, iomem, regions, x86_64.core),
        hotplugBytes: readHotplugSysfs(sys).elfcorehdrSizeBytes,
      },
    },
  };
  return planInputs;
}

/** An in-memory view of plain files, for targets that need only a few. */
export function filesView(files: Record<string, string | Uint8Array>): SystemView {
  return recordSystemView(files);
}
