/**
 * `kexec-ts --help` text.
 *
 * @module
 */

import config from "../../deno.json" with { type: "json" };

/** Version of kexec-ts (deno.json's, the one place it is written). */
export const VERSION: string = config.version;

/** The help text. */
export const USAGE =
  `kexec-ts ${VERSION}: load and boot Linux kernels with kexec_load(2), crash kernels with hotplug support

Usage (kexec-tools compatible):
  kexec-ts [-l|-p|-f] [options] KERNEL   load KERNEL (no mode: load, then "shutdown -r now")
  kexec-ts -e                            boot the loaded kernel now (syncs first unless -y)
  kexec-ts [-p] -u                       unload the kernel (-p: the crash kernel)
  kexec-ts [-p|-l] -S                    exit 1 if a crash (default, -p) or normal (-l) kernel is loaded, else 0

kexec-ts commands:
  kexec-ts status [--json]               kexec state, crash region, crash hotplug and what a hotplug event will do
  kexec-ts plan [-p] [options] KERNEL    print the load plan (segments, entry, flags, command line), load nothing
  kexec-ts udev-rules [--install [DIR]]  print (or atomically install) the udev rule for crash hotplug
  kexec-ts reload                        repeat the last successful -p load (for udev; coalesces bursts)

Modes:
  -l, --load                 load a kernel for kexec -e
  -p, --load-panic           load a crash (kdump) kernel into the crashkernel= region
  -u, --unload               unload (with -p: the crash kernel)
  -e, --exec                 execute the loaded kernel
  -f, --force                load KERNEL and execute it at once, without shutdown
  -S, --status               exit status 1 when loaded, 0 when not (as kexec-tools)
Load options:
      --append=STRING, --command-line=STRING   kernel command line
      --reuse-cmdline        start from /proc/cmdline (drops BOOT_IMAGE=, and crashkernel= with -p)
      --initrd=FILE, --ramdisk=FILE            initial ramdisk
  -t, --type=TYPE            image type (bzImage64; default: probe)
      --mem-min=ADDR, --mem-max=ADDR           keep segments inside [ADDR, ADDR]
  -i, --no-checks            purgatory skips the SHA-256 check of the segments
      --hotplug              -p: require crash hotplug (fail if the kernel lacks CONFIG_CRASH_HOTPLUG)
      --no-hotplug           -p: load without KEXEC_UPDATE_ELFCOREHDR (default: on when the kernel supports it)
      --console-serial       purgatory reports its SHA-256 check on the serial port
      --serial=PORT          that port (0x3f8 or ttyS0..ttyS3; default 0x3f8)
  -c, --kexec-syscall        use kexec_load (the default)
  -s, --kexec-file-syscall   use kexec_file_load (signed kernels under lockdown / Secure Boot)
  -a, --kexec-syscall-auto   try kexec_file_load, fall back to kexec_load
Output:
      --dry-run              build and print the plan, do not load
      --json                 machine-readable output (status, plan)
  -d, --debug                print the segment table before the syscall
      --system-root=DIR      read /proc and /sys from a saved snapshot under DIR (planning)
  -y, --no-sync              do not sync before -e
  -x, --no-ifdown            accepted; kexec-ts never takes interfaces down
  -h, --help                 this text
  -v, --version              version

Environment:
  KEXEC_TS_RUN_DIR           state directory (default /run/kexec-ts): the last -p load, reload lock and log
  KEXEC_TS_RELOAD_SETTLE_MS  how long reload waits for a burst of hotplug events to end (default 1000; 0 = none)

Exit status: 0 success; 1 error (one line on stderr: the cause and the fix); -S: 1 loaded, 0 not loaded.
`;
