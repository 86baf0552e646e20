# UEFI (OVMF), no initrd: with EFI handed over, kexec-ts passes an empty initramfs in its place (a kernel handed EFI
# with ramdisk_size 0 takes the EFI stub's stale INITRD table for its initrd and panics at once). A plain -l of the
# kernel without --initrd is planned and loaded; then a UKI without .initrd (its own .cmdline) replaces it and is
# booted. The next kernel has no root file system it could mount (its disk drivers are modules), so the host reads
# its console: EFI, the 512-byte ramdisk unpacked and freed, and the end expected without one, "VFS: Unable to mount
# root fs".
first_firmware
append="console=ttyS0 panic=-1 kts.marker=uefi-noinitrd"
block plan kexec-ts plan /boot/vmlinuz --append="$append"
timed load-plain kexec-ts -l /boot/vmlinuz --append="$append"
block plan-uki kexec-ts plan /boot/noinitrd-uki.efi
timed load kexec-ts -l --console-serial /boot/noinitrd-uki.efi
sysval sys.kexec_loaded /sys/kernel/kexec_loaded
kexec-ts -e
mark exec-returned "$?"
