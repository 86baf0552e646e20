/**
 * lib/arch/x86_64/bzimage.ts over the real Debian 6.12 bzImage and over crafted images, each corruption hitting exactly one
 * check of parseBzImage with its own message; lib/load/loaders.ts' choice of loader. Field offsets and rules come from
 * Documentation/arch/x86/boot.rst, written out here independently of lib's HDR table.
 */

import assert from "node:assert/strict";
import { parseBzImage, probeBzImage } from "../../../../lib/arch/x86_64/bzimage.ts";
import { BOOT_RST as O, le, requireVmlinuz, throwsKexec } from "../../test_helpers.ts";

Deno.test("real vmlinuz: a relocatable 64-bit bzImage with protocol >= 2.12", () => {
  const file = requireVmlinuz();
  const r = le(file);
  const img = parseBzImage(file, "vmlinuz");
  assert.equal(img.protocol, r.u16(O.version));
  assert.ok(img.protocol >= 0x020c, `protocol ${img.protocol.toString(16)}`);
  assert.ok(r.u16(O.xloadflags) & 1, "XLF_KERNEL_64 in the file");
  assert.equal(img.relocatable, true);
  assert.equal(img.above4G, (r.u16(O.xloadflags) & 2) !== 0);
  assert.equal(img.supports5Level, (r.u16(O.xloadflags) & 0x20) !== 0);
  // Debian's config: CONFIG_PHYSICAL_ALIGN=0x200000, CONFIG_PHYSICAL_START=0x1000000, CONFIG_X86_5LEVEL=y,
  // COMMAND_LINE_SIZE 2048 (cmdline_size excludes the NUL).
  assert.equal(img.alignment, 0x200000n);
  assert.equal(img.prefAddress, 0x1000000n);
  assert.equal(img.supports5Level, true);
  assert.equal(img.cmdlineSize, 2047);
  assert.equal(img.initrdAddrMax, BigInt(r.u32(O.initrd_addr_max)));
});

Deno.test("real vmlinuz: setup header and protected-mode kernel are the boot.rst byte ranges", () => {
  const file = requireVmlinuz();
  const img = parseBzImage(file);
  // Header: file[0x1f1 .. 0x202 + file[0x201]).
  const headerEnd = 0x202 + file[0x201];
  assert.equal(img.setupHeaderOffset, 0x1f1);
  assert.deepEqual(img.setupHeader, file.subarray(0x1f1, headerEnd));
  assert.equal(img.setupHeader.length, headerEnd - 0x1f1);
  // Kernel: from (setup_sects + 1) * 512 to the end of the file; syssize (16-byte units) agrees.
  const kernelOffset = (file[0x1f1] + 1) * 512;
  assert.equal(img.kernel.length, file.length - kernelOffset);
  assert.equal(img.kernel.byteOffset - file.byteOffset, kernelOffset, "a view, not a copy");
  assert.ok(le(file).u32(O.syssize) * 16 >= img.kernel.length - 15);
  // memsz = init_size rounded up to a page, and it holds the kernel.
  const initSize = BigInt(le(file).u32(O.init_size));
  assert.equal(img.memsz, (initSize + 4095n) & ~4095n);
  assert.ok(img.memsz >= BigInt(img.kernel.length));
  assert.equal(img.memsz % 4096n, 0n);
});

Deno.test("real vmlinuz: a truncated copy fails the syssize check", () => {
  const file = requireVmlinuz();
  throwsKexec(
    () => parseBzImage(file.subarray(0, file.length - 4096), "vmlinuz"),
    "bad-image",
    /^vmlinuz: syssize at 0x1f4 says 0x[0-9a-f]+ bytes of kernel but the file holds 0x[0-9a-f]+ \(truncated file\?\)$/,
  );
});

/** A minimal valid bzImage: 1 setup sector after the boot sector, then a 4 KiB kernel. */
function craft(edit: (dv: DataView, bytes: Uint8Array) => void = () => {}, kernelBytes = 4096): Uint8Array {
  const bytes = new Uint8Array(1024 + kernelBytes);
  const dv = new DataView(bytes.buffer);
  dv.setUint8(O.setup_sects, 1);
  dv.setUint32(O.syssize, kernelBytes / 16, true);
  dv.setUint16(O.boot_flag, 0xaa55, true);
  dv.setUint8(O.jump, 0xeb);
  dv.setUint8(O.jump + 1, 0x6a); // header ends at 0x26c
  dv.setUint32(O.header, 0x53726448, true); // "HdrS"
  dv.setUint16(O.version, 0x020f, true);
  dv.setUint8(O.loadflags, 0x01);
  dv.setUint32(O.initrd_addr_max, 0x7fffffff, true);
  dv.setUint32(O.kernel_alignment, 0x200000, true);
  dv.setUint8(O.relocatable_kernel, 1);
  dv.setUint8(O.min_alignment, 21);
  dv.setUint16(O.xloadflags, 0x03, true);
  dv.setUint32(O.cmdline_size, 2047, true);
  dv.setUint32(O.payload_offset, 0x100, true);
  dv.setUint32(O.payload_length, 0x100, true);
  dv.setBigUint64(O.pref_address, 0x1000000n, true);
  dv.setUint32(O.init_size, 0x10000, true);
  edit(dv, bytes);
  return bytes;
}

