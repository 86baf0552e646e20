# kexec-ts -f: load and execute at once, without shutdown.
kexec-ts -f /boot/vmlinuz --initrd=/boot/stage2.cpio --append="console=ttyS0 panic=-1 kts.marker=ours-force"
mark force-returned "$?"
