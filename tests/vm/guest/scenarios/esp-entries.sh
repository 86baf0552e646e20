# A vfat ESP with Type #1 entries and a UKI (Type #2): kexec-ts entries lists them as systemd-boot sorts them,
# -l --boot-entry=default loads the one loader.conf names and says which, -e boots it.
. /kts/tests/vm/guest/esp.sh
block esp mount_esp /efi
block mountinfo grep /efi /proc/self/mountinfo
block entries kexec-ts entries
block entries-json kexec-ts entries --json
block refused kexec-ts -l --boot-entry=windows.conf
block load kexec-ts -l --boot-entry=default
sysval sys.kexec_loaded /sys/kernel/kexec_loaded
kexec-ts -e
mark exec-returned "$?"
