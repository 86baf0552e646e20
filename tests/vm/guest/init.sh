#!/bin/busybox sh
# Guest /init for the main VM image: mounts the kernel filesystems, then runs the scenario named by
# kts.scenario= on the kernel command line with its output on the data channel (ttyS1), then powers off.
/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin HOME=/root DENO_DIR=/root/.cache/deno DENO_NO_UPDATE_CHECK=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t securityfs securityfs /sys/kernel/security
# UEFI guests: efivarfs (a module in Debian's kernels; the image carries it), so EFI variables can be read.
if [ -d /sys/firmware/efi/efivars ]; then
  insmod "/lib/modules/$(uname -r)/efivarfs.ko" 2>/dev/null
  mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
fi
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec >/dev/ttyS1 2>&1 </dev/ttyS1
scenario=$(sed -n 's/.*kts\.scenario=\([^ ]*\).*/\1/p' /proc/cmdline)
. /kts/tests/vm/guest/lib.sh
mark boot "$(cut -d' ' -f1 /proc/uptime)"
mark kernel "$(uname -r)"
rc=0
for part in $(echo "$scenario" | tr '+' ' '); do
  if [ -f "/kts/tests/vm/guest/scenarios/$part.sh" ]; then
    # A subshell, so a failing scenario cannot take init (and the kernel) down with it.
    (. "/kts/tests/vm/guest/scenarios/$part.sh")
    r=$?
  else
    echo "no such scenario: $part"
    r=127
  fi
  mark "scenario.$part" "rc=$r"
  [ "$r" = 0 ] || rc=$r
done
mark end "rc=$rc"
sync
# poweroff -f (and a panic) do not wait for the UART: what is still in ttyS1's buffer would be lost.
drain_data_channel
# A scenario may end the first kernel by making init exit with a code it chose (exit_init in lib.sh): the kernel
# panics with "Attempted to kill init! exitcode=0x...", a panic message the test knows in advance.
if [ -f /tmp/kts-init-exit ]; then
  exit "$(cat /tmp/kts-init-exit)"
fi
poweroff -f
