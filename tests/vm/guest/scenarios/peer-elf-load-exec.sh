# The peer: Debian's kexec-tools -c -l --args-linux with the same vmlinux, initrd and kind of command line.
. /kts/tests/vm/guest/esp.sh
block esp mount_esp /efi
mark peer-version "$(kexec -v 2>&1 | head -n1)"
timed load kexec -c -l --type=elf-x86_64 --args-linux /efi/images/vmlinux --initrd=/efi/stage2.cpio --append="console=ttyS0 panic=-1 kts.marker=peer-elf-load"
kexec -e
mark exec-returned "$?"
