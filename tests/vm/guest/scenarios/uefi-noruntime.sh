# UEFI (OVMF) with the first kernel booted with efi=noruntime: kexec-ts hands over what it can (ACPI through the
# RSDP), says what the next kernel lacks, and the next kernel boots.
first_firmware
block status-json kexec-ts status --json
timed load kexec-ts -l /boot/vmlinuz --initrd=/boot/stage2.cpio --console-serial \
  --append="console=ttyS0 panic=-1 kts.marker=uefi-noruntime"
kexec-ts -e
mark exec-returned "$?"
