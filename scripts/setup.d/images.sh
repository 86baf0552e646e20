# Sourced by scripts/setup: what the image tests (UKI, ELF vmlinux, boot entries; tests/vm/images_test.ts) need
# besides the host packages, unpacked (not installed) under .cache:
#   .cache/uki/linuxx64.efi.stub   systemd-stub from Debian's newest systemd-boot-efi (the test UKIs are made from
#                                  it with objcopy, as systemd-stub(7) describes: bookworm has no ukify)
#   .cache/uki/version             the package it came from
#   .cache/kernels/6.12/modules/   the modules the ESP test loads in the guest (virtio_blk for the disk, fat, vfat and
#                                  the default code pages for the file system), decompressed, from the guest
#                                  kernel's own package: Debian builds them as modules
# The ELF vmlinux is not fetched: the tests take it out of the bzImage (scripts/vm/test_images.ts).

IMAGE_TEST_MODULES="virtio_blk fat vfat nls_cp437 nls_ascii"

fetch_image_ingredients() {
  local dir="$root/.cache/uki" kdir="$root/.cache/kernels/6.12" tmp stub m f pkg
  if [ ! -f "$dir/linuxx64.efi.stub" ]; then
    echo "setup: fetching systemd-boot-efi (systemd-stub for the test UKIs)" >&2
    tmp=$(mktemp -d)
    fetch_debs "$tmp" systemd-boot-efi
    stub=$(find "$tmp/x" -name linuxx64.efi.stub -type f | head -n 1)
    [ -n "$stub" ] || { echo "setup: systemd-boot-efi has no linuxx64.efi.stub" >&2; exit 1; }
    mkdir -p "$dir"
    cp "$stub" "$dir/linuxx64.efi.stub.new"
    dpkg-deb -f "$(ls "$tmp"/*.deb | head -n 1)" Package Version | sed 's/^[^:]*: //' | paste -sd' ' > "$dir/version"
    mv "$dir/linuxx64.efi.stub.new" "$dir/linuxx64.efi.stub"
    rm -rf "$tmp"
  fi
  if [ ! -f "$kdir/modules/done" ]; then
    pkg=$(cat "$kdir/package")
    echo "setup: fetching the guest modules ($IMAGE_TEST_MODULES) from $pkg" >&2
    tmp=$(mktemp -d)
    fetch_debs "$tmp" "$pkg"
    rm -rf "$kdir/modules"
    mkdir -p "$kdir/modules"
    for m in $IMAGE_TEST_MODULES; do
      f=$(find "$tmp/x" -name "$m.ko*" -type f | head -n 1)
      [ -n "$f" ] || { echo "setup: $pkg has no $m module" >&2; exit 1; }
      case "$f" in
        *.xz) xz -dc "$f" > "$kdir/modules/$m.ko" ;;
        *.zst) zstd -qdc "$f" > "$kdir/modules/$m.ko" ;;
        *) cp "$f" "$kdir/modules/$m.ko" ;;
      esac
    done
    echo "$IMAGE_TEST_MODULES" > "$kdir/modules/done"
    rm -rf "$tmp"
  fi
}
