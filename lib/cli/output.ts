/**
 * Human and JSON renderings of status, plans and dump summaries.
 *
 * JSON conventions: addresses are `"0x…"` strings (bigint-safe); byte sizes and counts are numbers.
 *
 * @module
 */

import { hex } from "../errors.ts";
import { describeFlags } from "../abi.ts";
import { sha256Hex } from "../purgatory/digest.ts";
import type { FirmwareHandover, LoadPlan } from "../load/plan.ts";
import type { FirmwareStatus } from "../arch/mod.ts";
import type { ImageInfo } from "../load/image_info.ts";
import type { FileLoadPlan, LoadOutcome } from "../load/load.ts";
import { flagText } from "../crash/hotplug.ts";
import { formatRange, type Range } from "../memory/ranges.ts";
import type { KexecStatus } from "../status.ts";
import type { BootEntries, BootEntry } from "../boot/entries.ts";
import type { VmcoreSummary } from "../vmcore/info.ts";
import type { EntryLoad } from "../boot/mod.ts";

/** JSON.stringify with bigints: sizes and counts (keys ending in Bytes/Count/Limit) as numbers, the rest as hex. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (key, v) => {
      if (v === undefined) return null; // stable keys for scripts: absent values are null
      if (typeof v !== "bigint") return v;
      return /(Bytes|Count|Limit[A-Z]?\w*|^len|^memsz|^bufsz|^size)$/.test(key) ? Number(v) : hex(v);
    },
    2,
  );
}

/** `256 MiB`, `917616 bytes`. */
export function formatSize(bytes: bigint): string {
  const MiB = 1024n * 1024n;
  if (bytes >= MiB && bytes % MiB === 0n) return `${bytes / MiB} MiB`;
  if (bytes >= 1024n && bytes % 1024n === 0n) return `${bytes / 1024n} KiB`;
  return `${bytes} bytes`;
}

function rangeText(r: Range): string {
  return `${formatRange(r)} (${formatSize(r.end - r.start)})`;
}

function yesNo(v: boolean | undefined): string {
  return v === undefined ? "unknown" : v ? "yes" : "no";
}

function limitText(v: bigint | undefined): string {
  return v === undefined ? "n/a" : v < 0n ? "unlimited" : `${v} left`;
}

/** Which sysfs layout status read, for people. */
function sysfsText(l: KexecStatus["sysfs"]): string {
  if (l.layout === "kexec-dir") {
    return "/sys/kernel/kexec/" +
      (l.legacyAlsoPresent ? " (the deprecated /sys/kernel/kexec_* names also present)" : "");
  }
  return l.layout === "legacy" ? "/sys/kernel/kexec_* (kernel before 6.19)" : "none (no kexec attributes)";
}

