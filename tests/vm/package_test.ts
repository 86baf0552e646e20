/**
 * The Debian package (`deno task deb`, scripts/deb/build.ts): lintian (Debian's, bookworm) finds nothing that is
 * not overridden with a written reason; installed into a clean bookworm root it runs (--version, status against
 * the machine's /proc and /sys), its man page and its bash, zsh and fish completions work in those shells, the
 * udev rule is shipped inactive and names /usr/sbin/kexec-ts, the initramfs hook does nothing until switched on and
 * then copies kexec-ts with what it needs, the dracut module is only used when asked for, and the package removes
 * and purges cleanly. And `deno task compile` refuses a DENORT_BIN that is not a denort.
 */

import assert from "node:assert/strict";
import config from "../../deno.json" with { type: "json" };
import { compileTo, ROOT } from "../../scripts/deb/bundle.ts";
import { completedOptions, imageTypes } from "../../scripts/docs/completions.ts";
import { SUBCOMMANDS } from "../../lib/cli/options.ts";
import { inOverlay, sh, testPackage } from "./ship.ts";

Deno.test("lintian: clean, and every override in packaging/ has a written reason", async () => {
  const pkg = await testPackage();
  assert.equal(pkg.form, Deno.env.get("DENORT_BIN") ? "compiled" : "launcher");
  const r = sh("lintian", ["-I", "-E", "--pedantic", "--display-level", ">=pedantic", pkg.path]);
  const tags = r.out.split("\n").filter((l) => /^[EWIPXOC]: /.test(l));
  assert.deepEqual(tags, [], `lintian:\n${r.out}`);
  assert.equal(r.rc, 0, r.out);
  for (const form of ["launcher", "compiled"]) {
    const lines = Deno.readTextFileSync(`${ROOT}packaging/lintian-overrides.${form}`).split("\n");
    lines.forEach((l, i) => {
      if (l.startsWith("kexec-ts: ")) assert.match(lines[i - 1], /^#|^kexec-ts: /, `override without a reason: ${l}`);
    });
    const groups = lines.join("\n").split(/\n(?=#)/).filter((g) => g.includes("\nkexec-ts: "));
    assert.ok(groups.every((g) => g.startsWith("#")), form);
  }
});

/** `KEY value` lines of the installation script's output. */
function said(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split("\n")) {
    const r = /^@@ (\S+) ?(.*)$/.exec(line);
    if (r) m.set(r[1], (m.has(r[1]) ? m.get(r[1]) + "\n" : "") + r[2]);
  }
  return m;
}

const INSTALL = `
set -u
p() { k=$1; shift; "$@" 2>&1 | sed "s|^|@@ $k |"; echo "@@ $k.rc $?"; }
dpkg -i /tmp/kexec-ts.deb >/tmp/dpkg.log 2>&1; echo "@@ install.rc $?"
p version kexec-ts --version
p status kexec-ts status
p status-json kexec-ts status --json
p which command -v kexec-ts
p rule-printed kexec-ts udev-rules
p rule-shipped cat /usr/share/kexec-ts/98-kexec-ts.rules
p rules-active sh -c 'ls /etc/udev/rules.d /usr/lib/udev/rules.d | grep -c kexec || true'
mkdir /tmp/rules; p rule-installed kexec-ts udev-rules --install /tmp/rules
p man sh -c 'MANWIDTH=100 man -P cat kexec-ts 2>&1 | head -n 5'
p bash bash -c '. /usr/share/bash-completion/bash_completion; _completion_loader kexec-ts; complete -p kexec-ts'
p zsh-syntax zsh -n /usr/share/zsh/vendor-completions/_kexec-ts
p zsh zsh -fc 'autoload -U compinit && compinit -u -d /tmp/zcd && print -r -- "$_comps[kexec-ts]"'
p fish-options fish -c 'complete -C "kexec-ts --"'
p fish-short fish -c 'complete -C "kexec-ts -"'
p fish-types fish -c 'complete -C "kexec-ts -t "'
p fish-commands fish -c 'complete -C "kexec-ts "'
mkdir -p /tmp/off /tmp/on
p hook-off env DESTDIR=/tmp/off verbose=n /usr/share/initramfs-tools/hooks/kexec-ts
p hook-off-files find /tmp/off -type f
p hook-on env KEXEC_TS_INITRAMFS=y DESTDIR=/tmp/on verbose=n /usr/share/initramfs-tools/hooks/kexec-ts
p hook-on-files sh -c 'cd /tmp/on && find . -type f -o -type l | sort'
p dracut-check bash -c '. /usr/lib/dracut/modules.d/90kexec-ts/module-setup.sh; check; echo "check=$?"'
dpkg -r kexec-ts >/dev/null 2>&1; echo "@@ remove.rc $?"
p after-remove sh -c 'ls /usr/sbin/kexec-ts /usr/lib/kexec-ts /etc/kexec-ts/initramfs.conf 2>&1'
dpkg -P kexec-ts >/dev/null 2>&1; echo "@@ purge.rc $?"
p after-purge sh -c 'ls /etc/kexec-ts 2>&1; dpkg -L kexec-ts 2>&1 | head -n 1'
`;

Deno.test("installed into a clean Debian root: runs, documents, completes, and removes cleanly", async () => {
  const pkg = await testPackage();
  const run = inOverlay(INSTALL, { "/tmp/kexec-ts.deb": pkg.path });
  try {
    const m = said(run.out);
    const get = (k: string) => {
      assert.ok(m.has(k), `no ${k} in:\n${run.out}`);
      return m.get(k)!;
    };
    assert.equal(get("install.rc"), "0", Deno.readTextFileSync(`${run.upper}/tmp/dpkg.log`));
    assert.equal(get("version"), `kexec-ts ${config.version}`);
    assert.equal(get("status.rc"), "0");
    // The root's /proc and /sys are the machine's: status must read them (Deno lets only --allow-all do that).
    assert.match(get("status"), new RegExp(`^kernel +${Deno.osRelease().replaceAll(".", "\\.")}$`, "m"));
    assert.equal(JSON.parse(get("status-json").replace(/\n@@ status-json\.rc 0$/, "")).kernelRelease, Deno.osRelease());
    assert.equal(get("which"), "/usr/sbin/kexec-ts");

    // The rule: shipped inactive, for /usr/sbin/kexec-ts, the same as the installed program prints and installs.
    assert.match(get("rule-shipped"), /\/usr\/sbin\/kexec-ts reload/);
    assert.equal(get("rule-printed"), get("rule-shipped"));
    assert.equal(get("rules-active"), "0");
    assert.equal(get("rule-installed"), "/tmp/rules/98-kexec-ts.rules");
    assert.equal(Deno.readTextFileSync(`${run.upper}/tmp/rules/98-kexec-ts.rules`).trimEnd(), get("rule-shipped"));

    assert.match(get("man"), /KEXEC-TS\(8\)/);
    assert.match(get("man"), /kexec-ts - load and boot Linux kernels/);
    assert.equal(get("bash"), "complete -F _kexec_ts kexec-ts");
    assert.equal(get("zsh-syntax.rc"), "0");
    assert.equal(get("zsh"), "_kexec-ts");
    const fishWords = (k: string) => get(k).split("\n").map((l) => l.split("\t")[0]);
    const longs = fishWords("fish-options"), shorts = fishWords("fish-short");
    for (const o of completedOptions()) {
      for (const l of o.long) assert.ok(longs.includes(`--${l}`), `fish --${l}`);
      if (o.short) assert.ok(shorts.includes(`-${o.short}`), `fish -${o.short}`);
    }
    assert.deepEqual(fishWords("fish-types").sort(), imageTypes().sort());
    for (const c of SUBCOMMANDS) assert.ok(fishWords("fish-commands").includes(c.name), `fish ${c.name}`);

    // initramfs-tools hook: off by default, and with the switch on it copies the program and what it needs.
    assert.equal(get("hook-off.rc"), "0");
    assert.equal(get("hook-off-files.rc"), "0");
    assert.equal(m.get("hook-off-files"), undefined, "the hook copied files while switched off");
    assert.equal(get("hook-on.rc"), "0");
    const files = get("hook-on-files");
    for (
      const f of [
        "usr/sbin/kexec-ts",
        "usr/lib/kexec-ts/deno",
        "usr/lib/kexec-ts/kexec-ts.js",
        "libc.so.6",
        "libcrypto.so.3",
        "libgcc_s.so.1",
      ]
    ) {
      assert.match(files, new RegExp(`/${f.replaceAll(".", "\\.")}$`, "m"), f);
    }
    assert.equal(get("dracut-check"), "check=255");

    assert.equal(get("remove.rc"), "0");
    assert.match(get("after-remove"), /cannot access '\/usr\/sbin\/kexec-ts'/);
    assert.match(get("after-remove"), /cannot access '\/usr\/lib\/kexec-ts'/);
    assert.match(get("after-remove"), /^\/etc\/kexec-ts\/initramfs.conf$/m, "the conffile stays until purge");
    assert.equal(get("purge.rc"), "0");
    assert.match(get("after-purge"), /cannot access '\/etc\/kexec-ts'/);
    assert.match(get("after-purge"), /is not installed/);
  } finally {
    run.cleanup();
  }
});

Deno.test("deno task compile refuses a DENORT_BIN that is not a denort (the full deno binary only starts its REPL)", () => {
  const dir = Deno.makeTempDirSync({ prefix: "kts-compile-" });
  const before = Deno.env.get("DENORT_BIN");
  try {
    Deno.env.set("DENORT_BIN", Deno.execPath());
    const r = compileTo(`${dir}/kexec-ts`, config.version);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, /is not a denort runtime/);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing left behind");
  } finally {
    if (before === undefined) Deno.env.delete("DENORT_BIN");
    else Deno.env.set("DENORT_BIN", before);
    Deno.removeSync(dir, { recursive: true });
  }
});
