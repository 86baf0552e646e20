/**
 * What kexec-ts(8) says beyond the option and subcommand tables (./options.ts) and the environment (./usage.ts):
 * the description, the crash-hotplug and initramfs sections, files, exit status, examples. The one place for this
 * text; `scripts/docs/man.ts` renders it with the tables into the man page. Inline markup: `code` (bold in the man
 * page); nothing else.
 *
 * @module
 */

/** A section of the man page: a title and its paragraphs. */
export interface ManSection {
  title: string;
  paragraphs: readonly string[];
}

/** One example: what it does, and the commands. */
export interface ManExample {
  what: string;
  commands: readonly string[];
}

/** The NAME line's summary. */
export const SUMMARY = "load and boot Linux kernels with kexec_load(2), crash kernels with hotplug support";

/** DESCRIPTION. */
export const DESCRIPTION: readonly string[] = [
  "kexec-ts loads a Linux kernel into memory so that the running kernel can boot it directly, without firmware and " +
  "boot loader (`-l`, then `-e`), and loads crash (kdump) kernels that take over after a panic (`-p`). It is a " +
  "drop-in for kexec-tools' kexec(8) where scripts call it: the same options, the same order-dependent mode " +
  "semantics and the same exit statuses; it adds the commands `status`, `plan`, `entries`, `udev-rules` and " +
  "`reload`, and for the capture kernel after a crash `vmcore-dmesg` and `vmcore-info`.",
  "Everything between the files and the system call is done by kexec-ts itself: the kernel image is parsed, the " +
  "segments are placed, boot_params, the crash ELF core header and the capture kernel's memory map are built, and " +
  "a purgatory of its own verifies a SHA-256 of the segments before it enters the new kernel. Every check the kernel " +
  "would make runs before the system call, so a load that would fail never reaches the kernel. This matters most " +
  "for crash kernels: the kernel frees the loaded crash kernel before it checks a new one. After a failed crash " +
  "load the message says whether a crash kernel is still loaded.",
  "With no mode option kexec-ts loads the kernel and then runs `shutdown -r now`, as kexec-tools does. Errors are " +
  "one line on standard error that names the cause and the fix.",
  "kexec-ts runs on x86_64. It loads bzImages (vmlinuz), Unified Kernel Images (UKI) and ELF vmlinux files, and " +
  "boots Boot Loader Specification entries (`--boot-entry`, listed by `kexec-ts entries`). It needs root " +
  "(CAP_SYS_BOOT) for everything but `plan` against a saved snapshot (`--system-root`), `--help` and `--version`.",
];

/** Sections between OPTIONS and ENVIRONMENT. */
export const SECTIONS: readonly ManSection[] = [
  {
    title: "CRASH HOTPLUG",
    paragraphs: [
      "Since Linux 6.6 the kernel can rewrite a crash kernel's ELF core header itself when CPUs or memory are " +
      "hot-plugged, so that the dump covers them. For a kexec_load(2) image it does so only when the loader says it " +
      "is safe: kexec-ts passes KEXEC_UPDATE_ELFCOREHDR with `-p` whenever the kernel has CONFIG_CRASH_HOTPLUG " +
      "(`--no-hotplug` turns it off, `--hotplug` makes it mandatory), sizes the header for the kernel's rewrite and " +
      "leaves it out of purgatory's checksum.",
      "`kexec-ts status` says what a hotplug event will do on this machine. When the kernel cannot update the " +
      "header, the udev rule of `kexec-ts udev-rules` reloads the crash kernel (`kexec-ts reload`, which repeats " +
      "the last `-p` load and coalesces bursts of events into one reload). The Debian package ships the rule " +
      "inactive, as /usr/share/kexec-ts/98-kexec-ts.rules; `kexec-ts udev-rules --install` (or a symbolic link " +
      "to that file from /etc/udev/rules.d) enables it.",
    ],
  },
  {
    title: "CAPTURE KERNEL",
    paragraphs: [
      "After a panic the capture kernel shows the crashed kernel's memory as /proc/vmcore. `kexec-ts vmcore-dmesg` " +
      "prints the crashed kernel's log from it (or from a saved dump named as its argument) byte for byte as " +
      "kexec-tools 2.0.25's vmcore-dmesg(8) does, from the lockless printk ring buffer of Linux 5.10+ or the older " +
      "log_buf, and exits with that program's status for the same cause; it reads the dump's headers, notes and the " +
      "pages of the log only. `kexec-ts vmcore-info` summarizes a dump: kernel release, crash time, the panic " +
      "message, the CPUs, the memory it holds, whether memory hot-added while the kernel ran is in it (from the " +
      "kernel's own memory section table, Linux 5.3+), and who built its core header.",
      "Deno reads /proc only with all permissions: run the bundle with `deno run --allow-all`. In the capture " +
      "kernel Deno needs about 100 MB of initramfs and 20 MB of memory on top of it; see the README for a kdump " +
      "initramfs and the crashkernel= size.",
    ],
  },
  {
    title: "INITRAMFS",
    paragraphs: [
      "kexec-ts can be put into an initramfs, for rescue shells that boot another kernel. The package ships an " +
      "initramfs-tools hook and a dracut module; both are off by default, because the Deno runtime adds about " +
      "40 MB (compressed) to every image.",
      "initramfs-tools: set `KEXEC_TS_INITRAMFS=y` in /etc/kexec-ts/initramfs.conf, then run `update-initramfs -u`. " +
      'dracut: `dracut --add kexec-ts`, or `add_dracutmodules+=" kexec-ts "` in a file under /etc/dracut.conf.d.',
    ],
  },
];

