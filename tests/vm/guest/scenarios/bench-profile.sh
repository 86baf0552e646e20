# Diagnostics: where a load's time goes (tests/vm/guest/profile.ts), for -p (small initrd) and -l (64 MiB).
echo 'import "node:crypto";' > /tmp/nc.ts; echo '1;' > /tmp/e.ts
deno run --quiet /tmp/e.ts; deno run --quiet /tmp/nc.ts
for i in 1 2 3; do
  timed empty deno run --quiet /tmp/e.ts
  timed version kexec-ts --version
  deno run --allow-all --quiet /kts/tests/vm/guest/profile.ts -p /boot/vmlinuz --initrd=/boot/stage2.cpio --append=x
  deno run --allow-all --quiet /kts/tests/vm/guest/profile.ts -l /boot/vmlinuz --initrd=/boot/stage2-big.cpio --append=x
done
