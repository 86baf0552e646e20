# A crash load with crashkernel=SIZE,cma on the kernel command line, then a panic. kts.loader= picks who loads:
#   kexec-ts   kexec-ts -p (kexec_load; CMA ranges as capture-kernel RAM, left out of the elfcorehdr)
#   file       the newest kexec-tools -s -p: kexec_file_load, i.e. the kernel's own loader (the reference)
#   old        Debian bookworm's kexec-tools 2.0.25 -c -p (kexec_load; knows nothing of CMA)
loader=$(sed -n 's/.*kts\.loader=\([^ ]*\).*/\1/p' /proc/cmdline)
K=/boot/vmlinuz I=/boot/stage2.cpio
A="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 kts.marker=cma-$loader"
mark loader "$loader"
token="kts-first-kernel-$(cut -c1-8 /proc/sys/kernel/random/uuid)"
echo "$token" > /dev/kmsg
mark first-kernel-token "$token"
mark first-cpus "$(cat /sys/devices/system/cpu/online)"
block cma-ranges cat /sys/kernel/kexec/crash_cma_ranges
block meminfo-cma sh -c 'grep -E "^Cma(Total|Free):" /proc/meminfo'
block status-before kexec-ts status --json
block status-text kexec-ts status
case "$loader" in
  kexec-ts)
    block plan kexec-ts plan --json -p $K --initrd=$I --append="$A"
    block load kexec-ts -p $K --initrd=$I --console-serial --append="$A" ;;
  file) block load kexec-new -s -p $K --initrd=$I --append="$A" ;;
  old) block load kexec -c -p $K --initrd=$I --append="$A" ;;
esac
sysval after.kexec_crash_loaded /sys/kernel/kexec/crash_loaded
block first-iomem cat /proc/iomem
panic_now
