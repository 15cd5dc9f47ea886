# shellcheck shell=bash
# peer-xmppd.sh: xmppd under test, sourced by run.sh. Private instance in
# $1 (a temp dir), loopback only, unprivileged ports, SQLite state, users
# as a users.txt of HA1 lines (docs/auth.md), rate limits off.

xmppd_setup() {
	local dir=$1 nusers=$2
	mkdir -p "$dir/state"
	"$PYTHON" - "$dir/users.txt" "$nusers" "$BENCH_PASS" <<'PY'
import hashlib, sys
path, n, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    for i in range(n):
        u = "u%05d" % i
        ha1 = hashlib.md5(("%s:bench:%s" % (u, pw)).encode()).hexdigest()
        f.write("%s:%s:bench:AUTHORIZED\n" % (u, ha1))
PY
	cat >"$dir/xmppd.conf" <<CONF
domain $BENCH_DOMAIN
listen 127.0.0.1 $BENCH_PORT
listen 127.0.0.1 $((BENCH_PORT + 1)) tls
selfsigned yes
state-dir $dir/state
auth file
users-file $dir/users.txt
realm bench
login-suffix ""
auth-rate-address 0
auth-rate-account 0
auth-timeout 600
idle-timeout 3600
max-sessions-per-user 1000
max-offline 100000
sm-hibernate 300
sm-queue-max 100000
mam-default always
mam-max-page 100
CONF
	"$XMPPD" -c "$dir/xmppd.conf" -t
}

# mam-default of the instance in $1 (always or never), for its next start.
xmppd_mam() {
	local dir=$1 mode=$2
	sed -i "s/^mam-default .*/mam-default $mode/" "$dir/xmppd.conf"
	grep -qx "mam-default $mode" "$dir/xmppd.conf" ||
	    die "xmppd: cannot set mam-default $mode"
}

xmppd_start() {
	local dir=$1
	"$XMPPD" -c "$dir/xmppd.conf" >>"$dir/xmppd.log" 2>&1 &
	PEER_PID=$!
	wait_port "$BENCH_PORT"
}

xmppd_stop() {
	stop_pid "$PEER_PID"
}

# Through the protocol: 10 senders write 100,000 messages to u00000.
xmppd_fill_mam() {
	"$XBENCH" -m msg -1 -P 10 -W 100 -n "$BENCH_MAM_N" -T 600 \
	    -p "$BENCH_PORT" -d "$BENCH_DOMAIN" -w "$BENCH_PASS" -S "$PEER_PID"
}