/** FILES: path and what it is. */
export const FILES: readonly [string, string][] = [
  ["/run/kexec-ts/crash-load.json", "the last successful -p load, which `reload` repeats (KEXEC_TS_RUN_DIR moves it)"],
  ["/run/kexec-ts/reload.log", "one line per reload: when, why, how long, and the window without a crash kernel"],
  ["/etc/udev/rules.d/98-kexec-ts.rules", "the hotplug rule, as `kexec-ts udev-rules --install` writes it"],
  ["/usr/share/kexec-ts/98-kexec-ts.rules", "the same rule as the package ships it, inactive"],
  ["/etc/kexec-ts/initramfs.conf", "whether the initramfs-tools hook puts kexec-ts into the initramfs"],
  ["/usr/share/initramfs-tools/hooks/kexec-ts", "the initramfs-tools hook"],
  ["/usr/lib/dracut/modules.d/90kexec-ts", "the dracut module"],
  ["/usr/lib/kexec-ts", "the program (kexec-ts.js) and the Deno runtime that runs it, when kexec-ts is not one binary"],
  ["/sys/kernel/kexec_loaded, /sys/kernel/kexec_crash_loaded", "whether a kernel or a crash kernel is loaded"],
  ["/proc/iomem", "the crash kernel region and System RAM the plans are made from"],
];

/** EXIT STATUS: status and meaning. */
export const EXIT_STATUS: readonly [string, string][] = [
  ["0", "success; with -S: no kernel of that kind is loaded"],
  ["1", "an error (one line on standard error names the cause and the fix); with -S: a kernel is loaded"],
  ["2", "an internal error (a bug: please report it with the message)"],
  ["255", "with -S: the kernel's kexec state could not be read (no kexec support)"],
  [
    "2-71",
    "vmcore-dmesg, vmcore-info: the status kexec-tools' vmcore-dmesg exits with for the same cause (2 the dump " +
    "cannot be opened, 3-16 not an ELF core, 22 notes, 30 an unmapped address, 40-41 a short read, 50-69 a missing " +
    "symbol or a corrupt log); 70 VMCOREINFO lacks what the log format needs, 71 a log that never ends",
  ],
];

/** EXAMPLES. */
export const EXAMPLES: readonly ManExample[] = [
  {
    what: "Boot another kernel without going through the firmware:",
    commands: [
      'kexec-ts -l /boot/vmlinuz --initrd=/boot/initrd.img --append="root=/dev/sda1 ro"',
      "kexec-ts -e",
    ],
  },
  {
    what: "Load a crash kernel into the crashkernel= region, and see what a hotplug event will do:",
    commands: [
      'kexec-ts -p /boot/vmlinuz --initrd=/boot/initrd.img --append="irqpoll nr_cpus=1 reset_devices"',
      "kexec-ts status",
    ],
  },
  {
    what: "Print the plan of a load (segments, addresses, command line) without loading it:",
    commands: ["kexec-ts plan -p --json /boot/vmlinuz --append=x"],
  },
  {
    what: "In the capture kernel after a crash, keep the crashed kernel's log and a summary of the dump:",
    commands: ["kexec-ts vmcore-dmesg > /var/crash/vmcore-dmesg.txt", "kexec-ts vmcore-info --json"],
  },
  {
    what: "From an initramfs rescue shell, boot the kernel of a disk:",
    commands: [
      "mount -o ro /dev/vda1 /mnt",
      'kexec-ts -l /mnt/boot/vmlinuz --initrd=/mnt/boot/initrd.img --append="root=/dev/vda1" && kexec-ts -e',
    ],
  },
];

/** SEE ALSO. */
export const SEE_ALSO: readonly string[] = [
  "kexec(8)",
  "kexec_load(2)",
  "makedumpfile(8)",
  "vmcore-dmesg(8)",
  "udev(7)",
  "initramfs-tools(7)",
  "dracut(8)",
];
