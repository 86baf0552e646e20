# The demo, narrated: crash hotplug for kexec_load end to end.
say() { echo; echo "=== $*"; }
say "kexec-ts status: crashkernel=256M is reserved, nothing is loaded yet"
kexec-ts status
say "kexec-ts plan -p: the load, laid out and checked, without loading (no root needed)"
kexec-ts plan -p /boot/vmlinuz --initrd=/boot/stage2.cpio --append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1"
say "kexec-ts -p: load the crash kernel; hotplug support is on because the kernel has CONFIG_CRASH_HOTPLUG"
kexec-ts -p /boot/vmlinuz --initrd=/boot/stage2.cpio --console-serial \
  --append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 kts.marker=demo"
kexec-ts status
say "hot-adding 512 MiB of memory through QEMU's QMP (MemTotal $(mem_total_kb) KiB before)"
hotadd_mem 512 && echo "MemTotal is now $(mem_total_kb) KiB"
echo "memory crash_hotplug = $(cat /sys/devices/system/memory/crash_hotplug): the kernel rewrote the elfcorehdr in place; nothing was reloaded"
dmesg | grep -i "crash hp" | tail -n 3
say "panic (echo c > /proc/sysrq-trigger): the capture kernel takes over"
mark demo-ram "$(grep 'System RAM' /proc/iomem | tr -d ' ' | tr '\n' ' ')"
panic_now
