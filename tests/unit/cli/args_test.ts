/**
 * The command line: getopt_long grammar (lib/cli/grammar.ts) and kexec-tools' mode state machine
 * (lib/cli/args.ts). Expected results follow kexec-tools' kexec/kexec.c main(): each mode option sets
 * do_load/do_exec/do_shutdown/do_sync/do_unload in command-line order, and the operand is only used by a load.
 */

import assert from "node:assert/strict";
import { type Invocation, parseAddress, parseInvocation } from "../../../lib/cli/args.ts";
import { tokenize } from "../../../lib/cli/grammar.ts";
import { throwsKexec } from "../test_helpers.ts";

const parse = (...argv: string[]) => parseInvocation(argv);

/** A load's action with the kind of image it loads, as one value. */
function loadAction(inv: Invocation) {
  return { ...inv.action, crash: inv.load?.kind === "crash" };
}

Deno.test("--append takes its value after = or as the next argument; --command-line is an alias", () => {
  for (
    const argv of [
      ["-l", "--append=root=/dev/sda quiet", "K"],
      ["-l", "--append", "root=/dev/sda quiet", "K"],
      ["-l", "--command-line=root=/dev/sda quiet", "K"],
      ["-l", "--command-line", "root=/dev/sda quiet", "K"],
    ]
  ) {
    const inv = parseInvocation(argv);
    assert.equal(inv.load?.append, "root=/dev/sda quiet", argv.join(" "));
    assert.equal(inv.load?.kernel, "K");
  }
  // The last one wins, as in kexec-tools.
  assert.equal(parse("-l", "--append=a", "--command-line=b", "K").load?.append, "b");
  // A value may itself start with "-" when given as the next argument.
  assert.equal(parse("-l", "--append", "-x", "K").load?.append, "-x");
});

Deno.test("--initrd and its alias --ramdisk", () => {
  assert.deepEqual(parse("-l", "--initrd=/boot/i.img", "K").load?.initrds, ["/boot/i.img"]);
  assert.deepEqual(parse("-l", "--ramdisk", "/boot/r.img", "K").load?.initrds, ["/boot/r.img"]);
});

Deno.test("unique prefixes of long options are accepted; exact names beat longer ones", () => {
  assert.equal(parse("-l", "--comm=x", "K").load?.append, "x");
  assert.equal(parse("-l", "--app", "y", "K").load?.append, "y");
  // --ini and --ram are prefixes of two spellings of the same option: not ambiguous.
  assert.deepEqual(parse("-l", "--ini=/i", "K").load?.initrds, ["/i"]);
  assert.deepEqual(parse("-l", "--ram=/r", "K").load?.initrds, ["/r"]);
  assert.equal(parse("--reuse-c", "-l", "K").load?.reuseCmdline, true);
  // "load" is exact even though "load-panic" starts with it.
  assert.deepEqual(loadAction(parse("--load", "K")), {
    kind: "load",
    crash: false,
    then: "nothing",
    unloadFirst: false,
  });
  // "kexec-syscall" is exact even though "kexec-syscall-auto" starts with it.
  assert.equal(parse("-s", "--kexec-syscall", "-l", "K").syscall, "kexec_load");
  assert.equal(parse("--kexec-syscall-a", "-l", "K").syscall, "auto");
});

Deno.test("an ambiguous prefix is an error that lists the candidates", () => {
  throwsKexec(() => parse("--mem=0x1000", "-l", "K"), "usage", /option --mem is ambiguous/, /--mem-min/, /--mem-max/);
  throwsKexec(() => parse("--lo", "K"), "usage", /--lo is ambiguous/, /--load\b/, /--load-panic/);
  throwsKexec(() => parse("-l", "--h", "K"), "usage", /--h is ambiguous/, /--help/, /--hotplug/);
});

Deno.test("unknown options, missing values and unexpected values name the option", () => {
  throwsKexec(() => parse("--bogus", "K"), "usage", /^unknown option --bogus$/);
  throwsKexec(() => parse("-Z", "K"), "usage", /^unknown option -Z$/);
  throwsKexec(() => parse("-lZ", "K"), "usage", /unknown option -Z \(in -lZ\)/);
  throwsKexec(() => parse("-l", "K", "--append"), "usage", /option --append needs a value/);
  throwsKexec(() => parse("-l", "K", "-t"), "usage", /option -t needs a value/);
  throwsKexec(() => parse("--load=yes", "K"), "usage", /option --load takes no value \(got "yes"\)/);
  throwsKexec(() => parse("-l", "--", "--", "K"), "usage", /more than one kernel given: -- K/);
});

