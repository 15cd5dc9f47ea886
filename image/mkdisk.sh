#!/usr/bin/env bash
# mkdisk.sh: stage 3. Pack a configured tree into a bootable, partitioned
# disk without mounting anything, so no kernel writes time stamps or
# journal blocks into it:
#   p1  FAT32 /boot (kernel, initrd, SYSLINUX), built with mtools
#   p2  ext4 root, built from the tree with mkfs.ext4 -d
# Fixed UUIDs, volume id, hash seed and SOURCE_DATE_EPOCH make it
# reproducible. Writes OUT/xmppd-bookworm.qcow2, vmlinuz, initrd.img,
# cmdline (for direct kernel boot).
#   usage: mkdisk.sh TREE OUTDIR
#   env:   SOURCE_DATE_EPOCH ROOT_UUID BOOT_VOLID HASH_SEED DISK_ID
#          ROOT_SIZE_MB (2048) BOOT_SIZE_MB (256)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
readonly here
# shellcheck source=image/lib.sh disable=SC1091
. "$here/lib.sh"

work=
cleanup() {
	local rc=$?
	set +e
	if [[ -n $work ]]; then rm -rf -- "$work"; fi
	exit "$rc"
}

at_epoch() {
	# A frozen clock (no leading @), in UTC whatever the host's zone.
	TZ=UTC MTOOLS_SKIP_CHECK=1 faketime "$(date -u -d "@$SOURCE_DATE_EPOCH" \
	    '+%Y-%m-%d %H:%M:%S')" "$@"
}

# FAT32 boot partition image holding the tree's /boot, with SYSLINUX.
make_boot() {
	local tree=$1 img=$2 f
	mkfs.fat -F 32 -n BOOT -i "$BOOT_VOLID" --invariant \
	    -C "$img" $((BOOT_SIZE_MB * 1024)) >/dev/null
	# mtools stamps directory entries with the clock: fake it.
	for f in "$tree"/boot/*; do
		[[ -f $f && ! -L $f ]] || continue
		at_epoch mcopy -m -i "$img" "$f" "::/${f##*/}"
	done
	at_epoch syslinux --install "$img"
}

# ext4 root from the tree; /boot stays an empty mount point.
make_root() {
	local tree=$1 img=$2
	mkdir -p "$work/root"
	# Move, not copy: the tree is rebuilt by configure.sh each time.
	find "$tree/boot" -mindepth 1 -delete
	touch --date="@$SOURCE_DATE_EPOCH" "$tree/boot" "$tree"
	mkfs.ext4 -q -F -L root -U "$ROOT_UUID" -b 4096 -I 256 \
	    -E "hash_seed=$HASH_SEED,root_owner=0:0,lazy_itable_init=0,nodiscard" \
	    -d "$tree" "$img" "${ROOT_SIZE_MB}M"
	e2fsck -fn "$img" >/dev/null || die "e2fsck found errors in $img"
}

# MBR disk: SYSLINUX's MBR code, p1 active FAT32, p2 Linux.
make_disk() {
	local disk=$1 boot=$2 root=$3 b=$((BOOT_SIZE_MB * 2048))
	truncate -s $(((1 + BOOT_SIZE_MB + ROOT_SIZE_MB) * 1024 * 1024)) "$disk"
	sfdisk -q "$disk" <<-TABLE
	label: dos
	label-id: 0x$DISK_ID
	start=2048, size=$b, type=c, bootable
	start=$((2048 + b)), type=83
	TABLE
	dd if=/usr/lib/syslinux/mbr/mbr.bin of="$disk" conv=notrunc status=none
	dd if="$boot" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
	dd if="$root" of="$disk" bs=1M seek=$((1 + BOOT_SIZE_MB)) \
	    conv=notrunc,sparse status=none
}

main() {
	local tree=${1:?usage} out=${2:?usage} version
	: "${SOURCE_DATE_EPOCH:?}" "${ROOT_UUID:?}" "${BOOT_VOLID:?}"
	: "${HASH_SEED:?}" "${DISK_ID:?}"
	ROOT_SIZE_MB=${ROOT_SIZE_MB:-2048} BOOT_SIZE_MB=${BOOT_SIZE_MB:-256}
	export SOURCE_DATE_EPOCH
	mkdir -p "$out"
	trap cleanup EXIT
	work=$(mktemp -d "$out/mkdisk.XXXXXX")
	version=$(sed -n 's|.*LINUX /vmlinuz-||p' "$tree/boot/syslinux.cfg")
	cp "$tree/boot/vmlinuz-$version" "$out/vmlinuz"
	cp "$tree/boot/initrd.img-$version" "$out/initrd.img"
	sed "s/@ROOT_UUID@/$ROOT_UUID/" "$here/cmdline" >"$out/cmdline"
	make_boot "$tree" "$work/boot.img"
	make_root "$tree" "$work/root.img"
	make_disk "$work/disk.raw" "$work/boot.img" "$work/root.img"
	qemu-img convert -f raw -O qcow2 -o compression_type=zlib -c \
	    "$work/disk.raw" "$out/xmppd-bookworm.qcow2"
	touch --date="@$SOURCE_DATE_EPOCH" "$out"/{vmlinuz,initrd.img,cmdline}
}

main "$@"
