# CPU hot-add after a crash load (needs the ACPI table upgrade, scripts/vm/acpi.ts). kts.mode= as for memory:
#   on (default load + udev rule), off (--no-hotplug), reload (--no-hotplug + udev rule), storm-on (6 CPUs)
# New CPUs arrive offline (no udev rule onlines them here); the script onlines them, then panics.
mode=$(sed -n 's/.*kts\.mode=\([^ ]*\).*/\1/p' /proc/cmdline)
adds=1; case "$mode" in storm-*) adds=6 ;; esac
extra=""; case "$mode" in off|reload|storm-reload) extra=--no-hotplug ;; esac
case "$mode" in on|reload|storm-on|storm-reload) start_udevd || mark udevd failed ;; esac
present_count() { ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l; }
online_count() { n=0; for c in /sys/devices/system/cpu/cpu[0-9]*; do [ ! -f $c/online ] || [ "$(cat $c/online)" = 1 ] && n=$((n + 1)); done; echo $n; }
mark mode "$mode"
mark before.possible "$(cat /sys/devices/system/cpu/possible)"
block load kexec-ts -p $extra /boot/vmlinuz --initrd=/boot/stage2.cpio --console-serial \
  --append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 kts.marker=cpu-$mode"
sysval before.cpu_crash_hotplug /sys/devices/system/cpu/crash_hotplug
want=$(( $(present_count) + adds ))
poll_crash_loaded_start
i=0
while [ $i -lt $adds ]; do
  request hotadd-cpu >/dev/null || mark hotadd-failed "$i"
  i=$((i + 1))
done
w=0
until [ "$(present_count)" -ge $want ]; do w=$((w + 1)); [ $w -gt 600 ] && { mark present-timeout "$(present_count)/$want"; break; }; sleep 0.1; done
udevadm settle --timeout=30 2>/dev/null
for c in /sys/devices/system/cpu/cpu[0-9]*; do
  [ -f $c/online ] && [ "$(cat $c/online)" = 0 ] && echo 1 > $c/online
done
reloads_settled || mark settle-timeout 1
poll_crash_loaded_stop storm
mark after.present "$(cat /sys/devices/system/cpu/present)"
mark first-cpus "$(cat /sys/devices/system/cpu/online)"
sysval after.cpu_crash_hotplug /sys/devices/system/cpu/crash_hotplug
sysval after.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
mark reloads "$(reload_count)"
block reload-log cat /run/kexec-ts/reload.log
block status-json kexec-ts status --json
block first-iomem cat /proc/iomem
panic_now
