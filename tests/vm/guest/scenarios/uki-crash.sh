# -p from a boot entry naming a UKI profile (kts-uki.efi@kdump: its own capture command line), then a panic: the
# capture kernel boots from the UKI's .linux with .ucode + .initrd and writes a dump.
. /kts/tests/vm/guest/esp.sh
token="kts-first-kernel-$(cut -c1-8 /proc/sys/kernel/random/uuid)"
echo "$token" > /dev/kmsg
mark first-kernel-token "$token"
block esp mount_esp /efi
timed load kexec-ts -p --boot-entry=kts-uki.efi@kdump --console-serial
sysval sys.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
block status kexec-ts status
block status-json kexec-ts status --json
panic_now
