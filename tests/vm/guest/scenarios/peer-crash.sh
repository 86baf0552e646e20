# The peer: Debian's kexec-tools -c -p with the same files, then a panic.
block first-iomem cat /proc/iomem
timed load kexec -c -p /boot/vmlinuz --initrd=/boot/stage2.cpio \
  --append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 kts.marker=peer-crash"
sysval sys.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
panic_now
