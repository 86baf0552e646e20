/**
 * Boot entries for kexec: list them (`kexec-ts entries`) and turn one into a LoadRequest (`--boot-entry=ID`, or
 * `default`), the way u-root's boot entries become images to load. The pieces: ./discover.ts (where the ESP and
 * XBOOTLDR are), ./bls.ts (the entry formats), ./entries.ts (listing, order, the default).
 *
 * How an entry becomes a load:
 *  - Type #1 `linux`: that kernel (a bzImage, an ELF vmlinux or a UKI: probed by content), its `initrd`s in order
 *    (then any `--initrd`), its `options` as the command line;
 *  - Type #1 `uki`: that UKI with the entry's `profile`; its `options`, when it has any, replace the UKI's
 *    `.cmdline` (sd-boot passes them as the stub's load options); `initrd` lines are ignored, as sd-boot does;
 *  - Type #2: the UKI with the entry's profile, and its own `.cmdline`.
 * A command line given on kexec-ts' command line (`--append`, `--reuse-cmdline`) replaces the entry's, as editing
 * the line in the boot menu does. Entries kexec cannot boot (an `efi` program, `uki-url`) are refused by name.
 *
 * @module
 */

import { fail } from "../errors.ts";
import type { SystemView } from "../system.ts";
import type { LoadRequest } from "../load/request.ts";
import { type BootEntries, type BootEntry, findEntry, listBootEntries } from "./entries.ts";
import { type BootFs, realBootFs } from "./fs.ts";
import type { Arch } from "../arch/types.ts";

export type { BootEntries, BootEntry } from "./entries.ts";
export type { BootPartition } from "./discover.ts";

/** Where entries are read from. */
export interface BootEntryOptions {
  /** `--boot-root=DIR`: DIR is the ESP (else the ESP and XBOOTLDR are found as systemd finds them). */
  bootRoot?: string;
  /**
   * `--system-root=DIR`: the saved machine whose mount table and udev data say where its boot partitions are; the
   * partitions found so are read under DIR. `--boot-root` and `$SYSTEMD_*` name directories here, as given.
   */
  systemRoot?: string;
  /** The architecture: which Type #1 `architecture` (its EFI name) and which UKIs (its PE machine) are this machine's. */
  arch: Pick<Arch, "efiArchName" | "peMachine">;
  /** `$SYSTEMD_ESP_PATH` and `$SYSTEMD_XBOOTLDR_PATH`; default: this process' environment, as systemd honours it. */
  env?: { espPath?: string; xbootldrPath?: string };
}

/** `$SYSTEMD_ESP_PATH` and `$SYSTEMD_XBOOTLDR_PATH`, which systemd's tools honour (unset without --allow-env). */
export function systemdPathEnv(): { espPath?: string; xbootldrPath?: string } {
  const get = (name: string) => {
    try {
      return Deno.env.get(name) || undefined;
    } catch {
      return undefined;
    }
  };
  return { espPath: get("SYSTEMD_ESP_PATH"), xbootldrPath: get("SYSTEMD_XBOOTLDR_PATH") };
}

/**
 * Lists the boot entries of this machine (or of `--boot-root`): the one path the CLI and the API take.
 * @param fs the boot partitions' files (default: the real ones; tests pass a fixture)
 */
export function bootEntries(sys: SystemView, opts: BootEntryOptions, fs: BootFs = realBootFs()): BootEntries {
  const env = opts.env ?? systemdPathEnv();
  return listBootEntries(sys, fs, {
    efiArch: opts.arch.efiArchName,
    peMachine: opts.arch.peMachine,
    bootRoot: opts.bootRoot,
    systemRoot: opts.systemRoot,
    espPath: env.espPath,
    xbootldrPath: env.xbootldrPath,
  });
}

/** An entry chosen for a load, and the request made from it. */
export interface EntryLoad {
  /** The entry. */
  entry: BootEntry;
  /** Why it is the one (`the default: loader.conf default "kts-a.conf"`, or `named`). */
  why: string;
  /** The load that boots it. */
  request: LoadRequest;
}

/**
 * The request that boots `entry`, with `base`'s options (kind, syscall, `--initrd`, a command line of its own...).
 * @throws KexecError("unsupported") for an entry kexec cannot boot, KexecError("usage") for clashing options
 */
export function entryRequest(entry: BootEntry, base: LoadRequest): LoadRequest {
  if (entry.unbootable) fail("unsupported", `boot entry ${entry.id} ${entry.unbootable}; choose another`);
  const own = base.append !== undefined || base.reuseCmdline;
  const req: LoadRequest = { ...base, bootEntry: entry.id };
  if (entry.uki !== undefined) {
    if (base.ukiProfile !== undefined && base.ukiProfile !== (entry.profile ?? 0)) {
      fail("usage", `boot entry ${entry.id} is profile ${entry.profile ?? 0}; drop --uki-profile or name another`);
    }
    req.kernel = entry.uki;
    req.ukiProfile = entry.profile;
    // Type #2: the UKI's own .cmdline; Type #1 `uki` with options: they replace it (the stub's load options).
    if (!own) req.append = entry.type === "type1" ? entry.options : undefined;
  } else {
    req.kernel = entry.linux!;
    req.initrds = [...entry.initrds, ...base.initrds];
    if (!own) req.append = entry.options ?? "";
  }
  for (const k of Object.keys(req) as (keyof LoadRequest)[]) if (req[k] === undefined) delete req[k];
  return req;
}

/**
 * Finds the entry `selector` names (`default`, an id, an alias or a glob) and makes the request that boots it.
 * @throws KexecError("usage") when no entry matches; as {@link entryRequest}
 */
export function bootEntryLoad(list: BootEntries, selector: string, base: LoadRequest): EntryLoad {
  const entry = findEntry(list, selector);
  const why = selector === "default" ? `the default: ${list.defaultReason}` : `named ${JSON.stringify(selector)}`;
  return { entry, why, request: entryRequest(entry, base) };
}
