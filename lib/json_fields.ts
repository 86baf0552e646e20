/**
 * Checked reads of a JSON object kexec-ts wrote and reads back (the crash-load record and its request): each field
 * is taken with its type checked, and the first bad one fails in one line naming the field, what it should be and
 * the fix. Nothing from such a file is used unchecked.
 *
 * @module
 */

import { fail } from "./errors.ts";

/** Typed getters over one JSON object. */
export interface Fields {
  /** The object itself, for fields read another way. */
  raw: Record<string, unknown>;
  /** Fails naming `field` and what it should be. */
  bad(field: string, want: string): never;
  str(key: string): string;
  optionalStr(key: string): string | undefined;
  bool(key: string): boolean;
  /** An integer in [min, max]. */
  int(key: string, min: number, max: number, want: string): number;
  oneOf<T extends string>(key: string, allowed: readonly T[]): T;
  /** A `0x` hex string of at most 64 bits, or undefined when absent. */
  optionalHex(key: string): bigint | undefined;
  /** A list of strings. */
  strings(key: string, want: string): string[];
}

/**
 * Reads `value` as an object whose fields are then taken through the returned getters.
 * @param where names the source in messages (a path)
 * @param fix what the user should do about a bad field
 * @throws KexecError("io") when `value` is not an object (and, from the getters, for a bad field)
 */
export function jsonFields(value: unknown, where: string, name: string, fix: string): Fields {
  const bad = (field: string, want: string): never => fail("io", `${where}: field "${field}" is not ${want}; ${fix}`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) bad(name, "an object");
  const o = value as Record<string, unknown>;
  const str = (k: string): string => typeof o[k] === "string" ? o[k] as string : bad(k, "a string");
  return {
    raw: o,
    bad,
    str,
    optionalStr: (k) => (o[k] === undefined ? undefined : str(k)),
    bool: (k) => typeof o[k] === "boolean" ? o[k] as boolean : bad(k, "true or false"),
    int(k, min, max, want) {
      const v = o[k];
      return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max ? v : bad(k, want);
    },
    oneOf(k, allowed) {
      const v = o[k];
      return typeof v === "string" && (allowed as readonly string[]).includes(v)
        ? v as typeof allowed[number]
        : bad(k, `one of ${allowed.join(", ")}`);
    },
    optionalHex(k) {
      const v = o[k];
      if (v === undefined) return undefined;
      return typeof v === "string" && /^0x[0-9a-f]{1,16}$/i.test(v) ? BigInt(v) : bad(k, "a 0x hex address");
    },
    strings(k, want) {
      const v = o[k];
      return Array.isArray(v) && v.every((x) => typeof x === "string") ? [...v] as string[] : bad(k, want);
    },
  };
}
