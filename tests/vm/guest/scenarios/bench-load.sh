# Load-time benchmark, ours vs Debian's kexec-tools (-c: kexec_load) in the same VM, interleaved, 5 rounds:
#   -l  with the 6.12 kernel and the 64 MiB initrd (bench.l.ours.N / bench.l.peer.N, ms)
#   -p  with the 6.12 kernel and the small stage-2 initrd (bench.p.ours.N / bench.p.peer.N, ms)
# and our peak RSS during -l (bench.l.ours-hwm.N, KiB: VmHWM polled until the process exits), and the Deno
# runtime's own start-up (bench.deno.N: an empty script), which every kexec-ts run pays before our code runs.
# "ours" runs from source (/kts/main.ts); when the image has the bundle (dist/kexec-ts.js, the shipped form) it is
# timed too (bench.l.bundle.N, bench.p.bundle.N).
K=/boot/vmlinuz
BIG=/boot/stage2-big.cpio
SMALL=/boot/stage2.cpio
A="console=ttyS0 panic=-1"
# time_hwm NAME CMD...: runs CMD in the background, polls its VmHWM, marks NAME (ms) and NAME-hwm (KiB).
time_hwm() {
  n=$1; shift
  t0=$(now_ms)
  "$@" >/tmp/out 2>&1 &
  pid=$!; hwm=0
  while kill -0 $pid 2>/dev/null; do
    v=$(awk '/^VmHWM:/ { print $2 }' /proc/$pid/status 2>/dev/null); [ -n "$v" ] && hwm=$v
    usleep 20000
  done
  wait $pid; rc=$?
  mark "$n" $(( $(now_ms) - t0 ))
  mark "$n-hwm" "$hwm"
  [ $rc = 0 ] || { mark "$n-failed" "$rc"; cat /tmp/out; }
}
kexec-ts status >/dev/null  # warm the page cache with Deno and the sources, as a second run would be
BUNDLE=/kts/dist/kexec-ts.js
# A program, not a function: time_hwm reads the VmHWM of the process it starts, which exec makes Deno itself.
printf '#!/bin/sh\nexec deno run --allow-all --quiet --cached-only %s "$@"\n' $BUNDLE > /tmp/bundle && chmod +x /tmp/bundle
[ -f $BUNDLE ] && { /tmp/bundle status >/dev/null; mark bundle yes; }
kexec -c -l $K --initrd=$SMALL --append="$A" && kexec -u
mark sizes "kernel=$(stat -c %s $K) initrd=$(stat -c %s $BIG)"
echo '1;' > /tmp/empty.js
deno run --quiet /tmp/empty.js
for i in 1 2 3 4 5; do
  time_hwm bench.deno.$i deno run --quiet /tmp/empty.js
done
for i in 1 2 3 4 5; do
  time_hwm bench.l.ours.$i kexec-ts -l $K --initrd=$BIG --append="$A"
  time_hwm bench.l.peer.$i kexec -c -l $K --initrd=$BIG --append="$A"
  [ -f $BUNDLE ] && time_hwm bench.l.bundle.$i /tmp/bundle -l $K --initrd=$BIG --append="$A"
done
for i in 1 2 3 4 5; do
  time_hwm bench.p.ours.$i kexec-ts -p $K --initrd=$SMALL --append="$A irqpoll nr_cpus=1"
  time_hwm bench.p.peer.$i kexec -c -p $K --initrd=$SMALL --append="$A irqpoll nr_cpus=1"
  [ -f $BUNDLE ] && time_hwm bench.p.bundle.$i /tmp/bundle -p $K --initrd=$SMALL --append="$A irqpoll nr_cpus=1"
done
