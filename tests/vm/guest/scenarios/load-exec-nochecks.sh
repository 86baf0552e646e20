# -i: purgatory skips the SHA-256 check (and says so on the serial console).
timed load kexec-ts -i -l /boot/vmlinuz --initrd=/boot/stage2.cpio --console-serial --append="console=ttyS0 panic=-1 kts.marker=ours-nochecks"
kexec-ts -e
mark exec-returned "$?"
