/**
 * From a LoadRequest to a LoadPlan: take the input files' bytes (./inputs.ts), read the machine through the SystemView (the running one, or a
 * saved snapshot), let the image's loader and the planner lay it out, and say what the plan is checked against.
 * No side effects beyond reading.
 *
 * @module
 */

import { readIomem } from "../memory/iomem.ts";
import { requireCrashRegions, unpublishedCmaWarning } from "../crash/region.ts";
import { readHotplugSysfs } from "../crash/hotplug.ts";
import { readCoreInputs } from "../crash/elfcorehdr.ts";
import { readText, readTrimmed, type SystemView } from "../system.ts";
import type { Range } from "../memory/ranges.ts";
import { type Arch, currentArch } from "../arch/mod.ts";
import { planLoad } from "./planner.ts";
import type { LoadPlan, PlanLimits } from "./plan.ts";
import { decideHotplug, type LoadRequest } from "./request.ts";
import { type LoadInputs, resolveInputs } from "./inputs.ts";

/** A plan and the limits it must pass (see validatePlan). */
export interface BuiltPlan {
  plan: LoadPlan;
  limits: PlanLimits;
}

/** MemTotal in bytes (the kernel's totalram_pages), or undefined when unreadable. */
export function memTotalBytes(sys: SystemView): bigint | undefined {
  const kib = /^MemTotal:\s+(\d+) kB$/m.exec(readText(sys, "/proc/meminfo") ?? "")?.[1];
  return kib === undefined ? undefined : BigInt(kib) * 1024n;
}

/**
 * Builds the kexec_load plan for `req` against the machine behind `sys`.
 * @param rngSeed 32 bytes for the next kernel's SETUP_RNG_SEED (random for real loads, fixed in tests)
 * @param inputs the request's inputs, already resolved with their files open (./inputs.ts: a load keeps them open
 *   until its syscall); without them they are resolved here and their files closed when the plan is made (the
 *   plan's buffers stay valid)
 * @throws KexecError for unreadable files, a bad image, a missing crash region, a layout that does not fit
 */
export function buildLoadPlan(
  req: LoadRequest,
  sys: SystemView,
  rngSeed: Uint8Array,
  arch: Arch = currentArch(),
  inputs?: LoadInputs,
): BuiltPlan {
  if (!inputs) {
    const own = resolveInputs(req, sys, arch);
    try {
      return buildLoadPlan(req, sys, rngSeed, arch, own);
    } finally {
      own.close();
    }
  }
  const { loader, image, initrd, cmdline } = inputs;
  const iomem = readIomem(sys);
  const machine = arch.readMachine(sys, iomem, req.kind);
  const common = {
    kind: req.kind,
    arch,
    loader,
    image,
    kernelName: inputs.kernelName,
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
      crash: {
        regions,
        iomem,
        core,
        hotplugBytes: hotplug ? hotplugBytes : undefined,
        kernelRelease: readTrimmed(sys, "/proc/sys/kernel/osrelease"),
      },
    });
    const cmaWarning = unpublishedCmaWarning(sys);
    const warned = cmaWarning ? { ...plan, warnings: [...(plan.warnings ?? []), cmaWarning] } : plan;
    return { plan: withImage(warned, inputs), limits: limits([regions.main], regions.main) };
  }
  return { plan: withImage(planLoad(common), inputs), limits: limits(arch.usableRam(machine)) };
}

/** The plan with what a wrapped image said about itself (absent for a plain kernel, so plans of those are unchanged). */
function withImage(plan: LoadPlan, inputs: LoadInputs): LoadPlan {
  return inputs.info ? { ...plan, image: inputs.info } : plan;
}
