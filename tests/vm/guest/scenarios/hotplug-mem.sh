# Memory hot-add after a crash load, then a panic; the capture kernel reports /proc/vmcore. The crash-hotplug table
# (tests/vm/matrix.ts) runs one boot per kernel and loader, chosen on the kernel command line:
#   kts.loader=  kexec-ts        kexec-ts -p (hotplug on whenever the kernel has CONFIG_CRASH_HOTPLUG)
#                kexec-ts-nohp   kexec-ts -p --no-hotplug
#                old             Debian bookworm's kexec-tools 2.0.25, -c -p (kexec_load; it has no --hotplug)
#                new             the newest kexec-tools (trixie's 2.0.29), -c -p --hotplug
#   kts.udev=    phases, comma-separated, each with its own `kexec-ts status --json` (block status-phaseN) and then
#                its own hot-add(s) (markers phaseN.*):
#                rule  the loader's udev rule: kexec-ts' own (kexec-ts udev-rules --install) for kexec-ts, and for
#                      kexec-tools a kdump-utils-style 98-kexec.rules that skips when crash_hotplug reads 1 and
#                      otherwise reloads through the same kexec-tools and command (tests/vm/guest/peer-reload.sh)
#                none  no rule and no udevd (a running one is stopped and the rule removed)
#                `rule,none` tests both cells of a loader in one boot: a reload in the first phase brings the
#                crash kernel up to date, so the dump shows the second phase's DIMM missing when nothing reloads.
#   kts.adds=N   hot-adds of 256 MiB per phase (default 1); kts.pace=MS waits MS milliseconds between them
#   kts.refuse=1 first try the loads this kernel must refuse (--hotplug without CONFIG_CRASH_HOTPLUG), each of
#                which must leave nothing loaded
# The older kts.mode= still works: on (kexec-ts + rule), off (kexec-ts-nohp, none), reload (kexec-ts-nohp + rule),
# storm-on / storm-reload (the same with 8 hot-adds).
arg() { sed -n "s/.*kts\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
mode=$(arg mode)
loader=$(arg loader); udev=$(arg udev); adds=$(arg adds); pace=$(arg pace)
case "$mode" in
  on) loader=kexec-ts udev=rule ;;
  off) loader=kexec-ts-nohp udev=none ;;
  reload) loader=kexec-ts-nohp udev=rule ;;
  storm-on) loader=kexec-ts udev=rule adds=8 ;;
  storm-reload) loader=kexec-ts-nohp udev=rule adds=8 ;;
esac
: "${loader:=kexec-ts}" "${udev:=none}" "${adds:=1}"
cell="${mode:-$loader}"
K=/boot/vmlinuz I=/boot/stage2.cpio
A="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 memhp_default_state=offline kts.marker=hotplug-$cell"
case "$loader" in
  kexec-ts) load="kexec-ts -p $K --initrd=$I --console-serial" ;;
  kexec-ts-nohp) load="kexec-ts -p --no-hotplug $K --initrd=$I --console-serial" ;;
  old) load="kexec -c -p $K --initrd=$I" ;;
  new) load="kexec-new -c -p --hotplug $K --initrd=$I" ;;
  *) mark bad-loader "$loader"; exit 2 ;;
esac
mark mode "$cell"
mark loader "$loader"
mark udev "$udev"
token="kts-first-kernel-$(cut -c1-8 /proc/sys/kernel/random/uuid)"
echo "$token" > /dev/kmsg
mark first-kernel-token "$token"
mark first-cpus "$(cat /sys/devices/system/cpu/online)"
case "$loader" in old) mark peer-version "$(kexec -v 2>&1 | head -n1)" ;; new) mark peer-version "$(kexec-new -v 2>&1 | head -n1)" ;; esac

if [ "$(arg refuse)" = 1 ]; then
  block refuse-new kexec-new -c -p --hotplug $K --initrd=$I --append="$A"
  sysval refuse-new.crash_loaded /sys/kernel/kexec_crash_loaded
  block refuse-kexec-ts kexec-ts -p --hotplug $K --initrd=$I --append="$A"
  sysval refuse-kexec-ts.crash_loaded /sys/kernel/kexec_crash_loaded
fi

# udev_phase rule|none: the loader's rule installed and udevd running, or neither.
udevd_running=0
udev_phase() {
  if [ "$1" = rule ]; then
    case "$loader" in
      kexec-ts*) start_udevd || mark udevd failed ;;
      *) start_peer_udevd "$load --append=\"$A\"" || mark udevd failed ;;
    esac
    udevd_running=1
  elif [ $udevd_running = 1 ]; then
    udevadm control --exit
    rm -f /etc/udev/rules.d/98-kexec-ts.rules /etc/udev/rules.d/98-kexec.rules
    udevd_running=0
  fi
}

block load sh -c "$load --append=\"$A\""
sysval before.memory_crash_hotplug /sys/devices/system/memory/crash_hotplug
sysval before.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
n=0
for phase in $(echo "$udev" | tr ',' ' '); do
  n=$((n + 1))
  udev_phase "$phase"
  mark "phase$n.udev" "$phase"
  block "status-phase$n" kexec-ts status --json
  ours0=$(reload_count); peer0=$(peer_reload_count)
  want=$(( $(online_blocks) + adds * 256 / $(block_mib) ))
  poll_crash_loaded_start
  t0=$(now_ms)
  i=0
  while [ $i -lt $adds ]; do
    request hotadd-mem 256 >/dev/null || mark hotadd-failed "$n.$i"
    i=$((i + 1))
    [ -n "$pace" ] && [ $i -lt $adds ] && usleep $((pace * 1000))
  done
  wait_online_blocks "$want" || mark online-timeout "$(online_blocks)/$want"
  mark online.ms $(( $(now_ms) - t0 ))
  # Only a rule reloads: without one there is nothing to wait for.
  [ "$phase" = rule ] && { reloads_settled || mark settle-timeout "$n"; }
  mark settled.ms $(( $(now_ms) - t0 ))
  # The first phase's poller keeps the name the storms use.
  if [ $n = 1 ]; then poll_crash_loaded_stop storm; else poll_crash_loaded_stop "phase$n"; fi
  mark "phase$n.reloads" $(( $(reload_count) - ours0 ))
  mark "phase$n.peer-reloads" $(( $(peer_reload_count) - peer0 ))
  sysval "phase$n.memory_crash_hotplug" /sys/devices/system/memory/crash_hotplug
done
sysval after.memory_crash_hotplug /sys/devices/system/memory/crash_hotplug
sysval after.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
mark reloads "$(reload_count)"
mark peer-reloads "$(peer_reload_count)"
block reload-log cat /run/kexec-ts/reload.log
block peer-reload-log cat /run/kts-peer/reload.log
block status-json kexec-ts status --json
block crash-hp-dmesg sh -c 'dmesg | grep -i "crash hp" | tail -n 20'
block first-iomem cat /proc/iomem
panic_now
