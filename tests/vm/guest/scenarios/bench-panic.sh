# Panic-to-capture timing: load a crash kernel with kts.loader= (ours or peer), then panic; the host times the
# console from "Kernel panic" to the capture kernel's first line.
loader=$(sed -n 's/.*kts\.loader=\([^ ]*\).*/\1/p' /proc/cmdline)
A="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 kts.marker=bench-$loader"
if [ "$loader" = peer ]; then
  block load kexec -c -p /boot/vmlinuz --initrd=/boot/stage2.cpio --append="$A"
else
  block load kexec-ts -p /boot/vmlinuz --initrd=/boot/stage2.cpio --append="$A"
fi
panic_now
