# Sourced by scripts/setup: Debian's archive, reached with the mirror the machine's own apt sources name.
#
# Suites the machine's sources lack (bookworm-backports, trixie, trixie-backports) are read through a private apt
# configuration under .cache/apt (its own sources, lists and cache; the machine's dpkg status): nothing under
# /etc/apt changes, and a local mirror or proxy in the machine's sources is used for them too.

# mirror_for SUITE: the first URI of the machine's apt sources (one-line or deb822) that serves SUITE.
mirror_for() {
  local suite=$1 f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk -v s="$suite" '$1 == "deb" {
        i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == s) { print $i; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk -v s="$suite" 'BEGIN { RS = "" } {
        uris = ""; suites = ""; enabled = 1; n = split($0, lines, "\n")
        for (j = 1; j <= n; j++) {
          if (lines[j] ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", lines[j]); uris = lines[j] }
          if (lines[j] ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", lines[j]); suites = lines[j] }
          if (lines[j] ~ /^Enabled:[ \t]*no/) enabled = 0
        }
        if (!enabled) next
        k = split(suites, ss, /[ \t]+/)
        for (m = 1; m <= k; m++) if (ss[m] == s) { split(uris, us, /[ \t]+/); print us[1]; exit }
      }' "$f"
  done | head -n 1
}

apt_dir="$root/.cache/apt"
# PAPT: apt options for the private configuration (set by private_apt).
PAPT=()

# private_apt: writes the private sources (bookworm*, trixie* on the machine's mirrors) and updates its lists when
# they are missing or a day old.
private_apt() {
  local main security
  main=$(mirror_for bookworm)
  security=$(mirror_for bookworm-security)
  if [ -z "$main" ]; then
    echo "setup: the machine's apt sources name no mirror for bookworm; add one (deb URI bookworm main)" >&2
    exit 1
  fi
  [ -n "$security" ] || security="${main%/debian}/debian-security"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  cat > "$apt_dir/sources.sources.new" <<SRC
Types: deb
URIs: $main
Suites: bookworm bookworm-updates bookworm-backports trixie trixie-updates trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  local changed=0
  cmp -s "$apt_dir/sources.sources.new" "$apt_dir/sources.sources" 2>/dev/null || changed=1
  mv "$apt_dir/sources.sources.new" "$apt_dir/sources.sources"
  PAPT=(-o "Dir::Etc::sourcelist=$apt_dir/sources.sources" -o Dir::Etc::sourceparts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache")
  if [ "$changed" = 1 ] || [ -z "$(find "$apt_dir/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null)" ]; then
    echo "setup: updating the private apt lists (mirror $main)" >&2
    apt-get "${PAPT[@]}" update -q >&2
  fi
}

# newest_package REGEX: the highest-versioned package name matching REGEX in the private configuration.
newest_package() {
  apt-cache "${PAPT[@]}" search --names-only "$1" | awk '{print $1}' | sort -V | tail -n 1
}

# fetch_debs DIR PKG...: downloads PKG... (name or name/suite) into DIR and unpacks each into DIR/x.
fetch_debs() {
  local dir=$1 d
  shift
  mkdir -p "$dir/x"
  (cd "$dir" && apt-get "${PAPT[@]}" download -q "$@" >&2 2>/dev/null || apt-get "${PAPT[@]}" download -q "$@" >&2)
  for d in "$dir"/*.deb; do dpkg-deb -x "$d" "$dir/x"; done
}
