# shellcheck shell=bash
# peer-ejabberd.sh: ejabberd 23.01 from bookworm, sourced by run.sh.
# Private node (ejabberd-bench@localhost) with its own config, spool and
# logs in $1: loopback, unprivileged ports, SQLite (the packaged
# lite.sql schema), stream management, carbons, MAM; no shaper. Accounts
# go straight into its users table (auth_password_format: plain).
# ejabberdctl runs the node as the ejabberd user, so $1 is chowned.

readonly EJ_NODE=ejabberd-bench@localhost

ejabberd_conf() {
	local dir=$1
	cat >"$dir/ejabberdctl.cfg" <<CONF
ERLANG_NODE=$EJ_NODE
POLL=true
ERL_MAX_PORTS=65536
ERL_PROCESSES=1000000
EJABBERD_PID_PATH=$dir/ejabberd.pid
CONF
	cat >"$dir/ejabberd.yml" <<CONF
hosts: ["$BENCH_DOMAIN"]
loglevel: warning
certfiles: ["$dir/both.pem"]
sql_type: sqlite
sql_database: "$dir/ejabberd.db"
default_db: sql
new_sql_schema: false
auth_method: sql
auth_password_format: plain
listen:
  - port: $BENCH_PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
    max_stanza_size: 262144
    backlog: 1024
  - port: $((BENCH_PORT + 1))
    ip: "127.0.0.1"
    module: ejabberd_c2s
    tls: true
    max_stanza_size: 262144
    backlog: 1024
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
modules:
  mod_roster: {}
  mod_disco: {}
  mod_carboncopy: {}
  mod_ping: {}
  mod_stream_mgmt:
    resume_timeout: 300
  mod_mam:
    default: always
    db_type: sql
CONF
}

ejabberd_setup() {
	local dir=$1 nusers=$2
	mkdir -p "$dir/log" "$dir/spool"
	make_cert "$dir"
	cat "$dir/key.pem" "$dir/cert.pem" >"$dir/both.pem"
	ejabberd_conf "$dir"
	"$PYTHON" - "$dir/ejabberd.db" "$nusers" "$BENCH_PASS" <<'PY'
import sqlite3, sys
db, n, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = sqlite3.connect(db)
c.executescript(open("/usr/share/ejabberd/sql/lite.sql").read())
c.executemany("INSERT INTO users (username, password) VALUES (?, ?)",
              [("u%05d" % i, pw) for i in range(n)])
c.commit()
PY
	chmod 755 "$dir"
	chown -R ejabberd: "$dir"
}

# As the ejabberd user directly: through su (ejabberdctl's own way from
# root) PAM cuts RLIMIT_NOFILE to 1024, and ejabberd fails its accepts
# with "too many open files" after ~1,000 sessions.
ejctl() {
	local dir=$1
	shift
	HOME=/var/lib/ejabberd setpriv --reuid=ejabberd --regid=ejabberd \
	    --init-groups ejabberdctl --config-dir "$dir" --config "$dir/ejabberd.yml" \
	    --ctl-config "$dir/ejabberdctl.cfg" --logs "$dir/log" \
	    --spool "$dir/spool" "$@"
}

ejabberd_start() {
	local dir=$1 i
	EJ_DIR=$dir
	# Erlang starts epmd on first use; if it is ours, stop it at the end.
	if [[ -z ${EJ_EPMD_OURS:-} ]]; then
		# Ask the daemon: a zombie epmd would fool pgrep.
		if epmd -names >/dev/null 2>&1; then EJ_EPMD_OURS=no; else
			EJ_EPMD_OURS=yes; fi
	fi
	ejctl "$dir" foreground >>"$dir/stdout.log" 2>&1 &
	EJ_WRAPPER=$!
	wait_port "$BENCH_PORT"
	# The figures are the Erlang VM's: find beam.smp of our node.
	for ((i = 0; i < 50; i++)); do
		PEER_PID=$(pgrep -u ejabberd -f -- "beam.smp.*-sname $EJ_NODE" |
		    head -n 1) && [[ -n $PEER_PID ]] && break
		sleep 0.1
	done
	[[ -n $PEER_PID ]] || die "ejabberd: no beam.smp for $EJ_NODE"
}

ejabberd_stop() {
	[[ -n ${EJ_DIR:-} ]] || return 0
	ejctl "$EJ_DIR" stop >/dev/null 2>&1 || true
	stop_pid "$PEER_PID"
	stop_pid "$EJ_WRAPPER"
	EJ_WRAPPER=
	# Stopped: a later ejabberdctl call would recreate its spool dir.
	EJ_DIR=
}

# After the last run: epmd too, if ejabberd started it for us.
ejabberd_done() {
	ejabberd_stop
	if [[ ${EJ_EPMD_OURS:-} == yes ]]; then
		epmd -kill >/dev/null 2>&1 || true
	fi
}

# ejabberd's own archive table, written directly while it is stopped.
ejabberd_fill_mam() {
	local dir=$1
	ejabberd_stop
	"$PYTHON" - "$dir/ejabberd.db" "$BENCH_MAM_N" "$BENCH_DOMAIN" <<'PY'
import sqlite3, sys, time
db, n, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = sqlite3.connect(db)
t0 = (int(time.time()) - n) * 1000000
rows = []
for i in range(n):
    body = "archived message %d lorem ipsum dolor sit amet" % i
    xml = ("<message xmlns='jabber:client' to='u00000@%s' "
           "from='u00001@%s/fill' type='chat' id='f%d'><body>%s</body>"
           "</message>" % (host, host, i, body))
    rows.append(("u00000", t0 + i * 1000, "u00001@%s/fill" % host,
                 "u00001@" + host, xml, body, "chat", ""))
c.executemany("INSERT INTO archive (username, timestamp, peer, bare_peer, "
              "xml, txt, kind, nick) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
c.commit()
PY
	chown ejabberd: "$dir/ejabberd.db"
	ejabberd_start "$dir"
}
