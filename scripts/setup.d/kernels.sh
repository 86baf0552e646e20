# Sourced by scripts/setup: the guest kernels of the VM tests, unpacked (not installed) into .cache/kernels/ID/
# (vmlinuz, config, package). See scripts/vm/kernels.ts.
#   6.1     bookworm's kernel (newest linux-image-6.1.0-N-amd64-unsigned): no crash hotplug
#   6.12    the newest linux-image-6.12.N+deb12-amd64-unsigned (bookworm-security or -backports)
#   newest  the newest kernel Debian ships: trixie-backports' linux-binary-unsigned-*+deb13-amd64 (config from
#           linux-base-*), found by name so the matrix moves forward; KEXEC_TS_NEWEST_PKG pins one
# Beside each kernel: efivarfs/RELEASE/efivarfs.ko (uncompressed), the one module the UEFI VM tests load (Debian
# builds efivarfs as a module; the guests have no other modules).

PINNED_NEWEST=linux-binary-unsigned-7.3.4+deb13-amd64

# fetch_kernel ID PKG [CONFIG_PKG]: unpacks PKG's kernel into .cache/kernels/ID.
fetch_kernel() {
  local id=$1 pkg=$2 cfgpkg=${3:-} dir="$root/.cache/kernels/$1" tmp
  [ -n "$pkg" ] || { echo "setup: no package found for the $id guest kernel; is the mirror reachable?" >&2; exit 1; }
  echo "setup: fetching the $id guest kernel $pkg" >&2
  tmp=$(mktemp -d)
  fetch_debs "$tmp" "$pkg" ${cfgpkg:+"$cfgpkg"}
  mkdir -p "$dir.new"
  local vmlinuz config
  vmlinuz=$(find "$tmp/x" \( -path '*/boot/vmlinuz-*' -o -name vmlinuz.unsigned \) -type f | head -n 1)
  config=$(find "$tmp/x" \( -path '*/boot/config-*' -o -path '*/usr/lib/modules/*/config' \) -type f | head -n 1)
  [ -n "$vmlinuz" ] || { echo "setup: $pkg has no vmlinuz" >&2; exit 1; }
  cp "$vmlinuz" "$dir.new/vmlinuz"
  [ -n "$config" ] && cp "$config" "$dir.new/config"
  echo "$pkg" > "$dir.new/package"
  copy_efivarfs_module "$tmp/x" "$dir.new" || true
  rm -rf "$tmp" "$dir"
  mv "$dir.new" "$dir"
}

# copy_efivarfs_module TREE DIR: efivarfs.ko from an unpacked kernel package TREE into DIR/efivarfs/RELEASE/;
# fails when TREE has none (trixie-backports keeps modules in linux-modules-VERSION).
copy_efivarfs_module() {
  local ko release
  ko=$(find "$1" -path '*/lib/modules/*/efivarfs.ko*' -type f | head -n 1)
  [ -n "$ko" ] || return 1
  release=${ko#*/lib/modules/}
  release=${release%%/*}
  mkdir -p "$2/efivarfs/$release"
  case "$ko" in
    *.xz) xz -dc "$ko" > "$2/efivarfs/$release/efivarfs.ko" ;;
    *.zst) zstd -dcq "$ko" > "$2/efivarfs/$release/efivarfs.ko" ;;
    *) cp "$ko" "$2/efivarfs/$release/efivarfs.ko" ;;
  esac
}

# fetch_efivarfs_module ID: the efivarfs module of a kernel whose package did not carry it (or that was unpacked
# before modules were kept), from its package or its linux-modules-VERSION package. Tried once.
fetch_efivarfs_module() {
  local dir="$root/.cache/kernels/$1" pkg tmp
  [ -f "$dir/vmlinuz" ] && [ ! -d "$dir/efivarfs" ] || return 0
  pkg=$(cat "$dir/package")
  case "$pkg" in linux-binary-unsigned-*) pkg=linux-modules-${pkg#linux-binary-unsigned-} ;; esac
  echo "setup: fetching the $1 guest kernel's efivarfs module from $pkg" >&2
  tmp=$(mktemp -d)
  fetch_debs "$tmp" "$pkg"
  copy_efivarfs_module "$tmp/x" "$dir" || echo "setup: $pkg has no efivarfs module" >&2
  mkdir -p "$dir/efivarfs"
  rm -rf "$tmp"
}

fetch_kernels() {
  local pkg cfg ver
  [ -f "$root/.cache/kernels/6.1/vmlinuz" ] ||
    fetch_kernel 6.1 "$(newest_package '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$')"
  [ -f "$root/.cache/kernels/6.12/vmlinuz" ] ||
    fetch_kernel 6.12 "${KEXEC_TS_KERNEL_PKG:-$(newest_package '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$')}"
  if [ ! -f "$root/.cache/kernels/newest/vmlinuz" ]; then
    pkg=${KEXEC_TS_NEWEST_PKG:-$(newest_package '^linux-binary-unsigned-[0-9]+\.[0-9.]+\+deb13-amd64$')}
    if [ -z "$pkg" ] && apt-cache "${PAPT[@]}" show "$PINNED_NEWEST" >/dev/null 2>&1; then pkg=$PINNED_NEWEST; fi
    if [ -n "$pkg" ]; then
      ver=${pkg#linux-binary-unsigned-}
      cfg=linux-base-$ver
      apt-cache "${PAPT[@]}" show "$cfg" >/dev/null 2>&1 || cfg=""
      fetch_kernel newest "$pkg" "$cfg"
    else
      # The older packaging (one linux-image-*-unsigned package), as trixie itself ships it.
      fetch_kernel newest "$(newest_package '^linux-image-[0-9]+\.[0-9.]+\+deb13-amd64-unsigned$')"
    fi
  fi
  for id in 6.1 6.12 newest; do fetch_efivarfs_module "$id"; done
}
