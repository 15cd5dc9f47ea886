#!/usr/bin/env bash
# mkrootfs.sh: stage 1. debootstrap a bookworm minbase tree with the
# packages in packages.txt, bring it up to bookworm-updates and
# bookworm-security, and, given MANIFEST, install exactly the versions it
# lists. The tree is cached as a tar keyed by the mirror and the scripts
# (not the manifest: configure.sh checks the final package set against
# it); the path of the tar is printed on stdout.
#   usage: mkrootfs.sh CACHE_DIR
#   env:   MIRROR SECURITY_MIRROR (else the host's apt), MANIFEST,
#          SOURCE_DATE_EPOCH, NO_CACHE=1 to rebuild
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
readonly here
# shellcheck source=image/lib.sh disable=SC1091
. "$here/lib.sh"

tmp=
cleanup() {
	local rc=$?
	set +e
	if [[ -n $tmp ]]; then
		chroot_umount "$tmp/root"
		rmtree "$tmp"
	fi
	exit "$rc"
}

cache_key() {
	{
		echo "$MIRROR $SECURITY_MIRROR"
		cat "$here/mkrootfs.sh" "$here/lib.sh" "$here/packages.txt"
	} | sha256sum | cut -c1-16
}

# Install exactly the manifest's name=version set (less xmppd, which is
# not on the mirror) and check that nothing else is there: "same mirror
# state + same manifest". Packages that were automatic stay automatic, so
# pinning a tree that already matches changes nothing in it.
pin_manifest() {
	local root=$1 want have manual
	want=$(grep -v '^xmppd=' "$MANIFEST")
	manual=$(in_chroot "$root" apt-mark showmanual)
	# shellcheck disable=SC2046 # one word per package
	in_chroot "$root" apt-get install -y -q --allow-downgrades \
	    --no-install-recommends $(grep -v "^xmppd=" "$MANIFEST") >&2
	# shellcheck disable=SC2046
	in_chroot "$root" apt-mark auto $(in_chroot "$root" apt-mark showmanual |
	    grep -vxF "$manual") >/dev/null
	# shellcheck disable=SC2016 # dpkg-query's own ${} fields
	have=$(in_chroot "$root" dpkg-query -W -f '${Package}=${Version}\n' |
	    LC_ALL=C sort)
	if ! diff -u <(echo "$want") <(echo "$have") >&2; then
		die "the tree differs from $MANIFEST (mirror moved on?)"
	fi
}

# dist-upgrade may bring a newer kernel ABI: keep only the newest kernel.
drop_old_kernels() {
	local root=$1 newest old
	newest=$(in_chroot "$root" linux-version list |
	    in_chroot "$root" linux-version sort | tail -n 1)
	for old in $(in_chroot "$root" linux-version list | grep -vxF "$newest"); do
		in_chroot "$root" apt-get purge -y -q "linux-image-$old" >&2
	done
}

bootstrap() {
	local root=$1 include
	include=$(read_packages "$here/packages.txt" | paste -sd, -)
	msg "debootstrap bookworm from $MIRROR"
	debootstrap --variant=minbase --components=main \
	    --include="$include" bookworm "$root" "$MIRROR" >&2 ||
	    die "debootstrap failed (see $root/debootstrap/debootstrap.log)"
	write_sources "$root"
	chroot_mount "$root"
	in_chroot "$root" apt-get update -q >&2
	in_chroot "$root" apt-get dist-upgrade -y -q >&2
	drop_old_kernels "$root"
	if [[ -n ${MANIFEST:-} ]]; then pin_manifest "$root"; fi
	in_chroot "$root" apt-get clean
	chroot_umount "$root"
}

main() {
	local cache=${1:?usage: mkrootfs.sh CACHE_DIR} out
	need_root
	find_mirrors
	: "${SOURCE_DATE_EPOCH:?set SOURCE_DATE_EPOCH}"
	mkdir -p "$cache"
	out="$cache/rootfs-$(cache_key).tar"
	if [[ -s $out && -z ${NO_CACHE:-} ]]; then
		msg "cached: $out"
		echo "$out"
		return 0
	fi
	trap cleanup EXIT
	tmp=$(mktemp -d "$cache/mkrootfs.XXXXXX")
	bootstrap "$tmp/root"
	tar --numeric-owner --xattrs --xattrs-include='*' -C "$tmp/root" \
	    -cf "$out.part" .
	mv "$out.part" "$out"
	echo "$out"
}

main "$@"
