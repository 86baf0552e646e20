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

# hotadd_mem MIB: asks the host to hot-add a DIMM, then waits (up to 60 s) until MemTotal has grown by it.
hotadd_mem() {
  h_before=$(mem_total_kb)
  request hotadd-mem "$1" >/dev/null || return 1
  h_i=0
  while [ $(( $(mem_total_kb) - h_before )) -lt $(( $1 * 1024 )) ]; do
    h_i=$((h_i + 1)); [ $h_i -gt 600 ] && return 1
    sleep 0.1
  done
}
