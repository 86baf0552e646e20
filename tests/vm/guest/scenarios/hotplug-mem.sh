# Memory hot-add after a crash load. kts.mode= on the kernel command line picks the variant:
#   on        default load (hotplug on), udev rule installed: the kernel updates the elfcorehdr, no reload
#   off       --no-hotplug, no udev rule: the elfcorehdr goes stale
#   reload    --no-hotplug with the udev rule: kexec-ts reload brings it up to date
#   storm-on / storm-reload   the same with 8 hot-adds of 256 MiB in a row
# kts.pace=MS waits MS milliseconds between hot-adds (the benchmark's paced storm; default 0).
# Then it panics; the capture kernel reports /proc/vmcore.
mode=$(sed -n 's/.*kts\.mode=\([^ ]*\).*/\1/p' /proc/cmdline)
pace=$(sed -n 's/.*kts\.pace=\([0-9]*\).*/\1/p' /proc/cmdline)
adds=1; case "$mode" in storm-*) adds=8 ;; esac
extra=""; case "$mode" in off|reload|storm-reload) extra=--no-hotplug ;; esac
case "$mode" in on|reload|storm-on|storm-reload) start_udevd || mark udevd failed ;; esac
mark mode "$mode"
block load kexec-ts -p $extra /boot/vmlinuz --initrd=/boot/stage2.cpio --console-serial \
  --append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 kts.marker=hotplug-$mode"
sysval before.memory_crash_hotplug /sys/devices/system/memory/crash_hotplug
want=$(( $(online_blocks) + adds * 256 / $(block_mib) ))
poll_crash_loaded_start
t0=$(now_ms)
i=0
while [ $i -lt $adds ]; do
  request hotadd-mem 256 >/dev/null || mark hotadd-failed "$i"
  i=$((i + 1))
  [ -n "$pace" ] && [ $i -lt $adds ] && usleep $((pace * 1000))
done
wait_online_blocks "$want" || mark online-timeout "$(online_blocks)/$want"
mark online.ms $(( $(now_ms) - t0 ))
reloads_settled || mark settle-timeout 1
mark settled.ms $(( $(now_ms) - t0 ))
poll_crash_loaded_stop storm
sysval after.memory_crash_hotplug /sys/devices/system/memory/crash_hotplug
sysval after.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
mark reloads "$(reload_count)"
block reload-log cat /run/kexec-ts/reload.log
block status-json kexec-ts status --json
block crash-hp-dmesg sh -c 'dmesg | grep -i "crash hp" | tail -n 20'
block first-iomem cat /proc/iomem
panic_now
