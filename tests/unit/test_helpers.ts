/** Shared helpers for the unit tests: error assertions, fixture paths, the real kernel image. */

import assert from "node:assert/strict";
import { type ErrorCode, KexecError } from "../../lib/errors.ts";
import type { ReadResult, SystemView } from "../../lib/system.ts";

/** Asserts that `fn` throws a KexecError with `code` whose message matches every pattern. */
export function throwsKexec(fn: () => unknown, code: ErrorCode, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KexecError, `expected a KexecError, got ${e}`);
    assert.equal(e.code, code, `code of "${e.message}"`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

/** The saved machine snapshots under tests/fixtures/machines (the ovmf ones booted through OVMF's EFI stub). */
export type MachineName =
  | "qemu-q35-2g-crash256m"
  | "qemu-q35-2g-nocrash"
  | "qemu-q35-2g-ovmf-crash256m"
  | "qemu-q35-2g-ovmf-noruntime";

/** Directory of a saved machine snapshot under tests/fixtures/machines. */
export function machineDir(name: MachineName): string {
  return new URL(`../fixtures/machines/${name}`, import.meta.url).pathname;
}

/** Path of the real Debian 6.12 bzImage that scripts/setup --vm downloads. */
export const VMLINUZ_PATH = new URL("../../.cache/kernels/6.12/vmlinuz", import.meta.url).pathname;

let vmlinuz: Uint8Array | undefined;

/** The real bzImage; fails (never skips) with a clear message when it has not been downloaded. */
export function requireVmlinuz(): Uint8Array {
  if (vmlinuz) return vmlinuz;
  try {
    vmlinuz = Deno.readFileSync(VMLINUZ_PATH);
  } catch (e) {
    throw new Error(`${VMLINUZ_PATH} is missing (${(e as Error).message}): run scripts/setup --vm`);
  }
  return vmlinuz;
}

/** Little-endian reads from a byte array at a file offset. */
export function le(bytes: Uint8Array) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    u8: (o: number) => dv.getUint8(o),
    u16: (o: number) => dv.getUint16(o, true),
    u32: (o: number) => dv.getUint32(o, true),
    u64: (o: number) => dv.getBigUint64(o, true),
  };
}

/** Setup header offsets from Documentation/arch/x86/boot.rst, written out independently of lib/'s table. */
export const BOOT_RST = {
  setup_sects: 0x1f1,
  syssize: 0x1f4,
  boot_flag: 0x1fe,
  jump: 0x200,
  header: 0x202,
  version: 0x206,
  loadflags: 0x211,
  initrd_addr_max: 0x22c,
  kernel_alignment: 0x230,
  relocatable_kernel: 0x234,
  min_alignment: 0x235,
  xloadflags: 0x236,
  cmdline_size: 0x238,
  payload_offset: 0x248,
  payload_length: 0x24c,
  pref_address: 0x258,
  init_size: 0x260,
} as const;

/**
 * A view of `base` with some paths changed: a string or bytes replaces a file, `"<denied>"` makes it unreadable,
 * `null` removes a file or a whole directory.
 */
export function overlayView(
  base: SystemView,
  changes: Record<string, string | Uint8Array | null>,
): SystemView {
  const removed = (path: string) =>
    Object.entries(changes).some(([p, v]) => v === null && (path === p || path.startsWith(p + "/")));
  const encoder = new TextEncoder();
  return {
    origin: `${base.origin} (changed)`,
    read(path: string, maxBytes?: number): ReadResult {
      const v = changes[path];
      if (removed(path)) return { kind: "absent" };
      if (v === undefined) return base.read(path, maxBytes);
      if (v === "<denied>") return { kind: "denied" };
      const bytes = typeof v === "string" ? encoder.encode(v) : v!;
      return { kind: "ok", bytes: maxBytes === undefined ? bytes : bytes.subarray(0, maxBytes) };
    },
    list(path: string): string[] | undefined {
      if (removed(path)) return undefined;
      const names = new Set(base.list(path) ?? []);
      const dir = path.endsWith("/") ? path : path + "/";
      for (const [p, v] of Object.entries(changes)) {
        if (!p.startsWith(dir)) continue;
        const name = p.slice(dir.length).split("/")[0];
        if (v === null && p === dir + name) names.delete(name);
        else if (v !== null) names.add(name);
      }
      return names.size || base.list(path) ? [...names].sort() : undefined;
    },
  };
}
