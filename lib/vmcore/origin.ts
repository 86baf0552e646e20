/**
 * Who built a dump's ELF core header (the elfcorehdr the capture kernel turned into /proc/vmcore), from the evidence
 * the dump carries, plus the capture kernel's command line when the dump is the live /proc/vmcore.
 *
 * In the dump (x86): kexec-tools' kexec_load header has a PT_LOAD below 1 MiB, its backup region (the first
 * 640 KiB of RAM, which its purgatory copies away before the capture kernel boots; crashdump-x86.c). The kernel's
 * own header (kexec_file_load's crash_prepare_elf64_headers, and the rewrite it does on crash hotplug) leaves out the
 * first 1 MiB, starts with the kernel text, and has no backup region; kexec-ts writes that same layout on purpose
 * (so a hotplug rewrite changes nothing else), so the dump alone cannot tell those three apart.
 *
 * On the capture kernel's command line: kexec-tools appends `elfcorehdr=<N>K` (1 KiB aligned); the kernel's
 * kexec_file_load puts `elfcorehdr=0x<addr> ` first; kexec-ts does the same and follows it with
 * `memhp_default_state=offline` (unless the user set that option).
 *
 * @module
 */

import { hex } from "../errors.ts";
import type { CorePhdr } from "./core_elf.ts";
import { EM_386 } from "./core_elf.ts";
import { EM_X86_64, PT_LOAD } from "../elf/constants.ts";

/** Who built the elfcorehdr. */
export type CoreHeaderBuilder =
  | "kexec-tools" // kexec_load header with kexec-tools' backup region
  | "kexec-ts" // the capture command line says kexec-ts loaded it; kernel layout
  | "kernel" // kexec_file_load
  | "kernel-layout" // the kernel's layout, from a saved dump: kexec_file_load, a hotplug rewrite, or kexec-ts
  | "unknown";

/** The verdict and what it rests on. */
export interface CoreHeaderOrigin {
  /** The verdict. */
  builtBy: CoreHeaderBuilder;
  /** One line for people. */
  summary: string;
  /** The facts, one per line. */
  evidence: string[];
}

const ONE_MIB = 0x100000n;

/** What the command line of the kernel reading the dump says about who loaded it. */
function fromCmdline(cmdline: string): { who: "kexec-tools" | "kexec-ts" | "kernel"; fact: string } | undefined {
  const words = cmdline.trim().split(/\s+/);
  const k = words.find((w) => /^elfcorehdr=\d+K$/.test(w));
  if (k) return { who: "kexec-tools", fact: `capture command line has ${k} (kexec-tools' form, 1 KiB aligned)` };
  if (/^elfcorehdr=0x[0-9a-f]+$/i.test(words[0] ?? "")) {
    if (words[1] === "memhp_default_state=offline") {
      return { who: "kexec-ts", fact: `capture command line starts "${words[0]} ${words[1]}" (kexec-ts' form)` };
    }
    return { who: "kernel", fact: `capture command line starts "${words[0]}" (kexec_file_load's form)` };
  }
  return undefined;
}

/**
 * Who built the core header, from its program headers and (for the live /proc/vmcore) the capture kernel's
 * command line.
 */
export function coreHeaderOrigin(
  machine: number,
  phdrs: readonly CorePhdr[],
  captureCmdline?: string,
): CoreHeaderOrigin {
  const evidence: string[] = [];
  const loads = phdrs.filter((p) => p.type === PT_LOAD);
  const x86 = machine === EM_X86_64 || machine === EM_386;
  let layout: "kexec-tools" | "kernel" | "unknown" = "unknown";
  if (x86 && loads.length) {
    const low = loads.find((p) => p.paddr < ONE_MIB && p.memsz > 0n);
    if (low) {
      layout = "kexec-tools";
      evidence.push(
        `PT_LOAD ${hex(low.paddr)}-${hex(low.paddr + low.memsz - 1n)} lies below 1 MiB: kexec-tools' backup region`,
      );
    } else {
      layout = "kernel";
      evidence.push("no PT_LOAD below 1 MiB and no backup region: the kernel's elfcorehdr layout");
    }
  } else {
    evidence.push(x86 ? "no PT_LOAD program headers" : `no layout rule for ELF machine ${machine}`);
  }
  const cl = captureCmdline === undefined ? undefined : fromCmdline(captureCmdline);
  if (cl) evidence.push(cl.fact);

  if (cl?.who === "kexec-tools") {
    return layout === "kernel"
      ? {
        builtBy: "kexec-tools",
        summary: "kexec-tools loaded it; the kernel rewrote its elfcorehdr on a hotplug event (no backup region left)",
        evidence,
      }
      : { builtBy: "kexec-tools", summary: "kexec-tools (kexec_load), with its backup region", evidence };
  }
  if (layout === "kexec-tools") {
    return { builtBy: "kexec-tools", summary: "kexec-tools (kexec_load), with its backup region", evidence };
  }
  if (cl?.who === "kexec-ts" && layout === "kernel") {
    return { builtBy: "kexec-ts", summary: "kexec-ts (kexec_load; the kernel's header layout)", evidence };
  }
  if (cl?.who === "kernel" && layout === "kernel") {
    return { builtBy: "kernel", summary: "the kernel (kexec_file_load)", evidence };
  }
  if (layout === "kernel") {
    return {
      builtBy: "kernel-layout",
      summary: "the kernel's layout: kexec_file_load, a crash-hotplug rewrite, or kexec-ts (a saved dump cannot tell)",
      evidence,
    };
  }
  return { builtBy: "unknown", summary: "unknown", evidence };
}
