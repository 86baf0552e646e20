/**
 * scripts/docs: kexec-ts(8) and the bash, zsh and fish completions come from the option table, so every option,
 * every subcommand, every environment variable is in them; the man page renders without a warning, and the bash
 * completion completes options, their values and subcommands when bash runs it. (zsh and fish run theirs in the
 * package test, tests/vm/package_test.ts, inside a Debian root that has them.)
 */

import assert from "node:assert/strict";
import { OPTIONS, SUBCOMMANDS } from "../../../lib/cli/options.ts";
import { ENVIRONMENT } from "../../../lib/cli/usage.ts";
import { EXAMPLES, FILES } from "../../../lib/cli/manual.ts";
import { manPage, roffEscape } from "../../../scripts/docs/man.ts";
import {
  bashCompletion,
  completedOptions,
  fishCompletion,
  imageTypes,
  zshCompletion,
} from "../../../scripts/docs/completions.ts";
import { generatedDocs } from "../../../scripts/docs/mod.ts";

const MAN = manPage("2026-01-02");
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

Deno.test("the man page has every option of the table (the not-implemented ones too), every command and variable", () => {
  for (const o of OPTIONS) {
    for (const l of o.long) {
      assert.match(MAN, new RegExp(`\\\\fB\\\\-\\\\-${escape(roffEscape(l).slice(0))}\\\\fR`), `--${l}`);
    }
    if (o.short) assert.ok(MAN.includes(`\\fB\\-${o.short}\\fR`), `-${o.short}`);
    if (!o.notImplemented) assert.ok(MAN.includes(o.help.replaceAll("\\", "\\e").replaceAll("-", "\\-")), o.help);
  }
  for (const c of SUBCOMMANDS) assert.ok(MAN.includes(`\\fBkexec\\-ts\\fR \\fB${roffEscape(c.name)}\\fR`), c.name);
  for (const [name] of ENVIRONMENT) assert.ok(MAN.includes(`\\fB${roffEscape(name)}\\fR`), name);
  for (const [path] of FILES) assert.ok(MAN.includes(roffEscape(path)), path);
  for (const e of EXAMPLES) for (const c of e.commands) assert.ok(MAN.includes(roffEscape(c)), c);
  assert.match(MAN, /^\.TH KEXEC\\-TS 8 2026-01-02 /m);
});

Deno.test("every implemented option and every command is in the bash, zsh and fish completions; no compat-only one", () => {
  const bash = bashCompletion(), zsh = zshCompletion(), fish = fishCompletion();
  for (const o of OPTIONS) {
    const offered = !o.notImplemented;
    for (const l of o.long) {
      const flag = `--${l}`;
      assert.equal(new RegExp(`[ '|]${escape(flag)}[=' |)]`).test(bash), offered, `bash ${flag}`);
      assert.equal(new RegExp(`'${escape(flag)}[=\\[]`).test(zsh), offered, `zsh ${flag}`);
      assert.equal(new RegExp(` -l ${escape(l)}[ \\n]`).test(fish), offered, `fish ${flag}`);
    }
    if (o.short && offered) {
      assert.ok(bash.includes(` -${o.short} `) || bash.includes(`'-${o.short} `), `bash -${o.short}`);
      assert.ok(zsh.includes(`'-${o.short === "?" ? "\\?" : o.short}`), `zsh -${o.short}`);
      assert.ok(fish.includes(` -s '${o.short}'`), `fish -${o.short}`);
    }
  }
  for (const c of SUBCOMMANDS) {
    assert.ok(bash.includes(c.name), `bash ${c.name}`);
    assert.ok(zsh.includes(`'${c.name}:`), `zsh ${c.name}`);
    assert.ok(fish.includes(`-a ${c.name} `), `fish ${c.name}`);
  }
  assert.ok(completedOptions().length < OPTIONS.length, "the compat-only options are left out");
});

Deno.test("the man page renders without a warning (man --warnings, as lintian runs it)", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/kexec-ts.8`, MAN);
    const r = new Deno.Command("man", {
      args: ["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", `${dir}/kexec-ts.8`],
      env: { LC_ALL: "C.UTF-8", MANROFFSEQ: "", MANWIDTH: "80" },
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    assert.equal(new TextDecoder().decode(r.stderr), "");
    assert.ok(r.success);
    assert.ok(r.stdout.length > 10_000, "rendered");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Runs the bash completion for a command line (the words as bash would split them); returns COMPREPLY. */
function complete(...words: string[]): string[] {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/kexec-ts`, bashCompletion());
    Deno.writeTextFileSync(`${dir}/initrd.img`, "");
    const script = `cd ${dir} && source ./kexec-ts && COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) && _kexec_ts && ` +
      `printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = new Deno.Command("bash", { args: ["-c", script, "bash", ...words], stdout: "piped", stderr: "null" })
      .outputSync();
    assert.ok(r.success);
    return new TextDecoder().decode(r.stdout).split("\n").filter(Boolean);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("bash runs the completion: options, option values in each spelling, commands and files", () => {
  assert.equal(new Deno.Command("bash", { args: ["-n", "-c", bashCompletion()] }).outputSync().success, true);
  const all = complete("kexec-ts", "-");
  for (const o of completedOptions()) {
    for (const l of o.long) assert.ok(all.includes(`--${l}${o.arg === "required" ? "=" : ""}`), `--${l}`);
    if (o.short) assert.ok(all.includes(`-${o.short}`), `-${o.short}`);
  }
  assert.deepEqual(complete("kexec-ts", "--app"), ["--append="]);
  assert.deepEqual(complete("kexec-ts", "-t", "bz"), imageTypes().filter((t) => t.startsWith("bz")));
  assert.deepEqual(complete("kexec-ts", "--type", "=", ""), imageTypes());
  assert.deepEqual(complete("kexec-ts", "--serial=tty"), [
    "--serial=ttyS0",
    "--serial=ttyS1",
    "--serial=ttyS2",
    "--serial=ttyS3",
  ]);
  assert.deepEqual(complete("kexec-ts", "-l", "--initrd", "=", "ini"), ["initrd.img"]);
  assert.deepEqual(complete("kexec-ts", "-l", "--initrd", "ini"), ["initrd.img"]);
  assert.deepEqual(complete("kexec-ts", "--append", "ini"), [], "free text is not completed");
  assert.deepEqual(complete("kexec-ts", "pl"), ["plan"]);
  assert.deepEqual(complete("kexec-ts", "-l", "pl"), [], "commands only come first");
});

Deno.test("the generated files and where the package installs them", () => {
  const docs = generatedDocs("2026-01-02");
  assert.deepEqual(docs.map((d) => d.installPath), [
    "usr/share/man/man8/kexec-ts.8",
    "usr/share/bash-completion/completions/kexec-ts",
    "usr/share/zsh/vendor-completions/_kexec-ts",
    "usr/share/fish/vendor_completions.d/kexec-ts.fish",
  ]);
  assert.ok(docs[2].text.startsWith("#compdef kexec-ts\n"));
});
