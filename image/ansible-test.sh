#!/usr/bin/env bash
# ansible-test.sh: apply the xmppd role twice, over the chroot connection,
# to a fresh bookworm tree (stage 1's cached debootstrap output) with the
# .deb installed; the second run must report changed=0. configure.sh does
# the work (ANSIBLE_ONLY=1), the same code path the image build takes.
#   usage: ansible-test.sh XMPPD_DEB WORKDIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
readonly here
# shellcheck source=image/lib.sh disable=SC1091
. "$here/lib.sh"

main() {
	local deb=${1:?usage: ansible-test.sh XMPPD_DEB WORKDIR} work=${2:?usage} tar
	need_root
	[[ -f $deb ]] || die "no package at $deb (make deb)"
	export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct)}
	export ROOT_UUID=unused BOOT_VOLID=unused ANSIBLE_ONLY=1
	mkdir -p "$work"
	tar=$("$here/mkrootfs.sh" "$(dirname "$work")/image/cache")
	"$here/configure.sh" "$tar" "$deb" "$work/tree" "$work/manifest.txt"
	grep -h 'PLAY RECAP' -A2 "$work"/tree.ansible*.log >&2
	rmtree "$work/tree"
	msg "PASS: second run changed=0"
}

main "$@"
