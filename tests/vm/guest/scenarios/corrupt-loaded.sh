# Memory corruption between load and exec: purgatory must refuse to enter the kernel.
deno run --allow-all --quiet --cached-only /kts/tests/vm/guest/tamper.ts corrupt-loaded \
  -l /boot/vmlinuz --initrd=/boot/stage2.cpio --console-serial --append="console=ttyS0 panic=-1 kts.marker=corrupt"
sysval sys.kexec_loaded /sys/kernel/kexec_loaded
kexec-ts -e
mark exec-returned "$?"
