# Sourced by scripts/setup and scripts/ship/debian-root (after apt.sh): the clean Debian root the packaging tests
# install kexec-ts' .deb into, build initramfs images in, and run the completions in.
#
# .cache/ship/bookworm-root: `debootstrap --variant=minbase bookworm` from the machine's own mirror (mirror_for),
# plus initramfs-tools (with busybox and zstd, as Debian installs it), dracut-core (the dracut program; it does not
# conflict with initramfs-tools, the `dracut` package does), bash-completion, zsh and fish; and the guest kernel's
# own package (the one in .cache/kernels/6.12/package) unpacked into it, so /lib/modules/VERSION matches the kernel
# the VM boots. The root is built once and reused; .cache/ship/bookworm-root.stamp records what it was built from,
# and a different recipe rebuilds it. The tests never change it: they work in an overlay on top of it.

ROOTFS_SUITE=bookworm
ROOTFS_INCLUDE=initramfs-tools,busybox,zstd,kmod,udev,dracut-core,bash-completion,zsh,fish,e2fsprogs
# Bump when the recipe changes in a way the stamp does not show.
ROOTFS_RECIPE=1

# in_root ROOT CMD...: runs CMD chrooted into ROOT with /proc, /sys and /dev mounted in a private mount namespace
# (they vanish with it; nothing is left mounted on the host).
in_root() {
  local r=$1
  shift
  unshare --mount --propagation private -- /bin/sh -c '
    r=$1; shift
    mount -t proc proc "$r/proc" && mount -t sysfs sysfs "$r/sys" && mount --rbind /dev "$r/dev" || exit 1
    exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      DEBIAN_FRONTEND=noninteractive "$@"' sh "$r" "$@"
}

# in_overlay ROOT DIR CMD...: runs CMD chrooted into an overlay of ROOT whose changes land in DIR/upper (DIR/work is
# overlayfs' own), in a private mount namespace: ROOT itself never changes, and nothing stays mounted. Files put
# into DIR/upper beforehand appear in the overlay.
in_overlay() {
  local r=$1 d=$2
  shift 2
  mkdir -p "$d/upper" "$d/work" "$d/merged"
  unshare --mount --propagation private -- /bin/sh -c '
    r=$1 d=$2; shift 2; m=$d/merged
    mount -t overlay overlay -o "lowerdir=$r,upperdir=$d/upper,workdir=$d/work" "$m" || exit 1
    mount -t proc proc "$m/proc" && mount -t sysfs sysfs "$m/sys" && mount --rbind /dev "$m/dev" || exit 1
    exec chroot "$m" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
      DEBIAN_FRONTEND=noninteractive "$@"' sh "$r" "$d" "$@"
}

# make_debian_root: builds .cache/ship/bookworm-root unless its stamp says it is current. Prints its path.
make_debian_root() {
  local dir="$root/.cache/ship" mirror kpkg kver stamp tmp
  local r="$dir/bookworm-root"
  kpkg=$(cat "$root/.cache/kernels/6.12/package" 2>/dev/null) || {
    echo "setup: .cache/kernels/6.12/package is missing; run scripts/setup --vm first" >&2
    return 1
  }
  mirror=$(mirror_for "$ROOTFS_SUITE")
  [ -n "$mirror" ] || {
    echo "setup: the machine's apt sources name no mirror for $ROOTFS_SUITE" >&2
    return 1
  }
  # One builder at a time (test files run in parallel and each asks for the root): the others wait, then reuse it.
  mkdir -p "$dir"
  exec 9>"$dir/.bookworm-root.lock"
  flock 9
  # The mirror is not part of the stamp: a root built from another mirror holds the same packages.
  stamp="recipe=$ROOTFS_RECIPE suite=$ROOTFS_SUITE include=$ROOTFS_INCLUDE kernel=$kpkg"
  if [ -f "$r/etc/debian_version" ] && [ "$(cat "$dir/bookworm-root.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "$r"
    return 0
  fi
  command -v debootstrap >/dev/null || {
    echo "setup: debootstrap is not installed (scripts/setup --vm installs it)" >&2
    return 1
  }
  echo "setup: building the Debian root $r (debootstrap $ROOTFS_SUITE from $mirror, a few minutes)" >&2
  mkdir -p "$dir/debootstrap-debs"
  rm -rf "$r.new" "$dir/bookworm-root.stamp"
  debootstrap --variant=minbase --include="$ROOTFS_INCLUDE" --cache-dir="$dir/debootstrap-debs" \
    "$ROOTFS_SUITE" "$r.new" "$mirror" >&2 || {
    echo "setup: debootstrap failed; see $r.new/debootstrap/debootstrap.log" >&2
    return 1
  }
  # No service starts inside the root (package scripts ask invoke-rc.d, which asks this).
  printf '#!/bin/sh\nexit 101\n' > "$r.new/usr/sbin/policy-rc.d"
  chmod 755 "$r.new/usr/sbin/policy-rc.d"
  # The guest kernel's package, unpacked: /boot/vmlinuz-V, /boot/config-V and /lib/modules/V, then depmod.
  tmp=$(mktemp -d)
  private_apt
  fetch_debs "$tmp" "$kpkg" || return 1
  # Through tar with --keep-directory-symlink: bookworm's /lib is a symbolic link to usr/lib (merged /usr), and
  # dpkg-deb -x would replace it with a directory.
  dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x --keep-directory-symlink -C "$r.new" || return 1
  rm -rf "$tmp"
  kver=$(ls "$r.new/lib/modules" | head -n 1)
  [ -n "$kver" ] || {
    echo "setup: $kpkg put no modules into the root" >&2
    return 1
  }
  in_root "$r.new" depmod "$kver" >&2 || return 1
  echo "$kver" > "$r.new/kernel-version"
  rm -rf "$r"
  mv "$r.new" "$r"
  echo "$stamp" > "$dir/bookworm-root.stamp"
  echo "$r"
}
