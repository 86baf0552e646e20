# UEFI (OVMF), no initrd, -s: the kernel's own kexec_file loader hands EFI over (setup_efi_state), so kexec-ts gives
# it an empty initramfs through a memfd (with ramdisk_size 0 the next kernel would take the EFI stub's stale INITRD
# table for its initrd and panic). The next kernel has no root file system; the host reads its console.
first_firmware
append="console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1 kts.marker=uefi-noinitrd-file"
block plan kexec-ts plan -s /boot/vmlinuz --append="$append"
timed load kexec-ts -s -l /boot/vmlinuz --append="$append"
sysval sys.kexec_loaded /sys/kernel/kexec_loaded
kexec-ts -e
mark exec-returned "$?"
