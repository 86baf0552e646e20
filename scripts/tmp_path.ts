/**
 * Names for files written beside their final path and then renamed into place. `deno test --parallel` runs test
 * files as workers of one process, so the process id alone does not make a name unique: two files building the
 * same cached artefact at once would write, and rename, the same temporary file.
 *
 * @module
 */

/** `path` + a suffix no other writer (process or worker) uses. */
export function tmpPath(path: string): string {
  return `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}
