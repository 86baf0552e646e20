# Helpers for guest scenarios (sourced by init.sh). Output goes to the data channel, ttyS1.

# mark KEY VALUE...: a marker line the host test asserts on.
mark() { k=$1; shift; echo "@@KTS $k $*"; }

# block NAME CMD...: runs CMD, prints its output as a named block and its exit status as NAME.rc.
block() {
  b_name=$1; shift
  b_out=$("$@" 2>&1); b_rc=$?
  echo "@@KTS-BEGIN $b_name"
  [ -n "$b_out" ] && echo "$b_out"
  echo "@@KTS-END-BLOCK $b_name"
  mark "$b_name.rc" "$b_rc"
  return $b_rc
}

# now_ms: milliseconds since boot (10 ms resolution; busybox date has no %N).
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

# timed NAME CMD...: like block, and NAME.ms is the wall time in milliseconds.
timed() {
  t_name=$1; shift
  t0=$(now_ms)
  block "$t_name" "$@"; t_rc=$?
  mark "$t_name.ms" $(( $(now_ms) - t0 ))
  return $t_rc
}

# request VERB ARGS...: asks the host to do something (QMP); waits for the reply; prints it; status 0 if ok.
REQ_SEQ=0
request() {
  REQ_SEQ=$((REQ_SEQ + 1))
  # Straight to the data channel: callers may redirect stdout, the host must still see the request.
  echo "@@KTS-REQ r$REQ_SEQ $*" > /dev/ttyS1
  while read -r r_line; do
    case "$r_line" in
      "@@KTS-ACK r$REQ_SEQ ok"*) echo "${r_line#@@KTS-ACK r$REQ_SEQ ok }"; return 0 ;;
      "@@KTS-ACK r$REQ_SEQ error"*) echo "${r_line#@@KTS-ACK r$REQ_SEQ error }"; return 1 ;;
    esac
  done
  return 1
}

# sysval NAME PATH: marks the raw content of a kernel file (or "absent"/"denied").
sysval() {
  if [ ! -e "$2" ]; then mark "$1" absent
  elif v=$(cat "$2" 2>/dev/null); then mark "$1" "$v"
  else mark "$1" denied
  fi
}

# crash_region: the main "Crash kernel" line of /proc/iomem, or "none".
crash_region() { grep -m1 'Crash kernel' /proc/iomem | sed 's/^ *//; s/ : .*//' || echo none; }

# mem_total_kb: MemTotal in KiB.
mem_total_kb() { awk '/^MemTotal:/ { print $2 }' /proc/meminfo; }

# online_blocks: memory blocks online.
online_blocks() { cat /sys/devices/system/memory/memory*/state 2>/dev/null | grep -c '^online'; }

# block_mib: the memory block size in MiB.
block_mib() { echo $(( $(printf '%d' "0x$(cat /sys/devices/system/memory/block_size_bytes)") / 1048576 )); }

# wait_online_blocks N: waits (up to 120 s) until N memory blocks are online.
wait_online_blocks() {
  w_i=0
  while [ "$(online_blocks)" -lt "$1" ]; do
    w_i=$((w_i + 1)); [ $w_i -gt 1200 ] && return 1
    sleep 0.1
  done
}

# hotadd_mem MIB: asks the host to hot-add a DIMM of MIB MiB and waits until the guest has onlined it.
hotadd_mem() {
  h_want=$(( $(online_blocks) + $1 / $(block_mib) ))
  request hotadd-mem "$1" >/dev/null || return 1
  wait_online_blocks "$h_want"
}

# start_udevd: installs kexec-ts' udev rule and starts systemd-udevd (the guest has no systemd).
start_udevd() {
  kexec-ts udev-rules --install >/dev/null || return 1
  mkdir -p /run/udev
  /lib/systemd/systemd-udevd --daemon || return 1
  udevadm settle --timeout=30
}

# start_peer_udevd LOAD: installs a kdump-utils-style rule for kexec-tools (98-kexec.rules: skip when crash_hotplug
# reads 1, else reload through /usr/local/sbin/peer-reload, which unloads and runs LOAD again) and starts udevd.
start_peer_udevd() {
  mkdir -p /run/kts-peer /usr/local/sbin
  cp /kts/tests/vm/guest/peer-reload.sh /usr/local/sbin/peer-reload && chmod 755 /usr/local/sbin/peer-reload
  p_tool=${1%% *}
  printf '# unload: %s -p -u\n%s\n' "$p_tool" "$1" > /run/kts-peer/load.sh
  cat > /etc/udev/rules.d/98-kexec.rules <<'RULES'
# Reload the kdump kernel through kexec-tools after CPU and memory hotplug, unless the kernel updates its
# elfcorehdr itself (crash_hotplug reads 1): the shape of kdump-utils' 98-kexec.rules, for the guest.
SUBSYSTEM=="cpu", ATTRS{crash_hotplug}=="1", GOTO="kts_peer_end"
SUBSYSTEM=="memory", ATTRS{crash_hotplug}=="1", GOTO="kts_peer_end"
SUBSYSTEM=="cpu", ACTION=="add", GOTO="kts_peer_reload"
SUBSYSTEM=="cpu", ACTION=="remove", GOTO="kts_peer_reload"
SUBSYSTEM=="memory", ACTION=="online", GOTO="kts_peer_reload"
SUBSYSTEM=="memory", ACTION=="offline", GOTO="kts_peer_reload"
GOTO="kts_peer_end"
LABEL="kts_peer_reload"
RUN+="/bin/sh -c '/usr/local/sbin/peer-reload </dev/null >/dev/null 2>&1 &'"
LABEL="kts_peer_end"
RULES
  mkdir -p /run/udev
  /lib/systemd/systemd-udevd --daemon || return 1
  udevadm settle --timeout=30
}

