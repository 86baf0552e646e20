# UEFI (OVMF): kexec-ts -l then -e; the second kernel (stage-2 init) reports the EFI, DMI and ACPI it was handed.
first_firmware
timed load kexec-ts -l /boot/vmlinuz --initrd=/boot/stage2.cpio --console-serial \
  --append="console=ttyS0 panic=-1 kts.marker=uefi-load-exec"
kexec-ts -e
mark exec-returned "$?"