Deno.test("-t takes its value attached or separate", () => {
  assert.equal(parse("-t", "bzImage", "-l", "K").load?.type, "bzImage");
  assert.equal(parse("-tbzImage", "-l", "K").load?.type, "bzImage");
  assert.equal(parse("--type=bzImage64", "-l", "K").load?.type, "bzImage64");
  // -lt bzImage: a flag bundled before an option that takes the next argument.
  assert.equal(parse("-lt", "bzImage", "K").load?.type, "bzImage");
});

Deno.test("bundled short flags: -pu unloads the crash kernel, -lu unloads the normal one", () => {
  assert.deepEqual(parse("-pu").action, { kind: "unload", crash: true });
  assert.deepEqual(parse("-lu").action, { kind: "unload", crash: false });
  const tokens = tokenize(["-pid"], [
    { name: "p", long: [], short: "p", arg: "none" },
    { name: "i", long: [], short: "i", arg: "none" },
    { name: "d", long: [], short: "d", arg: "none" },
  ]);
  assert.deepEqual(tokens.options.map((o) => o.spelled), ["-p", "-i", "-d"]);
});

Deno.test("-- ends option processing; operands and options interleave (GNU permutation)", () => {
  assert.equal(parse("-l", "--", "-kernel-named-like-an-option").load?.kernel, "-kernel-named-like-an-option");
  const inv = parse("K", "-l", "--initrd", "I", "--append=x");
  assert.equal(inv.load?.kernel, "K");
  assert.deepEqual(inv.load?.initrds, ["I"]);
  assert.equal(inv.load?.append, "x");
  assert.equal(inv.action.kind, "load");
  const t = tokenize(["a", "-x", "b", "--", "-y"], [{ name: "x", long: [], short: "x", arg: "none" }]);
  assert.deepEqual(t.operands, ["a", "b", "-y"]);
  assert.deepEqual(t.options, [{ name: "x", spelled: "-x" }]);
  // A lone "-" is an operand (stdin in getopt's world), not an option.
  assert.deepEqual(tokenize(["-"], []).operands, ["-"]);
});

Deno.test("mode state machine: no mode option loads, then runs shutdown", () => {
  const inv = parse("K");
  assert.deepEqual(loadAction(inv), { kind: "load", crash: false, then: "shutdown", unloadFirst: false });
  assert.equal(inv.sync, true);
});

Deno.test("mode state machine: -l loads only; -p loads a crash kernel without sync", () => {
  const l = parse("-l", "K");
  assert.deepEqual(loadAction(l), { kind: "load", crash: false, then: "nothing", unloadFirst: false });
  assert.equal(l.sync, true);
  const p = parse("-p", "K");
  assert.deepEqual(loadAction(p), { kind: "load", crash: true, then: "nothing", unloadFirst: false });
  assert.equal(p.sync, false, "OPT_PANIC clears do_sync");
  assert.equal(p.load?.hotplug, "auto");
});

Deno.test("mode state machine: unload forms", () => {
  assert.deepEqual(parse("-u").action, { kind: "unload", crash: false });
  assert.equal(parse("-u").sync, false, "OPT_UNLOAD clears do_sync");
  assert.deepEqual(parse("-p", "-u").action, { kind: "unload", crash: true });
  assert.deepEqual(parse("--load-panic", "--unload").action, { kind: "unload", crash: true });
  // -u then -p: do_unload stays set and -p sets do_load again: unload, then load the crash kernel.
  assert.deepEqual(loadAction(parse("-u", "-p", "K")), {
    kind: "load",
    crash: true,
    then: "nothing",
    unloadFirst: true,
  });
  // kexec-tools ignores a kernel given with -u; kexec-ts does too, and says so.
  assert.deepEqual(parse("-u", "K").action, { kind: "unload", crash: false });
  assert.deepEqual(parse("-u", "K").warnings, ["ignoring K: -u unloads"]);
});

Deno.test("mode state machine: -e executes; -l K -e just executes (kexec-tools ignores the kernel)", () => {
  assert.deepEqual(parse("-e").action, { kind: "exec" });
  assert.equal(parse("-e").sync, true);
  // -e clears do_load, so kexec-tools never looks at the operand: `kexec -l K -e` runs what is loaded.
  // The module doc says the same ("-l ... -e just executes").
  assert.deepEqual(parse("-l", "K", "-e").action, { kind: "exec" });
  assert.deepEqual(parse("-l", "K", "-e").warnings, ["ignoring K: -e executes the kernel already loaded"]);
});