# peer_reload_count: reloads the peer rule performed.
peer_reload_count() { if [ -f /run/kts-peer/reload.log ]; then wc -l < /run/kts-peer/reload.log; else echo 0; fi; }

# held FILE: whether some process holds an flock on FILE, read from /proc/locks. Probing with flock -n would take the
# lock for a moment, and a udev rule or a reload that looks at that moment would think a reload holds it and leave.
held() { [ -e "$1" ] && grep -q ":$(stat -c %i "$1") " /proc/locks; }

# reloads_settled: waits (up to 180 s) until udev is idle and no reload (kexec-ts' or the peer rule's) is pending or
# running, for 3 s.
reloads_settled() {
  udevadm settle --timeout=60 2>/dev/null
  s_i=0; s_quiet=0
  while [ $s_quiet -lt 30 ]; do
    if [ -e /run/kexec-ts/reload.pending ] || held /run/kexec-ts/reload.lock || held /run/kts-peer/lock ||
      held /run/kts-peer/reload.lock; then
      s_quiet=0
    else
      s_quiet=$((s_quiet + 1))
    fi
    s_i=$((s_i + 1)); [ $s_i -gt 1800 ] && return 1
    sleep 0.1
  done
}

# reload_count: reloads kexec-ts performed (lines of its log).
reload_count() { if [ -f /run/kexec-ts/reload.log ]; then wc -l < /run/kexec-ts/reload.log; else echo 0; fi; }

# poll_crash_loaded_start / _stop: a background reader of kexec_crash_loaded; _stop marks how many reads saw 0
# (each one is a moment with no crash kernel loaded) and how many reads there were.
poll_crash_loaded_start() {
  rm -f /tmp/poll.stop /tmp/poll.zeros /tmp/poll.reads
  ( z=0; n=0
    while [ ! -e /tmp/poll.stop ]; do
      read -r v < /sys/kernel/kexec_crash_loaded; n=$((n + 1)); [ "$v" = 0 ] && z=$((z + 1))
    done
    echo $z > /tmp/poll.zeros; echo $n > /tmp/poll.reads ) &
  POLL_PID=$!
}
poll_crash_loaded_stop() {
  touch /tmp/poll.stop; wait $POLL_PID
  mark "$1.zero-reads" "$(cat /tmp/poll.zeros)"
  mark "$1.reads" "$(cat /tmp/poll.reads)"
}

# panic_now: crashes the kernel, after the data channel has drained. Output still in the tty's transmit buffer
# dies with the first kernel, so wait until ttyS1's transmit count stops moving (at least 0.3 s, at most 5 s).
panic_now() {
  mark panic-now "$(now_ms)"
  p_last=-1; p_i=0
  while [ $p_i -lt 50 ]; do
    p_tx=$(sed -n 's/^1: .*tx:\([0-9]*\).*/\1/p' /proc/tty/driver/serial)
    [ "$p_tx" = "$p_last" ] && [ $p_i -ge 3 ] && break
    p_last=$p_tx; p_i=$((p_i + 1)); sleep 0.1
  done
  echo c > /proc/sysrq-trigger
}

# first_firmware: the first kernel's firmware, as stage2-init.sh reports the next kernel's (for the UEFI tests).
first_firmware() {
  if [ -d /sys/firmware/efi ]; then
    mark first.efi present
    [ -d /sys/firmware/efi/runtime-map ] && mark first.efi-runtime-map "$(ls /sys/firmware/efi/runtime-map | wc -l)"
    [ -d /sys/firmware/efi/efivars ] && mark first.efivars-count "$(ls /sys/firmware/efi/efivars | wc -l)"
  else
    mark first.efi absent
  fi
  mark first.dmi-vendor "$(cat /sys/class/dmi/id/sys_vendor 2>/dev/null || echo absent)"
  mark first.acpi-tables "$(ls /sys/firmware/acpi/tables 2>/dev/null | wc -l)"
}

# drain_data_channel: see drain.sh (the stage-2 initrd carries it too).
. /kts/tests/vm/guest/drain.sh

# exit_init CODE: when the scenarios are done, init exits with CODE and the kernel panics with
# "Attempted to kill init! exitcode=0x0000XX00" (XX = CODE in hex).
exit_init() { echo "$1" > /tmp/kts-init-exit; }
