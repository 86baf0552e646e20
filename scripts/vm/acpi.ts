/**
 * CPU hot-add for the Debian 6.12 guest under TCG, through an ACPI table upgrade.
 *
 * Why: since "x86/acpi/boot: Correct acpi_is_processor_usable() check again" (backported to 6.12.85), Linux
 * counts a disabled MADT LAPIC entry as a hot-pluggable CPU only if the MADT says "Online Capable" (ACPI 6.3,
 * FADT >= 6.3) or the kernel runs under a hypervisor it recognises. QEMU emits FADT rev 3 with disabled
 * entries and no Online Capable bit, and under TCG the kernel sees no known hypervisor ("TCGTCGTCGTCG"), so
 * it reserves no hotplug CPUs ("Allowing 2 present CPUs plus 0 hotplug CPUs") and rejects a QMP-added CPU
 * ("ACPI: Unable to map lapic to logical cpu number"). Under KVM it would work; KVM is not usable here.
 *
 * What: boot once with the wanted machine and -smp, read the guest's FACP and APIC tables, patch them the way
 * ACPI 6.3 firmware would describe hot-pluggable CPUs (FADT revision 6.3; MADT revision 5; Online Capable on
 * every disabled LAPIC / x2APIC entry), bump their OEM revision (the kernel only takes an upgrade with a
 * higher one), fix the checksums, and put them in an uncompressed cpio as kernel/firmware/acpi/*.aml, which
 * CONFIG_ACPI_TABLE_UPGRADE reads from the start of the initrd. The kernel logs "ACPI: Table Upgrade: override"
 * and taints itself; nothing else changes. Cached per QEMU version, machine and -smp.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { decodeBase64 } from "./base64.ts";
import { type CpioEntry, writeCpio } from "./cpio.ts";
import { ROOT } from "./images.ts";
import { runVm, tail } from "./qemu.ts";

/** ACPI table header offsets. */
const SDT = { revision: 8, checksum: 9, oemRevision: 24, length: 4, size: 36 } as const;
/** FADT minor version (ACPI 5.1+), right after the 1-byte ARM boot flags at 129..130. */
const FADT_MINOR_VERSION = 131;
/** MADT: entries start after the 36-byte header, local APIC address (4) and flags (4). */
const MADT_ENTRIES = 44;
const MADT_LAPIC = 0, MADT_X2APIC = 9;
const LAPIC_FLAGS = 4, X2APIC_FLAGS = 8;
const ENABLED = 1, ONLINE_CAPABLE = 2;

function fixChecksum(t: Uint8Array): void {
  t[SDT.checksum] = 0;
  const sum = t.reduce((a, b) => (a + b) & 0xff, 0);
  t[SDT.checksum] = (0x100 - sum) & 0xff;
}

function bumpOemRevision(t: Uint8Array): void {
  const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  dv.setUint32(SDT.oemRevision, dv.getUint32(SDT.oemRevision, true) + 1, true);
}

/** FADT → revision 6.3. */
export function patchFadt(fadt: Uint8Array): Uint8Array {
  const t = fadt.slice();
  if (t.length <= FADT_MINOR_VERSION) throw new Error(`FADT is ${t.length} bytes, too short for revision 6.3 fields`);
  t[SDT.revision] = 6;
  t[FADT_MINOR_VERSION] = 3;
  bumpOemRevision(t);
  fixChecksum(t);
  return t;
}

/** MADT → revision 5 with Online Capable set on every disabled processor entry; returns how many it marked. */
export function patchMadt(madt: Uint8Array): { table: Uint8Array; marked: number } {
  const t = madt.slice();
  const dv = new DataView(t.buffer);
  t[SDT.revision] = 5;
  let marked = 0;
  for (let off = MADT_ENTRIES; off + 2 <= t.length;) {
    const type = t[off], len = t[off + 1];
    if (len < 2) throw new Error(`MADT entry at ${off} has length ${len}`);
    const flagsAt = type === MADT_LAPIC ? off + LAPIC_FLAGS : type === MADT_X2APIC ? off + X2APIC_FLAGS : -1;
    if (flagsAt >= 0) {
      const flags = dv.getUint32(flagsAt, true);
      if (!(flags & ENABLED)) {
        dv.setUint32(flagsAt, flags | ONLINE_CAPABLE, true);
        marked++;
      }
    }
    off += len;
  }
  bumpOemRevision(t);
  fixChecksum(t);
  return { table: t, marked };
}

function qemuVersion(): string {
  const r = new Deno.Command("qemu-system-x86_64", { args: ["--version"], stdout: "piped" }).outputSync();
  return new TextDecoder().decode(r.stdout).split("\n")[0];
}

/**
 * The initrd prefix that makes CPUs hot-pluggable for `machine` with `smp` (e.g. "2,maxcpus=4,sockets=4,cores=1,threads=1").
 * Boots a probe guest the first time.
 */
export async function cpuHotplugTables(mainInitrd: string, machine: string, smp: string): Promise<Uint8Array> {
  const key = createHash("sha256").update(`${qemuVersion()}|${machine}|${smp}`).digest("hex").slice(0, 16);
  const path = `${ROOT}/.cache/vm/acpi-cpuhp-${key}.cpio`;
  try {
    return Deno.readFileSync(path);
  } catch { /* build it */ }
  const probe = await runVm({ initrd: mainInitrd, scenario: "acpi-dump", machine, smp, timeoutMs: 120_000 });
  const table = (name: string) => {
    const m = new RegExp(`@@KTS-BEGIN acpi:${name}\\n([\\s\\S]*?)@@KTS-END-BLOCK acpi:${name}\\n`).exec(probe.data);
    if (!m) throw new Error(`the probe guest sent no ${name} table:\n${tail(probe.console)}`);
    return decodeBase64(m[1].replace(/\s+/g, ""));
  };
  const madt = patchMadt(table("APIC"));
  if (madt.marked === 0) throw new Error(`the MADT for -smp ${smp} has no disabled CPUs to make hot-pluggable`);
  const entries: CpioEntry[] = [
    { path: "kernel", kind: "dir", mode: 0o755 },
    { path: "kernel/firmware", kind: "dir", mode: 0o755 },
    { path: "kernel/firmware/acpi", kind: "dir", mode: 0o755 },
    { path: "kernel/firmware/acpi/FACP.aml", kind: "file", mode: 0o644, data: patchFadt(table("FACP")) },
    { path: "kernel/firmware/acpi/APIC.aml", kind: "file", mode: 0o644, data: madt.table },
  ];
  const cpio = writeCpio(entries);
  Deno.writeFileSync(path, cpio);
  return cpio;
}

/** Writes `prefix` followed by the main initrd into a cached file and returns its path. */
export function prefixedInitrd(prefix: Uint8Array, mainInitrd: string): string {
  const key = createHash("sha256").update(prefix).update(mainInitrd).digest("hex").slice(0, 16);
  const path = `${ROOT}/.cache/vm/cpuhp-${key}.cpio`;
  try {
    Deno.statSync(path);
    return path;
  } catch { /* build it */ }
  const main = Deno.readFileSync(mainInitrd);
  const out = new Uint8Array(prefix.length + main.length);
  out.set(prefix);
  out.set(main, prefix.length);
  Deno.writeFileSync(`${path}.tmp`, out);
  Deno.renameSync(`${path}.tmp`, path);
  return path;
}
