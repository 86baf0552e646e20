# A good crash kernel is loaded; every bad -p that follows must fail before the syscall and leave it loaded,
# lockdown included. Then a panic proves the original crash kernel still works.
K=/boot/vmlinuz
I=/boot/stage2.cpio
block load kexec-ts -p $K --initrd=$I --append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 kts.marker=first-good"
sysval loaded.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
head -c 300000 $K > /tmp/truncated
truncate -s 200M /tmp/huge-initrd
printf '\177ELF' > /tmp/elf-initrd && cat $I >> /tmp/elf-initrd
block bad-truncated kexec-ts -p /tmp/truncated --initrd=$I --append=x
sysval after-truncated /sys/kernel/kexec_crash_loaded
block bad-missing-initrd kexec-ts -p $K --initrd=/nonexistent --append=x
sysval after-missing-initrd /sys/kernel/kexec_crash_loaded
block bad-too-big kexec-ts -p $K --initrd=/tmp/huge-initrd --append=x
sysval after-too-big /sys/kernel/kexec_crash_loaded
block bad-mem-window kexec-ts -p $K --initrd=$I --mem-max=0x1000000 --append=x
sysval after-mem-window /sys/kernel/kexec_crash_loaded
deno run --allow-all --quiet --cached-only /kts/tests/vm/guest/tamper.ts overlap -p $K --initrd=$I --append=x
sysval after-overlap /sys/kernel/kexec_crash_loaded
block bad-elf-initrd kexec-ts -p $K --initrd=/tmp/elf-initrd --append=x
sysval after-elf-initrd /sys/kernel/kexec_crash_loaded
echo integrity > /sys/kernel/security/lockdown
block bad-lockdown kexec-ts -p $K --initrd=$I --append=x
sysval after-lockdown /sys/kernel/kexec_crash_loaded
panic_now
