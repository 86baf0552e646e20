/**
 * Saves a guest's view of the kernel interfaces kexec-ts reads into a directory (tests/fixtures/machines/NAME),
 * for unit tests and for `kexec-ts plan --system-root DIR`. Usage:
 *   deno run -A scripts/vm/snapshot.ts [--firmware=bios|uefi] NAME [extra kernel command line]
 * Under `uefi` (OVMF) the snapshot also holds /sys/firmware/efi (systab, runtime-map, SecureBoot through efivarfs).
 *
 * @module
 */

import { decodeBase64 } from "./base64.ts";
import { buildImages, ROOT } from "./images.ts";
import { type Firmware, runVm, tail } from "./qemu.ts";

if (import.meta.main) {
  const fwArg = Deno.args.find((a) => a.startsWith("--firmware="));
  const firmware = (fwArg?.slice("--firmware=".length) ?? "bios") as Firmware;
  if (firmware !== "bios" && firmware !== "uefi") throw new Error(`--firmware=${firmware}: bios or uefi`);
  const [name, append = "crashkernel=256M"] = Deno.args.filter((a) => a !== fwArg);
  if (!name) throw new Error("usage: snapshot.ts [--firmware=bios|uefi] NAME [cmdline]");
  const r = await runVm({ initrd: buildImages().main, scenario: "snapshot", append, firmware, timeoutMs: 180_000 });
  const out = `${ROOT}/tests/fixtures/machines/${name}`;
  const re = /@@KTS-BEGIN file:(\S+)\n([\s\S]*?)@@KTS-END-BLOCK file:\1\n/g;
  let n = 0;
  for (const m of r.data.matchAll(re)) {
    const path = `${out}${m[1]}`;
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    Deno.writeFileSync(path, decodeBase64(m[2].replace(/\s+/g, "")));
    n++;
  }
  if (n === 0) throw new Error(`no files captured:\n${tail(r.console)}`);
  console.log(`${n} files written under ${out}`);
}
