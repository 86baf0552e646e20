/**
 * Where the boot entries are: the EFI System Partition (ESP) and the Extended Boot Loader partition (XBOOTLDR),
 * found the way systemd's bootctl finds them (src/shared/find-esp.c, boot_config_load_auto):
 *
 *  1. `--boot-root=DIR`: DIR is the ESP, nothing else is searched;
 *  2. `$SYSTEMD_ESP_PATH` / `$SYSTEMD_XBOOTLDR_PATH`: taken as they are (they must be directories);
 *  3. `/run/boot-loader-entries/` when it exists: it stands in for the ESP;
 *  4. the ESP: the first of `/efi`, `/boot`, `/boot/efi` that is the root of a mounted vfat (or msdos) file system
 *     and, when udev describes its partition (`/run/udev/data/b<major>:<minor>`), lies on a GPT partition of the
 *     ESP type c12a7328-f81f-11d2-ba4b-00a0c93ec93b;
 *  5. XBOOTLDR: `/boot` when it is the root of a mounted file system other than the ESP's and, when udev describes
 *     its partition, of the XBOOTLDR type (GPT bc13c2ff-59e6-4262-a352-b275fd6f7172 or MBR 0xea).
 *
 * bootctl probes the partition with libblkid; kexec-ts reads the same facts from udev's database and, without one
 * (containers, early boot), accepts the mount on its file system alone, as bootctl does in a container. The mount
 * table and udev data are read through the SystemView; nothing here opens a block device.
 *
 * @module
 */

import { readText, type SystemView } from "../system.ts";
import type { BootFs } from "./fs.ts";

/** The ESP's GPT partition type. */
export const ESP_GPT_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
/** XBOOTLDR's GPT partition type. */
export const XBOOTLDR_GPT_TYPE = "bc13c2ff-59e6-4262-a352-b275fd6f7172";
/** XBOOTLDR's MBR partition type. */
export const XBOOTLDR_MBR_TYPE = "0xea";

/** One boot partition. */
export interface BootPartition {
  /** Where it is mounted (or the directory standing in for it). */
  path: string;
  /** `esp` or `xbootldr`. */
  role: "esp" | "xbootldr";
  /** How it was found, in words (`mount point /boot/efi: vfat on /dev/vda1`). */
  how: string;
  /** `major:minor` of its file system, when known. */
  device?: string;
}

/** What discovery found, and what it looked at and passed over. */
export interface BootPartitions {
  esp?: BootPartition;
  xbootldr?: BootPartition;
  /** Candidates passed over, each with the reason. */
  skipped: string[];
}

/** Where to look. */
export interface DiscoveryOptions {
  /** `--boot-root=DIR`: DIR is the ESP. */
  bootRoot?: string;
  /** `$SYSTEMD_ESP_PATH`. */
  espPath?: string;
  /** `$SYSTEMD_XBOOTLDR_PATH`. */
  xbootldrPath?: string;
  /**
   * `--system-root`: the SystemView reads a saved machine; the partitions its mount table (and
   * /run/boot-loader-entries) point to are taken under this directory. Paths given as options are not.
   */
  systemRoot?: string;
}

/** One line of /proc/self/mountinfo. */
export interface Mount {
  /** `major:minor` of the file system. */
  device: string;
  /** The directory of the file system mounted here (`/` for its root). */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/** Parses /proc/self/mountinfo (octal escapes such as `\040` decoded). */
export function parseMountinfo(text: string): Mount[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-", 6);
    if (f.length < 10 || dash < 0 || dash + 2 >= f.length) continue;
    mounts.push({
      device: f[2],
      root: unescape(f[3]),
      mountPoint: unescape(f[4]),
      fsType: f[dash + 1],
      source: unescape(f[dash + 2]),
    });
  }
  return mounts;
}

/** The `E:KEY=VALUE` properties udev recorded for a block device, or undefined when it has no record. */
export function udevProperties(sys: SystemView, device: string): Map<string, string> | undefined {
  const text = readText(sys, `/run/udev/data/b${device}`);
  if (text === undefined) return undefined;
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^E:([^=\n]+)=(.*)$/gm)) out.set(m[1], m[2]);
  return out;
}

/** The mount at `path` (the last one: the top of the stack), if `path` is a mount point. */
function mountAt(mounts: readonly Mount[], path: string): Mount | undefined {
  return mounts.findLast((m) => m.mountPoint === path);
}