Deno.test("crafted image: the baseline parses, and its fields come back", () => {
  const img = parseBzImage(craft());
  assert.equal(img.protocol, 0x020f);
  assert.equal(img.kernel.length, 4096);
  assert.equal(img.memsz, 0x10000n);
  assert.equal(img.alignment, 0x200000n);
  assert.equal(img.above4G, true);
  assert.equal(img.supports5Level, false);
  assert.equal(img.setupHeader.length, 0x26c - 0x1f1);
  // init_size not a page multiple: memsz rounds up.
  assert.equal(parseBzImage(craft((dv) => dv.setUint32(O.init_size, 0x10001, true))).memsz, 0x11000n);
  // setup_sects 0 means 4 (boot.rst): the kernel starts at (4 + 1) * 512.
  const four = craft((dv) => dv.setUint8(O.setup_sects, 0), 4096 + 3 * 512);
  new DataView(four.buffer).setUint32(O.syssize, 4096 / 16, true);
  assert.equal(parseBzImage(four).kernel.byteOffset, 5 * 512);
  // A non-relocatable kernel at an aligned pref_address >= 1 MiB is fine.
  assert.equal(parseBzImage(craft((dv) => dv.setUint8(O.relocatable_kernel, 0))).relocatable, false);
});

Deno.test("parseBzImage: too short, boot_flag, HdrS, short 2.12 header", () => {
  throwsKexec(() => parseBzImage(new Uint8Array(100), "k"), "bad-image", /^k: file is 100 bytes, too short/);
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint16(O.boot_flag, 0x1234, true)), "k"),
    "bad-image",
    /^k: boot_flag at 0x1fe is 0x1234, expected 0xaa55 \(not a bzImage\)$/,
  );
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint32(O.header, 0, true))),
    "bad-image",
    /^kernel: no "HdrS" magic at 0x202/,
  );
  throwsKexec(
    () => parseBzImage(craft().subarray(0, 0x240)),
    "bad-image",
    /file is 576 bytes, too short for a boot protocol 2\.12 setup header \(0x268 bytes\)/,
  );
});

Deno.test("parseBzImage: protocol older than 2.12", () => {
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint16(O.version, 0x020b, true))),
    "bad-image",
    /boot protocol 2\.11 \(version at 0x206\) is older than 2\.12, which has no 64-bit entry point/,
  );
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint16(O.version, 0x0204, true))),
    "bad-image",
    /boot protocol 2\.04 /,
  );
});

Deno.test("parseBzImage: the jump at 0x200 must be a short jmp ending the header in [0x26c, 0x400]", () => {
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint8(O.jump, 0xe9))),
    "bad-image",
    /the jump at 0x200 \(0x6ae9\) does not end the protocol 2\.15 setup header between 0x26c and 0x400/,
  );
  throwsKexec(() => parseBzImage(craft((dv) => dv.setUint8(O.jump + 1, 0x60))), "bad-image", /the jump at 0x200/);
});

Deno.test("parseBzImage: a protocol 2.12-2.14 header ends at 0x268 (kernel_info_offset is 2.15+) and is valid", () => {
  // boot.rst: handover_offset (0x264) is the last field before 2.15 added kernel_info_offset at 0x268, so the
  // short jump of a 2.12-2.14 kernel (Linux 3.8 to 5.4) is 0xeb 0x66: header end 0x202 + 0x66 = 0x268.
  const old = craft((dv) => {
    dv.setUint16(O.version, 0x020c, true);
    dv.setUint8(O.jump + 1, 0x66);
  });
  const img = parseBzImage(old);
  assert.equal(img.protocol, 0x020c);
  assert.equal(img.setupHeader.length, 0x268 - 0x1f1);
});

