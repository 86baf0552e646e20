# UEFI (OVMF): kexec-ts -p hands EFI to the capture kernel; 256 MiB are hot-added after the load (the kernel
# updates the elfcorehdr in place); then a panic. Before the load: status, the plan (EFI records), and the plan of a
# kernel without a runtime map (an empty tmpfs over /sys/firmware/efi/runtime-map) that must say what is lost.
token="kts-first-kernel-$(cut -c1-8 /proc/sys/kernel/random/uuid)"
echo "$token" > /dev/kmsg
mark first-kernel-token "$token"
first_firmware
block first-runtime-map sh -c 'for r in /sys/firmware/efi/runtime-map/*; do
  echo "$(cat $r/type) $(cat $r/phys_addr) $(cat $r/num_pages)"; done'
block status-json kexec-ts status --json
append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 kts.marker=uefi-crash"
block plan-json kexec-ts plan --json -p /boot/vmlinuz --initrd=/boot/stage2.cpio --append="$append"
if mount -t tmpfs none /sys/firmware/efi/runtime-map; then
  block plan-nomap kexec-ts plan -p /boot/vmlinuz --initrd=/boot/stage2.cpio --append="$append"
  umount /sys/firmware/efi/runtime-map
fi
timed load kexec-ts -p /boot/vmlinuz --initrd=/boot/stage2.cpio --console-serial --append="$append"
sysval sys.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
sysval before.memory_crash_hotplug /sys/devices/system/memory/crash_hotplug
hotadd_mem 256 || mark hotadd-failed "$(online_blocks)"
sysval after.memory_crash_hotplug /sys/devices/system/memory/crash_hotplug
mark first-cpus "$(cat /sys/devices/system/cpu/online)"
block first-iomem cat /proc/iomem
panic_now
