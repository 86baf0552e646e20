# Sourced by the guests' init scripts (lib.sh for the main image, /drain.sh in the stage-2 initrd).
# drain_data_channel: waits until ttyS1's transmit count stops moving (at least 0.3 s, at most 5 s), so that what
# was written reaches the host before the kernel dies or powers off (poweroff -f does not wait for the UART: a
# probe guest once lost the end of its ACPI tables that way).
drain_data_channel() {
  d_last=-1; d_i=0
  while [ $d_i -lt 50 ]; do
    d_tx=$(sed -n 's/^1: .*tx:\([0-9]*\).*/\1/p' /proc/tty/driver/serial)
    [ "$d_tx" = "$d_last" ] && [ $d_i -ge 3 ] && break
    d_last=$d_tx; d_i=$((d_i + 1)); sleep 0.1
  done
}
