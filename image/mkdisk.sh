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
	# A frozen clock (-f, no leading @), in UTC whatever the host's zone.
	# NO_FAKE_STAT: libfaketime would otherwise shift the files' own
	# mtimes by (fake - real) time, which differs from build to build.
	NO_FAKE_STAT=1 TZ=UTC MTOOLS_SKIP_CHECK=1 faketime -f "$(date -u -d "@$SOURCE_DATE_EPOCH" \
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
	# Move, not copy: the tree is rebuilt by configure.sh each time.
	find "$tree/boot" -mindepth 1 -delete
	touch --date="@$SOURCE_DATE_EPOCH" "$tree/boot" "$tree"
	# Under the fake clock mke2fs stamps the superblock and every
	# inode's crtime with SOURCE_DATE_EPOCH ...
	at_epoch mkfs.ext4 -q -F -L root -U "$ROOT_UUID" -b 4096 -I 256 \
	    -E "hash_seed=$HASH_SEED,root_owner=0:0,lazy_itable_init=0,nodiscard" \
	    -d "$tree" "$img" "${ROOT_SIZE_MB}M"
	# ... but it copies each file's ctime, which only the kernel sets
	# (to the time of this build), and atime, which reading the tree
	# moves: set both to SOURCE_DATE_EPOCH.
	find "$tree" -printf "sif \"/%P\" ctime @$SOURCE_DATE_EPOCH\nsif \"/%P\" atime @$SOURCE_DATE_EPOCH\n" \
	    >"$work/ctime.cmds"
	at_epoch debugfs -w -f "$work/ctime.cmds" "$img" >/dev/null 2>"$work/ctime.err"
	if grep -v '^debugfs' "$work/ctime.err" >&2; then die "debugfs failed"; fi
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
