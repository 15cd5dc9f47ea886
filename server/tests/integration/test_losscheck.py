"""The loss checker (testbed/losscheck.py) against the real xmppd, through
testbed/faultproxy.py on 127.0.0.1 and ::1. Each scenario sends for a few
seconds while something breaks, then gives every message a verdict; the
run must pass: nothing lost, nothing only in the archive (mam_only), no
duplicate under a new id, nothing unacked or bounced for good, every
carbon where it was guaranteed. Every scenario runs against a server
with mam-default always and again with never (the checker then requires
every message archived exactly once, or none).

  links           no faults; reset storm; half-open (blackhole, resume,
                  <conflict/> on the old link); IPv4 reset, resume on ::1
  server process  SIGKILL and restart; SIGKILL every 2-5 s for 2 minutes
                  (once, with never; 30 s with always); SIGKILL while the
                  clients resume; SIGSTOP 20 s; SIGTERM with 100
                  hibernated sessions and logins during the shutdown
  storage         disk full, then freed; another process holding SQLite's
                  write lock 10 s; the database file deleted (the test
                  restarts the daemon as systemd would, then --init)
  clients         a client process killed without acking, then a new
                  login; a receiver that stops acking beyond sm-queue-max;
                  an offline queue of 3 x sm-queue-max at login; a
                  half-open recipient beyond the queue limit

They skip (not fail) only when the daemon does not offer XEP-0198 with
resumption, which is checked at run time.
"""

import asyncio
import json
import os
import signal
import sqlite3
import sys
import time

import pytest

from daemon import users_line, users_text, write_atomic
from faults import KillLoop, LockHolder, Paused, kill_restart
from rawxmpp import RawStream, StreamClosed

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "testbed"))

import losscheck as lc  # noqa: E402
import xmppclient as xc  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402

DOMAIN = "localhost"
DURATION = 8.0          # seconds of traffic per scenario (bounded)
RATE = 5.0              # messages per second per user
MAMS = ("always", "never")
RESERVE = "store-reserve 1\n"
# With a small sm-queue-max (10, 20) the archive is read in small pages:
# a page is sent at once, and more unacked stanzas than the queue holds
# end the session (resource-constraint).
SMALL_PAGE = 3
# What the checker fails a run on, whatever the MAM mode; and the
# archive's own checks (mam always).
MUST_BE_ZERO = ("lost", "mam_only", "dup_new_id", "unacked", "bounced",
                "misrouted", "missing_stanza_id", "bounced_delivered",
                "carbon_dup_new_id", "carbon_misrouted", "mam_unexpected")
ARCHIVE_CHECKS = ("not_in_mam", "mam_dup", "stanza_id_mismatch")


async def _probe_sm(port):
    c = xc.XMPPClient("alice", "wonderland", DOMAIN, [("127.0.0.1", port)],
                      timeout=10)
    try:
        await c.start()
        return c.sm_on and c.sm_id is not None
    finally:
        await c.close()


def lc_daemon(make_daemon, mam, extra="", **kw):
    """A daemon with mam-default MAM (and extra configuration), if it
    offers stream management with resumption."""
    return probed(make_daemon(extra_conf=f"mam-default {mam}\n" + extra,
                              **kw))


def probed(d):
    if not asyncio.run(asyncio.wait_for(_probe_sm(d.port()), 30)):
        pytest.skip("xmppd does not offer urn:xmpp:sm:3 with resume='true' "
                    "yet: the loss checker needs it")
    return d


@pytest.fixture(params=MAMS)
def mam(request):
    return request.param


class Ctx:
    """What a scenario's faults act on: the proxies (and the checker, set
    once it exists)."""

    def __init__(self, proxies, daemon=None):
        self.proxies = proxies
        self.daemon = daemon
        self.check = None

    def repoint(self, d=None):
        """After a restart (new ports): the proxies forward there."""
        d = d or self.daemon
        for p in self.proxies:
            host = p.upstream[0]
            p.upstream = (host, d.port(host))

    def command(self, text):
        return "; ".join(p.command(text) for p in self.proxies)


