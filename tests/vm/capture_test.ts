/**
 * The capture side on each kernel of the matrix, one crash per kernel: kexec-ts -p loads a capture initrd holding
 * Deno, the kexec-ts bundle and Debian's kexec-tools vmcore-dmesg; a 256 MiB DIMM is hot-added after the load; init
 * exits with a random code, so the kernel panics with a message the test chose. In the capture kernel:
 *  - `kexec-ts vmcore-dmesg` and kexec-tools' `vmcore-dmesg` print the same bytes, line for line, on the live
 *    /proc/vmcore and on a saved ELF dump (its headers, notes and kernel image in a sparse file of the dump's size);
 *    the log has the first kernel's token and the panic;
 *  - `kexec-ts vmcore-info` agrees with what the first kernel recorded: release, the panic message, crash time,
 *    CPUs (and the crashing one ran init, pid 1), the memory total, the hot-added DIMM in the dump exactly when the
 *    kernel could update the elfcorehdr (crash_hotplug reads 1; 6.1 has no crash hotplug), and kexec-ts as loader;
 *  - the capture kernel's memory and the time and peak RSS of each tool are reported.
 */

import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { decodeBase64 } from "../../scripts/vm/base64.ts";
import { kernelPackage, matrixKernels } from "../../scripts/vm/kernels.ts";
import { block, boot, check, failRun, hasMarker, marker, numberMarker, type Run } from "./harness.ts";
import { expectedDumpRam } from "./vmcore.ts";
import { isSystemRam, parseIomem, walkIomem } from "../../lib/memory/iomem.ts";

/**
 * The capture kernel's memory, for these tests only (the others use 256M). The capture initrd is 46 MB of gzip
 * holding 103 MB of files (Deno is 95 MB); the capture kernel holds both while it unpacks, and kexec-ts takes about
 * 20 MB more while it runs. Measured at 320M: 78 (6.1), 86 (6.12) and 60 MiB (7.3) available after unpacking, and
 * kexec-ts ran on the live dump on all three (on 6.12 also at 288M). The saved dump this test keeps in tmpfs (the
 * kernel image: 46-55 MB) needs 384M.
 */
export const CAPTURE_CRASHKERNEL = "384M";

/** A gzip+base64 block as bytes. */
function gz(run: Run, name: string): Uint8Array {
  return new Uint8Array(gunzipSync(decodeBase64(block(run, `${name}.gz`).replace(/\s+/g, ""))));
}

/** Fails with the first differing line when two outputs differ. */
function sameLines(run: Run, what: string, ours: Uint8Array, theirs: Uint8Array): void {
  const a = new TextDecoder().decode(ours).split("\n"), b = new TextDecoder().decode(theirs).split("\n");
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      failRun(
        run,
        `${what}: line ${i + 1} differs\n  kexec-ts:    ${JSON.stringify(a[i])}\n  kexec-tools: ${
          JSON.stringify(b[i])
        }`,
      );
    }
  }
  assert.deepEqual(ours, theirs, `${what}: bytes differ`);
}

const sum = (rs: { start: bigint; end: bigint }[]) => rs.reduce((n, r) => n + r.end - r.start, 0n);

