/**
 * lib/boot/discover.ts: the ESP and XBOOTLDR found as systemd finds them, from fixture mount tables and udev data;
 * and lib/boot/efivars.ts: the LoaderEntry* variables as efivarfs holds them.
 */

import assert from "node:assert/strict";
import { findBootPartitions, parseMountinfo } from "../../../lib/boot/discover.ts";
import { decodeEfiString, LOADER_GUID, readLoaderVariable } from "../../../lib/boot/efivars.ts";
import { memoryBootFs } from "../../../lib/boot/fs.ts";
import { readEfiVariable, recordSystemView } from "../../../lib/system.ts";

const ESP_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
const line = (id: number, dev: string, root: string, mp: string, fs: string, src: string) =>
  `${id} 1 ${dev} ${root} ${mp} rw,relatime shared:${id} - ${fs} ${src} rw`;
const udev = (type: string, scheme = "gpt") =>
  `S:disk/by-partuuid/x\nE:ID_FS_TYPE=vfat\nE:ID_PART_ENTRY_SCHEME=${scheme}\nE:ID_PART_ENTRY_TYPE=${type}\n`;
const fs = memoryBootFs({ "/boot/efi/loader/loader.conf": "", "/efi/x": "", "/boot/x": "" });

Deno.test("parseMountinfo: fields after the separator, octal escapes decoded, optional fields skipped", () => {
  const m = parseMountinfo(
    "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n30 22 8:2 /sub /mnt/with\\040space rw master:1 shared:2 - vfat /dev/sda2 rw\n",
  );
  assert.deepEqual(m[1], {
    device: "8:2",
    root: "/sub",
    mountPoint: "/mnt/with space",
    fsType: "vfat",
    source: "/dev/sda2",
  });
});