async def _proxies(upstreams):
    out = []
    for host, port in upstreams:
        fp = FaultProxy(host, 0, host, port)
        await fp.start()
        out.append(fp)
    return out


def run_check(tmp_path, upstreams, faults=lambda ctx: [], mam="always",
              daemon=None, duration=DURATION, **kw):
    """One loss-checker run through fresh proxies; returns the report and
    the context (proxies stopped) for post-mortem checks."""
    params = dict(rate=RATE, dead_after=2.0, drain=30.0, timeout=10.0)
    params.update(kw)

    async def main():
        ctx = Ctx(await _proxies(upstreams), daemon)
        try:
            cfg = lc.Config(DOMAIN, [(p.listen[0], p.port)
                                     for p in ctx.proxies],
                            duration=duration, mam=mam, **params)
            ctx.check = lc.LossCheck(cfg, faults(ctx),
                                     proxy_command=ctx.command)
            report = await ctx.check.run()
        finally:
            # Let a server that closes a half-open link do so first.
            await asyncio.sleep(0.2)
            for p in ctx.proxies:
                p.seen = list(p.links.values())     # stop() forgets them
                await p.stop()
        return report, ctx
    bound = duration + 3 * params["drain"] + 120
    report, ctx = asyncio.run(asyncio.wait_for(main(), bound))
    (tmp_path / "losscheck.json").write_text(json.dumps(report, indent=1))
    print(report["verdict"])
    return report, ctx


def assert_no_loss(report, mam, skip=()):
    """The checker's verdict, and each count it fails on, spelled out."""
    c = report["counts"]
    keys = MUST_BE_ZERO + (ARCHIVE_CHECKS if mam == "always" else ())
    bad = {k: c.get(k) for k in keys if k not in skip and c.get(k)}
    assert not bad, f"{report['verdict']}\n{report.get('samples')}"
    assert c["sent"] > 0 and c["acked"] == c["sent"]
    if mam == "always" and not skip:
        assert c["mam"] == c["sent"]
    if mam == "never":
        assert c["mam"] == 0
    if not skip:
        assert report["pass"], f"{report['verdict']}\n{report['failures']}"


def proxy_fault(ctx, command, which=None):
    def act():
        targets = ctx.proxies if which is None else [ctx.proxies[which]]
        return "; ".join(p.command(command) for p in targets)
    return act


def n_clients(report):
    return len(report["clients"]) + len(report.get("watchers") or {})


def v4(d):
    return [("127.0.0.1", d.port())]


def fault_results(report):
    return {f["name"]: f["result"] for f in report["faults"]}


def sent_to_during(ctx, report, user, fault, seconds):
    """How many messages for USER were sent in the `seconds` after the
    fault named `fault` started: proof that a scenario went past a limit."""
    t0 = next(f["t_ms"] for f in report["faults"] if f["name"] == fault)
    to = f"{user}@{DOMAIN}"
    return sum(1 for m in ctx.check.acct.msgs.values()
               if m["to"] == to and t0 <= m["sent_ms"] < t0 + seconds * 1000)


# -- links ----------------------------------------------------------------------

def test_no_faults(make_daemon, mam, tmp_path):
    d = lc_daemon(make_daemon, mam)
    report, _ = run_check(tmp_path, v4(d), mam=mam)
    assert_no_loss(report, mam)
    c = report["counts"]
    assert c["live"] == c["sent"] and c["redelivered"] == 0
    for cl in report["clients"].values():
        assert cl["link_downs"] == 0


def test_reset_storm(make_daemon, mam, tmp_path):
    d = lc_daemon(make_daemon, mam)

    def faults(ctx):
        return [lc.Fault(t, "reset", action=proxy_fault(ctx, "reset"))
                for t in (2, 4, 6)]
    report, _ = run_check(tmp_path, v4(d), faults, mam=mam)
    assert_no_loss(report, mam)
    n = n_clients(report)
    assert [f["result"] for f in report["faults"]] == [f"ok {n}"] * 3
    for cl in report["clients"].values():
        assert cl["link_downs"] >= 3 and cl["resumed"] >= 3
        assert cl["resume_failed"] == 0


