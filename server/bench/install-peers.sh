#!/usr/bin/env bash
# install-peers.sh: install the two servers xmppd is compared with, from
# Debian only: Prosody 0.12 (with LuaDBI SQLite for its SQL storage) and
# ejabberd 23.01. Run as root. The packages' own services are not started
# (policy-rc.d 101, as ci/install-deps.sh does) and are left disabled and
# stopped: the bench runs private instances on loopback under a temp dir.
set -euo pipefail

readonly PKGS=(prosody lua-dbi-sqlite3 ejabberd erlang-p1-sqlite3)
readonly POLICY=/usr/sbin/policy-rc.d

die() { echo "install-peers.sh: $*" >&2; exit 1; }

made_policy=
cleanup() {
	local rc=$?
	set +e
	if [[ -n $made_policy ]]; then rm -f "$POLICY"; fi
	exit "$rc"
}
trap cleanup EXIT

# Leave the Debian services as we found them: stopped and not enabled.
quiesce_services() {
	local svc
	for svc in prosody ejabberd; do
		if command -v systemctl >/dev/null &&
		    [[ -d /run/systemd/system ]]; then
			systemctl stop "$svc" 2>/dev/null || true
			systemctl disable "$svc" 2>/dev/null || true
		elif [[ -x /etc/init.d/$svc ]]; then
			/etc/init.d/"$svc" stop >/dev/null 2>&1 || true
		fi
	done
}

# Asks the daemon itself: a zombie epmd would fool pgrep.
epmd_up() {
	command -v epmd >/dev/null && epmd -names >/dev/null 2>&1
}

# Stopping ejabberd through its init script runs ejabberdctl, whose Erlang
# starts an epmd daemon that stays: stop it unless one ran before.
stop_new_epmd() {
	if [[ $1 == no ]] && epmd_up; then
		epmd -kill >/dev/null 2>&1 || true
	fi
}

main() {
	local missing=() p had_epmd=no
	if epmd_up; then had_epmd=yes; fi
	[[ $(id -u) -eq 0 ]] || die "must run as root (it calls apt-get)"
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'ok installed' || missing+=("$p")
	done
	if ((${#missing[@]} > 0)); then
		if [[ ! -e $POLICY ]]; then
			printf '#!/bin/sh\nexit 101\n' >"$POLICY"
			chmod 755 "$POLICY"
			made_policy=1
		fi
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
	quiesce_services
	stop_new_epmd "$had_epmd"
}

main "$@"
