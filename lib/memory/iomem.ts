/**
 * The `/proc/iomem` resource tree. Entries keep their nesting (`Crash kernel` and `Kernel code` sit inside a
 * `System RAM` range) because the kernel's own walks depend on it. Addresses become half-open ranges.
 *
 * As non-root, the kernel prints every address as zero; {@link readIomem} refuses that instead of returning
 * a map of zeros.
 *
 * @module
 */

import { fail } from "../errors.ts";
import { readText, type SystemView } from "../system.ts";
import type { Range } from "./ranges.ts";

/** One `/proc/iomem` line: `[start, end)`, its name, and the entries nested under it. */
export interface IomemEntry extends Range {
  name: string;
  depth: number;
  children: IomemEntry[];
}

const LINE = /^( *)([0-9a-f]+)-([0-9a-f]+) : (.*)$/;

/**
 * Parses `/proc/iomem` text. Nesting comes from the two-space indentation.
 * @throws KexecError("io") on a line that is not `start-end : name`
 */
export function parseIomem(text: string): IomemEntry[] {
  const roots: IomemEntry[] = [];
  const stack: IomemEntry[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const m = LINE.exec(line);
    if (!m) fail("io", `/proc/iomem line ${i + 1} is not "start-end : name": ${JSON.stringify(line)}`);
    const depth = m[1].length / 2;
    const entry: IomemEntry = {
      start: BigInt("0x" + m[2]),
      end: BigInt("0x" + m[3]) + 1n,
      name: m[4],
      depth,
      children: [],
    };
    while (stack.length > depth) stack.pop();
    if (stack.length === 0) roots.push(entry);
    else stack[stack.length - 1].children.push(entry);
    stack.push(entry);
  }
  return roots;
}

/** Every entry at any depth, in file order. */
export function flattenIomem(entries: readonly IomemEntry[]): IomemEntry[] {
  const out: IomemEntry[] = [];
  const walk = (list: readonly IomemEntry[]) => {
    for (const e of list) {
      out.push(e);
      walk(e.children);
    }
  };
  walk(entries);
  return out;
}

/** Entries at any depth whose name satisfies `match` (a string compares exactly). */
export function findIomem(entries: readonly IomemEntry[], match: string | ((name: string) => boolean)): IomemEntry[] {
  const test = typeof match === "string" ? (n: string) => n === match : match;
  return flattenIomem(entries).filter((e) => test(e.name));
}

/**
 * The kernel's resource walk (kernel/resource.c find_next_iomem_res): an entry that matches is reported and its
 * children are skipped; the children of an entry that does not match are searched. So the "Crash kernel" or
 * "Kernel code" children of a "System RAM" range are not reported, but a "Reserved" range nested under a
 * "PCI ECAM" window is.
 */
export function walkIomem(entries: readonly IomemEntry[], match: (name: string) => boolean): IomemEntry[] {
  const out: IomemEntry[] = [];
  const walk = (list: readonly IomemEntry[]) => {
    for (const e of list) {
      if (match(e.name)) out.push(e);
      else walk(e.children);
    }
  };
  walk(entries);
  return out;
}

/** Whether the kernel hid the addresses (every range printed as 0-0, which is what non-root readers get). */
export function iomemAddressesHidden(entries: readonly IomemEntry[]): boolean {
  const all = flattenIomem(entries);
  return all.length > 0 && all.every((e) => e.start === 0n && e.end === 1n);
}

/**
 * Reads and parses `/proc/iomem` through the SystemView.
 * @throws KexecError("permission") when the addresses are hidden (not root); KexecError("io") when unreadable
 */
export function readIomem(sys: SystemView): IomemEntry[] {
  const text = readText(sys, "/proc/iomem");
  if (text === undefined) fail("io", `cannot read /proc/iomem under ${sys.origin}`);
  const entries = parseIomem(text);
  if (iomemAddressesHidden(entries)) {
    fail(
      "permission",
      "/proc/iomem shows only zero addresses to non-root users; run as root (or plan against a saved --system-root)",
    );
  }
  return entries;
}

/** Whether an iomem name is system RAM as the kernel's walk_system_ram_res sees it (`System RAM`, `System RAM (kmem)`, ...). */
export function isSystemRam(name: string): boolean {
  return name === "System RAM" || name.startsWith("System RAM (");
}
