# Sourced by stage2-init.sh in a capture kernel booted from the capture stage-2 initrd: kexec-ts (Deno + the
# bundle) and kexec-tools' vmcore-dmesg side by side on the live /proc/vmcore and on a saved ELF dump, vmcore-info,
# and the memory and time each takes. Ends the boot.
export HOME=/root DENO_DIR=/tmp/deno DENO_NO_UPDATE_CHECK=1
mkdir -p /root /tmp/deno
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
echo "@@KTS capture.memtotal-kb $(meminfo MemTotal)"
echo "@@KTS capture.memavailable-kb $(meminfo MemAvailable)"
# run NAME CMD...: CMD's stdout to /tmp/NAME.out, its exit status, wall time and peak RSS (busybox time -v).
run() {
  r_name=$1; shift
  r_t0=$(ms)
  time -v -o /tmp/$r_name.time "$@" > /tmp/$r_name.out 2> /tmp/$r_name.err
  r_rc=$?
  echo "@@KTS $r_name.rc $r_rc"
  echo "@@KTS $r_name.ms $(( $(ms) - r_t0 ))"
  echo "@@KTS $r_name.maxrss-kb $(sed -n 's/.*Maximum resident set size (kbytes): //p' /tmp/$r_name.time)"
  echo "@@KTS $r_name.bytes $(wc -c < /tmp/$r_name.out)"
  echo "@@KTS-BEGIN $r_name.stderr"
  head -c 2000 /tmp/$r_name.err
  echo "@@KTS-END-BLOCK $r_name.stderr"
}
# send NAME: the output as a gzip+base64 block, for the host to compare line by line.
send() {
  echo "@@KTS-BEGIN $1.gz"
  gzip -c /tmp/$1.out | base64
  echo "@@KTS-END-BLOCK $1.gz"
}
kts=/bin/kexec-ts
run deno-empty /usr/local/bin/deno eval --quiet "0"
run theirs-live /sbin/vmcore-dmesg /proc/vmcore
run ours-live $kts vmcore-dmesg /proc/vmcore
send theirs-live
send ours-live
run info-live $kts vmcore-info --json
send info-live
run info-text $kts vmcore-info
send info-text
echo "@@KTS capture.memavailable-after-kb $(meminfo MemAvailable)"
# A saved dump, as a kdump script might keep one: the ELF headers, the notes and the kernel image's PT_LOAD (the
# printk buffers live there unless log_buf_len= moved them), copied into a sparse file of the dump's size (the RAM
# reads as zeros, as in a filtered dump). makedumpfile -E -d 31 would write ~180 MB here: more than this tmpfs holds.
phnum=$(od -An -t u2 -j 56 -N 2 /proc/vmcore | tr -d ' ')
end=0; i=0
while [ "$i" -lt "$phnum" ]; do
  o=$((64 + 56 * i))
  if [ "$(od -An -t u4 -j $o -N 4 /proc/vmcore | tr -d ' ')" = 1 ]; then
    end=$(( $(od -An -t u8 -j $((o + 8)) -N 8 /proc/vmcore | tr -d ' ') + $(od -An -t u8 -j $((o + 32)) -N 8 /proc/vmcore | tr -d ' ') ))
    break
  fi
  i=$((i + 1))
done
head -c "$end" /proc/vmcore > /tmp/dump.elf
truncate -s "$(stat -c %s /proc/vmcore)" /tmp/dump.elf
echo "@@KTS dump.bytes $end"
run theirs-saved /sbin/vmcore-dmesg /tmp/dump.elf
run ours-saved $kts vmcore-dmesg /tmp/dump.elf
send theirs-saved
send ours-saved
run info-saved $kts vmcore-info --json /tmp/dump.elf
send info-saved
rm -f /tmp/dump.elf
echo "@@KTS stage2.end"
sync
. /drain.sh
drain_data_channel
poweroff -f
