#!/usr/bin/env bash
# configure.sh: stage 2. Unpack the stage-1 tree, install the xmppd .deb,
# apply the ansible role over the chroot connection (twice: the second run
# must change nothing), add the first-boot unit, network, fstab and boot
# configuration, then strip everything that is per-build or secret and
# clamp timestamps to SOURCE_DATE_EPOCH.
#   usage: configure.sh ROOTFS_TAR XMPPD_DEB TREE MANIFEST_OUT
#   env:   DOMAIN, NET_MODE=static|dhcp, NET_IPV4, NET_GW4, NET_IPV6,
#          NET_GW6, NET_DNS, ROOT_UUID, BOOT_VOLID, MANIFEST (pin check),
#          ANSIBLE_ONLY=1 (stop after the role: make ansible-test)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
readonly here
readonly top=$here/..
# shellcheck source=image/lib.sh disable=SC1091
. "$here/lib.sh"

tree=
cleanup() {
	local rc=$?
	set +e
	if [[ -n $tree ]]; then chroot_umount "$tree"; fi
	exit "$rc"
}

install_deb() {
	local deb=$1
	cp "$deb" "$tree/tmp/xmppd.deb"
	in_chroot "$tree" apt-get install -y -q --no-install-recommends \
	    /tmp/xmppd.deb >&2
	rm -f "$tree/tmp/xmppd.deb"
}

# Run the role; print the PLAY RECAP's changed= count.
run_role() {
	local log=$1
	(cd "$top/ansible" && ANSIBLE_CONFIG=$top/ansible/ansible.cfg \
	    ansible-playbook -i inventories/image -e "ansible_host=$tree" \
	    -e "xmppd_domain=$DOMAIN" site.yml) >"$log" 2>&1 ||
	    { cat "$log" >&2; die "ansible-playbook failed"; }
	sed -n 's/.*changed=\([0-9]*\).*/\1/p' "$log" | tail -n 1
}

apply_role() {
	local changed
	changed=$(run_role "$tree.ansible1.log")
	msg "ansible first run: changed=$changed"
	changed=$(run_role "$tree.ansible2.log")
	msg "ansible second run: changed=$changed"
	[[ $changed == 0 ]] || { cat "$tree.ansible2.log" >&2;
	    die "the role is not idempotent"; }
}

write_network() {
	local f=$tree/etc/systemd/network/10-wired.network
	{
		printf '[Match]\nType=ether\n\n[Network]\n'
		if [[ $NET_MODE == dhcp ]]; then
			printf 'DHCP=ipv4\nIPv6AcceptRA=yes\n'
		else
			printf 'Address=%s\nAddress=%s\n' "$NET_IPV4" "$NET_IPV6"
			if [[ -n $NET_GW4 ]]; then printf 'Gateway=%s\n' "$NET_GW4"; fi
			if [[ -n $NET_GW6 ]]; then printf 'Gateway=%s\n' "$NET_GW6"; fi
			printf 'IPv6AcceptRA=no\n'
		fi
	} >"$f"
	: >"$tree/etc/resolv.conf"
	local dns
	for dns in $NET_DNS; do echo "nameserver $dns"; done >"$tree/etc/resolv.conf"
	in_chroot "$tree" systemctl enable systemd-networkd.service >&2
}

