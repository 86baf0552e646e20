# Where a kexec-ts run spends its time in the guest (diagnostics for the load benchmark).
K=/boot/vmlinuz; I=/boot/stage2.cpio
echo 'console.log(1)' > /tmp/a.js
deno run --quiet /tmp/a.js >/dev/null
kexec-ts --version >/dev/null
for i in 1 2 3; do
  timed deno-empty deno run --quiet /tmp/a.js
  timed version kexec-ts --version
  timed plan-p kexec-ts plan -p $K --initrd=$I --append=x
  timed load-p kexec-ts -p $K --initrd=$I --append=x
  timed peer-p kexec -c -p $K --initrd=$I --append=x
done
