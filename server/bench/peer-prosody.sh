# shellcheck shell=bash
# peer-prosody.sh: Prosody 0.12 from bookworm, sourced by run.sh. Private
# instance in $1: loopback, unprivileged ports, SQLite (mod_storage_sql
# with LuaDBI), smacks, carbons and MAM on, the c2s rate limit lifted.
# Accounts are written straight into its SQLite store (prosodyctl adduser
# costs a Lua start per user); internal_plain, so a PLAIN login costs
# Prosody a string compare, not PBKDF2 (generous to Prosody).

prosody_conf() {
	local dir=$1
	cat >"$dir/prosody.cfg.lua" <<CONF
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
daemonize = false
run_as_root = true
prosody_user = "root"
log = { warn = "$dir/prosody.log" }
network_backend = "epoll"
interfaces = { "127.0.0.1" }
c2s_ports = { $BENCH_PORT }
c2s_direct_tls_ports = { $((BENCH_PORT + 1)) }
s2s_ports = { }
http_ports = { }
https_ports = { }
c2s_require_encryption = true
allow_registration = false
authentication = "internal_plain"
storage = "sql"
sql = { driver = "SQLite3", database = "$dir/prosody.sqlite" }
archive_expires_after = "never"
default_archive_policy = true
max_archive_query_results = 100
smacks_hibernation_time = 300
limits = { c2s = { rate = "1000mb/s"; burst = "10s" } }
c2s_stanza_size_limit = 262144
modules_enabled = {
	"roster"; "saslauth"; "tls"; "disco"; "carbons"; "ping";
	"smacks"; "mam"; "limits";
}
modules_disabled = { "s2s"; "offline" }
certificates = "$dir"
ssl = { key = "$dir/key.pem"; certificate = "$dir/cert.pem" }
VirtualHost "$BENCH_DOMAIN"
CONF
}

prosody_setup() {
	local dir=$1 nusers=$2
	mkdir -p "$dir/data"
	make_cert "$dir"
	prosody_conf "$dir"
	# mod_storage_sql's own schema (0.12, SQLite), then the users.
	"$PYTHON" - "$dir/prosody.sqlite" "$nusers" "$BENCH_PASS" \
	    "$BENCH_DOMAIN" <<'PY'
import sqlite3, sys
db, n, pw, host = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = sqlite3.connect(db)
c.executescript("""
CREATE TABLE prosody (host TEXT NOT NULL, user TEXT NOT NULL,
  store TEXT NOT NULL, key TEXT NOT NULL, type TEXT NOT NULL,
  value MEDIUMTEXT NOT NULL);
CREATE INDEX prosody_index ON prosody (host, user, store, key);
CREATE TABLE prosodyarchive (sort_id INTEGER PRIMARY KEY AUTOINCREMENT,
  host TEXT NOT NULL, user TEXT NOT NULL, store TEXT NOT NULL,
  key TEXT NOT NULL, "when" INTEGER NOT NULL, "with" TEXT NOT NULL,
  type TEXT NOT NULL, value MEDIUMTEXT NOT NULL);
CREATE UNIQUE INDEX prosodyarchive_index
  ON prosodyarchive (host, user, store, key);
CREATE INDEX prosodyarchive_with_when
  ON prosodyarchive (host, user, store, "with", "when");
CREATE INDEX prosodyarchive_when ON prosodyarchive (host, user, store, "when");
CREATE INDEX prosodyarchive_sort ON prosodyarchive (host, user, store, sort_id);
""")
c.executemany("INSERT INTO prosody (host, user, store, key, type, value) "
              "VALUES (?, ?, 'accounts', 'password', 'string', ?)",
              [(host, "u%05d" % i, pw) for i in range(n)])
c.commit()
PY
}

prosody_start() {
	local dir=$1
	prosody --config "$dir/prosody.cfg.lua" -F >>"$dir/stdout.log" 2>&1 &
	PEER_PID=$!
	wait_port "$BENCH_PORT"
}

prosody_stop() {
	stop_pid "$PEER_PID"
}

# Prosody's own archive table, written directly while it is stopped:
# the same rows mod_mam would write (one per message, serialized XML).
prosody_fill_mam() {
	local dir=$1
	prosody_stop
	"$PYTHON" - "$dir/prosody.sqlite" "$BENCH_MAM_N" "$BENCH_DOMAIN" <<'PY'
import sqlite3, sys, time, uuid
db, n, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = sqlite3.connect(db)
t0 = int(time.time()) - n
rows = []
for i in range(n):
    key = str(uuid.uuid4())
    xml = ("<message xmlns='jabber:client' to='u00000@%s' "
           "from='u00001@%s/fill' type='chat' id='f%d'><body>archived "
           "message %d lorem ipsum dolor sit amet</body></message>"
           % (host, host, i, i))
    rows.append((host, "u00000", "archive", key, t0 + i,
                 "u00001@" + host, "xml", xml))
c.executemany('INSERT INTO prosodyarchive (host, user, store, key, "when", '
              '"with", type, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', rows)
c.commit()
PY
	prosody_start "$dir"
}
