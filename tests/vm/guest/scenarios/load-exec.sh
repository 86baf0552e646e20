# kexec-ts -l with our stage-2 initrd and a marker on the command line, then -e: the stage-2 init reports.
args="/boot/vmlinuz --initrd=/boot/stage2.cpio --console-serial --append=console=ttyS0 panic=-1 kts.marker=ours-load-exec"
block plan kexec-ts plan /boot/vmlinuz --initrd=/boot/stage2.cpio --append="console=ttyS0 panic=-1 kts.marker=ours-load-exec"
timed load kexec-ts -d -l /boot/vmlinuz --initrd=/boot/stage2.cpio --console-serial --append="console=ttyS0 panic=-1 kts.marker=ours-load-exec"
sysval sys.kexec_loaded /sys/kernel/kexec_loaded
block status-exit kexec-ts -l -S
kexec-ts -e
mark exec-returned "$?"
