# -p with the ELF vmlinux: kexec-tools refuses (its segments stay at p_paddr, outside the crash region); kexec-ts
# moves it into the crash region by a multiple of 2 MiB; a panic boots it and it writes a dump.
. /kts/tests/vm/guest/esp.sh
token="kts-first-kernel-$(cut -c1-8 /proc/sys/kernel/random/uuid)"
echo "$token" > /dev/kmsg
mark first-kernel-token "$token"
block esp mount_esp /efi
block crash-region crash_region
timed peer kexec -c -p --type=elf-x86_64 --args-linux /efi/images/vmlinux --initrd=/efi/stage2.cpio --reuse-cmdline --append="irqpoll nr_cpus=1 reset_devices kts.marker=peer-elf-crash"
sysval after-peer.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
block plan kexec-ts plan -p /efi/images/vmlinux --initrd=/efi/stage2.cpio --reuse-cmdline --append="irqpoll nr_cpus=1 reset_devices kts.marker=elf-crash"
timed load kexec-ts -p /efi/images/vmlinux --initrd=/efi/stage2.cpio --console-serial --reuse-cmdline --append="irqpoll nr_cpus=1 reset_devices kts.marker=elf-crash"
sysval sys.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
panic_now
