# Helpers of the image scenarios (UKI, ELF vmlinux, boot entries), sourced by them: the test disk is a GPT disk
# image with one EFI System Partition (scripts/vm/test_images.ts buildEspImage), attached read-only as /dev/vda.

# mount_esp DIR: loads the modules Debian builds the disk and FAT drivers as (carried in /lib/kts-modules by the
# image variant), waits for the partition and mounts it read-only on DIR.
mount_esp() {
  for m in virtio_blk fat vfat nls_cp437 nls_ascii; do
    insmod "/lib/kts-modules/$m.ko" || { echo "insmod $m failed"; return 1; }
  done
  e_i=0
  while [ ! -b /dev/vda1 ]; do
    e_i=$((e_i + 1)); [ $e_i -gt 100 ] && { echo "no /dev/vda1 after 10 s"; return 1; }
    sleep 0.1
  done
  mkdir -p "$1" && mount -t vfat -o ro /dev/vda1 "$1" && echo "mounted /dev/vda1 on $1"
}
