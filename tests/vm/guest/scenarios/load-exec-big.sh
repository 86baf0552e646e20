# A 64 MiB initrd (random payload), verified by purgatory, then -e; stage 2 prints the payload's SHA-256.
timed load kexec-ts -l /boot/vmlinuz --initrd=/boot/stage2-big.cpio --console-serial --append="console=ttyS0 panic=-1 kts.marker=ours-big"
kexec-ts -e
mark exec-returned "$?"
