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
# A UKI's .ucode archive (the image tests put a marker file in it): it was unpacked before the initrd.
[ -f /kts-ucode ] && echo "@@KTS stage2.ucode $(cat /kts-ucode)"
echo "@@KTS stage2.kernel $(uname -r)"
echo "@@KTS stage2.memtotal $(grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2)"
# Firmware the kernel was handed: EFI (runtime services, runtime map, variables through efivarfs), DMI, ACPI.
if [ -d /sys/firmware/efi ]; then
  echo "@@KTS stage2.efi present"
  [ -e /sys/firmware/efi/runtime ] && echo "@@KTS stage2.efi-runtime $(cat /sys/firmware/efi/runtime)"
  if [ -d /sys/firmware/efi/runtime-map ]; then
    echo "@@KTS stage2.efi-runtime-map $(ls /sys/firmware/efi/runtime-map | wc -l)"
    echo "@@KTS-BEGIN stage2.efi-runtime-map-entries"
    for r in /sys/firmware/efi/runtime-map/*; do
      echo "$(cat $r/type) $(cat $r/phys_addr) $(cat $r/num_pages) $(cat $r/attribute)"
    done
    echo "@@KTS-END-BLOCK stage2.efi-runtime-map-entries"
  fi
  if [ -d /sys/firmware/efi/efivars ]; then
    insmod "/lib/modules/$(uname -r)/efivarfs.ko" 2>/dev/null
    mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
    echo "@@KTS stage2.efivars-count $(ls /sys/firmware/efi/efivars | wc -l)"
    # PlatformLang: a non-volatile variable, read from the firmware's store through GetVariable.
    v=/sys/firmware/efi/efivars/PlatformLang-8be4df61-93ca-11d2-aa0d-00e098032b8c
    [ -f "$v" ] && echo "@@KTS stage2.efivar-platformlang $(tail -c +5 "$v" | tr -d '\000')"
  fi
else
  echo "@@KTS stage2.efi absent"
fi
echo "@@KTS stage2.dmi-vendor $(cat /sys/class/dmi/id/sys_vendor 2>/dev/null || echo absent)"
echo "@@KTS stage2.acpi-tables $(ls /sys/firmware/acpi/tables 2>/dev/null | wc -l)"
echo "@@KTS-BEGIN stage2.firmware-dmesg"
dmesg | grep -E 'efi: |SMBIOS |DMI: |ACPI: RSDP|BIOS-e820: ' | sed 's/^\[[^]]*\] //'
echo "@@KTS-END-BLOCK stage2.firmware-dmesg"
if [ -f /payload.bin ]; then
  echo "@@KTS stage2.payload-sha256 $(sha256sum /payload.bin | cut -d' ' -f1)"
fi
if [ -e /proc/vmcore ]; then
  echo "@@KTS capture.vmcore-size $(stat -c %s /proc/vmcore)"
  # The capture stage-2 initrd brings its own checks (kexec-ts and kexec-tools side by side); they end the boot.
  [ -f /capture-tools.sh ] && . /capture-tools.sh
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
. /drain.sh
drain_data_channel
poweroff -f
