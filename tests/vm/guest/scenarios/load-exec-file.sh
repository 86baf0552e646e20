# kexec-ts -s: kexec_file_load gets the descriptors kexec-ts opened and checked (one open per file). An initrd
# through a pipe is refused before the syscall (the kernel reads only regular files) and loads with -c instead
# (read, not mapped); then -s loads the files and -e boots them.
A="console=ttyS0 panic=-1"
mkfifo /tmp/initrd.fifo
cat /boot/stage2.cpio > /tmp/initrd.fifo 2>/dev/null &
block fifo-s kexec-ts -s -l /boot/vmlinuz --initrd=/tmp/initrd.fifo --append="$A kts.marker=ours-fifo-s"
sysval after-fifo-s.kexec_loaded /sys/kernel/kexec_loaded
wait
cat /boot/stage2.cpio > /tmp/initrd.fifo &
timed fifo-c kexec-ts -c -l /boot/vmlinuz --initrd=/tmp/initrd.fifo --append="$A kts.marker=ours-fifo-c"
sysval after-fifo-c.kexec_loaded /sys/kernel/kexec_loaded
wait
timed load kexec-ts -s -l /boot/vmlinuz --initrd=/boot/stage2.cpio --append="$A kts.marker=ours-load-file"
sysval sys.kexec_loaded /sys/kernel/kexec_loaded
kexec-ts -e
mark exec-returned "$?"
