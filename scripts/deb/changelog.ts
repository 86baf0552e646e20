/**
 * packaging/changelog, the Debian changelog of the package: its latest entry gives the package version (which must
 * be deno.json's) and the date the man page and the package's files carry, so that the same sources build the
 * same package.
 *
 * @module
 */

/** The changelog's path. */
export const CHANGELOG = new URL("../../packaging/changelog", import.meta.url).pathname;

/** The latest entry: version and date. */
export interface ChangelogEntry {
  version: string;
  /** The trailer's date. */
  date: Date;
}

/** Reads the latest entry of a Debian changelog's text. */
export function latestEntry(text: string): ChangelogEntry {
  const head = /^kexec-ts \(([^)]+)\) [a-z-]+; urgency=\w+$/m.exec(text);
  const trailer = /^ -- .+ <[^>]+> {2}(.+)$/m.exec(text);
  if (!head || !trailer) {
    throw new Error(`${CHANGELOG}: no "kexec-ts (VERSION) ..." entry with a " -- NAME <MAIL>  DATE" line`);
  }
  const date = new Date(trailer[1]);
  if (Number.isNaN(date.getTime())) throw new Error(`${CHANGELOG}: cannot read the date "${trailer[1]}"`);
  return { version: head[1], date };
}

/** The latest entry's date as YYYY-MM-DD. */
export function changelogDate(text = Deno.readTextFileSync(CHANGELOG)): string {
  return latestEntry(text).date.toISOString().slice(0, 10);
}