def test_half_open_link_resumes_and_old_is_closed_with_conflict(
        make_daemon, mam, tmp_path):
    d = lc_daemon(make_daemon, mam)

    def faults(ctx):
        return [lc.Fault(3, "blackhole",
                         action=proxy_fault(ctx, "blackhole"))]
    report, ctx = run_check(tmp_path, v4(d), faults, mam=mam)
    assert_no_loss(report, mam)
    for name, cl in report["clients"].items():
        assert cl["resumed"] >= 1 and cl["resume_failed"] == 0, name
    assert report["faults"][0]["max_recovery_ms"] is not None
    holes = [link for link in ctx.proxies[0].seen
             if link.mode == "blackhole"]
    assert len(holes) == n_clients(report)
    log = d.stderr()
    for link in holes:
        # The server ended the session's old connection at the resume,
        # with a conflict stream error (TLS hides it from the proxy, the
        # daemon's log names the connection by its peer port).
        assert link.eof[1], "server kept the half-open connection"
        port = link.writers[1].get_extra_info("sockname")[1]
        assert f"stream error=conflict peer=127.0.0.1:{port}" in log


def test_resume_across_families(make_daemon, mam, ipv6, tmp_path):
    d = lc_daemon(make_daemon, mam)
    ups = [("127.0.0.1", d.port()), (ipv6, d.port(ipv6))]

    def faults(ctx):
        return [lc.Fault(3, "reset v4", action=proxy_fault(ctx, "reset",
                                                            which=0))]
    report, ctx = run_check(tmp_path, ups, faults, mam=mam)
    assert_no_loss(report, mam)
    v6_addr = f"{ipv6}:{ctx.proxies[1].port}"
    for name, cl in report["clients"].items():
        assert cl["resume_failed"] == 0, name
        assert v6_addr in cl["resumed_on"], (name, cl["resumed_on"])


# -- the server process -------------------------------------------------------

def test_server_crash_and_restart(make_daemon, mam, tmp_path):
    d = lc_daemon(make_daemon, mam)

    def faults(ctx):
        return [lc.Fault(4, "SIGKILL xmppd",
                         action=lambda: kill_restart(d, ctx.repoint),
                         blocking=True)]
    report, _ = run_check(tmp_path, v4(d), faults, mam=mam, daemon=d)
    assert_no_loss(report, mam)
    assert report["faults"][0]["result"] == "restarted"
    for name, cl in report["clients"].items():
        assert cl["resume_failed"] >= 1 and cl["new_sessions"] >= 2, name


@pytest.mark.parametrize("mam,duration", [("never", 120.0),
                                          ("always", 30.0)])
def test_sigkill_every_few_seconds(make_daemon, tmp_path, mam, duration):
    """The issue's two minutes (once, with the archive off: no safety
    net); half a minute with it on."""
    d = lc_daemon(make_daemon, mam)
    loops = []

    def faults(ctx):
        def start():
            loops.append(KillLoop(d, 2.0, 5.0, on_restart=ctx.repoint)
                         .start())
            return f"kill loop seed {loops[0].seed}"

        def stop():
            return f"{loops[0].stop()} kills"
        return [lc.Fault(0.5, "start kill loop", action=start),
                lc.Fault(duration - 1.0, "stop kill loop", action=stop,
                         blocking=True)]
    try:
        report, _ = run_check(tmp_path, v4(d), faults, mam=mam,
                              duration=duration, drain=40.0)
    finally:
        for loop in loops:
            loop.cancel()
    res = fault_results(report)
    kills = int(res["stop kill loop"].split()[0])
    assert kills >= int(duration / 5.0) - 1, res
    print(f"{kills} SIGKILLs in {duration:g} s, seed {loops[0].seed}")
    assert_no_loss(report, mam)


