/**
 * Shared helpers of the ELF reader: the `bad-elf` error and string-table lookups.
 *
 * @module
 */

import { fail, hex } from "../errors.ts";
import type { SectionHeader } from "./types.ts";

/** Throws `KexecError("bad-elf")` with an `ELF: ` prefix. */
export function badElf(message: string): never {
  return fail("bad-elf", `ELF: ${message}`);
}

/** `section 3 [.text]`, for messages. */
export function describeSection(section: SectionHeader): string {
  return section.name === "" ? `section ${section.index}` : `section ${section.index} [${section.name}]`;
}

/**
 * Reads the NUL-terminated string at `index` inside string table `table`.
 *
 * @param what the field that holds the index, for messages (e.g. `section 3 sh_name`)
 * @throws KexecError("bad-elf") if the index is past the table or the string has no NUL before its end
 */
export function readString(bytes: Uint8Array, table: SectionHeader, index: number, what: string): string {
  const tableName = table.name === "" ? `section ${table.index}` : `[${table.name}]`;
  if (BigInt(index) >= table.size) {
    badElf(`${what} ${hex(index)} is past the end of string table ${tableName} (${hex(table.size)} bytes)`);
  }
  const start = Number(table.offset) + index;
  const end = Number(table.offset + table.size);
  const nul = bytes.subarray(start, end).indexOf(0);
  if (nul < 0) {
    badElf(
      `${what} ${hex(index)}: string at file offset ${hex(start)} in ${tableName} has no NUL before the table ends`,
    );
  }
  return decoder.decode(bytes.subarray(start, start + nul));
}

const decoder = new TextDecoder();
