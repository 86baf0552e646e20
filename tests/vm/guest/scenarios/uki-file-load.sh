# kexec_file_load of a UKI: Debian's kexec-tools (2.0.25, no UKI support) first, then kexec-ts -s, which hands the
# kernel memfds of .linux and of .ucode + .initrd; -e boots it.
. /kts/tests/vm/guest/esp.sh
block esp mount_esp /efi
mark peer-version "$(kexec -v 2>&1 | head -n1)"
timed peer kexec -s -l /efi/EFI/Linux/kts-uki.efi
sysval after-peer.kexec_loaded /sys/kernel/kexec_loaded
block plan kexec-ts plan -s /efi/EFI/Linux/kts-uki.efi
timed load kexec-ts -s -l /efi/EFI/Linux/kts-uki.efi
sysval sys.kexec_loaded /sys/kernel/kexec_loaded
kexec-ts -e
mark exec-returned "$?"