/** The `status` table and verdict, for people. */
export function renderStatus(s: KexecStatus): string {
  const rows: [string, string][] = [];
  rows.push(["kernel", s.kernelRelease ?? "unknown"]);
  rows.push([
    "kexec support",
    s.kexecSupported
      ? `yes (kexec_load: ${s.syscalls.kexecLoad}, kexec_file_load: ${s.syscalls.kexecFileLoad})`
      : "no (kernel built without CONFIG_KEXEC_CORE)",
  ]);
  rows.push(["kexec image loaded", yesNo(s.kexecLoaded)]);
  rows.push(["crash image loaded", yesNo(s.crashLoaded)]);
  const cr = s.crashRegion;
  rows.push([
    "crash reservation",
    cr.kind === "reserved"
      ? rangeText(cr.main) + (cr.low ? `, low ${rangeText(cr.low)}` : "")
      : cr.kind === "none"
      ? "none (crashkernel= not set)"
      : cr.kind === "hidden"
      ? `addresses hidden (not root)${s.crashSizeBytes ? `, ${formatSize(s.crashSizeBytes)}` : ""}`
      : "unknown (/proc/iomem unreadable)",
  ]);
  if (s.crashCmaRanges !== undefined) {
    rows.push([
      "crash CMA ranges",
      s.crashCmaRanges.length
        ? s.crashCmaRanges.map(rangeText).join(", ") + " (capture kernel memory, left out of the dump)"
        : "none (crashkernel=SIZE,cma not set)",
    ]);
  }
  rows.push(["kexec sysfs", sysfsText(s.sysfs)]);
  rows.push([
    "crash_elfcorehdr_size",
    s.hotplug.elfcorehdrSizeBytes === undefined
      ? "absent (kernel without CONFIG_CRASH_HOTPLUG)"
      : `${s.hotplug.elfcorehdrSizeBytes} bytes`,
  ]);
  rows.push(["crash_hotplug", `cpu ${flagText(s.hotplug.cpu)}, memory ${flagText(s.hotplug.memory)}`]);
  rows.push(["lockdown", s.lockdown ?? "unknown (securityfs not mounted or LSM absent)"]);
  rows.push(["kexec_load_disabled", yesNo(s.kexecLoadDisabled)]);
  rows.push(["load limits", `panic ${limitText(s.loadLimitPanic)}, reboot ${limitText(s.loadLimitReboot)}`]);
  rows.push(["udev rule", s.udev.ours ?? s.udev.other ?? "none"]);
  if (s.firmware) rows.push(["firmware", firmwareText(s.firmware)]);
  if (s.record) {
    rows.push([
      "last kexec-ts -p load",
      `${s.record.loadedAt}, ${s.record.syscall}, flags ${hex(s.record.flags)}${s.record.hotplug ? " (hotplug)" : ""}`,
    ]);
  }
  if (s.record?.image) rows.push(["loaded image", imageLines(s.record.image)[0].replace(/^image +/, "")]);
  if (s.recordProblem) rows.push(["last kexec-ts -p load", `unusable: ${s.recordProblem}`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const v = s.verdict;
  const head = v.behaviour === "in-place"
    ? "(b) kernel updates elfcorehdr; no reload"
    : v.behaviour === "reload"
    ? "(a) unload-then-reload by userspace"
    : "nothing to update";
  return rows.map(([k, val]) => `${k.padEnd(width)}  ${val}`).join("\n") +
    `\n\nhotplug verdict: ${head} [${v.reason}]\n  ${v.explanation}\n`;
}

/** `UEFI (64-bit), runtime services on, runtime map 6 entries, Secure Boot disabled (efivars)`, or `BIOS`. */
export function firmwareText(f: FirmwareStatus): string {
  if (f.kind === "bios") return "BIOS";
  const map = f.runtimeMap.kind === "present"
    ? `runtime map ${f.runtimeMap.entryCount} entries`
    : f.runtimeMap.kind === "denied"
    ? "runtime map unreadable (not root)"
    : f.runtimeMap.kind === "malformed"
    ? `runtime map malformed (${f.runtimeMap.why})`
    : "no runtime map";
  const rt = f.runtimeServices === "off"
    ? `runtime services off (${f.runtimeOffBy})`
    : `runtime services ${f.runtimeServices}`;
  const sb = f.secureBoot.state === "unknown"
    ? "Secure Boot unknown"
    : `Secure Boot ${f.secureBoot.state}${f.secureBoot.source ? ` (${f.secureBoot.source})` : ""}`;
  return `UEFI${f.platformBits ? ` (${f.platformBits}-bit)` : ""}, ${rt}, ${map}, ${sb}`;
}

/** The firmware part of a plan, for people: what is passed, and on EFI machines what is withheld and why. */
export function renderFirmwareHandover(f: FirmwareHandover): string[] {
  const lines = [
    `firmware  ${f.machine === "uefi" ? "UEFI" : "BIOS"} machine; the new kernel gets ${
      f.handover === "efi" ? "EFI (runtime services and tables)" : "no EFI (as on a BIOS machine)"
    }`,
  ];
  for (const r of f.records) lines.push(`  ${r.name.padEnd(15)} ${r.detail}`);
  if (f.withheld) {
    lines.push(`  EFI withheld: ${f.withheld.reason}; ${f.withheld.lacks}`);
    if (f.withheld.hint) lines.push(`  better: ${f.withheld.hint}`);
  }
  return lines;
}

/**
 * What a UKI or boot entry said about the kernel, for people: `image     uki "Debian GNU/Linux 13" 13, uname
 * 6.12.57, profile 0 of 2 (regular: "Regular boot"), boot entry debian.efi`, then one line per piece's source.
 */
export function imageLines(info: ImageInfo | undefined): string[] {
  if (!info) return [];
  const what = [info.format];
  if (info.title !== undefined) what.push(JSON.stringify(info.title));
  if (info.version !== undefined) what.push(info.version);
  const facts = [what.join(" ")];
  if (info.uname !== undefined) facts.push(`uname ${info.uname}`);
  if (info.profile !== undefined && (info.profileCount ?? 1) > 1) {
    const named = [info.profileId, info.profileTitle && JSON.stringify(info.profileTitle)].filter(Boolean).join(": ");
    facts.push(`profile ${info.profile} of ${info.profileCount}${named ? ` (${named})` : ""}`);
  }
  if (info.bootEntry !== undefined) facts.push(`boot entry ${info.bootEntry}`);
  return [`image     ${facts.join(", ")}`, ...info.parts.map((p) => `          ${p}`)];
}

/** A plan as JSON-ready data: segments with role, addresses, sizes and the SHA-256 of their bytes. */
export function planToJson(plan: LoadPlan): Record<string, unknown> {
  return {
    syscall: "kexec_load",
    kind: plan.kind,
    loader: plan.loader,
    entry: plan.entry,
    flags: plan.flags,
    flagNames: describeFlags(plan.flags),
    cmdline: plan.cmdline,
    kernelEntry: plan.kernelEntry,
    bootParams: plan.bootParams,
    hotplug: plan.hotplug,
    segments: plan.segments.map((s) => ({
      role: s.role,
      mem: s.mem,
      memsz: s.memsz,
      bufsz: BigInt(s.buf.length),
      sha256: sha256Hex(s.buf),
    })),
    shaRegions: plan.shaRegions,
    digest: [...plan.digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
    notes: plan.notes,
    ...(plan.warnings ? { warnings: plan.warnings } : {}),
    firmware: plan.firmware,
    ...(plan.image ? { image: plan.image } : {}),
  };
}

/** The plan for people. */
export function renderPlan(plan: LoadPlan): string {
  const h = (v: bigint) => hex(v);
  const lines = [
    `kexec-ts plan: ${plan.loader} ${plan.kind === "crash" ? "crash kernel" : "kernel"} through kexec_load`,
    `entry     ${h(plan.entry)} (purgatory) -> kernel ${h(plan.kernelEntry)}, boot_params ${
      h(plan.bootParams)
    } in %rsi`,
    `flags     ${h(plan.flags)} (${describeFlags(plan.flags)})`,
    ...imageLines(plan.image),
    `cmdline   ${plan.cmdline}`,
    ...(plan.firmware ? renderFirmwareHandover(plan.firmware) : []),
    "segments",
    `  #  ${"role".padEnd(12)} ${"mem".padEnd(18)} ${"memsz".padEnd(11)} ${"bufsz".padEnd(11)} sha256`,
  ];
  plan.segments.forEach((s, i) => {
    lines.push(
      `  ${i}  ${s.role.padEnd(12)} ${h(s.mem).padEnd(18)} ${h(s.memsz).padEnd(11)} ${hex(s.buf.length).padEnd(11)} ${
        sha256Hex(s.buf).slice(0, 16)
      }`,
    );
  });
  const verified = plan.shaRegions.length;
  lines.push(
    `purgatory verifies ${verified} region${verified === 1 ? "" : "s"} (SHA-256 ${
      [...plan.digest.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("")
    }...)`,
  );
  for (const w of plan.warnings ?? []) lines.push(`warning: ${w}`);
  for (const n of plan.notes) lines.push(`note: ${n}`);
  return lines.join("\n") + "\n";
}

/** A kexec_file_load "plan": the kernel does the layout, so only the inputs are known. */
export function renderFilePlan(p: FileLoadPlan): string {
  return [
    "kexec-ts plan: kexec_file_load (the kernel lays out the segments)",
    `kernel    ${p.kernel}${p.kernelBytes ? " (its kernel through a memfd)" : ""}`,
    `initrd    ${p.initrd ?? "(none)"}`,
    ...imageLines(p.image),
    `cmdline   ${p.cmdline}`,
    `flags     ${hex(p.flags)}`,
    ...(p.notes ?? []).map((n) => `note: ${n}`),
    ...p.unchecked.map((u) => `not checked before the syscall: ${u}`),
  ].join("\n") + "\n";
}

/** What a dry-run load would do, for people or (`json`) for scripts. */
export function renderOutcome(outcome: LoadOutcome, json: boolean): string {
  if (outcome.syscall === "kexec_file_load" && outcome.filePlan) {
    const p = outcome.filePlan;
    return json
      ? toJson({
        syscall: "kexec_file_load",
        kernel: p.kernel,
        initrd: p.initrd ?? null,
        cmdline: p.cmdline,
        flags: p.flags,
        ...(p.image ? { image: p.image } : {}),
        unchecked: p.unchecked,
        ...(p.notes ? { notes: p.notes } : {}),
      }) +
        "\n"
      : renderFilePlan(p);
  }
  const plan = outcome.plan!;
  return json ? toJson(planToJson(plan)) + "\n" : renderPlan(plan);
}

/**
 * Which boot entry a load takes and why, in one line: `boot entry kts-a.conf: "Title" 1 (the default: loader.conf
 * default "kts-a*"), from /efi/loader/entries/kts-a.conf`.
 */
export function renderEntryChoice(chosen: EntryLoad): string {
  const e = chosen.entry;
  return `boot entry ${e.id}: ${JSON.stringify(e.title)}${e.version ? ` ${e.version}` : ""} (${chosen.why}), ` +
    `from ${e.path}`;
}

/** What an entry boots, in a few words (`linux /vmlinuz-6.12, 1 initrd`, `uki EFI/Linux/x.efi @1`). */
function entryWhat(e: BootEntry): string {
  if (e.unbootable) return `cannot boot: it ${e.unbootable}`;
  if (e.uki !== undefined) return `uki ${e.uki}${e.profile ? ` @${e.profile}` : ""}`;
  const n = e.initrds.length;
  return `linux ${e.linux}${n ? `, ${n} initrd${n > 1 ? "s" : ""}` : ""}`;
}

/** `kexec-ts entries` for people: where entries were found, the sorted list with the default marked, and notes. */
export function renderEntries(list: BootEntries): string {
  const lines: string[] = [];
  lines.push(`ESP        ${list.esp ? `${list.esp.path} (${list.esp.how})` : "none found"}`);
  lines.push(`XBOOTLDR   ${list.xbootldr ? `${list.xbootldr.path} (${list.xbootldr.how})` : "none"}`);
  lines.push(`default    ${list.defaultId ?? "none"}${list.defaultReason ? ` (${list.defaultReason})` : ""}`);
  if (list.entries.length) {
    const idWidth = Math.max(2, ...list.entries.map((e) => e.id.length));
    lines.push("", `   ${"ID".padEnd(idWidth)}  TYPE   TITLE`);
    for (const e of list.entries) {
      const mark = e.id === list.defaultId ? "*" : e.hidden ? "-" : " ";
      const tries = e.triesLeft !== undefined ? ` [tries left ${e.triesLeft}, done ${e.triesDone ?? 0}]` : "";
      lines.push(
        ` ${mark} ${e.id.padEnd(idWidth)}  ${e.type === "type1" ? "1    " : "2/uki"}  ${e.title}${
          e.version ? ` (${e.version})` : ""
        }${tries}`,
      );
      lines.push(`   ${"".padEnd(idWidth)}         ${entryWhat(e)}${e.partition === "xbootldr" ? " [XBOOTLDR]" : ""}`);
      for (const p of e.problems) lines.push(`   ${"".padEnd(idWidth)}         note: ${p}`);
    }
  } else {
    lines.push("", "no boot entries");
  }
  for (const n of list.notes) lines.push(`note: ${n}`);
  return lines.join("\n") + "\n";
}

/** `vmcore-info` for people. */
export function renderVmcoreInfo(s: VmcoreSummary): string {
  const rows: [string, string][] = [];
  const e = s.elf;
  rows.push(["dump", `${s.file}${s.fileSizeBytes !== undefined ? ` (${formatSize(s.fileSizeBytes)})` : ""}`]);
  rows.push(["format", `ELF${e.elfClass} ${e.byteOrder}-endian, ${e.machine}, ${e.pointerBits}-bit kernel`]);
  rows.push(["kernel", s.kernelRelease ?? "unknown (no OSRELEASE in VMCOREINFO)"]);
  if (s.buildId) rows.push(["build id", s.buildId]);
  rows.push(["crash time", s.crashTime ? `${s.crashTime} (CRASHTIME=${s.crashTimeEpoch})` : "unknown (no CRASHTIME)"]);
  rows.push([
    "panic",
    s.panic
      ? `${s.panic.message}${s.panic.kind === "oops" ? " (an oops; no panic() message)" : ""}` +
        (s.panic.uptime ? ` ${s.panic.uptime}` : "")
      : s.log.problem
      ? `unknown (log unreadable: ${s.log.problem})`
      : "none found in the log",
  ]);
  rows.push([
    "log",
    s.log.format
      ? `${s.log.format}${s.log.recordCount !== undefined ? `, ${s.log.recordCount} records` : ""}` +
        (s.log.problem ? ` (then: ${s.log.problem})` : "")
      : "unreadable",
  ]);
  const pids = s.cpus.pids.length ? ` (pids ${s.cpus.pids.join(", ")})` : "";
  rows.push(["cpus", `${s.cpus.savedCount} saved registers${pids}`]);
  const m = s.memory;
  rows.push(["memory", `${formatSize(m.totalBytes)} in ${m.ranges.length} ranges (${m.loads.length} PT_LOAD)`]);
  for (const r of m.ranges) rows.push(["", rangeText(r)]);
  const h = s.hotplug;
  const hot = h.hotAdded.map((r) => `${rangeText(r)}${r.online ? "" : " offline"}`).join(", ");
  rows.push([
    "hot-added memory",
    h.verdict === "unknown"
      ? `unknown (${h.problem})`
      : h.verdict === "none"
      ? "none (every memory section was present at boot)"
      : h.verdict === "included"
      ? `${formatSize(h.hotAddedBytes)}, all in the dump: ${hot}`
      : `${formatSize(h.hotAddedBytes)}, ${formatSize(h.missingBytes)} NOT in the dump ` +
        `(${h.missing.map(rangeText).join(", ")}): the crash kernel's elfcorehdr predates it`,
  ]);
  rows.push(["elfcorehdr by", s.loader.summary]);
  for (const ev of s.loader.evidence) rows.push(["", ev]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n";
}
