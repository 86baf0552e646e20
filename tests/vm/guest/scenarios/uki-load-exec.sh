# A UKI made with systemd-stub: kexec-ts -l takes .linux, .ucode + .initrd and .cmdline from it; -e boots it.
. /kts/tests/vm/guest/esp.sh
block esp mount_esp /efi
block plan kexec-ts plan /efi/EFI/Linux/kts-uki.efi
timed load kexec-ts -l /efi/EFI/Linux/kts-uki.efi
sysval sys.kexec_loaded /sys/kernel/kexec_loaded
kexec-ts -e
mark exec-returned "$?"
