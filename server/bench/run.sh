#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# run.sh SERVER...: run every workload against each server in turn (xmppd,
# prosody, ejabberd), BENCH_RUNS times, each run on a fresh start of the
# server in a private temp dir on 127.0.0.1. Raw JSON (one file per run
# and workload) goes to build/bench/. Peers are stopped by PID at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
readonly here
readonly top=${here%/server/bench}
readonly OUT=${BENCH_OUT:-$top/build/bench}
readonly XBENCH=$OUT/xbench
readonly XMPPD=${XMPPD:-$top/build/xmppd}
readonly PYTHON=/usr/bin/python3
readonly RUNS=${BENCH_RUNS:-3}
readonly BENCH_PORT=${BENCH_PORT:-25222}
readonly BENCH_DOMAIN=bench.local
readonly BENCH_PASS=bench-secret-1
readonly BENCH_USERS=10000
readonly BENCH_MAM_N=100000
# The message and resumption workloads, the same for every server. -o: each
# message carries a XEP-0359 origin-id, as Conversations, Dino and Gajim
# send; xmppd keeps them (resends are recognised with the archive off too).
readonly MSG_RUN=(-m msg -o -P 50 -W 50 -n 20000 -T 30)
# 150 s: before the drop and reconnect, the 10,000 messages to the away
# sessions must be acked, which takes Prosody (archiving at ~150/s) 65 to
# 80 s; xmppd and ejabberd need a few seconds.
readonly RESUME_RUN=(-m resume -o -n 1000 -R 10 -T 150)
PEER_PID=
BENCH_TMP=

die() { echo "run.sh: $*" >&2; exit 1; }

. "$here/peer-xmppd.sh"
. "$here/peer-prosody.sh"
. "$here/peer-ejabberd.sh"

wait_port() {
	local i
	for ((i = 0; i < 300; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	die "nothing listens on 127.0.0.1:$1 after 30 s"
}

# TERM, then KILL after 20 s; only the PID we started.
stop_pid() {
	local pid=$1 i
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	PEER_PID=
}

make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -days 30 -subj "/CN=$BENCH_DOMAIN" \
	    -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# The elapsed time of every workload goes to stderr, so a slow phase shows
# in the log of `make bench` (its whole run has a 30-minute goal).
xb() {
	local t0=$SECONDS
	"$XBENCH" -p "$BENCH_PORT" -d "$BENCH_DOMAIN" -w "$BENCH_PASS" \
	    -U "$BENCH_USERS" -S "$PEER_PID" "$@" || true
	echo "run.sh: ${2:-?}${XB_NOTE:+ ($XB_NOTE)}: $((SECONDS - t0)) s" \
	    "(at $SECONDS s)" >&2
}

# Largest session count this host lets one process hold (RLIMIT_NOFILE).
max_sessions() {
	local hard
	hard=$(ulimit -Hn)
	[[ $hard == unlimited ]] && hard=1048576
	if ((hard - 1000 < 100000)); then echo $((hard - 1000)); else
		echo 100000; fi
}

one_run() {
	local srv=$1 dir=$2 run=$3 o="$OUT/$1"
	"${srv}_start" "$dir"
	xb -m idle -k 1000,10000 -c 200 -T 300 >"$o-idle-$run.json"
	"${srv}_stop"
	"${srv}_start" "$dir"
	xb -m login -n 2000 -c 50 -T 60 >"$o-login-$run.json"
	xb "${MSG_RUN[@]}" >"$o-msg-$run.json"
	xb -m mam -n 200 -W 50 -T 60 >"$o-mam-$run.json"
	xb "${RESUME_RUN[@]}" >"$o-resume-$run.json"
	"${srv}_stop"
	if [[ $srv == xmppd ]]; then xmppd_variants "$dir" "$run"; fi
}

# xmppd alone, in every run right after the runs above, on the same
# database: the message and resumption workloads with archiving off
# (mam-default never: the spool is then the only durable copy), and the
# message workload without origin-ids (what the table measured before
# the workload sent them).
xmppd_variants() {
	local dir=$1 run=$2 o="$OUT/xmppd"
	xmppd_mam "$dir" never
	xmppd_start "$dir"
	XB_NOTE="MAM off" xb "${MSG_RUN[@]}" >"$o-msg_mamoff-$run.json"
	XB_NOTE="MAM off" xb "${RESUME_RUN[@]}" >"$o-resume_mamoff-$run.json"
	xmppd_stop
	xmppd_mam "$dir" always
	xmppd_start "$dir"
	XB_NOTE="no origin-id" xb -m msg -P 50 -W 50 -n 20000 -T 30 \
	    >"$o-msg_noorigin-$run.json"
	xmppd_stop
}

bench_server() {
	local srv=$1 dir run
	dir=$(mktemp -d "/tmp/bench-$srv.XXXXXX")
	BENCH_TMP=$dir
	echo "run.sh: $srv in $dir (at $SECONDS s)" >&2
	"${srv}_setup" "$dir" "$BENCH_USERS"
	"${srv}_start" "$dir"
	"${srv}_fill_mam" "$dir" >"$OUT/$srv-fill.json"
	"${srv}_stop"
	for ((run = 1; run <= RUNS; run++)); do
		echo "run.sh: $srv run $run/$RUNS (at $SECONDS s)" >&2
		one_run "$srv" "$dir" "$run"
	done
	if [[ $srv == xmppd ]]; then
		"${srv}_start" "$dir"
		xb -m idle -k "10000,$(max_sessions)" -c 200 -T 600 \
		    >"$OUT/xmppd-idle-max.json"
		"${srv}_stop"
	fi
	if declare -F "${srv}_done" >/dev/null; then "${srv}_done"; fi
	rm -rf -- "$dir"
	BENCH_TMP=
}

cleanup() {
	local rc=$?
	set +e
	if [[ -n ${EJ_DIR:-} ]]; then ejabberd_done; fi
	stop_pid "$PEER_PID"
	if [[ -n $BENCH_TMP ]]; then rm -rf -- "$BENCH_TMP"; fi
	exit "$rc"
}

main() {
	local srv
	(($# > 0)) || die "usage: run.sh xmppd|prosody|ejabberd..."
	[[ -x $XBENCH ]] || die "$XBENCH missing: make xbench"
	trap cleanup EXIT
	mkdir -p "$OUT"
	# A server and the load generator each hold 100,000+ sockets; with
	# CAP_SYS_RESOURCE the hard limit goes up to fs.nr_open, and anyone
	# may raise the soft limit to the hard one.
	ulimit -Hn "$(awk '{ print ($1 < 1048576) ? $1 : 1048576 }' \
	    /proc/sys/fs/nr_open)" 2>/dev/null ||
	    echo "run.sh: cannot raise the hard RLIMIT_NOFILE ($(ulimit -Hn))" \
		"without CAP_SYS_RESOURCE: max sessions is bounded by it" >&2
	ulimit -n "$(ulimit -Hn)"
	for srv in "$@"; do
		bench_server "$srv"
	done
}

main "$@"
