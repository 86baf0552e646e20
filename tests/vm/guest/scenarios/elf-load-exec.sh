# The ELF vmlinux out of Debian's bzImage: kexec-ts -l puts its PT_LOADs at their p_paddr and enters startup_64
# with boot_params; -e boots it with our command line and initrd. Before that, in the same boot, the peer loads the
# same files (kexec-tools -c --args-linux) and is unloaded again, so that the load times compare.
. /kts/tests/vm/guest/esp.sh
block esp mount_esp /efi
cat /efi/images/vmlinux /efi/stage2.cpio > /dev/null # both loads read them from the page cache
timed peer-load kexec -c -l --type=elf-x86_64 --args-linux /efi/images/vmlinux --initrd=/efi/stage2.cpio --append="console=ttyS0 panic=-1 kts.marker=peer-elf-load"
block peer-unload kexec -u
block plan kexec-ts plan /efi/images/vmlinux --initrd=/efi/stage2.cpio --append="console=ttyS0 panic=-1 kts.marker=elf-load"
timed load kexec-ts -l /efi/images/vmlinux --initrd=/efi/stage2.cpio --console-serial --append="console=ttyS0 panic=-1 kts.marker=elf-load"
sysval sys.kexec_loaded /sys/kernel/kexec_loaded
kexec-ts -e
mark exec-returned "$?"