def test_sigkill_while_clients_resume(make_daemon, mam, tmp_path):
    """Every link is reset; as soon as the first clients are connected
    again (their resume under way), SIGKILL, and restart."""
    d = lc_daemon(make_daemon, mam)

    def faults(ctx):
        async def reset_then_kill():
            # The proxies live in the event loop: command them there.
            before = sum(p.accepted for p in ctx.proxies)
            r = ctx.command("reset")
            deadline = time.monotonic() + 10
            while sum(p.accepted for p in ctx.proxies) == before:
                if time.monotonic() > deadline:
                    raise TimeoutError("no client reconnected in 10 s")
                await asyncio.sleep(0.002)
            await asyncio.get_running_loop().run_in_executor(
                None, kill_restart, d, ctx.repoint)
            return f"reset {r}; killed while resuming"
        return [lc.Fault(t, f"reset+SIGKILL {i}", action=reset_then_kill)
                for i, t in enumerate((2.5, 5.5))]
    report, _ = run_check(tmp_path, v4(d), faults, mam=mam, duration=9.0)
    assert_no_loss(report, mam)
    for r in fault_results(report).values():
        assert r.endswith("killed while resuming"), r


def test_sigstop_20s(make_daemon, mam, tmp_path):
    d = lc_daemon(make_daemon, mam)

    def faults(ctx):
        def stop_20():
            with Paused(d):
                time.sleep(20.0)	# the fault is the pause itself
            return "stopped 20 s"
        return [lc.Fault(2, "SIGSTOP 20s", action=stop_20, blocking=True)]
    report, _ = run_check(tmp_path, v4(d), faults, mam=mam, duration=25.0,
                          drain=40.0)
    assert fault_results(report)["SIGSTOP 20s"] == "stopped 20 s"
    assert_no_loss(report, mam)


def _hibernated_users(n):
    return [f"h{i:03d}" for i in range(n)]


def test_sigterm_with_100_hibernated_sessions(make_daemon, mam, tmp_path):
    """100 sessions hibernate with a message each in their queue; SIGTERM
    under traffic while clients try to log in; the test restarts the
    daemon. Every hibernated account gets its message at its next login,
    and the checker's run passes."""
    users = _hibernated_users(100)
    d = make_daemon(extra_conf=f"mam-default {mam}\n", start=False)
    write_atomic(d.users_file, users_text("".join(
        users_line(u, "pw-" + u, "AUTHORIZED") for u in users)))
    probed(d.start())
    for u in users:
        s = RawStream("127.0.0.1", d.port())
        s.login(u, "pw-" + u, resource="away", presence=True)
        s.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
        s.wait_for(lambda e: e.tag.endswith("}enabled"))
        s.close()			# dropped: the session hibernates
    d.wait_log(f"hibernating jid={users[-1]}@{DOMAIN}/away", timeout=15)
    a = RawStream("127.0.0.1", d.port())
    a.login("dave", "restricted-pw", resource="setup")
    for u in users:
        a.send(f"<message to='{u}@{DOMAIN}/away' type='chat'><body>for {u}"
               "</body></message>")
    a.ping(timeout=30)
    a.close()
    shutdown = {}

    def faults(ctx):
        def sigterm():
            watch = RawStream("127.0.0.1", d.port())
            watch.login("dave", "restricted-pw", resource="watch")
            d.signal(signal.SIGTERM)
            # Listeners are closed before the streams are told.
            shutdown["told"] = watch.stream_error(timeout=15)
            watch.close()
            refused = accepted = 0
            while d.alive():
                try:
                    s = RawStream("127.0.0.1", d.port(), timeout=2)
                except OSError:
                    refused += 1
                    time.sleep(0.01)
                    continue
                accepted += 1
                try:
                    s.login("dave", "restricted-pw", resource="late")
                except (StreamClosed, TimeoutError, OSError, AssertionError):
                    pass
                finally:
                    s.close()
            shutdown.update(rc=d.wait_exit(15), refused=refused,
                            accepted=accepted)
            d.start()
            ctx.repoint()
            return "restarted"
        return [lc.Fault(3, "SIGTERM", action=sigterm, blocking=True)]
    report, _ = run_check(tmp_path, v4(d), faults, mam=mam, daemon=d)
    assert shutdown["rc"] == 0 and shutdown["told"] == "system-shutdown", \
        shutdown
    assert shutdown["accepted"] == 0, \
        f"connections accepted during the shutdown: {shutdown}"
    assert_no_loss(report, mam)
    missing = []
    for u in users:
        s = RawStream("127.0.0.1", d.port())
        s.login(u, "pw-" + u, resource="back", presence=True)
        try:
            m = s.wait_for(lambda e: e.tag.endswith("}message"), timeout=5)
            if m.findtext("{jabber:client}body") != f"for {u}":
                missing.append(u)
        except TimeoutError:
            missing.append(u)
        s.close()
    assert missing == [], f"{len(missing)} hibernated sessions lost their " \
        f"message: {missing[:5]}"


