/**
 * The Boot Loader Interface's EFI variables that choose an entry (LoaderEntryOneShot, LoaderEntryDefault, ...),
 * read through the SystemView (readEfiVariable, efivarfs): a UTF-16LE string, normally NUL-terminated. They exist only on an EFI boot (`/sys/firmware/efi`).
 *
 * kexec-ts never writes them: a one-shot entry stays set for the firmware boot loader's next real boot.
 *
 * @module
 */

import { readEfiVariable, type SystemView } from "../system.ts";

/** The vendor GUID of systemd's boot loader interface variables. */
export const LOADER_GUID = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";

/** The variables that name entries. */
export type LoaderVariable =
  | "LoaderEntryOneShot"
  | "LoaderEntryPreferred"
  | "LoaderEntryDefault"
  | "LoaderEntrySelected"
  | "LoaderEntryLastBooted";

/** Decodes an EFI variable's value holding a string: UTF-16LE up to the first NUL. */
export function decodeEfiString(value: Uint8Array): string | undefined {
  const body = value.subarray(0, value.length & ~1);
  const units = new Uint16Array(body.length / 2);
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  for (let i = 0; i < units.length; i++) units[i] = dv.getUint16(i * 2, true);
  const end = units.indexOf(0);
  const text = String.fromCharCode(...(end < 0 ? units : units.subarray(0, end)));
  return text === "" ? undefined : text;
}

/** A loader variable's value; undefined when unset, empty, unreadable, or not an EFI boot. */
export function readLoaderVariable(sys: SystemView, name: LoaderVariable): string | undefined {
  const v = readEfiVariable(sys, name, LOADER_GUID);
  return v ? decodeEfiString(v.value) : undefined;
}
