# The capture side: kexec-ts -p with the capture image (Deno, the kexec-ts bundle, kexec-tools' vmcore-dmesg), a
# 256 MiB DIMM hot-added after the load, then a panic whose message the test chooses (init exits with a random
# code). The capture kernel runs tests/vm/guest/capture-tools.sh.
token="kts-first-kernel-$(cut -c1-8 /proc/sys/kernel/random/uuid)"
echo "$token" > /dev/kmsg
mark first-kernel-token "$token"
mark first-release "$(uname -r)"
mark first-cpus "$(cat /sys/devices/system/cpu/online)"
# rootfstype=ramfs: the initramfs is ramfs, as when root= is on the command line (kdump-tools reuses the system's);
# without it the kernel makes it a tmpfs limited to half the capture kernel's memory.
block load kexec-ts -p /boot/vmlinuz --initrd=/boot/stage2-capture.cpio.gz \
  --append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 rootfstype=ramfs kts.marker=capture-tools"
sysval first.memory_crash_hotplug /sys/devices/system/memory/crash_hotplug
blocks=$(online_blocks)
request hotadd-mem 256 >/dev/null || mark hotadd-failed 1
# Kernels without a default online policy (6.1) leave the new blocks offline: online them.
sleep 1
for f in /sys/devices/system/memory/memory*/state; do
  [ "$(cat "$f")" = offline ] && echo online > "$f" 2>/dev/null
done
wait_online_blocks $((blocks + 256 / $(block_mib))) || mark online-timeout "$(online_blocks)"
block first-iomem cat /proc/iomem
code=$(( $(od -An -N1 -tu1 /dev/urandom) % 250 + 3 ))
mark panic-code "$code"
mark first-date "$(date +%s)"
exit_init "$code"