# -- storage ------------------------------------------------------------------------

def test_disk_full_then_freed(make_daemon, small_fs, mam, tmp_path):
    fs = small_fs(6)
    d = lc_daemon(make_daemon, mam, RESERVE,
                  state_dir=os.path.join(fs.path, "state"))

    def faults(ctx):
        return [lc.Fault(2, "disk full", action=lambda: f"{fs.fill()} "
                         "bytes", blocking=True),
                lc.Fault(6, "space freed", action=fs.free, blocking=True)]
    report, _ = run_check(tmp_path, v4(d), faults, mam=mam, duration=10.0,
                          drain=40.0)
    assert_no_loss(report, mam)
    print(f"retried: {report['counts'].get('retried')}")


def test_sqlite_write_lock_held_10s(make_daemon, mam, tmp_path):
    d = lc_daemon(make_daemon, mam)
    holders = []

    def faults(ctx):
        def lock():
            holders.append(LockHolder(d.db, hold=10.0).start())
            return "locked for 10 s"
        return [lc.Fault(2, "lock 10s", action=lock, blocking=True)]
    try:
        report, _ = run_check(tmp_path, v4(d), faults, mam=mam,
                              duration=14.0, drain=40.0)
    finally:
        for h in holders:
            h.kill()
    assert fault_results(report)["lock 10s"] == "locked for 10 s"
    assert_no_loss(report, mam)


def test_database_deleted_while_running(make_daemon, mam, tmp_path):
    """The file is deleted under the running server: no more acks, exit
    1. The test restarts it as systemd would: refused (the marker says a
    database existed), then started with --init as the operator does.

    What the file held went with it: the archive (its checks do not
    apply), and for the messages in flight at that moment (committed, the
    ack still on its way) both the spool row and the origin-id record, so
    such a message may come again under a new id, or not at all. Those
    are the only messages allowed a verdict other than a clean one, and
    only as lost or dup_new_id; nothing sent after the deletion may be
    affected at all."""
    d = lc_daemon(make_daemon, mam)
    what = {}

    def faults(ctx):
        def delete():
            os.unlink(d.db)
            what["rc"] = d.wait_exit(15)
            what["refused"] = d.run_once(["-d"])
            d.start(args=["--init"])
            ctx.repoint()
            return "deleted, exit, refused, --init"
        return [lc.Fault(3, "delete the database", action=delete,
                         blocking=True)]
    report, ctx = run_check(tmp_path, v4(d), faults, mam=mam, daemon=d)
    assert what["rc"] == 1, what
    rc, out = what["refused"]
    assert rc == 1 and "--init" in out, out
    t_del = report["faults"][0]["t_ms"]
    _, ids, _ = ctx.check.acct.summary()
    msgs = ctx.check.acct.msgs
    bad = {k: [o for o in ids.get(k, ()) if msgs[o]["sent_ms"] >= t_del or
               k not in ("lost", "dup_new_id")] for k in MUST_BE_ZERO}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"{report['verdict']}\n{bad}"
    in_flight = ids["lost"] + ids["dup_new_id"]
    # A client asks for an ack every 5 messages: at most that many of
    # each sender's can be in flight.
    assert len(in_flight) <= 5 * len(report["clients"]), in_flight
    c = report["counts"]
    assert c["sent"] > 0 and c["acked"] == c["sent"]
    print(f"in flight at the deletion: {sorted(in_flight)}")


