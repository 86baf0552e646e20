#!/bin/sh
# The reload a kdump service does for kexec-tools after CPU or memory hotplug (the role of kdump-utils'
# kdump-udev-throttler + "kdumpctl reload"), written for the guest: run by the peer udev rule (lib.sh
# start_peer_udevd) for every event it does not skip. The first event takes the throttle lock, waits for the burst to
# end (1 s, then udev settles), releases the lock (so an event arriving during the reload starts another round rather
# than being lost) and reloads under a second lock: unload, then the same kexec-tools load as before
# (/run/kts-peer/load.sh). Events arriving while a round waits find the throttle lock taken and leave. Each reload
# appends a line to /run/kts-peer/reload.log.
dir=/run/kts-peer
exec 9>"$dir/lock"
flock -n 9 || exit 0
sleep 1
udevadm settle --timeout=3
exec 9>&-
exec 8>"$dir/reload.lock"
flock 8
t0=$(awk '{ printf "%d", $1 * 1000 }' /proc/uptime)
unload=$(sed -n 's/^# unload: //p' "$dir/load.sh")
$unload >"$dir/last-unload.out" 2>&1
sh "$dir/load.sh" >"$dir/last-load.out" 2>&1
rc=$?
t1=$(awk '{ printf "%d", $1 * 1000 }' /proc/uptime)
echo "at_ms=$t0 ms=$((t1 - t0)) rc=$rc loaded_after=$(cat /sys/kernel/kexec_crash_loaded)" >>"$dir/reload.log"
