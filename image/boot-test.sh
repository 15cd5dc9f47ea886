#!/usr/bin/env bash
# boot-test.sh: boot the image under QEMU (TCG), wait for xmppd's
# readiness on the serial console, log in once with slixmpp through a
# user-mode network port forward on 127.0.0.1, then power down through
# QMP. Every wait is bounded; the QEMU started here is killed by PID on
# any failure. The base image is never written: the VM runs on an overlay.
#   usage: boot-test.sh direct|bootloader IMAGE_DIR
#   env:   READY_TIMEOUT (300 s), USERS (fixtures/users.txt), LOGIN_JID,
#          LOGIN_PASSWORD
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
readonly here
# shellcheck source=image/lib.sh disable=SC1091
. "$here/lib.sh"

tmp='' qemu_pid='' log=''
cleanup() {
	local rc=$?
	set +e
	if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
		msg "killing QEMU (pid $qemu_pid)"
		kill "$qemu_pid"
		sleep 2
		kill -9 "$qemu_pid" 2>/dev/null
	fi
	if [[ -n $tmp ]]; then rm -rf -- "$tmp"; fi
	exit "$rc"
}

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

qmp() {
	/usr/bin/python3 - "$tmp/qmp" "$1" <<-'PY'
	import json, socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(10)
	s.connect(sys.argv[1])
	f = s.makefile("rw")
	f.readline()
	for cmd in ("qmp_capabilities", sys.argv[2]):
	    f.write(json.dumps({"execute": cmd}) + "\n")
	    f.flush()
	    f.readline()
	PY
}

# Wait until the serial log matches, QEMU exits, or the time is up.
wait_for() {
	local pattern=$1 limit=$2 t0=$SECONDS
	while ((SECONDS - t0 < limit)); do
		if grep -aq -- "$pattern" "$log"; then return 0; fi
		kill -0 "$qemu_pid" 2>/dev/null || return 1
		if grep -aq 'Failed to start .*xmppd' "$log"; then return 1; fi
		sleep 1
	done
	return 1
}

start_qemu() {
	local mode=$1 dir=$2 port=$3 boot=() cred
	qemu-img create -q -f qcow2 -F qcow2 \
	    -b "$dir/xmppd-bookworm.qcow2" "$tmp/disk.qcow2"
	if [[ $mode == direct ]]; then
		boot=(-kernel "$dir/vmlinuz" -initrd "$dir/initrd.img"
		    -append "$(cat "$dir/cmdline")")
	fi
	cred=$(base64 -w0 "$USERS")
	qemu-system-x86_64 -machine q35 -accel tcg -m 1024 -smp 2 \
	    -display none -monitor none -serial "file:$log" \
	    -qmp "unix:$tmp/qmp,server=on,wait=off" "${boot[@]}" \
	    -smbios "type=11,value=io.systemd.credential.binary:xmppd.users=$cred" \
	    -drive "file=$tmp/disk.qcow2,if=virtio,format=qcow2" \
	    -netdev "user,id=n0,net=192.0.2.0/24,host=192.0.2.2,ipv6-net=2001:db8:1::/64,ipv6-host=2001:db8:1::2,hostfwd=tcp:127.0.0.1:$port-192.0.2.10:5222" \
	    -device virtio-net-pci,netdev=n0 -device virtio-rng-pci &
	qemu_pid=$!
}

main() {
	local mode=${1:?usage: boot-test.sh direct|bootloader IMAGE_DIR}
	local dir port t0 ready
	dir=$(cd "${2:?usage}" && pwd)
	[[ $mode == direct || $mode == bootloader ]] || die "mode: direct or bootloader"
	USERS=${USERS:-$here/../fixtures/users.txt}
	trap cleanup EXIT
	tmp=$(mktemp -d)
	log=$dir/boot-$mode.log
	: >"$log"
	port=$(free_port)
	t0=$SECONDS
	start_qemu "$mode" "$dir" "$port"
	# xmppd-ready.service prints this once xmppd sent READY=1.
	wait_for 'xmppd-ready: uptime' "${READY_TIMEOUT:-300}" || {
		tail -n 40 "$log" >&2; die "$mode boot: xmppd not ready (log: $log)"; }
	ready=$((SECONDS - t0))
	msg "$mode boot: xmppd ready after $ready s ($(grep -ao 'xmppd-ready: uptime [0-9.]* s' "$log"))"
	timeout 90 /usr/bin/python3 "$here/login.py" \
	    "${LOGIN_JID:-alice@example.org}" "${LOGIN_PASSWORD:-wonderland}" \
	    127.0.0.1 "$port" 60 || die "$mode boot: login failed (log: $log)"
	qmp system_powerdown
	wait_for 'reboot: Power down' 120 ||
	    die "$mode boot: no clean power-down within 120 s (log: $log)"
	timeout 30 tail --pid="$qemu_pid" -f /dev/null || die "QEMU did not exit"
	qemu_pid=
	msg "$mode boot: PASS (ready $ready s, total $((SECONDS - t0)) s)"
}

main "$@"
