# shellcheck shell=bash
# lib.sh: helpers shared by the image/ stages. Sourced, never run.

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

msg() {
	echo "${0##*/}: $*" >&2
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot)"
}

# The mirror pair comes from MIRROR/SECURITY_MIRROR or the host's apt.
find_mirrors() {
	local libdir found
	libdir=$(dirname "${BASH_SOURCE[0]}")
	if [[ -z ${MIRROR:-} || -z ${SECURITY_MIRROR:-} ]]; then
		found=$(/usr/bin/python3 "$libdir/apt-mirror.py") ||
		    die "no mirror: set MIRROR=... (and SECURITY_MIRROR=...)"
		MIRROR=${MIRROR:-${found% *}}
		SECURITY_MIRROR=${SECURITY_MIRROR:-${found#* }}
	fi
	export MIRROR SECURITY_MIRROR
}

# Package names from a list file: comments and blank lines dropped.
read_packages() {
	sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"
}

write_sources() {
	local root=$1
	cat >"$root/etc/apt/sources.list" <<-SOURCES
	deb $MIRROR bookworm main
	deb $MIRROR bookworm-updates main
	deb $SECURITY_MIRROR bookworm-security main
	SOURCES
}

# Mount what maintainer scripts expect; chroot_umount undoes it. /dev is
# a private tmpfs with the few nodes package scripts use, never a bind of
# the host's: a tree left mounted by a killed build and then removed must
# not take the host's device nodes with it.
chroot_mount() {
	local root=$1 n name major minor
	mount -t proc proc "$root/proc"
	mount -t sysfs sysfs "$root/sys"
	mount -t tmpfs -o mode=0755,size=1m,nosuid,noexec tmpfs "$root/dev"
	for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
		IFS=: read -r name major minor <<<"$n"
		mknod -m 0666 "$root/dev/$name" c "$major" "$minor"
	done
	mkdir -m 0755 "$root/dev/pts" "$root/dev/shm"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts \
	    "$root/dev/pts"
	ln -s pts/ptmx "$root/dev/ptmx"
	ln -s /proc/self/fd "$root/dev/fd"
	# No daemon may start inside the build chroot.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
}

chroot_umount() {
	local root=$1 m
	rm -f "$root/usr/sbin/policy-rc.d"
	for m in dev/pts dev sys proc; do
		if mountpoint -q "$root/$m"; then umount -l "$root/$m"; fi
	done
}

# Remove a build tree, unmounting first whatever a killed build left
# mounted in it, and never crossing into another file system.
rmtree() {
	"$(dirname "${BASH_SOURCE[0]}")/umount-below.sh" "$1"
	rm -rf --one-file-system -- "$1"
}

in_chroot() {
	local root=$1
	shift
	LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
	    SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" chroot "$root" "$@"
}
