# Panic-to-capture timing: load a crash kernel with kts.loader= (ours or peer), then panic; the host times the
# console from "Kernel panic" to the capture kernel's first line. kts.kdump_mib=N appends N MiB of random data to
# the stage-2 initrd (a second cpio archive), so that the initrd is the size of a distribution's kdump initrd.
loader=$(sed -n 's/.*kts\.loader=\([^ ]*\).*/\1/p' /proc/cmdline)
pad_mib=$(sed -n 's/.*kts\.kdump_mib=\([0-9]*\).*/\1/p' /proc/cmdline)
initrd=/boot/stage2.cpio
if [ -n "$pad_mib" ]; then
  mkdir -p /tmp/pad && head -c $((pad_mib * 1048576)) /dev/urandom > /tmp/pad/kdump-payload
  (cd /tmp/pad && echo kdump-payload | cpio -o -H newc > /tmp/pad.cpio 2>/dev/null)
  cat /boot/stage2.cpio /tmp/pad.cpio > /tmp/kdump.img && rm -rf /tmp/pad /tmp/pad.cpio
  initrd=/tmp/kdump.img
fi
mark initrd-bytes "$(stat -c %s $initrd)"
A="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 kts.marker=bench-$loader"
# --console-serial: both purgatories print one line (kexec-tools' on entry, ours after its hash), which times them.
if [ "$loader" = peer ]; then
  block load kexec -c -p /boot/vmlinuz --initrd=$initrd --console-serial --append="$A"
else
  block load kexec-ts -p /boot/vmlinuz --initrd=$initrd --console-serial --append="$A"
fi
panic_now
