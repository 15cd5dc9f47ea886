#!/usr/bin/env bash
# build.sh: make build/image/xmppd-bookworm.qcow2 and its companions in
# three stages (mkrootfs.sh -> configure.sh -> mkdisk.sh), then the
# manifest and SHA256SUMS. Prints each stage's time.
#   usage: build.sh XMPPD_DEB OUTDIR
#   env:   SOURCE_DATE_EPOCH (default: the last commit's time), MANIFEST
#          (pin to a previous build's package set), MIRROR, NET_*, DOMAIN,
#          NO_CACHE=1 (re-run debootstrap even if stage 1 is cached),
#          CACHE_DIR (stage 1's cache; default OUTDIR/cache)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
readonly here
# shellcheck source=image/lib.sh disable=SC1091
. "$here/lib.sh"

# Fixed identities: the same for every build, so that builds compare.
# Override them to give one host's disk its own.
export ROOT_UUID=${ROOT_UUID:-6f1a5d1e-0b1c-4e6a-9d4b-786d707064e4}
export HASH_SEED=${HASH_SEED:-2b7e1516-28ae-42d2-a6ab-f7158809cf4f}
export BOOT_VOLID=${BOOT_VOLID:-786d7070}
export DISK_ID=${DISK_ID:-786d7070}

stage() {
	local name=$1 t0=$SECONDS
	shift
	"$@" || die "stage $name failed"
	msg "stage $name: $((SECONDS - t0)) s"
}

main() {
	local deb=${1:?usage: build.sh XMPPD_DEB OUTDIR} out=${2:?usage} tar
	need_root
	[[ -f $deb ]] || die "no package at $deb (make deb)"
	deb=$(cd "$(dirname "$deb")" && pwd)/${deb##*/}
	if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
		SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%ct)
	fi
	export SOURCE_DATE_EPOCH
	mkdir -p "$out"
	out=$(cd "$out" && pwd)
	rm -f "$out"/{xmppd-bookworm.qcow2,vmlinuz,initrd.img,cmdline,manifest.txt,SHA256SUMS}
	local t0=$SECONDS
	tar=$(stage rootfs "$here/mkrootfs.sh" "${CACHE_DIR:-$out/cache}")
	stage configure "$here/configure.sh" "$tar" "$deb" "$out/tree" \
	    "$out/manifest.txt"
	stage disk "$here/mkdisk.sh" "$out/tree" "$out"
	rmtree "$out/tree"
	(cd "$out" && sha256sum xmppd-bookworm.qcow2 vmlinuz initrd.img \
	    cmdline manifest.txt >SHA256SUMS)
	echo "$SOURCE_DATE_EPOCH" >"$out/SOURCE_DATE_EPOCH"
	msg "image built in $((SECONDS - t0)) s (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
	cat "$out/SHA256SUMS" >&2
}

main "$@"
