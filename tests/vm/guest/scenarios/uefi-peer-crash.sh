# UEFI (OVMF), the peer: Debian's kexec-tools -c -p with the same files, then a panic.
first_firmware
block first-runtime-map sh -c 'for r in /sys/firmware/efi/runtime-map/*; do
  echo "$(cat $r/type) $(cat $r/phys_addr) $(cat $r/num_pages)"; done'
block first-iomem cat /proc/iomem
timed load kexec -c -p /boot/vmlinuz --initrd=/boot/stage2.cpio \
  --append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 kts.marker=uefi-peer-crash"
sysval sys.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
panic_now