/** Why `m` is not the ESP, or undefined when it is. */
function notEsp(sys: SystemView, m: Mount): string | undefined {
  if (m.fsType !== "vfat" && m.fsType !== "msdos") return `${m.fsType}, not vfat`;
  if (m.root !== "/") return `a bind mount of ${m.root}, not the root of its file system`;
  const udev = udevProperties(sys, m.device);
  const scheme = udev?.get("ID_PART_ENTRY_SCHEME");
  const type = udev?.get("ID_PART_ENTRY_TYPE")?.toLowerCase();
  if (scheme !== undefined && scheme !== "gpt") return `on a ${scheme} partition table, not GPT`;
  if (type !== undefined && type !== ESP_GPT_TYPE) return `partition type ${type}, not the ESP's`;
  return undefined;
}

/** Why `m` is not XBOOTLDR, or undefined when it is. */
function notXbootldr(sys: SystemView, m: Mount): string | undefined {
  if (m.root !== "/") return `a bind mount of ${m.root}, not the root of its file system`;
  const type = udevProperties(sys, m.device)?.get("ID_PART_ENTRY_TYPE")?.toLowerCase();
  if (type !== undefined && type !== XBOOTLDR_GPT_TYPE && type !== XBOOTLDR_MBR_TYPE) {
    return `partition type ${type}, not XBOOTLDR's`;
  }
  return undefined;
}

/** Finds the ESP and XBOOTLDR (see the module doc for the order). */
export function findBootPartitions(sys: SystemView, fs: BootFs, opts: DiscoveryOptions = {}): BootPartitions {
  const skipped: string[] = [];
  const isDir = (p: string) => fs.stat(p)?.kind === "dir";
  if (opts.bootRoot !== undefined) {
    if (!isDir(opts.bootRoot)) return { skipped: [`--boot-root ${opts.bootRoot}: not a directory`] };
    return { esp: { path: opts.bootRoot, role: "esp", how: "--boot-root" }, skipped };
  }
  if (opts.espPath !== undefined || opts.xbootldrPath !== undefined) {
    const env = (p: string | undefined, role: "esp" | "xbootldr", name: string): BootPartition | undefined => {
      if (p === undefined) return undefined;
      if (!isDir(p)) {
        skipped.push(`$${name} ${p}: not a directory`);
        return undefined;
      }
      return { path: p, role, how: `$${name}` };
    };
    return {
      esp: env(opts.espPath, "esp", "SYSTEMD_ESP_PATH"),
      xbootldr: env(opts.xbootldrPath, "xbootldr", "SYSTEMD_XBOOTLDR_PATH"),
      skipped,
    };
  }
  // What the machine itself says (its /run, its mount table) is under the system root.
  const root = opts.systemRoot === undefined ? "" : opts.systemRoot.replace(/\/+$/, "");
  const onMachine = (p: string) => root + p;
  if (isDir(onMachine("/run/boot-loader-entries"))) {
    const path = onMachine("/run/boot-loader-entries");
    return { esp: { path, role: "esp", how: "/run/boot-loader-entries" }, skipped };
  }

  const mounts = parseMountinfo(readText(sys, "/proc/self/mountinfo") ?? "");
  let esp: BootPartition | undefined;
  for (const path of ["/efi", "/boot", "/boot/efi"]) {
    const m = mountAt(mounts, path);
    if (!m) continue;
    const why = notEsp(sys, m);
    if (why) {
      skipped.push(`${path}: ${why}`);
      continue;
    }
    esp = {
      path: onMachine(path),
      role: "esp",
      how: `mount point ${path}: ${m.fsType} on ${m.source}`,
      device: m.device,
    };
    break;
  }
  let xbootldr: BootPartition | undefined;
  const boot = mountAt(mounts, "/boot");
  if (boot && esp?.path !== onMachine("/boot") && boot.device !== esp?.device) {
    const why = notXbootldr(sys, boot);
    if (why) skipped.push(`/boot as XBOOTLDR: ${why}`);
    else {
      xbootldr = {
        path: onMachine("/boot"),
        role: "xbootldr",
        how: `mount point /boot: ${boot.fsType} on ${boot.source}`,
      };
    }
    if (xbootldr) xbootldr.device = boot.device;
  }
  return { esp, xbootldr, skipped };
}