Deno.test("parseBzImage: loadflags without LOADED_HIGH, xloadflags without XLF_KERNEL_64", () => {
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint8(O.loadflags, 0x80))),
    "bad-image",
    /loadflags at 0x211 \(0x80\) lack LOADED_HIGH: a zImage, not a bzImage/,
  );
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint16(O.xloadflags, 0x02, true))),
    "bad-image",
    /xloadflags at 0x236 \(0x2\) lack XLF_KERNEL_64: this kernel has no 64-bit entry point/,
  );
});

Deno.test("parseBzImage: setup_sects past the end of the file", () => {
  // 9 setup sectors put the kernel at 10 * 512 = 0x1400, the file's length.
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint8(O.setup_sects, 9))),
    "bad-image",
    /setup_sects at 0x1f1 \(9\) puts the kernel at 0x1400, past the end of the 5120-byte file/,
  );
});

Deno.test("parseBzImage: syssize larger than the file (truncated), or zero", () => {
  throwsKexec(
    () => parseBzImage(craft().subarray(0, 1024 + 2048)),
    "bad-image",
    /syssize at 0x1f4 says 0x1000 bytes of kernel but the file holds 0x800 \(truncated file\?\)/,
  );
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint32(O.syssize, 0, true))),
    "bad-image",
    /syssize at 0x1f4 says 0x0 bytes of kernel but the file holds 0x1000$/,
  );
  // Up to 15 bytes of paragraph rounding are tolerated.
  assert.equal(parseBzImage(craft().subarray(0, 1024 + 4096 - 15)).kernel.length, 4081);
});

Deno.test("parseBzImage: compressed payload outside the kernel", () => {
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint32(O.payload_offset, 0xf80, true))),
    "bad-image",
    /compressed payload \(payload_offset 0xf80 at 0x248, payload_length 0x100 at 0x24c\) does not fit in the 0x1000-byte kernel/,
  );
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint32(O.payload_length, 0, true))),
    "bad-image",
    /payload_length 0x0 at 0x24c/,
  );
});

Deno.test("parseBzImage: kernel_alignment and min_alignment", () => {
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint32(O.kernel_alignment, 0x300000, true))),
    "bad-image",
    /kernel_alignment at 0x230 \(0x300000\) is not a power of two of at least 4 KiB/,
  );
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint32(O.kernel_alignment, 0x800, true))),
    "bad-image",
    /kernel_alignment at 0x230 \(0x800\)/,
  );
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint8(O.min_alignment, 22))),
    "bad-image",
    /min_alignment at 0x235 \(2\^22\) exceeds kernel_alignment \(0x200000\)/,
  );
});

Deno.test("parseBzImage: init_size smaller than the kernel, cmdline_size 0", () => {
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint32(O.init_size, 0x800, true))),
    "bad-image",
    /init_size at 0x260 \(0x800\) is smaller than the 0x1000-byte kernel it must hold/,
  );
  throwsKexec(
    () => parseBzImage(craft((dv) => dv.setUint32(O.cmdline_size, 0, true))),
    "bad-image",
    /cmdline_size at 0x238 is 0: the kernel accepts no command line/,
  );
});

Deno.test("parseBzImage: a non-relocatable kernel needs an aligned pref_address at or above 1 MiB", () => {
  const nonReloc = (pref: bigint) =>
    craft((dv) => {
      dv.setUint8(O.relocatable_kernel, 0);
      dv.setBigUint64(O.pref_address, pref, true);
    });
  throwsKexec(
    () => parseBzImage(nonReloc(0x1001000n)),
    "bad-image",
    /non-relocatable kernel with pref_address 0x1001000 \(0x258\) below 1 MiB or not kernel_alignment-aligned/,
  );
  throwsKexec(() => parseBzImage(nonReloc(0n)), "bad-image", /pref_address 0x0 \(0x258\)/);
  // The same pref_address is fine when the kernel is relocatable.
  const reloc = craft((dv) => dv.setBigUint64(O.pref_address, 0x1001000n, true));
  assert.equal(parseBzImage(reloc).prefAddress, 0x1001000n);
});

Deno.test("probeBzImage: boot_flag and HdrS, never throws", () => {
  assert.equal(probeBzImage(requireVmlinuz()), true);
  assert.equal(probeBzImage(craft()), true);
  assert.equal(probeBzImage(new Uint8Array(0)), false);
  assert.equal(probeBzImage(craft().subarray(0, 0x205)), false);
  assert.equal(probeBzImage(craft((dv) => dv.setUint16(O.boot_flag, 0, true))), false);
  assert.equal(probeBzImage(craft((dv) => dv.setUint32(O.header, 0x53726449, true))), false);
  // The probe is cheap: a header that parseBzImage rejects still probes as a bzImage.
  assert.equal(probeBzImage(craft((dv) => dv.setUint16(O.version, 0x0200, true))), true);
});
