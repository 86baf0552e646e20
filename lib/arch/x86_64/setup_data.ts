/**
 * The setup_data chain boot_params.hdr.setup_data points at: records of `struct setup_data` (u64 next, u32 type,
 * u32 len, data), each 8-byte aligned, linked by physical address (arch/x86/include/uapi/asm/bootparam.h).
 *
 * @module
 */

/** setup_data types. */
export const SETUP_E820_EXT = 1;
/** struct efi_setup_data: EFI addresses a kexec'd kernel needs (./efi_handover.ts). */
export const SETUP_EFI = 4;
export const SETUP_RNG_SEED = 9;

/** struct setup_data header: u64 next, u32 type, u32 len, then data. */
const SD = { next: 0, type: 8, len: 12, data: 16 } as const;

/** A setup_data payload before its address is known. */
export interface SetupData {
  type: number;
  data: Uint8Array;
}

/** Bytes a setup_data chain occupies (each record 8-byte aligned). */
export function setupDataSize(records: readonly SetupData[]): number {
  return records.reduce((n, r) => n + align8(SD.data + r.data.length), 0);
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * Serialises a setup_data chain that will live at `addr`; each record's `next` is the physical address of the
 * following record, 0 at the end.
 */
export function buildSetupData(records: readonly SetupData[], addr: bigint): Uint8Array {
  const out = new Uint8Array(setupDataSize(records));
  const dv = new DataView(out.buffer);
  let off = 0;
  records.forEach((r, i) => {
    const size = align8(SD.data + r.data.length);
    const next = i + 1 < records.length ? addr + BigInt(off + size) : 0n;
    dv.setBigUint64(off + SD.next, next, true);
    dv.setUint32(off + SD.type, r.type, true);
    dv.setUint32(off + SD.len, r.data.length, true);
    out.set(r.data, off + SD.data);
    off += size;
  });
  return out;
}
