#!/bin/sh
# Install what building and testing xmppd needs, from Debian only (the list
# is ci/packages). Run as root on Debian 12. Services the packages bring
# (freeradius) are not started: tests start their own private instances.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
pkgs=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/packages")

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: must run as root (it calls apt-get)" >&2
	exit 1
fi

# policy-rc.d 101 = "do not start services" (Debian policy §9.3.3.1).
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	made_policy=1
fi
cleanup() {
	if [ -n "$made_policy" ]; then rm -f "$policy"; fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # one word per package
apt-get install -y -q --no-install-recommends $pkgs
