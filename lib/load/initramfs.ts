/**
 * The smallest initramfs there is: a newc cpio archive holding only its `TRAILER!!!` record, zero-padded to one
 * 512-byte cpio block. The kernel unpacks it into an empty rootfs (init/initramfs.c stops at the trailer and skips
 * the zeros after it), finds no /init there and mounts `root=` as it would with no initrd at all; only
 * boot_params.ramdisk_size is no longer 0. A loader passes it where the next kernel must not see a zero ramdisk_size
 * (x86 with EFI handed over: ../arch/x86_64/bzimage_loader.ts).
 *
 * @module
 */

/** The newc header: "070701" and 13 fields of 8 ASCII hex digits (init/initramfs.c parse_header). */
export const NEWC = {
  magic: 0, // "070701"
  ino: 6,
  mode: 14,
  uid: 22,
  gid: 30,
  nlink: 38,
  mtime: 46,
  filesize: 54,
  devmajor: 62,
  devminor: 70,
  rdevmajor: 78,
  rdevminor: 86,
  namesize: 94, // including the NUL
  check: 102,
  size: 110,
} as const;

/** The newc magic (no CRC). */
export const NEWC_MAGIC = "070701";
/** The name of the record that ends an archive. */
export const CPIO_TRAILER = "TRAILER!!!";
/** A cpio block: archives are padded to a multiple of it. */
export const CPIO_BLOCK_BYTES = 512;

/** An archive with nothing in it but the trailer record (nlink 1, every other field 0, as GNU cpio writes it). */
export function emptyInitramfs(): Uint8Array {
  const out = new Uint8Array(CPIO_BLOCK_BYTES);
  const text = (offset: number, s: string) => out.set(new TextEncoder().encode(s), offset);
  const field = (offset: number, n: number) => text(offset, n.toString(16).padStart(8, "0"));
  text(NEWC.magic, NEWC_MAGIC);
  for (let o: number = NEWC.ino; o < NEWC.size; o += 8) field(o, 0);
  field(NEWC.nlink, 1);
  field(NEWC.namesize, CPIO_TRAILER.length + 1);
  text(NEWC.size, CPIO_TRAILER); // the NUL and the padding are the zeros that follow
  return out;
}
