/**
 * From a LoadRequest to a LoadPlan: read the files, read the machine through the SystemView (the running one, or a
 * saved snapshot), let the image's loader and the planner lay it out, and say what the plan is checked against.
 * No side effects beyond reading.
 *
 * @module
 */

import { fail } from "../errors.ts";
import { readInputFile } from "../files.ts";
import { readIomem } from "../memory/iomem.ts";
import { requireCrashRegions } from "../crash/region.ts";
import { readHotplugSysfs } from "../crash/hotplug.ts";
import { readCoreInputs } from "../crash/elfcorehdr.ts";
import { readText, type SystemView } from "../system.ts";
import type { Range } from "../memory/ranges.ts";
import { type Arch, currentArch } from "../arch/mod.ts";
import { pickLoader } from "./loaders.ts";
import { planLoad } from "./planner.ts";
import type { LoadPlan, PlanLimits } from "./plan.ts";
import { composeCmdline, decideHotplug, type LoadRequest } from "./request.ts";

/** A plan and the limits it must pass (see validatePlan). */
export interface BuiltPlan {
  plan: LoadPlan;
  limits: PlanLimits;
}

/** The request's initrds as one buffer (concatenated when there are several), or undefined when there are none. */
export function readInitrds(paths: readonly string[]): Uint8Array | undefined {
  if (paths.length === 0) return undefined;
  const parts = paths.map((p) => {
    const bytes = readInputFile(p, "initrd");
    if (bytes.length === 0) fail("io", `initrd ${p} is empty`);
    return bytes;
  });
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** MemTotal in bytes (the kernel's totalram_pages), or undefined when unreadable. */
function memTotalBytes(sys: SystemView): bigint | undefined {
  const kib = /^MemTotal:\s+(\d+) kB$/m.exec(readText(sys, "/proc/meminfo") ?? "")?.[1];
  return kib === undefined ? undefined : BigInt(kib) * 1024n;
}

/**
 * Builds the kexec_load plan for `req` against the machine behind `sys`.
 * @param rngSeed 32 bytes for the next kernel's SETUP_RNG_SEED (random for real loads, fixed in tests)
 * @throws KexecError for unreadable files, a bad image, a missing crash region, a layout that does not fit
 */
export function buildLoadPlan(
  req: LoadRequest,
  sys: SystemView,
  rngSeed: Uint8Array,
  arch: Arch = currentArch(),
): BuiltPlan {
  const kernelBytes = readInputFile(req.kernel, "kernel");
  const initrd = readInitrds(req.initrds);
  const loader = pickLoader(arch, kernelBytes, req.type, req.kernel);
  const image = loader.parse(kernelBytes, req.kernel);
  const cmdline = composeCmdline(req, sys);
  const iomem = readIomem(sys);
  const machine = arch.readMachine(sys, iomem, req.kind);
  const common = {
    kind: req.kind,
    arch,
    loader,
    image,
    kernelName: req.kernel,
    initrd,
    cmdline,
    machine,
    memMin: req.memMin,
    memMax: req.memMax,
    skipChecks: req.noChecks,
    serialPort: req.serialPort,
    rngSeed,
    noefi: req.noefi,
  };
  const limits = (allowed: readonly Range[], crash?: Range): PlanLimits => ({
    allowed,
    crash,
    maxAddress: arch.destinationLimit(machine),
    totalRamBytes: memTotalBytes(sys),
  });
  if (req.kind === "crash") {
    const regions = requireCrashRegions(sys, iomem);
    const hotplugBytes = readHotplugSysfs(sys).elfcorehdrSizeBytes;
    const hotplug = decideHotplug(req, hotplugBytes);
    const core = readCoreInputs(sys, iomem, regions, arch.core);
    const plan = planLoad({
      ...common,
      crash: { regions, iomem, core, hotplugBytes: hotplug ? hotplugBytes : undefined },
    });
    return { plan, limits: limits([regions.main], regions.main) };
  }
  return { plan: planLoad(common), limits: limits(arch.usableRam(machine)) };
}
