# Sourced by scripts/setup: QEMU 10 from bookworm-backports, unpacked (not installed) into .cache/qemu10 (its
# usr/bin/qemu-system-x86_64 with usr/share/qemu and usr/share/seabios, which it is run with through -L; see
# scripts/vm/qemu.ts). Its TCG emulates the SHA extensions (since QEMU 8.2; the system's 7.2 does not), which the
# purgatory's SHA-NI path needs to be tested (`-cpu max`). It runs on bookworm with bookworm's libraries.

QEMU10_PACKAGES=(qemu-system-x86/bookworm-backports qemu-system-data/bookworm-backports
  qemu-system-common/bookworm-backports seabios/bookworm-backports)

fetch_qemu10() {
  local dir="$root/.cache/qemu10" tmp
  [ -x "$dir/usr/bin/qemu-system-x86_64" ] && return 0
  echo "setup: fetching QEMU 10 from bookworm-backports into .cache/qemu10" >&2
  tmp=$(mktemp -d)
  fetch_debs "$tmp" "${QEMU10_PACKAGES[@]}"
  [ -x "$tmp/x/usr/bin/qemu-system-x86_64" ] || { echo "setup: no qemu-system-x86_64 in ${QEMU10_PACKAGES[*]}" >&2; exit 1; }
  "$tmp/x/usr/bin/qemu-system-x86_64" --version | head -n 1 > "$tmp/x/version"
  rm -rf "$dir.new" "$dir"
  mv "$tmp/x" "$dir"
  rm -rf "$tmp"
}
