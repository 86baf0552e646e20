# UEFI (OVMF), the peer: Debian's kexec-tools -c -l then -e, same kernel and initrd.
first_firmware
mark peer-version "$(kexec -v 2>&1 | head -n1)"
timed load kexec -c -l /boot/vmlinuz --initrd=/boot/stage2.cpio --append="console=ttyS0 panic=-1 kts.marker=uefi-peer-load-exec"
kexec -e
mark exec-returned "$?"