Deno.test("mode state machine: -f loads and executes at once, without shutdown", () => {
  const f = parse("-f", "K");
  assert.deepEqual(loadAction(f), { kind: "load", crash: false, then: "exec", unloadFirst: false });
  assert.equal(f.sync, true);
  assert.deepEqual(parse("--force", "--initrd=I", "K").action.kind, "load");
  // -f without a kernel is an error, as in kexec-tools ("No kernel specified"): `kexec -f $EMPTY` must not reboot.
  throwsKexec(() => parse("-f"), "usage", /^no kernel specified/);
});

Deno.test("mode state machine: -S asks about the crash kernel unless -l is given", () => {
  assert.deepEqual(parse("-S").action, { kind: "status-exit", crash: true });
  assert.deepEqual(parse("-l", "-S").action, { kind: "status-exit", crash: false });
  assert.deepEqual(parse("-p", "--status").action, { kind: "status-exit", crash: true });
});

Deno.test("--hotplug / --no-hotplug need -p", () => {
  assert.equal(parse("-p", "--hotplug", "K").load?.hotplug, "require");
  assert.equal(parse("-p", "--no-hotplug", "K").load?.hotplug, "off");
  assert.equal(parse("--no-hotplug", "-p", "K").load?.hotplug, "off", "order does not matter");
  throwsKexec(
    () => parse("-l", "--hotplug", "K"),
    "usage",
    /--hotplug and --no-hotplug apply to crash kernels: add -p/,
  );
  throwsKexec(() => parse("--no-hotplug", "K"), "usage", /apply to crash kernels: add -p/);
});

Deno.test("load errors: no kernel, two kernels, nothing to do", () => {
  throwsKexec(() => parse("-l"), "usage", /no kernel specified/);
  throwsKexec(() => parse("-p"), "usage", /no kernel specified/);
  throwsKexec(() => parse("-l", "A", "B"), "usage", /more than one kernel given: A B/);
});

Deno.test("syscall choice and load options", () => {
  assert.equal(parse("-l", "K").syscall, "kexec_load", "kexec-ts defaults to kexec_load");
  assert.equal(parse("-s", "-l", "K").syscall, "kexec_file_load");
  assert.equal(parse("-a", "-l", "K").syscall, "auto");
  assert.equal(parse("-s", "-c", "-l", "K").syscall, "kexec_load", "the last one wins");
  const inv = parse("-l", "-i", "-d", "--mem-min=0x1000000", "--mem-max", "16777216", "--reuse-cmdline", "K");
  assert.equal(inv.load?.noChecks, true);
  assert.equal(inv.debug, true);
  assert.equal(inv.load?.memMin, 0x1000000n);
  assert.equal(inv.load?.memMax, 16777216n);
  assert.equal(inv.load?.reuseCmdline, true);
  assert.equal(inv.load?.noefi, false, "EFI is handed over unless --noefi");
  assert.equal(parse("-p", "--noefi", "K").load?.noefi, true);
  assert.equal(parse("-l", "-y", "K").sync, false);
});

Deno.test("-y (--no-sync) wins wherever it appears, as kexec-tools applies skip_sync after all options", () => {
  // kexec-tools: OPT_NOSYNC sets skip_sync; after the option loop, `if (skip_sync) do_sync = 0;`.
  assert.equal(parse("-e", "-y").sync, false);
  assert.equal(parse("-y", "-e").sync, false, "-e after -y must not turn sync back on");
  assert.equal(parse("-y", "-f", "K").sync, false, "-f after -y must not turn sync back on");
});

Deno.test("--console-serial and --serial choose purgatory's UART; without --console-serial it is silent", () => {
  assert.equal(parse("-l", "K").load?.serialPort, 0);
  assert.equal(parse("-l", "--serial=0x2f8", "K").load?.serialPort, 0, "--serial alone does not enable output");
  assert.equal(parse("-l", "--console-serial", "K").load?.serialPort, 0x3f8, "COM1 by default");
  assert.equal(parse("-l", "--console-serial", "--serial=ttyS1", "K").load?.serialPort, 0x2f8);
  assert.equal(parse("-l", "--console-serial", "--serial=/dev/ttyS3", "K").load?.serialPort, 0x2e8);
  throwsKexec(() => parse("-l", "--serial=0x10000", "K"), "usage", /--serial port 0x10000 is not an I\/O port/);
  assert.equal(parse("-l", "--serial-baud=115200", "K").action.kind, "load");
  throwsKexec(() => parse("-l", "--serial-baud=9600", "K"), "not-implemented", /--serial-baud other than 115200/);
});

Deno.test("subcommands are recognised only as the first argument", () => {
  assert.deepEqual(parse("status").action, { kind: "status" });
  assert.deepEqual(parse("reload").action, { kind: "reload" });
  assert.deepEqual(parse("help").action, { kind: "help" });
  assert.deepEqual(parse("version").action, { kind: "version" });
  // Anywhere else it is an operand: a kernel file named "status".
  const inv = parse("-l", "status");
  assert.equal(inv.action.kind, "load");
  assert.equal(inv.load?.kernel, "status");
  throwsKexec(() => parse("status", "K"), "usage", /status takes no file argument \(got K\)/);
  throwsKexec(() => parse("reload", "K"), "usage", /reload takes no file argument/);
});

