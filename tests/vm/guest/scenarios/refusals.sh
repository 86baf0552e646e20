# Plans that must be refused before the syscall, with nothing loaded afterwards.
K=/boot/vmlinuz
I=/boot/stage2.cpio
kts_tamper() { deno run --allow-all --quiet --cached-only /kts/tests/vm/guest/tamper.ts "$@"; }
kts_tamper overlap -l $K --initrd=$I --append=x
kts_tamper too-many -l $K --initrd=$I --append=x
sysval after-plans.kexec_loaded /sys/kernel/kexec_loaded
head -c 300000 $K > /tmp/truncated
block truncated kexec-ts -l /tmp/truncated --initrd=$I
block missing-initrd kexec-ts -l $K --initrd=/nonexistent
block not-a-kernel kexec-ts -l /boot/stage2.cpio
block mem-window kexec-ts -l $K --initrd=$I --mem-min=0x100000 --mem-max=0x1ffffff
sysval after-cli.kexec_loaded /sys/kernel/kexec_loaded
