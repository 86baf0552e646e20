/** lib/arch/x86_64/capture_memmap.ts: the capture kernel's e820 map, as crash_setup_memmap_entries() builds it. */

import assert from "node:assert/strict";
import { captureMemmap } from "../../../../lib/arch/x86_64/capture_memmap.ts";
import { parseIomem } from "../../../../lib/memory/iomem.ts";
import { machineDir } from "../../test_helpers.ts";

const IOMEM = parseIomem(Deno.readTextFileSync(machineDir("qemu-q35-2g-crash256m") + "/proc/iomem"));
const CRASH = { start: 0x68000000n, end: 0x78000000n }; // "  68000000-77ffffff : Crash kernel"
const REGIONS = { main: CRASH };
const MiB = 0x100000n;

Deno.test("captureMemmap: low-1M RAM, reserved ranges (nested ones too), crash range minus the elfcorehdr", () => {
  const hdr = { start: 0x77f1f000n, end: CRASH.end };
  const map = captureMemmap(IOMEM, REGIONS, hdr);
  // From the fixture's iomem: top-level "Reserved" entries, plus "Reserved" nested under "PCI ECAM" (the kernel's
  // walk reports a match and skips its children, but searches the children of non-matches). No ACPI entries here.
  assert.deepEqual(map, [
    { start: 0x0n, end: 0x1000n, type: 2 },
    { start: 0x1000n, end: 0x9fc00n, type: 1 },
    { start: 0x9fc00n, end: 0xa0000n, type: 2 },
    { start: 0xf0000n, end: MiB, type: 2 },
    { start: CRASH.start, end: hdr.start, type: 1 },
    { start: 0x7ffdf000n, end: 0x80000000n, type: 2 },
    { start: 0xb0000000n, end: 0xc0000000n, type: 2 },
    { start: 0xfed1c000n, end: 0xfed20000n, type: 2 },
    { start: 0xfffc0000n, end: 0x100000000n, type: 2 },
    { start: 0xfd00000000n, end: 0x10000000000n, type: 2 },
  ]);
  // ACPI tables and NVS, and a low crash region as RAM.
  const acpi = parseIomem(
    "00000000-0009ffff : System RAM\n00100000-bffdffff : System RAM\n  08000000-0fffffff : Crash kernel\n" +
      "bffe0000-bffeffff : ACPI Tables\nbfff0000-bfffffff : ACPI Non-volatile Storage\n",
  );
  const m2 = captureMemmap(acpi, {
    main: { start: 0x10000000n, end: 0x20000000n },
    low: { start: 0x8000000n, end: 0x10000000n },
  }, {
    start: 0x1ffff000n,
    end: 0x20000000n,
  });
  assert.deepEqual(m2, [
    { start: 0n, end: 0xa0000n, type: 1 },
    { start: 0x8000000n, end: 0x10000000n, type: 1 },
    { start: 0x10000000n, end: 0x1ffff000n, type: 1 },
    { start: 0xbffe0000n, end: 0xbfff0000n, type: 3 },
    { start: 0xbfff0000n, end: 0xc0000000n, type: 4 },
  ]);
});

Deno.test("captureMemmap: crashkernel=,cma ranges go to the capture kernel as RAM", () => {
  const hdr = { start: 0x77f1f000n, end: CRASH.end };
  const cma = [{ start: 0x57000000n, end: 0x67000000n }];
  const map = captureMemmap(IOMEM, { main: CRASH, cma }, hdr);
  const ram = map.filter((e) => e.type === 1);
  assert.deepEqual(ram, [
    { start: 0x1000n, end: 0x9fc00n, type: 1 },
    { start: 0x57000000n, end: 0x67000000n, type: 1 },
    { start: CRASH.start, end: hdr.start, type: 1 },
  ]);
  // Everything else is as without CMA.
  const without = captureMemmap(IOMEM, REGIONS, hdr);
  assert.deepEqual(map.filter((e) => e.start !== 0x57000000n), without);
});

Deno.test("captureMemmap: EFI runtime regions are reserved where iomem does not already say so, never RAM", () => {
  const iomem = parseIomem(
    "00000000-00000fff : Reserved\n00001000-0009ffff : System RAM\n00100000-7d88cfff : System RAM\n" +
      "  20000000-2fffffff : Crash kernel\n7d88d000-7d895fff : Reserved\n7d896000-7eaa0fff : System RAM\n" +
      "7f4ed000-7f76cfff : Reserved\n",
  );
  const crash = { main: { start: 0x20000000n, end: 0x30000000n } };
  const hdr = { start: 0x2ffff000n, end: 0x30000000n };
  const runtime = [
    { start: 0x0n, end: 0x1000n }, // page 0, already Reserved
    { start: 0x9f000n, end: 0xa0000n }, // inside low System RAM: carved out of it
    { start: 0x7d88d000n, end: 0x7d9ba000n }, // half Reserved, half System RAM
    { start: 0x7f4ed000n, end: 0x7f5ed000n }, // already Reserved
  ];
  assert.deepEqual(captureMemmap(iomem, crash, hdr, runtime), [
    { start: 0x0n, end: 0x1000n, type: 2 },
    { start: 0x1000n, end: 0x9f000n, type: 1 },
    { start: 0x9f000n, end: 0xa0000n, type: 2 },
    { start: 0x20000000n, end: 0x2ffff000n, type: 1 },
    { start: 0x7d88d000n, end: 0x7d896000n, type: 2 },
    { start: 0x7d896000n, end: 0x7d9ba000n, type: 2 },
    { start: 0x7f4ed000n, end: 0x7f76d000n, type: 2 },
  ]);
  assert.deepEqual(captureMemmap(iomem, crash, hdr), captureMemmap(iomem, crash, hdr, []), "no EFI: as before");
});
