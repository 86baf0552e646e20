/**
 * Fuzz targets on what the user types: `cli` (argv through the option grammar and the mode state machine; a load
 * is then planned dry against the saved crash256m machine and rendered) and `env` (KEXEC_TS_RUN_DIR and
 * KEXEC_TS_RELOAD_SETTLE_MS, through everything that reads them, the udev rule included).
 *
 * The `cli` input is a JSON array of strings (the argv without the program name).
 *
 * @module
 */

import { type FuzzTarget, mutateText, type Rng, step, text } from "../engine.ts";
import { parseInvocation } from "../../../lib/cli/args.ts";
import { OPTIONS, SUBCOMMANDS } from "../../../lib/cli/options.ts";
import { renderOutcome } from "../../../lib/cli/output.ts";
import { performLoad } from "../../../lib/load/load.ts";
import { DRY_RUN_KERNEL, type RunEnv } from "../../../lib/runtime.ts";
import { crashRecordPath, runDir } from "../../../lib/reload/record.ts";
import { reloadSettleMs } from "../../../lib/reload/coalesce.ts";
import { reloadLogPath } from "../../../lib/reload/reload_log.ts";
import { reloadCommand, udevRulesText } from "../../../lib/reload/udev.ts";
import { syntheticBzImage, syntheticInitrd } from "../../unit/load/golden_fixtures.ts";
import { cachedMachineFiles, overlayView } from "./machines.ts";

/** Stands for the target's scratch directory in inputs, so that saved inputs replay anywhere. */
const TMP = "@TMP@";

/** Words argv is made of: every spelling of every option, the subcommands, and values that stress them. */
function vocabulary(): string[] {
  const words: string[] = ["--", "-", "=", "", " ", "--=", "-pu", "-lfe", "-tbzImage", "-t", "bzImage64", "uki"];
  for (const o of OPTIONS) {
    if (o.short) words.push(`-${o.short}`);
    for (const l of o.long) words.push(`--${l}`, `--${l}=`, `--${l.slice(0, 3)}`);
  }
  for (const s of SUBCOMMANDS) words.push(s.name);
  words.push(
    `${TMP}/bzImage`,
    `--initrd=${TMP}/initrd`,
    `--append=console=ttyS0 ${"x".repeat(40)}`,
    `--command-line=${"y".repeat(3000)}`,
    "--mem-min=0x1000000",
    "--mem-max=0xffffffffffffffff",
    "--mem-max=18446744073709551616",
    "--mem-min=0777",
    "--mem-min=09",
    "--serial=ttyS3",
    "--serial=0x10000",
    "--serial=0",
    "--system-root=/nonexistent",
    "--system-root=",
    "/nonexistent",
    ".",
    "/dev/null",
    "/dev/zero",
    "./status",
  );
  return words;
}

let vocab: string[] | undefined;

function mutateArgv(input: Uint8Array, rng: Rng): Uint8Array {
  vocab ??= vocabulary();
  const argv = JSON.parse(text.decode(input)) as string[];
  const i = rng.int(argv.length + 1);
  switch (rng.int(6)) {
    case 0:
    case 1:
      argv.splice(i, 0, rng.pick(vocab));
      break;
    case 2:
      argv.splice(i, 1);
      break;
    case 3: {
      const j = rng.int(argv.length);
      [argv[i % Math.max(1, argv.length)], argv[j]] = [argv[j], argv[i % Math.max(1, argv.length)]];
      break;
    }
    case 4:
      if (argv.length) argv[i % argv.length] = mutateText(argv[i % argv.length], rng);
      break;
    default:
      if (argv.length > 1) {
        argv.splice(i % (argv.length - 1), 2, argv[i % (argv.length - 1)] + argv[(i % (argv.length - 1)) + 1]);
      }
  }
  return text.encode(JSON.stringify(argv.filter((a) => typeof a === "string")));
}

let envCache: RunEnv | undefined;

export const cliTarget: FuzzTarget = {
  name: "cli",
  about: "argv: option grammar, kexec-tools mode state machine, then a dry-run load against a saved machine",
  memoryBoundBytes: 64 * 2 ** 20,
  setup(ctx) {
    Deno.writeFileSync(`${ctx.tmp}/bzImage`, syntheticBzImage());
    Deno.writeFileSync(`${ctx.tmp}/initrd`, syntheticInitrd().subarray(0, 4096));
  },
  seeds: () =>
    [
      ["-p", `${TMP}/bzImage`, `--initrd=${TMP}/initrd`, "--append=irqpoll"],
      ["-l", `${TMP}/bzImage`, "--reuse-cmdline", "-i", "--console-serial"],
      ["plan", "--json", "-s", "-p", `${TMP}/bzImage`],
      ["-a", "-p", "--no-hotplug", `${TMP}/bzImage`, "--mem-min", "0x60000000"],
      ["-p", "-u"],
      ["udev-rules", "--install", "/nonexistent"],
      ["status", "--json"],
    ].map((a) => text.encode(JSON.stringify(a))),
  mutate: (input, rng) => mutateArgv(input, rng),
  run(input, ctx) {
    const parsed = JSON.parse(text.decode(input));
    if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === "string")) return;
    const argv = parsed.map((a: string) => a.replaceAll(TMP, ctx.tmp));
    const inv = parseInvocation(argv);
    if (inv.action.kind !== "load" || !inv.load) return;
    envCache ??= {
      sys: overlayView(cachedMachineFiles("qemu-q35-2g-crash256m"), new Map()),
      kernel: DRY_RUN_KERNEL,
      out: () => {},
      err: () => {},
      shutdown: () => {},
      uid: 0,
    };
    const outcome = performLoad(inv.load, envCache, { dryRun: true, rngSeed: new Uint8Array(32) });
    renderOutcome(outcome, false);
    renderOutcome(outcome, true);
  },
};

const ENV_VARS = ["KEXEC_TS_RUN_DIR", "KEXEC_TS_RELOAD_SETTLE_MS"] as const;

export const envTarget: FuzzTarget = {
  name: "env",
  about: "KEXEC_TS_RUN_DIR and KEXEC_TS_RELOAD_SETTLE_MS: run-directory paths, settle time, the udev rule",
  memoryBoundBytes: 8 * 2 ** 20,
  seeds: () => [
    new Uint8Array([0, ...text.encode("/run/kexec-ts")]),
    new Uint8Array([0, ...text.encode("/tmp/kts run")]),
    new Uint8Array([1, ...text.encode("1000")]),
    new Uint8Array([1, ...text.encode(" 0 ")]),
  ],
  mutate: (input, rng) =>
    new Uint8Array([
      rng.chance(0.1) ? rng.int(2) : input[0] ?? 0,
      ...text.encode(mutateText(text.decode(input.subarray(1)), rng)),
    ]),
  run(input) {
    const name = ENV_VARS[(input[0] ?? 0) % 2];
    // An environment value is a C string: it cannot hold NUL.
    const value = text.decode(input.subarray(1)).replaceAll("\0", "");
    const saved = Deno.env.get(name);
    Deno.env.set(name, value);
    try {
      step(() => {
        runDir();
        crashRecordPath();
        reloadLogPath();
      });
      step(() => reloadSettleMs());
      step(() => udevRulesText(reloadCommand(["/usr/bin/kexec-ts"]), runDir()));
    } finally {
      if (saved === undefined) Deno.env.delete(name);
      else Deno.env.set(name, saved);
    }
  },
};
