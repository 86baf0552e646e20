/**
 * `deno task demo`: boots the guest with the demo scenario and narrates it; ends with what the capture kernel
 * found in /proc/vmcore, including the memory hot-added after the crash kernel was loaded.
 *
 * @module
 */

import { buildImages } from "./images.ts";
import { runVm, tail } from "./qemu.ts";
import { decodeBase64 } from "./base64.ts";
import { parseElf } from "../../lib/elf/reader.ts";
import { PT_LOAD } from "../../lib/elf/constants.ts";
import { formatRange } from "../../lib/memory/ranges.ts";

if (import.meta.main) {
  console.log("kexec-ts demo: Debian 6.12 under QEMU (TCG), 2 GiB + hotplug slots, crashkernel=256M");
  console.log("building guest images...");
  const img = buildImages();
  let inVmcoreHead = false;
  let inOtherBlock = false; // capture-side blocks (iomem, makedumpfile's progress) are for the tests, not the demo
  let vmcoreHead = "";
  const r = await runVm({
    initrd: img.main,
    scenario: "demo",
    append: "crashkernel=256M",
    slots: 4,
    maxmem: "8G",
    timeoutMs: 300_000,
    onDataLine(line) {
      if (line.startsWith("@@KTS-BEGIN capture.vmcore-head")) inVmcoreHead = true;
      else if (line.startsWith("@@KTS-END-BLOCK capture.vmcore-head")) inVmcoreHead = false;
      else if (inVmcoreHead) vmcoreHead += line;
      else if (line.startsWith("@@KTS-BEGIN ")) inOtherBlock = true;
      else if (line.startsWith("@@KTS-END-BLOCK ")) inOtherBlock = false;
      else if (inOtherBlock) return;
      else if (line.startsWith("@@KTS-REQ")) console.log(`[host] QMP: ${line.split(" ").slice(2).join(" ")}`);
      else if (line.startsWith("@@KTS stage2.boot")) console.log("\n=== the capture kernel is up");
      else if (line.startsWith("@@KTS stage2.cmdline")) console.log(`capture kernel command line: ${line.slice(21)}`);
      else if (line.startsWith("@@KTS capture.vmcore-size")) console.log(`/proc/vmcore: ${line.split(" ")[2]} bytes`);
      else if (line.startsWith("@@KTS capture.makedumpfile-rc")) {
        console.log(`makedumpfile -l -d 31: exit ${line.split(" ")[2]}`);
      } else if (line.startsWith("@@KTS capture.dump-size")) console.log(`dump file: ${line.split(" ")[2]} bytes`);
      else if (!line.startsWith("@@KTS")) console.log(line);
    },
  });
  if (vmcoreHead) {
    const elf = parseElf(decodeBase64(vmcoreHead), { checkSegmentBounds: false });
    console.log("vmcore PT_LOADs (physical):");
    for (const p of elf.programHeaders.filter((p) => p.type === PT_LOAD)) {
      console.log(`  ${formatRange({ start: p.paddr, end: p.paddr + p.memsz })}`);
    }
    console.log("the ranges at and above 0x100000000 are the memory hot-added after the crash kernel was loaded");
  } else {
    console.log(`the capture kernel did not report; console tail:\n${tail(r.console)}`);
    Deno.exit(1);
  }
}
