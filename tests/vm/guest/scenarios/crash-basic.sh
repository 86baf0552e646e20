# kexec-ts -p, then a panic: the capture kernel (stage-2 initrd) reports /proc/vmcore and runs makedumpfile.
token="kts-first-kernel-$(cut -c1-8 /proc/sys/kernel/random/uuid)"
echo "$token" > /dev/kmsg
mark first-kernel-token "$token"
block first-iomem cat /proc/iomem
mark first-cpus "$(cat /sys/devices/system/cpu/online)"
timed load kexec-ts -p /boot/vmlinuz --initrd=/boot/stage2.cpio --console-serial \
  --reuse-cmdline --append="irqpoll nr_cpus=1 reset_devices kts.marker=ours-crash"
sysval sys.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
sysval sys.memory_crash_hotplug /sys/devices/system/memory/crash_hotplug
block status-json kexec-ts status --json
panic_now
