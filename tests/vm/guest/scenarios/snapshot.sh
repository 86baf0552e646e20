# Dumps the files kexec-ts reads (through its SystemView) as base64 blocks, for unit-test fixtures.
dump() {
  [ -e "$1" ] || return 0
  echo "@@KTS-BEGIN file:$1"
  if [ "$1" = /proc/kcore ]; then head -c 65536 "$1" | base64; else base64 < "$1"; fi
  echo "@@KTS-END-BLOCK file:$1"
}
for f in /proc/iomem /proc/cmdline /proc/sys/kernel/osrelease /proc/sys/kernel/random/boot_id /proc/kcore \
  /proc/sys/kernel/kexec_load_disabled /proc/sys/kernel/kexec_load_limit_panic /proc/sys/kernel/kexec_load_limit_reboot \
  /sys/kernel/kexec_loaded /sys/kernel/kexec_crash_loaded /sys/kernel/kexec_crash_size /sys/kernel/crash_elfcorehdr_size \
  /sys/kernel/vmcoreinfo /sys/kernel/boot_params/data /sys/kernel/security/lockdown \
  /sys/devices/system/cpu/possible /sys/devices/system/cpu/present /sys/devices/system/cpu/online \
  /sys/devices/system/cpu/crash_hotplug /sys/devices/system/memory/crash_hotplug; do dump "$f"; done
for c in /sys/devices/system/cpu/cpu[0-9]*; do dump "$c/crash_notes"; dump "$c/crash_notes_size"; done
for m in /sys/firmware/memmap/*; do dump "$m/start"; dump "$m/end"; dump "$m/type"; done
# UEFI machines: the EFI handover's inputs, and the Secure Boot / SetupMode variables (efivarfs, mounted by init).
for f in systab fw_vendor runtime config_table fw_platform_size; do dump "/sys/firmware/efi/$f"; done
for r in /sys/firmware/efi/runtime-map/*; do
  for f in type phys_addr virt_addr num_pages attribute; do dump "$r/$f"; done
done
for v in SecureBoot SetupMode; do dump "/sys/firmware/efi/efivars/$v-8be4df61-93ca-11d2-aa0d-00e098032b8c"; done
grep -E ' __x64_sys_kexec_(file_)?load$' /proc/kallsyms > /tmp/kallsyms.min
echo "@@KTS-BEGIN file:/proc/kallsyms"; base64 < /tmp/kallsyms.min; echo "@@KTS-END-BLOCK file:/proc/kallsyms"