Deno.test("findBootPartitions: /efi, /boot, /boot/efi in order; vfat, mount root, GPT ESP type when udev knows", () => {
  const sys = (mounts: string[], udevData: Record<string, string> = {}) =>
    recordSystemView({ "/proc/self/mountinfo": mounts.join("\n") + "\n", ...udevData });
  const root = line(22, "8:1", "/", "/", "ext4", "/dev/sda1");
  const bootExt4 = line(23, "8:3", "/", "/boot", "ext4", "/dev/sda3");
  const espAtBootEfi = line(24, "8:2", "/", "/boot/efi", "vfat", "/dev/sda2");
  const found = findBootPartitions(sys([root, bootExt4, espAtBootEfi], { "/run/udev/data/b8:2": udev(ESP_TYPE) }), fs);
  assert.equal(found.esp?.path, "/boot/efi");
  assert.equal(found.esp?.how, "mount point /boot/efi: vfat on /dev/sda2");
  assert.equal(found.xbootldr?.path, "/boot", "no udev data for /boot: taken on the mount alone");
  assert.deepEqual(found.skipped, ["/boot: ext4, not vfat"]);

  const withTypes = findBootPartitions(
    sys([root, bootExt4, espAtBootEfi], {
      "/run/udev/data/b8:2": udev(ESP_TYPE),
      "/run/udev/data/b8:3": udev("0fc63daf-8483-4772-8e79-3d69d8477de4"),
    }),
    fs,
  );
  assert.equal(withTypes.xbootldr, undefined, "a Linux-data /boot is not XBOOTLDR");
  assert.match(withTypes.skipped.join("\n"), /\/boot as XBOOTLDR: partition type 0fc63daf-.*, not XBOOTLDR's/);

  const efiFirst = findBootPartitions(
    sys([root, line(25, "8:4", "/", "/efi", "vfat", "/dev/sda4"), line(26, "8:5", "/", "/boot", "vfat", "/dev/sda5")]),
    fs,
  );
  assert.equal(efiFirst.esp?.path, "/efi");
  assert.equal(efiFirst.xbootldr?.path, "/boot");

  const wrongType = findBootPartitions(
    sys([root, line(25, "8:4", "/", "/efi", "vfat", "/dev/sda4")], {
      "/run/udev/data/b8:4": udev("ebd0a0a2-b9e5-4433-87c0-68b6b72699c7"),
    }),
    fs,
  );
  assert.equal(wrongType.esp, undefined);
  assert.deepEqual(wrongType.skipped, ["/efi: partition type ebd0a0a2-b9e5-4433-87c0-68b6b72699c7, not the ESP's"]);
  const mbr = findBootPartitions(
    sys([root, line(25, "8:4", "/", "/efi", "vfat", "/dev/sda4")], { "/run/udev/data/b8:4": udev("0xef", "dos") }),
    fs,
  );
  assert.deepEqual(mbr.skipped, ["/efi: on a dos partition table, not GPT"]);
  const bind = findBootPartitions(sys([root, line(25, "8:4", "/EFI", "/efi", "vfat", "/dev/sda4")]), fs);
  assert.deepEqual(bind.skipped, ["/efi: a bind mount of /EFI, not the root of its file system"]);
  const sameFs = findBootPartitions(sys([root, line(25, "8:4", "/", "/boot", "vfat", "/dev/sda4")]), fs);
  assert.equal(sameFs.esp?.path, "/boot");
  assert.equal(sameFs.xbootldr, undefined, "/boot is the ESP: no XBOOTLDR");
});

Deno.test("findBootPartitions: --boot-root, $SYSTEMD_ESP_PATH and /run/boot-loader-entries come first", () => {
  const sys = recordSystemView({ "/proc/self/mountinfo": line(24, "8:2", "/", "/boot/efi", "vfat", "/dev/sda2") });
  assert.deepEqual(findBootPartitions(sys, fs, { bootRoot: "/efi" }), {
    esp: { path: "/efi", role: "esp", how: "--boot-root" },
    skipped: [],
  });
  assert.deepEqual(findBootPartitions(sys, fs, { bootRoot: "/nope" }).skipped, ["--boot-root /nope: not a directory"]);
  const env = findBootPartitions(sys, fs, { espPath: "/efi", xbootldrPath: "/boot" });
  assert.equal(env.esp?.how, "$SYSTEMD_ESP_PATH");
  assert.equal(env.xbootldr?.how, "$SYSTEMD_XBOOTLDR_PATH");
  const run = findBootPartitions(sys, memoryBootFs({ "/run/boot-loader-entries/loader/entries/a.conf": "" }));
  assert.equal(run.esp?.path, "/run/boot-loader-entries");
  assert.equal(findBootPartitions(recordSystemView({}), fs).esp, undefined);
});

Deno.test("efivars: attributes skipped, UTF-16LE up to the NUL; unset, empty and short values are undefined", () => {
  const efi = (s: string) => {
    const b = new Uint8Array(4 + (s.length + 1) * 2);
    b.set([7, 0, 0, 0]);
    for (let i = 0; i < s.length; i++) b[4 + i * 2] = s.charCodeAt(i);
    return b;
  };
  const value = (s: string) => efi(s).subarray(4);
  assert.equal(decodeEfiString(value("debian-6.12.conf")), "debian-6.12.conf");
  assert.equal(decodeEfiString(value("")), undefined);
  assert.equal(decodeEfiString(new Uint8Array(1)), undefined);
  assert.equal(decodeEfiString(value("ab").subarray(0, 4)), "ab", "no NUL");
  const path = (name: string) => `/sys/firmware/efi/efivars/${name}-${LOADER_GUID}`;
  const sys = recordSystemView({
    [path("LoaderEntryDefault")]: efi("x.conf"),
    [path("LoaderEntryOneShot")]: new Uint8Array([7, 0, 0]),
  });
  assert.equal(readLoaderVariable(sys, "LoaderEntryDefault"), "x.conf");
  assert.equal(readLoaderVariable(sys, "LoaderEntryOneShot"), undefined, "shorter than its attributes");
  assert.equal(readLoaderVariable(sys, "LoaderEntrySelected"), undefined, "unset");
  assert.deepEqual(readEfiVariable(sys, "LoaderEntryDefault", LOADER_GUID), { attributes: 7, value: value("x.conf") });
});
