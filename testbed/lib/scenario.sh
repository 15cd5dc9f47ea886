# shellcheck shell=bash
# Sourced by testbed/scenarios/*.sh, which `tb scenario NAME` runs after
# bringing the network up and booting a fresh VM; it sets TB (the tb
# command), TB_DOMAIN, TB_OUT (this scenario's report directory),
# TB_SCENARIO, TB_TOP and TB_MAM (the mam-default the VM's xmppd runs
# with: always or never). A scenario exits non-zero on any failure; tb
# adds up the JSON reports it left in TB_OUT.
set -euo pipefail
: "${TB:?run scenarios with: testbed/tb scenario NAME}"
TB_MAM=${TB_MAM:-always}

# mam_option: how the loss checker is told the server's MAM mode. The
# checker's --mam always|never says what to expect from the archive; a
# checker without that option only knows --no-mam (skip the archive),
# which is what mam-default never needs from it.
mam_option() {
	if grep -Eq "[\"']--mam[\"']" "$TB_TOP/testbed/losscheck.py"; then
		echo "--mam=$TB_MAM"
	elif [[ $TB_MAM == never ]]; then
		echo "--no-mam"
	fi
}

# servers CLIENT [--direct-tls]: one address per line, as a client in that
# namespace finds them (SRV through dnsmasq, then A/AAAA).
servers() {
	"$TB" client resolve "$@"
}

# users CLIENT: --user options for the three testbed accounts of that
# namespace (c4a, c4b, c4c for c4 ...), for loss checkers that run at the
# same time in several namespaces.
users() {
	local u
	for u in $("$TB" client users "$1"); do printf -- '--user=%s\n' "$u"; done
}

# losscheck CLIENT REPORT ADDRESSES [losscheck options]: the loss checker
# in the client's namespace; ADDRESSES is a newline-separated list (from
# servers), tried in that order. Writes TB_OUT/REPORT.json.
losscheck() {
	local client=$1 report=$2 addrs=$3 a mam
	local -a args=()
	shift 3
	for a in $addrs; do args+=(--server "$a"); done
	if [[ ${#args[@]} -eq 0 ]]; then
		echo "$TB_SCENARIO: no server address via SRV from $client" >&2
		return 1
	fi
	mam=$(mam_option)
	[[ -z $mam ]] || args+=("$mam")
	echo "$TB_SCENARIO: losscheck from tb-$client to ${addrs//$'\n'/ }" \
	    "(mam-default $TB_MAM)" >&2
	ip netns exec "tb-$client" /usr/bin/python3 \
	    "$TB_TOP/testbed/losscheck.py" --domain "$TB_DOMAIN" "${args[@]}" \
	    --report "$TB_OUT/$report.json" "$@"
}

# fault SECONDS ARGS...: a --fault-cmd option running `tb fault ARGS`.
# The loss checker names a fault by the command's first word: the
# (harmless) TB_FAULT=... assignment makes that say which fault it was.
fault() {
	local at=$1 label
	shift
	label=$(echo "$*" | tr -c 'A-Za-z0-9%.\n-' '-')
	printf -- '--fault-cmd=%s:TB_FAULT=%s %s fault %s' "$at" "$label" \
	    "$TB" "$*"
}

# only_port PORT: keep the addresses with that port.
only_port() {
	grep -- ":$1\$"
}
