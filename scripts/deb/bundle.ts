/**
 * kexec-ts as one file, and as one binary: `deno bundle` (esbuild; downloaded from npm on first use, then cached)
 * and `deno compile` (needs the denort runtime: DENORT_BIN, or a download from dl.deno.land) of main.ts, with the
 * same permissions everywhere kexec-ts runs as a program.
 *
 * @module
 */

import { tmpPath } from "../tmp_path.ts";

/** The checkout root, with a trailing slash. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * The permissions kexec-ts runs with (compiled in, or given by the package's launcher): all of them. Deno 2.9 lets
 * only --allow-all read /proc and /sys ("NotCapable: Requires all access to /proc/iomem"); with --allow-read and
 * friends kexec-ts would see no kernel state at all.
 */
export const PERMISSIONS = ["--allow-all"];

const decoder = new TextDecoder();

function runDeno(args: string[], env: Record<string, string> = {}): { ok: boolean; output: string } {
  const r = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  return { ok: r.success, output: decoder.decode(r.stdout) + decoder.decode(r.stderr) };
}

/**
 * Bundles main.ts into `outPath` (written beside it first, then renamed: readers never see half a file).
 * @throws Error with deno bundle's output when it fails
 */
export function bundleTo(outPath: string): void {
  const tmp = tmpPath(outPath);
  Deno.mkdirSync(outPath.slice(0, outPath.lastIndexOf("/")) || ".", { recursive: true });
  const r = runDeno(["bundle", "--quiet", "--platform", "deno", "-o", tmp, "main.ts"]);
  if (!r.ok) {
    try {
      Deno.removeSync(tmp);
    } catch { /* not written */ }
    throw new Error(`deno bundle failed (the first run downloads esbuild from the npm registry):\n${r.output}`);
  }
  Deno.renameSync(tmp, outPath);
}

/** What {@link compileTo} did. */
export type CompileResult = { ok: true } | { ok: false; reason: string };

/**
 * `deno compile` of main.ts into `outPath`, then a check that the result is kexec-ts: `--version` must print
 * `kexec-ts VERSION` (a `DENORT_BIN` that is the full deno binary yields a program that starts Deno's REPL and
 * ignores ours). `DENORT_BIN` is honoured (deno reads it from the environment). On failure nothing is left at
 * `outPath` and the reason says what to do.
 */
export function compileTo(outPath: string, version: string): CompileResult {
  const tmp = tmpPath(outPath);
  const remove = () => {
    try {
      Deno.removeSync(tmp);
    } catch { /* not written */ }
  };
  const denort = Deno.env.get("DENORT_BIN");
  const r = runDeno(["compile", "--quiet", ...PERMISSIONS, "--output", tmp, "main.ts"]);
  if (!r.ok) {
    remove();
    // deno prints a chain ("Caused by: 0: ... 1: error sending request for url (...)"): the download is the news.
    const lines = r.output.split("\n").map((l) => l.trim().replace(/^\d+: /, ""));
    const cause = lines.find((l) => /denort|dl\.deno\.land/.test(l)) ?? lines.find((l) => /error/i.test(l)) ??
      r.output.trim();
    return {
      ok: false,
      reason: denort
        ? `deno compile with DENORT_BIN=${denort} failed: ${cause}`
        : `deno compile could not get its denort runtime (${cause}); set DENORT_BIN=/path/to/denort (the denort ` +
          `of this Deno version), or use the bundle: deno task bundle, deno task deb`,
    };
  }
  const v = new Deno.Command(tmp, { args: ["--version"], stdin: "null", stdout: "piped", stderr: "piped" })
    .outputSync();
  const said = decoder.decode(v.stdout).trim();
  if (said !== `kexec-ts ${version}`) {
    remove();
    return {
      ok: false,
      reason: `the compiled binary is not kexec-ts (--version said ${JSON.stringify(said.slice(0, 60))}): ` +
        `DENORT_BIN=${denort ?? "(unset)"} is not a denort runtime (the full deno binary cannot serve as one)`,
    };
  }
  Deno.renameSync(tmp, outPath);
  return { ok: true };
}
