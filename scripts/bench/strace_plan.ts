/**
 * The kexec_load calls an intercepted run made, read back from strace's log, and the checks that make them a real
 * plan rather than an empty or broken call: the segments the tool would have handed the kernel, where they go and
 * how big they are. strace decodes `struct kexec_segment` arrays:
 *
 *   1234  kexec_load(0x98000, 4, [{buf=0x55.., bufsz=2688, mem=0x98000, memsz=20480}, ...], KEXEC_ARCH_X86_64) = 0 (INJECTED)
 *
 * @module
 */

import { hex } from "../../lib/errors.ts";
import type { Range } from "../../lib/memory/ranges.ts";

/** One segment as strace printed it. */
export interface TracedSegment {
  buf: bigint;
  bufsz: bigint;
  mem: bigint;
  memsz: bigint;
}

/** One intercepted kexec_load call. */
export interface TracedLoad {
  entry: bigint;
  count: number;
  segments: TracedSegment[];
  flags: string;
  /** The call's result as strace printed it, e.g. `0 (INJECTED)`. */
  result: string;
}

const num = (s: string) => BigInt(s);

/** Every kexec_load call in an strace log, and whether any reboot call appears. */
export function parseStraceLog(text: string): { loads: TracedLoad[]; reboots: number } {
  const loads: TracedLoad[] = [];
  for (const m of text.matchAll(/kexec_load\((0x[0-9a-f]+|\d+), (\d+), \[(.*?)\], ([^)]*)\) = (.*)$/gm)) {
    const segments = [...m[3].matchAll(/\{buf=(0x[0-9a-f]+|NULL), bufsz=(\w+), mem=(\w+), memsz=(\w+)\}/g)].map((
      s,
    ) => ({
      buf: s[1] === "NULL" ? 0n : num(s[1]),
      bufsz: num(s[2]),
      mem: num(s[3]),
      memsz: num(s[4]),
    }));
    loads.push({ entry: num(m[1]), count: Number(m[2]), segments, flags: m[4], result: m[5].trim() });
  }
  return { loads, reboots: [...text.matchAll(/\breboot\(/g)].length };
}

/** What a plan must show to count as a real one. */
export interface PlanExpectation {
  /** Crash load: KEXEC_ON_CRASH set and every segment inside `within`. */
  crash: boolean;
  /** Where every segment must lie (the crash region, or the machine's System RAM). */
  within: readonly Range[];
  /** bufsz of the kernel segment: the bzImage's protected-mode part. */
  kernelBytes: bigint;
  /** At least this much memory for the kernel segment (its init_size). */
  kernelMemsz: bigint;
  /** bufsz of the initrd segment, when there is one. */
  initrdBytes?: bigint;
}

/**
 * The problems with a traced run: not exactly one kexec_load, a reboot, or a segment list the kernel would refuse
 * or that does not hold the kernel and initrd. Empty when the plan is real.
 */
export function planProblems(log: string, want: PlanExpectation): string[] {
  const { loads, reboots } = parseStraceLog(log);
  const out: string[] = [];
  if (reboots) out.push(`${reboots} reboot call(s)`);
  if (loads.length !== 1) return [...out, `${loads.length} kexec_load calls, expected 1`];
  const load = loads[0];
  const segs = load.segments;
  if (!/INJECTED/.test(load.result)) out.push(`kexec_load was not intercepted: ${load.result}`);
  if (segs.length !== load.count) out.push(`nr_segments ${load.count} but ${segs.length} segments decoded`);
  if (segs.length < 3 || segs.length > 16) out.push(`${segs.length} segments`);
  if (/KEXEC_ON_CRASH/.test(load.flags) !== want.crash) out.push(`flags ${load.flags}`);
  const sorted = [...segs].sort((a, b) => (a.mem < b.mem ? -1 : 1));
  sorted.forEach((s, i) => {
    const what = `segment at ${hex(s.mem)}`;
    if (s.mem % 4096n || s.memsz % 4096n) out.push(`${what} is not page-aligned`);
    if (s.bufsz > s.memsz) out.push(`${what}: bufsz ${s.bufsz} > memsz ${s.memsz}`);
    if (s.bufsz > 0n && s.buf === 0n) out.push(`${what}: NULL buffer`);
    if (i > 0 && sorted[i - 1].mem + sorted[i - 1].memsz > s.mem) out.push(`${what} overlaps the one before`);
    if (!want.within.some((r) => s.mem >= r.start && s.mem + s.memsz <= r.end)) {
      out.push(`${what} (${hex(s.memsz)} bytes) lies outside ${want.crash ? "the crash region" : "System RAM"}`);
    }
  });
  if (!segs.some((s) => s.mem <= load.entry && load.entry < s.mem + s.memsz)) {
    out.push(`entry ${hex(load.entry)} is in no segment`);
  }
  if (!segs.some((s) => s.bufsz === want.kernelBytes && s.memsz >= want.kernelMemsz)) {
    out.push(`no kernel segment of ${want.kernelBytes} bytes with memsz >= ${hex(want.kernelMemsz)}`);
  }
  if (want.initrdBytes !== undefined && !segs.some((s) => s.bufsz === want.initrdBytes)) {
    out.push(`no initrd segment of ${want.initrdBytes} bytes`);
  }
  return out;
}
