# Start-up of kexec-ts from the bundle (/bin/kexec-ts: the Debian package's launcher, bundle and Deno) and from the
# source tree (/bin/kexec-ts-src), interleaved in the same guest: --version, and the plan of a -l load. Both print
# the same help.
K=/boot/vmlinuz; I=/boot/stage2.cpio
kexec-ts --version >/dev/null; kexec-ts-src --version >/dev/null
for i in 1 2 3 4 5; do
  timed bundle-version kexec-ts --version
  timed source-version kexec-ts-src --version
  timed bundle-plan kexec-ts plan $K --initrd=$I --append=x
  timed source-plan kexec-ts-src plan $K --initrd=$I --append=x
done
block bundle-help kexec-ts --help
block source-help kexec-ts-src --help
