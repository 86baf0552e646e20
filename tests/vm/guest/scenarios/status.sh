# status --json and the raw kernel values it must match; also the human table.
sysval sys.kexec_loaded /sys/kernel/kexec_loaded
sysval sys.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
sysval sys.kexec_crash_size /sys/kernel/kexec_crash_size
sysval sys.crash_elfcorehdr_size /sys/kernel/crash_elfcorehdr_size
sysval sys.cpu_crash_hotplug /sys/devices/system/cpu/crash_hotplug
sysval sys.memory_crash_hotplug /sys/devices/system/memory/crash_hotplug
sysval sys.lockdown /sys/kernel/security/lockdown
sysval sys.kexec_load_disabled /proc/sys/kernel/kexec_load_disabled
sysval sys.kexec_load_limit_panic /proc/sys/kernel/kexec_load_limit_panic
sysval sys.kexec_load_limit_reboot /proc/sys/kernel/kexec_load_limit_reboot
# 6.19+: the same attributes under /sys/kernel/kexec/ (the old names become symlinks), and the CMA ranges.
for a in loaded crash_loaded crash_size crash_elfcorehdr_size crash_cma_ranges; do sysval "sys.kexec/$a" "/sys/kernel/kexec/$a"; done
sysval sys.kexec_crash_cma_ranges /sys/kernel/kexec_crash_cma_ranges
mark sys.crash_region "$(crash_region)"
mark sys.kallsyms_kexec_load "$(grep ' __x64_sys_kexec_load$' /proc/kallsyms | cut -d' ' -f2)"
timed status-json kexec-ts status --json
block status-text kexec-ts status