for (const kernel of matrixKernels()) {
  Deno.test(`capture side on ${kernel}: kexec-ts vmcore-dmesg = kexec-tools' (live and saved), vmcore-info = what the first kernel recorded`, async () => {
    const run = await boot("capture-tools", {
      kernel,
      capture: true,
      append: `crashkernel=${CAPTURE_CRASHKERNEL}`,
      slots: 4,
      maxmem: "8G",
      timeoutMs: 420_000,
    });
    check(run, marker(run, "load.rc") === "0", `kexec-ts -p failed: ${block(run, "load")}`);
    check(run, hasMarker(run, "stage2.end"), "the capture kernel did not finish its checks");
    for (const name of ["theirs-live", "ours-live", "info-live", "theirs-saved", "ours-saved", "info-saved"]) {
      check(
        run,
        marker(run, `${name}.rc`) === "0",
        `${name} exited ${marker(run, `${name}.rc`)}: ${block(run, `${name}.stderr`)}`,
      );
    }

    // vmcore-dmesg: the same bytes as kexec-tools', on the live dump and on the saved one.
    const oursLive = gz(run, "ours-live"), theirsLive = gz(run, "theirs-live");
    sameLines(run, "live /proc/vmcore", oursLive, theirsLive);
    sameLines(run, "saved ELF dump", gz(run, "ours-saved"), gz(run, "theirs-saved"));
    const log = new TextDecoder().decode(oursLive);
    check(run, log.includes(marker(run, "first-kernel-token")), "the first kernel's token is not in the log");
    const code = Number(marker(run, "panic-code"));
    const panicMessage = `Attempted to kill init! exitcode=0x${(code << 8).toString(16).padStart(8, "0")}`;
    check(run, log.includes(`Kernel panic - not syncing: ${panicMessage}\n`), `no panic line "${panicMessage}"`);

    // vmcore-info against what the first kernel recorded.
    const info = JSON.parse(new TextDecoder().decode(gz(run, "info-live")));
    assert.equal(info.kernelRelease, marker(run, "first-release"));
    assert.deepEqual(info.panic.kind, "panic");
    assert.equal(info.panic.message, panicMessage);
    const t = Number(marker(run, "first-date"));
    check(
      run,
      info.crashTimeEpoch >= t && info.crashTimeEpoch <= t + 120,
      `crash time ${info.crashTimeEpoch}, first kernel said ${t}`,
    );
    const cpus = marker(run, "first-cpus") === "0-1" ? 2 : 1;
    assert.equal(info.cpus.savedCount, cpus);
    check(run, info.cpus.pids.includes(1), `no CPU was running init: pids ${info.cpus.pids}`);
    assert.equal(info.log.format, "lockless");
    assert.equal(info.loader.builtBy, "kexec-ts");

    // Memory: all the dumpable RAM; the DIMM only if the kernel updated the elfcorehdr (crash hotplug).
    const iomem = block(run, "first-iomem");
    const dimm = walkIomem(parseIomem(iomem), isSystemRam).filter((e) => e.start >= 0x100000000n).map((e) => ({
      start: e.start,
      end: e.end,
    }));
    const dimmBytes = sum(dimm);
    check(run, dimmBytes >= 256n << 20n, `the DIMM is not in the first kernel's iomem (${dimmBytes} bytes)`);
    const hotplug = marker(run, "first.memory_crash_hotplug") === "1";
    const want = sum(expectedDumpRam(iomem)) - (hotplug ? 0n : dimmBytes);
    assert.equal(BigInt(info.memory.totalBytes), want, "memory total");
    assert.equal(info.hotplug.verdict, hotplug ? "included" : "missing");
    assert.equal(BigInt(info.hotplug.hotAddedBytes), dimmBytes);
    if (!hotplug) assert.equal(BigInt(info.hotplug.missingBytes), dimmBytes);

    // The saved dump says the same about the crash (its copy of the header has no capture command line to go by).
    const saved = JSON.parse(new TextDecoder().decode(gz(run, "info-saved")));
    assert.equal(saved.kernelRelease, info.kernelRelease);
    assert.equal(saved.panic.message, panicMessage);
    assert.equal(saved.crashTimeEpoch, info.crashTimeEpoch);
    assert.equal(saved.loader.builtBy, "kernel-layout");

    const n = (k: string) => numberMarker(run, k);
    console.log(
      `${kernelPackage(kernel)}: capture MemTotal ${n("capture.memtotal-kb")} KiB, MemAvailable ` +
        `${n("capture.memavailable-kb")} KiB (after the tools: ${n("capture.memavailable-after-kb")}); ` +
        `vmcore-dmesg ${n("ours-live.bytes")} bytes: kexec-ts ${n("ours-live.ms")} ms / ${
          n("ours-live.maxrss-kb")
        } KiB, ` +
        `kexec-tools ${n("theirs-live.ms")} ms / ${n("theirs-live.maxrss-kb")} KiB (ratio ` +
        `${(n("ours-live.ms") / Math.max(1, n("theirs-live.ms"))).toFixed(1)}), deno start-up ${
          n("deno-empty.ms")
        } ms / ` +
        `${n("deno-empty.maxrss-kb")} KiB; vmcore-info ${n("info-live.ms")} ms / ${n("info-live.maxrss-kb")} KiB; ` +
        `saved dump ${n("dump.bytes")} bytes`,
    );
  });
}
