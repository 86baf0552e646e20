/**
 * The fuzz targets, in the order `deno task fuzz` runs them. Adding a target: write a {@link FuzzTarget} (see
 * ./engine.ts and ./README.md) in ./targets/, and add it here; its regression inputs go into
 * tests/fixtures/fuzz/<name>/, which tests/unit/fuzz/fuzz_test.ts replays.
 *
 * @module
 */

import type { FuzzTarget } from "./engine.ts";
import { bzImageTarget } from "./targets/bzimage.ts";
import { elfReaderTarget, elfRelocatorTarget, kcoreTarget } from "./targets/elf.ts";
import { bootParamsTarget, cpuListTarget, iomemTarget, sysfsTarget } from "./targets/machine.ts";
import { crashRecordTarget, reloadLogTarget, runMarkersTarget } from "./targets/state.ts";
import { cliTarget, envTarget } from "./targets/cli.ts";
import { bootEntriesTarget, ukiTarget } from "./targets/images.ts";

/** Every target. */
export const TARGETS: readonly FuzzTarget[] = [
  bzImageTarget,
  ukiTarget,
  elfReaderTarget,
  elfRelocatorTarget,
  kcoreTarget,
  iomemTarget,
  cpuListTarget,
  bootParamsTarget,
  sysfsTarget,
  crashRecordTarget,
  reloadLogTarget,
  runMarkersTarget,
  bootEntriesTarget,
  cliTarget,
  envTarget,
];

/** The target named `name`. */
export function targetNamed(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}