Deno.test("plan: a load that only prints its plan", () => {
  const inv = parse("plan", "-p", "--initrd=I", "K");
  assert.equal(inv.dryRun, true);
  assert.deepEqual(loadAction(inv), { kind: "load", crash: true, then: "nothing", unloadFirst: false });
  // Even without -l, plan never shuts down or executes.
  assert.deepEqual(loadAction(parse("plan", "K")), { kind: "load", crash: false, then: "nothing", unloadFirst: false });
  assert.equal(parse("--dry-run", "K").action.kind, "load");
  assert.deepEqual(loadAction(parse("--dry-run", "-f", "K")), {
    kind: "load",
    crash: false,
    then: "nothing",
    unloadFirst: false,
  });
});

Deno.test("udev-rules --install DIR and --install=DIR", () => {
  assert.deepEqual(parse("udev-rules").action, { kind: "udev-rules", install: undefined });
  assert.deepEqual(parse("udev-rules", "--install", "/tmp/r").action, { kind: "udev-rules", install: "/tmp/r" });
  assert.deepEqual(parse("udev-rules", "--install=/tmp/r").action, { kind: "udev-rules", install: "/tmp/r" });
  assert.deepEqual(parse("udev-rules", "--install").action, { kind: "udev-rules", install: "/etc/udev/rules.d" });
  throwsKexec(() => parse("udev-rules", "A"), "usage", /udev-rules takes no file argument \(got A\)/);
  throwsKexec(() => parse("--install=/x", "-l", "K"), "usage", /--install belongs to kexec-ts udev-rules/);
});

Deno.test("help and version win over any mode", () => {
  for (const a of [["-h"], ["--help"], ["-?"], ["-l", "K", "-h"]]) {
    assert.deepEqual(parseInvocation(a).action, { kind: "help" }, a.join(" "));
  }
  assert.deepEqual(parse("-v").action, { kind: "version" });
  assert.deepEqual(parse("--print-ckr-size").action, { kind: "print-crash-size" });
});

Deno.test("options kexec-tools has and kexec-ts lacks say 'not implemented yet'", () => {
  throwsKexec(() => parse("--entry=0x1000", "-l", "K"), "not-implemented", /^not implemented yet: --entry\b/);
  throwsKexec(() => parse("--dtb", "x.dtb", "-l", "K"), "not-implemented", /not implemented yet: --dtb/);
  throwsKexec(() => parse("--reuseinitrd", "-l", "K"), "not-implemented", /not implemented yet: --reuseinitrd/);
  throwsKexec(() => parse("--load-preserve-context", "K"), "not-implemented", /--load-preserve-context/);
  // An abbreviation is reported as the user spelled it.
  throwsKexec(() => parse("--real", "K"), "not-implemented", /not implemented yet: --real\b/);
});

Deno.test("parseAddress: strtoull base 0 forms", () => {
  assert.equal(parseAddress("0x100000", "--mem-min"), 0x100000n);
  assert.equal(parseAddress("0X1f", "--mem-min"), 31n);
  assert.equal(parseAddress("1048576", "--mem-min"), 1048576n);
  assert.equal(parseAddress("04000000", "--mem-min"), 0o4000000n, "a leading 0 means octal");
  assert.equal(parseAddress("0", "--mem-min"), 0n);
  assert.equal(parseAddress("0xffffffffffffffff", "--mem-max"), (1n << 64n) - 1n, "no precision loss");
  for (const bad of ["", "abc", "12abc", "0x", "0x10g", "-1", "1e6"]) {
    throwsKexec(() => parseAddress(bad, "--mem-min"), "usage", /--mem-min ".*" is not a number/);
  }
  throwsKexec(() => parse("--mem-max=lots", "-l", "K"), "usage", /--mem-max "lots" is not a number/);
});

Deno.test("parseAddress: a leading 0 followed by 8 or 9 is not a number (strtoull base 0 stops at the 8)", () => {
  // kexec-tools: strtoull("08", &end, 0) parses octal "0" and leaves end at "8", then rejects the value.
  throwsKexec(
    () => parseAddress("08", "--mem-min"),
    "usage",
    /--mem-min "08" is not a valid octal number \(leading 0\); use decimal or 0x hex/,
  );
  throwsKexec(() => parseAddress("0199", "--mem-min"), "usage", /"0199" is not a valid octal number/);
});