write_system() {
	local version
	echo xmpp >"$tree/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\txmpp\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
	    >"$tree/etc/hosts"
	# blkid spells a FAT volume id in upper case, dash in the middle.
	# /boot is only needed for kernel upgrades: nofail keeps a damaged
	# one from stopping xmppd.
	local volid=${BOOT_VOLID^^}
	printf 'UUID=%s\t/\text4\terrors=remount-ro\t0 1\nUUID=%s\t/boot\tvfat\tumask=0077,nofail\t0 2\n' \
	    "$ROOT_UUID" "${volid:0:4}-${volid:4:4}" >"$tree/etc/fstab"
	install -m 0755 "$here/files/xmppd-firstboot" "$tree/usr/local/sbin/"
	install -m 0644 "$here/files/xmppd-firstboot.service" \
	    "$here/files/xmppd-ready.service" "$tree/etc/systemd/system/"
	install -m 0755 "$here/files/zz-syslinux-boot" "$tree/etc/kernel/postinst.d/"
	in_chroot "$tree" systemctl enable xmppd-firstboot.service \
	    xmppd-ready.service >&2
	version=$(in_chroot "$tree" linux-version list | tail -n 1)
	# The initrd again, now under SOURCE_DATE_EPOCH: mkinitramfs then
	# sorts and clamps its cpio archive.
	in_chroot "$tree" update-initramfs -u -k "$version" >&2
	cat >"$tree/boot/syslinux.cfg" <<-CFG
	SERIAL 0 115200
	DEFAULT xmppd
	PROMPT 0
	TIMEOUT 0
	LABEL xmppd
	  LINUX /vmlinuz-$version
	  INITRD /initrd.img-$version
	  APPEND $(sed "s/@ROOT_UUID@/$ROOT_UUID/" "$here/cmdline")
	CFG
}

# Nothing per-build and no secret may stay in the tree.
strip_tree() {
	rm -f "$tree"/etc/ssh/ssh_host_*
	: >"$tree/etc/machine-id"
	rm -f "$tree/var/lib/dbus/machine-id" "$tree/var/lib/systemd/random-seed"
	rm -rf "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/*.bin \
	    "$tree"/var/cache/debconf/*-old "$tree"/var/lib/dpkg/*-old \
	    "$tree"/var/cache/ldconfig/aux-cache "$tree"/root/.ansible \
	    "$tree"/tmp/* "$tree"/var/tmp/* "$tree"/var/cache/xmppd-deploy \
	    "$tree"/etc/*-
	find "$tree/var/log" -type f -delete
	in_chroot "$tree" ldconfig
	rm -f "$tree/var/cache/ldconfig/aux-cache"
}

write_manifest() {
	local out=$1
	# shellcheck disable=SC2016 # dpkg-query's own ${} fields
	in_chroot "$tree" dpkg-query -W -f '${Package}=${Version}\n' |
	    LC_ALL=C sort >"$out"
	if [[ -n ${MANIFEST:-} ]] && ! diff -u "$MANIFEST" "$out" >&2; then
		die "installed packages differ from $MANIFEST"
	fi
}

main() {
	local tar=${1:?usage} deb=${2:?usage} manifest_out=${4:?usage}
	need_root
	find_mirrors
	: "${SOURCE_DATE_EPOCH:?}" "${ROOT_UUID:?}" "${BOOT_VOLID:?}"
	DOMAIN=${DOMAIN:-example.org} NET_MODE=${NET_MODE:-static}
	NET_IPV4=${NET_IPV4-192.0.2.10/24} NET_IPV6=${NET_IPV6-2001:db8:1::10/64}
	NET_GW4=${NET_GW4-192.0.2.1} NET_GW6=${NET_GW6-2001:db8:1::1}
	NET_DNS=${NET_DNS-}
	rmtree "$3"
	mkdir -p "$3"
	tree=$(cd "$3" && pwd)
	trap cleanup EXIT
	tar --numeric-owner --xattrs --xattrs-include='*' -C "$tree" -xf "$tar"
	chroot_mount "$tree"
	write_sources "$tree"
	in_chroot "$tree" apt-get update -q >&2
	install_deb "$deb"
	apply_role
	# make ansible-test stops here: the role's idempotence is its check.
	if [[ -n ${ANSIBLE_ONLY:-} ]]; then return 0; fi
	write_network
	write_system
	write_manifest "$manifest_out"
	chroot_umount "$tree"
	strip_tree
	# Clamp every time stamp to SOURCE_DATE_EPOCH (mkfs copies mtimes).
	find "$tree" -newermt "@$SOURCE_DATE_EPOCH" -print0 |
	    xargs -0r touch --no-dereference --date="@$SOURCE_DATE_EPOCH"
}

main "$@"
