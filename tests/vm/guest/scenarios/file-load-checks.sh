# kexec_file_load pre-checks against the real kernel. At each boundary kexec-ts and the kernel agree: where kexec-ts
# refuses (-s -p), the loaded crash kernel stays; the same input through a raw kexec_file_load is refused by the
# kernel too, after it has freed the crash kernel (the reason the checks exist). Lockdown comes last: it cannot be
# lifted.
K=/boot/vmlinuz
I=/boot/stage2.cpio
x() { head -c "$1" /dev/zero | tr '\0' x; }
good() { kexec-ts -p $K --initrd=$I --append="console=ttyS0 kts.marker=good" >/dev/null 2>&1; }
raw() { deno run --allow-all --quiet --cached-only /kts/tests/vm/guest/rawfile.ts "$@"; }
good
sysval start /sys/kernel/kexec_crash_loaded
# 1. The command line: cmdline_size is 2047; with its NUL and the 30 bytes kept for elfcorehdr= at most 2016 fit.
block s-2016 kexec-ts -s -p $K --initrd=$I --append="$(x 2016)"
sysval after-s-2016 /sys/kernel/kexec_crash_loaded
good
block s-2017 kexec-ts -s -p $K --initrd=$I --append="$(x 2017)"
sysval after-s-2017 /sys/kernel/kexec_crash_loaded
raw cmdline-2017 $K $I "$(x 2017)"
sysval after-raw-2017 /sys/kernel/kexec_crash_loaded
good
raw cmdline-2016 $K $I "$(x 2016)"
sysval after-raw-2016 /sys/kernel/kexec_crash_loaded
good
# 2. A kernel without XLF_CAN_BE_LOADED_ABOVE_4G (bit 1 of xloadflags at 0x236 cleared).
cp $K /tmp/below4g
b=$(od -An -tu1 -j $((0x236)) -N1 $K | tr -d ' ')
printf "\\$(printf %o $((b & ~2)))" | dd of=/tmp/below4g bs=1 seek=$((0x236)) conv=notrunc 2>/dev/null
block below4g-s kexec-ts -s -p /tmp/below4g --initrd=$I --append=x
sysval after-below4g-s /sys/kernel/kexec_crash_loaded
block below4g-a kexec-ts -a -p /tmp/below4g --initrd=$I --append="console=ttyS0 kts.marker=below4g-a"
sysval after-below4g-a /sys/kernel/kexec_crash_loaded
raw below4g /tmp/below4g $I x
sysval after-raw-below4g /sys/kernel/kexec_crash_loaded
good
# 3. An empty initrd.
: > /tmp/empty
block empty-initrd kexec-ts -s -p $K --initrd=/tmp/empty --append=x
sysval after-empty-initrd /sys/kernel/kexec_crash_loaded
raw empty-initrd $K /tmp/empty x
sysval after-raw-empty-initrd /sys/kernel/kexec_crash_loaded
good
# 4. Lockdown: kexec_file_load then needs a signed kernel, and Debian's -unsigned one is not.
echo integrity > /sys/kernel/security/lockdown
block lockdown-s kexec-ts -s -p $K --initrd=$I --append=x
sysval after-lockdown-s /sys/kernel/kexec_crash_loaded
raw lockdown $K $I x
sysval after-raw-lockdown /sys/kernel/kexec_crash_loaded
