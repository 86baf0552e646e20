/**
 * Every generated document of kexec-ts: the man page and the three shell completions, with the names they are
 * installed under. `deno task docs` writes them to dist/doc; the Debian package build (scripts/deb.ts) installs them.
 *
 * @module
 */

import { manPage } from "./man.ts";
import { bashCompletion, fishCompletion, zshCompletion } from "./completions.ts";

/** One generated file: where it is installed (relative to /) and its text. */
export interface GeneratedDoc {
  /** Installed path, e.g. `usr/share/man/man8/kexec-ts.8` (the package gzips man pages). */
  installPath: string;
  text: string;
}

/** The man page (dated `date`, YYYY-MM-DD) and the bash, zsh and fish completions. */
export function generatedDocs(date: string): GeneratedDoc[] {
  return [
    { installPath: "usr/share/man/man8/kexec-ts.8", text: manPage(date) },
    { installPath: "usr/share/bash-completion/completions/kexec-ts", text: bashCompletion() },
    { installPath: "usr/share/zsh/vendor-completions/_kexec-ts", text: zshCompletion() },
    { installPath: "usr/share/fish/vendor_completions.d/kexec-ts.fish", text: fishCompletion() },
  ];
}
