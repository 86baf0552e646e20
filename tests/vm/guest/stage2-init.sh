#!/bin/busybox sh
# /init of the stage-2 initrd: booted by a kernel that kexec-ts (or kexec-tools) loaded. Reports what it sees
# on the data channel (ttyS1): the command line, this initrd's marker, the payload checksum, and, in a capture
# kernel, what /proc/vmcore holds and whether makedumpfile can write a dump from it. Then powers off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec >/dev/ttyS1 2>&1
echo "@@KTS stage2.boot $(cut -d' ' -f1 /proc/uptime)"
echo "@@KTS stage2.cmdline $(cat /proc/cmdline)"
echo "@@KTS stage2.marker $(cat /kts-marker)"
echo "@@KTS stage2.kernel $(uname -r)"
echo "@@KTS stage2.memtotal $(grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2)"
if [ -f /payload.bin ]; then
  echo "@@KTS stage2.payload-sha256 $(sha256sum /payload.bin | cut -d' ' -f1)"
fi
if [ -e /proc/vmcore ]; then
  echo "@@KTS capture.vmcore-size $(stat -c %s /proc/vmcore)"
  # ELF header, program headers and the merged notes sit at the start of /proc/vmcore.
  echo "@@KTS-BEGIN capture.vmcore-head"
  head -c 65536 /proc/vmcore | base64
  echo "@@KTS-END-BLOCK capture.vmcore-head"
  echo "@@KTS-BEGIN capture.iomem"
  cat /proc/iomem
  echo "@@KTS-END-BLOCK capture.iomem"
  if makedumpfile --dump-dmesg /proc/vmcore /tmp/dmesg.txt >/tmp/md1.log 2>&1; then
    echo "@@KTS capture.dmesg-marker $(grep -o 'kts-first-kernel-[0-9a-z]*' /tmp/dmesg.txt | tail -n1)"
  else
    echo "@@KTS capture.dmesg-failed $(tail -n 3 /tmp/md1.log | tr '\n' ' ')"
  fi
  t0=$(awk '{ printf "%d", $1 * 1000 }' /proc/uptime)
  makedumpfile -l -d 31 /proc/vmcore /tmp/dump >/tmp/md.log 2>&1
  rc=$?
  t1=$(awk '{ printf "%d", $1 * 1000 }' /proc/uptime)
  echo "@@KTS capture.makedumpfile-rc $rc"
  echo "@@KTS capture.makedumpfile-ms $((t1 - t0))"
  echo "@@KTS capture.dump-size $(stat -c %s /tmp/dump 2>/dev/null || echo 0)"
  echo "@@KTS-BEGIN capture.makedumpfile-log"
  tail -n 20 /tmp/md.log
  echo "@@KTS-END-BLOCK capture.makedumpfile-log"
fi
echo "@@KTS stage2.end"
sync
poweroff -f
