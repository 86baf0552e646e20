/**
 * `kexec-ts vmcore-dmesg`: the crashed kernel's log from a dump, byte for byte what Debian's kexec-tools 2.0.25
 * `vmcore-dmesg` prints for the same dump. The format is chosen as it chooses: `SYMBOL(prb)` non-zero means the
 * lockless ring buffer (5.10+), else `SYMBOL(log_first_idx)` the structured log_buf (3.5-5.9), else the legacy
 * character buffer (and a dump without VMCOREINFO ends there, "no log_buf symbol").
 *
 * Exit statuses are kexec-tools' for every cause it detects (2 cannot open; 3-7 ELF identification; 10-16 ELF
 * headers; 22 note segment; 30 unmapped address; 40/41 short reads; 50-53 legacy; 60-69 structured; 64/65 ring
 * buffer reads), and two of ours for what it does not detect: 70 VMCOREINFO lacks or contradicts what the format
 * needs (it would read garbage), 71 a log that never ends (it would loop forever). The message is ours: one line
 * naming what is missing. Output already produced stays on stdout, as with kexec-tools.
 *
 * @example The log of a synthetic dump (tests/fixtures/vmcore/structured.core)
 * ```ts
 * import { memoryCoreSource } from "./source.ts";
 * import { dmesgBytes } from "./dmesg.ts";
 *
 * const core = Deno.readFileSync(new URL("../../tests/fixtures/vmcore/structured.core", import.meta.url));
 * const text = new TextDecoder().decode(dmesgBytes(memoryCoreSource(core)));
 * if (!text.startsWith("[    0.000000] first\n")) throw new Error(text);
 * ```
 *
 * @module
 */

import { readCoreElf } from "./core_elf.ts";
import { dmesgPrinter, type LogRecord } from "./format.ts";
import { legacyLog, structuredRecords } from "./log_buf.ts";
import { readCoreNotes } from "./notes.ts";
import { readLocklessRing } from "./printk_ringbuffer.ts";
import type { CoreSource } from "./source.ts";
import { kernelMemory } from "./translate.ts";
import { dmesgKeys } from "./vmcoreinfo.ts";
import { KexecError } from "../errors.ts";
import { concatBytes } from "../bytes.ts";

/** The log formats. */
export type LogFormat = "lockless" | "structured" | "legacy";

/** The kernel log of a dump, before printing. */
export type KernelLog =
  | { format: "lockless" | "structured"; records: Iterable<LogRecord> }
  | { format: "legacy"; text: Uint8Array };

/**
 * Reads the dump's headers and notes and finds its log the way kexec-tools does. The lockless ring is read whole
 * here; structured records are read as they are iterated.
 * @throws KexecError with the exit statuses in the module doc
 */
export function openKernelLog(src: CoreSource, warn: (message: string) => void = () => {}): KernelLog {
  const elf = readCoreElf(src);
  const notes = readCoreNotes(src, elf);
  const keys = dmesgKeys(notes.vmcoreinfo, warn);
  const mem = kernelMemory(src, elf);
  if (keys.symbols.prb) return { format: "lockless", records: readLocklessRing(mem, keys).records };
  if (keys.symbols.log_first_idx) return { format: "structured", records: structuredRecords(mem, keys) };
  return { format: "legacy", text: legacyLog(mem, keys, notes.vmcoreinfo.length > 0) };
}

/** kexec-tools hands what it printed so far to stdout before these complaints (cycle, index outside log_buf). */
const FLUSH_BEFORE = new Set([68, 69]);

/**
 * Writes the log of the dump in `src` to `write`, in the chunks kexec-tools writes. When the log turns out corrupt
 * midway, what kexec-tools would have written by then has been written, and the error is thrown.
 * @throws KexecError with the exit statuses in the module doc
 */
export function writeDmesg(
  src: CoreSource,
  write: (bytes: Uint8Array) => void,
  warn: (message: string) => void = () => {},
): void {
  const log = openKernelLog(src, warn);
  if (log.format === "legacy") {
    if (log.text.length) write(log.text);
    return;
  }
  const printer = dmesgPrinter(write, log.format === "lockless");
  try {
    for (const rec of log.records) printer.record(rec);
  } catch (e) {
    if (e instanceof KexecError && FLUSH_BEFORE.has(e.exitCode)) printer.flush();
    throw e;
  }
  printer.flush();
}

/** The whole vmcore-dmesg output as bytes (tests, the API). */
export function dmesgBytes(src: CoreSource, warn?: (message: string) => void): Uint8Array {
  const parts: Uint8Array[] = [];
  writeDmesg(src, (b) => parts.push(b), warn);
  return concatBytes(parts);
}
