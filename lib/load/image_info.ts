/**
 * {@link ImageInfo}: what a wrapped image (a UKI) or a boot entry says about the kernel being loaded, carried from the
 * registry (./loaders.ts) into plans, kexec_file_load plans and the crash-load record. Types only.
 *
 * @module
 */

/** What a wrapped image says about itself (a UKI's `.osrel`, `.uname` and profile), for plans and status. */
export interface ImageInfo {
  /** The wrapper's name (`uki`), or the loader's (`bzImage64`) for a plain kernel loaded from a boot entry. */
  format: string;
  /** The OS name (os-release PRETTY_NAME, else IMAGE_ID, NAME, ID). */
  title?: string;
  /** The OS version (os-release IMAGE_VERSION, else VERSION, VERSION_ID, BUILD_ID). */
  version?: string;
  /** The kernel release (`uname -r`) the image declares. */
  uname?: string;
  /** The selected profile, from 0. */
  profile?: number;
  /** How many profiles the image has (1 when it has no `.profile` section). */
  profileCount?: number;
  /** The selected profile's `ID=` and `TITLE=`. */
  profileId?: string;
  /** The selected profile's `TITLE=`. */
  profileTitle?: string;
  /** The image's machine as its header names it (`0x8664 (x86_64)`), for messages. */
  machine?: string;
  /** The boot entry the load was made from, when it was (`--boot-entry`). */
  bootEntry?: string;
  /** Where the load's pieces came from, one phrase each ("initrd: .ucode + --initrd + .initrd"). */
  parts: string[];
}
