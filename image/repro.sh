#!/usr/bin/env bash
# repro.sh: build the image a second time with the first build's
# SOURCE_DATE_EPOCH and package manifest, and compare the sha256 of every
# artefact. On a mismatch, show what differs: per partition, the ext4
# superblock and the files (unpacked with debugfs, no mount), the FAT
# listing, and diffoscope's summary when diffoscope is installed.
#   usage: repro.sh FIRST_DIR SECOND_DIR XMPPD_DEB
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
readonly here
# shellcheck source=image/lib.sh disable=SC1091
. "$here/lib.sh"

# Unpack partition $2 of qcow2 $1 into directory $3 (fs.img + files/).
unpack() {
	local qcow=$1 part=$2 dir=$3 start size
	mkdir -p "$dir"
	qemu-img convert -O raw "$qcow" "$dir/disk.raw"
	read -r start size < <(sfdisk -d "$dir/disk.raw" |
	    sed -n "s|.*raw$part : start= *\([0-9]*\), size= *\([0-9]*\).*|\1 \2|p")
	dd if="$dir/disk.raw" of="$dir/fs.img" bs=512 skip="$start" \
	    count="$size" conv=sparse status=none
	rm -f "$dir/disk.raw"
}

# One line per file; rdump stamps symlinks with its own clock: no time.
listing() {
	(cd "$1" && find . -path ./fs.img -prune -o \( -type l -printf '%p -> %l\n' \) \
	    -o -printf '%p %m %U %G %T@\n' | sort)
}

explain_disk() {
	local a=$1 b=$2 t=$3 d
	for d in a b; do
		local src=$a
		[[ $d == b ]] && src=$b
		unpack "$src/xmppd-bookworm.qcow2" 1 "$t/$d-boot"
		unpack "$src/xmppd-bookworm.qcow2" 2 "$t/$d-root"
		MTOOLS_SKIP_CHECK=1 mdir -a -i "$t/$d-boot/fs.img" ::/ >"$t/$d-boot.ls"
		dumpe2fs -h "$t/$d-root/fs.img" 2>/dev/null >"$t/$d-root.sb"
		debugfs -R "rdump / $t/$d-root" "$t/$d-root/fs.img" 2>/dev/null
	done
	cmp -s "$t/a-boot/fs.img" "$t/b-boot/fs.img" ||
	    { msg "boot partition differs:"; diff "$t/a-boot.ls" "$t/b-boot.ls" >&2 || :; }
	cmp -s "$t/a-root/fs.img" "$t/b-root/fs.img" || {
		msg "root partition differs; superblock:"
		diff "$t/a-root.sb" "$t/b-root.sb" >&2 || :
		msg "files (content, mode, owner, mtime):"
		diff <(listing "$t/a-root") <(listing "$t/b-root") >&2 || :
		diff -rq "$t/a-root" "$t/b-root" >&2 || :
	}
	if command -v diffoscope >/dev/null; then
		diffoscope --text - --exclude fs.img "$t/a-root" "$t/b-root" | head -n 200 >&2 || :
	fi
}

main() {
	local a=${1:?usage} b=${2:?usage} deb=${3:?usage} t
	need_root
	[[ -s $a/SHA256SUMS && -s $a/manifest.txt ]] || die "no first build in $a"
	MANIFEST=$(cd "$a" && pwd)/manifest.txt
	SOURCE_DATE_EPOCH=$(cat "$a/SOURCE_DATE_EPOCH")
	CACHE_DIR=$(cd "$a" && pwd)/cache
	export MANIFEST SOURCE_DATE_EPOCH CACHE_DIR
	# The second build shares stage 1 (debootstrap) through the cache
	# unless NO_CACHE=1: docs/image.md says what each mode proves.
	"$here/build.sh" "$deb" "$b"
	if diff -u "$a/SHA256SUMS" "$b/SHA256SUMS" >&2; then
		msg "PASS: two builds are bit for bit identical"
		return 0
	fi
	msg "FAIL: the builds differ"
	t=$(mktemp -d)
	if ! cmp -s "$a/xmppd-bookworm.qcow2" "$b/xmppd-bookworm.qcow2"; then
		explain_disk "$a" "$b" "$t" || :
	fi
	if ! cmp -s "$a/initrd.img" "$b/initrd.img" && command -v diffoscope >/dev/null; then
		diffoscope --text - "$a/initrd.img" "$b/initrd.img" | head -n 100 >&2 || :
	fi
	rmtree "$t"
	return 1
}

main "$@"
