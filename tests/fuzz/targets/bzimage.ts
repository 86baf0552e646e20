/**
 * Fuzz target `bzimage`: a mutated bzImage through the probe, the parser, the kexec_file_load pre-checks and the
 * bzImage64 loader with the shared planner (normal and crash loads on the saved crash256m machine).
 *
 * @module
 */

import { fieldsOf, type FuzzTarget, mutateBytes, step } from "../engine.ts";
import { HDR, parseBzImage, probeBzImage } from "../../../lib/arch/x86_64/bzimage.ts";
import { bzImageLoader } from "../../../lib/arch/x86_64/bzimage_loader.ts";
import { planLoad } from "../../../lib/load/planner.ts";
import { validatePlan } from "../../../lib/load/plan.ts";
import { syntheticBzImage } from "../../unit/load/golden_fixtures.ts";
import { crashMachinePlanInputs } from "./machines.ts";

/** Widths of the setup header fields (Documentation/arch/x86/boot.rst). */
const WIDTHS: Record<string, number> = {
  setup_sects: 1,
  boot_flag: 2,
  jump: 2,
  version: 2,
  type_of_loader: 1,
  loadflags: 1,
  relocatable_kernel: 1,
  min_alignment: 1,
  xloadflags: 2,
  setup_data: 8,
  pref_address: 8,
};
const FIELDS = fieldsOf(HDR, WIDTHS);

export const bzImageTarget: FuzzTarget = {
  name: "bzimage",
  about: "bzImage header: probe, parse, kexec_file_load pre-checks, bzImage64 loader + planner (normal and crash)",
  memoryBoundBytes: 64 * 2 ** 20,
  ciCases: 4000,
  seeds: () => {
    const protocol212 = syntheticBzImage({ xloadflags: 0x03 });
    new DataView(protocol212.buffer).setUint16(HDR.version, 0x020c, true);
    return [syntheticBzImage(), syntheticBzImage({ xloadflags: 0x01, initSize: 0x100000 }), protocol212];
  },
  mutate: (input, rng, seeds) => mutateBytes(input, rng, FIELDS, rng.pick(seeds)),
  run(input) {
    probeBzImage(input);
    const image = parseBzImage(input, "fuzz-bzImage");
    for (const kind of ["reboot", "crash"] as const) {
      const inputs = crashMachinePlanInputs()[kind];
      step(() =>
        bzImageLoader.fileLoadCheck?.(image, {
          kind,
          cmdline: "console=ttyS0",
          initrdBytes: 0x500000n,
          sys: inputs.sys,
          crash: kind === "crash"
            ? { region: inputs.crash!.regions.main, elfcorehdrBytes: 917680n, slackBytes: 0x100000n }
            : undefined,
          totalRamBytes: 2n << 30n,
        })
      );
      step(() => {
        const plan = planLoad({ ...inputs, image, kernelName: "fuzz-bzImage" });
        validatePlan(plan, {
          allowed: kind === "crash" ? [inputs.crash!.regions.main] : [{ start: 0n, end: 1n << 40n }],
          crash: kind === "crash" ? inputs.crash!.regions.main : undefined,
          maxAddress: (1n << 46n) - 1n,
        });
      });
    }
  },
};