# -- clients ---------------------------------------------------------------------------

def test_client_crash_then_new_login(make_daemon, mam, tmp_path):
    d = lc_daemon(make_daemon, mam)

    def faults(ctx):
        return [lc.Fault.client_fault(2, "crash", "bob", 0.5),
                lc.Fault.client_fault(4, "crash", "carol", 1.0),
                lc.Fault.client_fault(5, "crash", "alice/carbons", 0.5)]
    report, _ = run_check(tmp_path, v4(d), faults, mam=mam)
    assert_no_loss(report, mam)
    for r in fault_results(report).values():
        assert r.startswith("crashed"), r


def test_receiver_never_acks_beyond_sm_queue_max(make_daemon, mam,
                                                  tmp_path):
    d = lc_daemon(make_daemon, mam, "sm-queue-max 10\n")

    def faults(ctx):
        return [lc.Fault.client_fault(1.5, "noack", "bob", 5.0),
                lc.Fault.client_fault(2.0, "noack", "carol", 4.0)]
    report, ctx = run_check(tmp_path, v4(d), faults, mam=mam,
                            mam_page=SMALL_PAGE)
    assert_no_loss(report, mam)
    assert sent_to_during(ctx, report, "bob", "noack bob 5s", 5) > 10


def test_offline_queue_three_times_sm_queue_max(make_daemon, mam, tmp_path):
    d = lc_daemon(make_daemon, mam, "sm-queue-max 20\n")
    # alice writes to bob 8 a second: 72 wait for bob's late login, and
    # carol goes offline for 8 s later.
    report, _ = run_check(
        tmp_path, v4(d),
        lambda ctx: [lc.Fault.client_fault(10, "offline", "carol", 8.0)],
        mam=mam, rate=8.0, duration=14.0, late={"bob": 9.0},
        mam_page=SMALL_PAGE)
    assert_no_loss(report, mam)
    assert report["counts"]["offline"] >= 60


def _link_of(ctx, user):
    """The proxy link carrying USER's main connection (matched by the
    client's local port)."""
    c = ctx.check.by_user[user]
    port = c._writer.get_extra_info("sockname")[1]
    for p in ctx.proxies:
        for num, link in list(p.links.items()):
            peer = link.writers[0].get_extra_info("peername")
            if peer and peer[1] == port:
                return p, num
    raise LookupError(f"no proxy link for {user}")


def test_half_open_recipient_beyond_queue_limit(make_daemon, mam, tmp_path):
    """bob's link turns half-open; he notices only after 5 s, while alice
    keeps writing to him (more than sm-queue-max 10). He resumes on a new
    connection and gets everything."""
    d = lc_daemon(make_daemon, mam, "sm-queue-max 10\n")

    def faults(ctx):
        def hole():
            p, num = _link_of(ctx, "bob")
            return p.command(f"blackhole {num}")
        return [lc.Fault(2, "blackhole bob", action=hole)]
    report, ctx = run_check(tmp_path, v4(d), faults, mam=mam,
                            dead_after=5.0, duration=10.0,
                            mam_page=SMALL_PAGE)
    assert fault_results(report)["blackhole bob"] == "ok 1"
    assert_no_loss(report, mam)
    assert report["clients"]["bob"]["link_downs"] >= 1
    assert sent_to_during(ctx, report, "bob", "blackhole bob", 5) > 10


def test_lock_holder_is_gone(tmp_path):
    """The faults' own hygiene: a lock holder ends when released."""
    db = str(tmp_path / "x.sqlite")
    sqlite3.connect(db).close()
    h = LockHolder(db).start()
    con = sqlite3.connect(db, timeout=0.05)
    with pytest.raises(sqlite3.OperationalError):
        con.execute("BEGIN IMMEDIATE")
    h.release()
    con.execute("BEGIN IMMEDIATE")
    con.rollback()
    con.close()
    assert h.proc.poll() is not None
