# Sourced by scripts/setup: the "new" peer of the kernel-matrix tests, unpacked (not installed) into
# .cache/peers/kexec-tools-new/: the newest kexec-tools Debian ships (trixie's 2.0.29 today, the first with
# --hotplug), with the glibc and Xen libraries of its own suite, because it needs a newer glibc than bookworm's.
#   kexec        the program;
#   lib/         its dynamic loader and exactly the libraries that loader resolves for it (ld.so --list);
#   version      `kexec --version` (kexec-tools 2.0.29);
#   package      the Debian package and version it came from.
# The guest image runs it as /sbin/kexec-new through that loader (scripts/vm/images.ts). The host's own kexec-tools
# (bookworm's 2.0.25, no --hotplug) is the "old" peer, installed from scripts/setup.d/packages.

# suite_of PKG VERSION: the suite the private configuration serves PKG's VERSION from (trixie).
suite_of() {
  apt-cache "${PAPT[@]}" madison "$1" | awk -F' [|] ' -v v="$2" '$2 == v { split($3, a, " "); sub(/\/.*/, "", a[2]); print a[2]; exit }'
}

# depends_of PKG[=VER|/SUITE]: the package names PKG depends on (alternatives and versions dropped).
depends_of() {
  apt-cache "${PAPT[@]}" show "$1" | awk -F': ' '/^Depends:/ { print $2; exit }' | tr ',|' '\n\n' |
    sed 's/^ *//; s/[ (:].*//' | grep -v '^$'
}

fetch_peers() {
  local dir="$root/.cache/peers/kexec-tools-new" ver suite tmp x loader libs
  [ -x "$dir/kexec" ] && [ -s "$dir/version" ] && return 0
  ver=$(apt-cache "${PAPT[@]}" madison kexec-tools | awk -F' [|] ' '{ print $2 }' | sort -V | tail -n 1)
  suite=$(suite_of kexec-tools "$ver")
  [ -n "$ver" ] && [ -n "$suite" ] || { echo "setup: no kexec-tools in the private apt lists" >&2; exit 1; }
  echo "setup: fetching the new peer kexec-tools $ver ($suite) with its own libc and libraries" >&2
  # Its libraries: libc6 and the Xen libraries it pulls in (libxenmisc and theirs, transitively), all from its suite.
  libs=$(depends_of "kexec-tools=$ver" | grep '^libxen' || true)
  local more=$libs
  while [ -n "$more" ]; do
    more=$(for x in $more; do depends_of "$x/$suite"; done | grep '^libxen' | sort -u | grep -vxF -f <(echo "$libs") || true)
    libs=$(printf '%s\n%s\n' "$libs" "$more" | grep -v '^$' | sort -u)
  done
  tmp=$(mktemp -d)
  local pkgs=("kexec-tools=$ver" "libc6/$suite")
  for x in $libs; do pkgs+=("$x/$suite"); done
  fetch_debs "$tmp" "${pkgs[@]}"
  loader=$(find "$tmp/x" -name 'ld-linux-x86-64.so.2' \( -type f -o -type l \) | head -n 1)
  [ -n "$loader" ] || { echo "setup: $suite's libc6 has no ld-linux-x86-64.so.2" >&2; exit 1; }
  rm -rf "$dir.new"
  mkdir -p "$dir.new/lib"
  cp "$tmp/x/usr/sbin/kexec" "$dir.new/kexec"
  cp -L "$loader" "$dir.new/lib/ld-linux-x86-64.so.2"
  # Exactly what the loader resolves for kexec (libc, libxenctrl and the Xen libraries it needs).
  "$dir.new/lib/ld-linux-x86-64.so.2" --library-path "$tmp/x/usr/lib/x86_64-linux-gnu" --list "$dir.new/kexec" |
    awk '$2 == "=>" && $3 ~ /^\// && $1 !~ /ld-linux/ { print $3 }' | while read -r x; do cp -L "$x" "$dir.new/lib/"; done
  if "$dir.new/lib/ld-linux-x86-64.so.2" --library-path "$dir.new/lib" --list "$dir.new/kexec" | grep -v "$dir.new/lib/" |
    grep -q ' => /'; then
    echo "setup: the new peer kexec-tools needs a library its suite's packages did not provide" >&2
    exit 1
  fi
  "$dir.new/lib/ld-linux-x86-64.so.2" --library-path "$dir.new/lib" "$dir.new/kexec" --version > "$dir.new/version" ||
    { echo "setup: the new peer kexec-tools does not run through its own loader" >&2; exit 1; }
  grep -q -- '--hotplug' <("$dir.new/lib/ld-linux-x86-64.so.2" --library-path "$dir.new/lib" "$dir.new/kexec" --help) ||
    { echo "setup: kexec-tools $ver has no --hotplug; the matrix needs one that has" >&2; exit 1; }
  echo "kexec-tools $ver $suite" > "$dir.new/package"
  rm -rf "$tmp" "$dir"
  mv "$dir.new" "$dir"
}
