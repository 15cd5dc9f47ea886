"""The loss checker's own logic: accounting, verdict, recovery times,
fault scheduling, command line; and whole runs against the scripted fake
server (tests/fakeserver.py, route mode), which cheats in each way a
server can break the promise: every cheat must FAIL the run, each for
its own reason. No real server needed (the proof against the real xmppd
is server/tests/integration/test_losscheck.py)."""

import asyncio
import json
import socket
import time

import pytest

import losscheck as lc
import xmppclient as xc

A, B = "alice@d", "bob@d"


def rec(origin, sid, kind="new", conn_t=None, delay=None, carbon=None,
        to=B):
    return xc.Received(origin_id=origin, stanza_id=sid, conn_kind=kind,
                       conn_t_ms=conn_t, delay=delay, carbon=carbon,
                       to=to, t_ms=0)


def acct_with(n, acked=True):
    a = lc.Accounting("lc-r-")
    for i in range(n):
        a.sent(f"lc-r-alice-{i}", A, B + "/lc", i, 1000 + i)
        if acked:
            a.acked(f"lc-r-alice-{i}", 2000 + i)
    return a


def test_clean_run_passes_and_classifies_first_delivery():
    a = acct_with(4)
    a.delivered(B, rec("lc-r-alice-0", "s0"))
    a.delivered(B, rec("lc-r-alice-1", "s1", kind="resumed", conn_t=5000))
    a.delivered(B, rec("lc-r-alice-2", "s2", delay="2024-01-01T00:00:00Z"))
    # resumed stream, but sent after the resume: live
    a.delivered(B, rec("lc-r-alice-3", "s3", kind="resumed", conn_t=500))
    for i in range(4):
        a.archived(B, f"s{i}", f"lc-r-alice-{i}")
    c, ids, lat = a.summary()
    assert (c["sent"], c["acked"], c["live"], c["resumed"], c["offline"],
            c["mam"], c["lost"]) == (4, 4, 2, 1, 1, 4, 0)
    assert not any(ids.values())
    assert lat["n"] == 4 and lat["p50"] == 1000
    assert a.verdicts["lc-r-alice-1"] == ["resumed"]
    assert sum(c[k] for k in lc.FIRST_CLASSES) == c["sent"]


def test_same_stanza_id_is_redelivery_new_id_is_duplicate():
    a = acct_with(2)
    a.delivered(B, rec("lc-r-alice-0", "s0"))
    a.delivered(B, rec("lc-r-alice-0", "s0", delay="x"))
    a.delivered(B, rec("lc-r-alice-1", "s1"))
    a.delivered(B, rec("lc-r-alice-1", "s9"))
    c, ids, _ = a.summary()
    assert ids["dup_same_id"] == ["lc-r-alice-0"] and c["redelivered"] == 1
    assert ids["dup_new_id"] == ["lc-r-alice-1"]
    assert a.verdicts["lc-r-alice-0"] == ["live", "dup_same_id"]


def test_lost_unacked_and_mam_only():
    a = acct_with(3)
    a.sent("lc-r-alice-9", A, B, 9, 1)          # never acked, never seen
    a.archived(B, "s1", "lc-r-alice-1")         # only in the archive
    a.delivered(B, rec("lc-r-alice-2", "s2"))
    a.archived(B, "s2", "lc-r-alice-2")
    c, ids, _ = a.summary()
    assert sorted(ids["lost"]) == ["lc-r-alice-0", "lc-r-alice-9"]
    assert ids["unacked"] == ["lc-r-alice-9"]
    assert ids["mam_only"] == ["lc-r-alice-1"] and c["mam"] == 2


def test_archive_disagreements_fail():
    a = acct_with(3)
    for i in range(3):
        a.delivered(B, rec(f"lc-r-alice-{i}", f"s{i}"))
    a.archived(B, "s0", "lc-r-alice-0")
    a.archived(B, "other", "lc-r-alice-1")      # id differs from delivery
    a.archived(B, "s0b", "lc-r-alice-0")        # archived twice
    c, ids, _ = a.summary()
    assert ids["not_in_mam"] == ["lc-r-alice-2"]
    assert ids["stanza_id_mismatch"] == ["lc-r-alice-1"]
    assert ids["mam_dup"] == ["lc-r-alice-0"]


def test_missing_stanza_id_misrouting_and_foreign_messages():
    a = acct_with(2)
    a.delivered(B, rec("lc-r-alice-0", None))
    a.delivered("carol@d", rec("lc-r-alice-1", "s1"))
    a.delivered(B, rec("lc-r-alice-7", "s7"))   # never sent this run
    a.delivered(B, rec("lc-OTHER-alice-1", "s"))  # another run: ignored
    # a carbon at a main resource (watcher=False) is not accounted
    a.delivered(B, rec("lc-r-alice-1", "c", carbon="received"))
    c, ids, _ = a.summary()
    assert ids["missing_stanza_id"] == ["lc-r-alice-0"]
    assert ids["misrouted"] == ["lc-r-alice-1"]
    assert "lc-r-alice-1" in ids["lost"]        # bob never got it
    assert c["unexpected"] == 1 and c["carbons_other"] == 1


def test_a_delivery_lost_with_a_crashed_client_must_come_again():
    a = acct_with(2)
    gone = rec("lc-r-alice-0", "s0")
    gone.forgotten = True               # bob crashed before acking it
    a.delivered(B, gone)
    again = rec("lc-r-alice-1", "s1")
    again.forgotten = True
    a.delivered(B, again)
    a.delivered(B, rec("lc-r-alice-1", "s1", delay="x"))    # from spool
    c, ids, _ = a.summary()
    assert ids["lost"] == ["lc-r-alice-0"]
    assert c["offline"] == 1 and ids["dup_same_id"] == ["lc-r-alice-1"]
    assert c["forgotten"] == 2 and a.outstanding() == 1


def test_every_failing_count_fails_a_run_and_mam_never_skips_archive_checks():
    for k in ("lost", "mam_only", "bounced", "dup_new_id", "unacked",
              "misrouted", "missing_stanza_id", "bounced_delivered",
              "carbon_lost", "carbon_dup_new_id", "carbon_misrouted",
              "mam_unexpected", "not_in_mam", "mam_dup",
              "stanza_id_mismatch"):
        assert k in lc.failure_keys("always"), k
    never = lc.failure_keys("never")
    assert "mam_unexpected" in never and "mam_only" in never
    assert not {"not_in_mam", "mam_dup", "stanza_id_mismatch"} & set(never)
    for k in ("dup_same_id", "carbon_dup_same_id", "carbon_unguaranteed",
              "offline", "resumed"):
        assert k not in lc.failure_keys("always")


def test_mam_never_counts_every_archived_message_of_the_run():
    a = acct_with(2)
    a.mam = "never"
    a.delivered(B, rec("lc-r-alice-0", "s0"))
    a.delivered(B, rec("lc-r-alice-1", "s1"))
    a.archived_unexpected(B, "m1", "lc-r-alice-1")
    a.archived_unexpected(A, "m9", "lc-OTHER-alice-1")   # not this run
    c, ids, _ = a.summary()
    assert ids["mam_unexpected"] == ["lc-r-alice-1"]
    assert c["not_in_mam"] == 0 and c["lost"] == 0


def carbon(origin, direction, sid, kind="new", conn_t=None):
    return xc.Received(origin_id=origin, stanza_id=None, conn_kind=kind,
                       conn_t_ms=conn_t, carbon=direction, t_ms=0,
                       stanza_ids={B: sid})


def test_carbons_are_classified_and_lost_only_where_guaranteed():
    a = acct_with(4)
    a.carbons = True
    for i in range(4):
        a.delivered(B, rec(f"lc-r-alice-{i}", f"s{i}"))
    # alice's watcher: carbons on at 1001, never lost; bob's: its first
    # session crashed at 1002, the second had carbons on at 1003.
    a.sessions = {A: [{"carbons_ms": 1001, "end_ms": None}],
                  B: [{"carbons_ms": 500, "end_ms": 1002},
                      {"carbons_ms": 1003, "end_ms": 9000}]}
    a.drain_ms = 8000       # bob's second session ended after the drain
    a.delivered(A, carbon("lc-r-alice-0", "sent", "s0"), watcher=True)
    a.delivered(A, carbon("lc-r-alice-1", "sent", "s1", "resumed", 5000),
                watcher=True)
    a.delivered(A, carbon("lc-r-alice-2", "sent", "s2"), watcher=True)
    a.delivered(A, carbon("lc-r-alice-2", "sent", "s2"), watcher=True)
    a.delivered(B, carbon("lc-r-alice-3", "received", "s3"), watcher=True)
    a.delivered(B, carbon("lc-r-alice-3", "received", "zz"), watcher=True)
    c, ids, _ = a.summary()
    # sent carbons: alice-3's is missing, and alice's watcher had
    # carbons on since 1001 and never lost its session: lost.
    assert ids["carbon_lost"] == ["lc-r-alice-3"]
    # received carbons of alice-0..2 are missing at bob: sent at
    # 1000..1002, inside the crashed session or before the next one had
    # carbons: unguaranteed.
    assert c["carbon_unguaranteed"] == 3
    assert (c["carbon_live"], c["carbon_resumed"]) == (3, 1)
    assert ids["carbon_dup_same_id"] == ["lc-r-alice-2"]
    assert ids["carbon_dup_new_id"] == ["lc-r-alice-3"]
    assert c["carbon_live"] + c["carbon_resumed"] + c["carbon_lost"] + \
        c["carbon_unguaranteed"] == 2 * c["acked"]
    assert "received:carbon_unguaranteed" in a.verdicts["lc-r-alice-0"]


def test_carbon_at_the_wrong_account_is_misrouted():
    a = acct_with(1)
    a.carbons = True
    a.delivered(B, rec("lc-r-alice-0", "s0"))
    a.delivered("carol@d", carbon("lc-r-alice-0", "received", "s0"),
                watcher=True)
    c, ids, _ = a.summary()
    assert ids["carbon_misrouted"] == ["lc-r-alice-0"]


def bounce(origin, msg_id, etype="wait"):
    return xc.Received(origin_id=origin, mtype="error", msg_id=msg_id,
                       error_type=etype, error_cond="resource-constraint",
                       t_ms=0)


def test_bounces_retries_and_a_bounced_attempt_that_arrives_anyway():
    a = acct_with(3)
    # alice-0: refused, retried, delivered: fine.
    a.delivered(A, bounce("lc-r-alice-0", "lc-r-alice-0"))
    a.retried("lc-r-alice-0")
    a.delivered(B, xc.Received(origin_id="lc-r-alice-0", stanza_id="s0",
                               conn_kind="new", msg_id="lc-r-alice-0~1",
                               t_ms=0))
    # alice-1: refused for good.
    a.delivered(A, bounce("lc-r-alice-1", "lc-r-alice-1", "cancel"))
    # alice-2: refused ("stored nowhere"), yet that very attempt came.
    a.delivered(A, bounce("lc-r-alice-2", "lc-r-alice-2"))
    a.delivered(B, xc.Received(origin_id="lc-r-alice-2", stanza_id="s2",
                               conn_kind="new", msg_id="lc-r-alice-2",
                               t_ms=0))
    c, ids, _ = a.summary()
    assert ids["bounced"] == ["lc-r-alice-1"] and c["lost"] == 0
    assert ids["bounced_delivered"] == ["lc-r-alice-2"]
    assert c["retried"] == 1 and c["live"] == 2
    assert a.outstanding() == 0     # nothing left to wait for


def test_verdict_line():
    counts = dict.fromkeys(lc.VERDICT_KEYS, 0)
    counts.update(sent=5, acked=5, live=5, mam=5, carbon_live=10)
    line = lc.verdict(counts, [], seed=42, mam="always")
    assert line == (
        "losscheck: PASS seed=42 mam=always sent=5 acked=5 live=5 "
        "resumed=0 offline=0 mam_only=0 lost=0 bounced=0 dup_same_id=0 "
        "dup_new_id=0 unacked=0 mam=5 mam_unexpected=0 carbon_live=10 "
        "carbon_resumed=0 carbon_lost=0 carbon_unguaranteed=0 "
        "carbon_dup_same_id=0 carbon_dup_new_id=0")
    line = lc.verdict(dict(counts, lost=2), ["lost=2", "unacked=1"], 7)
    assert line.startswith("losscheck: FAIL seed=7 ") and \
        line.endswith("reasons: lost=2; unacked=1")


def test_recovery_is_measured_from_fault_to_first_reconnect():
    faults = [{"t_ms": 1000}, {"t_ms": 5000}, {"t_ms": 6000}]
    clients = {
        "alice": [(100, "new-session", {}), (1200, "link-down", {}),
                  (1300, "connect-failed", {}), (1700, "resumed", {}),
                  (5100, "link-down", {}), (5400, "new-session", {})],
        "bob": [(100, "new-session", {})],      # no link-down: unaffected
        "carol": [(100, "new-session", {}), (1100, "link-down", {}),
                  (1150, "resumed", {}),
                  # found dead only after the next fault: pinned on 5000
                  (6500, "link-down", {})],
    }
    lc.recovery(faults, clients)
    assert faults[0]["recovery_ms"] == {"alice": 700, "carol": 150}
    # a client fault is pinned on its target only; noack breaks no link
    faults2 = [{"t_ms": 1000, "targets": ["bob"], "keeps_links": True},
               {"t_ms": 1050, "targets": ["carol"]}, {"t_ms": 1090}]
    lc.recovery(faults2, clients)
    assert [f["recovery_ms"] for f in faults2] == \
        [{}, {"carol": 100}, {"alice": 610}]
    assert faults[1]["recovery_ms"] == {"alice": 400, "carol": None}
    assert faults[1]["max_recovery_ms"] == 400
    assert faults[1]["unrecovered"] == ["carol"]
    assert faults[2]["recovery_ms"] == {}


def test_config_checks_bounds_and_hides_passwords():
    for bad in ({"rate": 0}, {"mam": "roster"}, {"late": {"zed": 1}},
                {"late": {"bob": 99}}, {"random_kinds": ["nuke"]},
                {"users": [("a", "p"), ("a", "q")]}):
        with pytest.raises(ValueError):
            lc.Config("d", [("h", 1)], **bad)
    assert lc.Config("d", [("h", 1)], mam=False).mam == "never"
    assert lc.Config("d", [("h", 1)], seed=9).seed == 9
    assert isinstance(lc.Config("d", [("h", 1)]).seed, int)
    with pytest.raises(ValueError):
        lc.Config("d", [("h", 1)], rate=0)
    with pytest.raises(ValueError):
        lc.Config("d", [("h", 1)], clients=1)
    with pytest.raises(ValueError):
        lc.Config("d", [], rate=1)
    cfg = lc.Config("d", [("::1", 5222)], run_id="")
    assert cfg.origin("bob", 3) == "lc-bob-3"
    d = json.dumps(cfg.as_dict())
    assert "wonderland" not in d and "::1:5222" in d
    assert lc.Config("d", [("h", 1)], run_id="x").origin("a", 1) == \
        "lc-x-a-1"


def test_cli_parsing():
    a = lc.parse_args(["--domain", "d", "--server", "127.0.0.1:5222",
                       "--server", "[::1]:5223", "--user", "x:y:z",
                       "--user", "p:q", "--fault-cmd", "5:kill -9 1",
                       "--proxy", "--fault", "2.5:blackhole 1",
                       "--client-fault", "3:crash:x",
                       "--client-fault", "4:crash:x/carbons:0.5",
                       "--client-fault", "6:noack:p:10",
                       "--client-fault", "7.5:offline:x:8",
                       "--late", "p:2", "--mam", "never",
                       "--random-faults", "3",
                       "--random-kinds", "reset,crash", "--seed", "42"])
    assert a.server == [("127.0.0.1", 5222), ("::1", 5223)]
    assert a.user == [("x", "y:z"), ("p", "q")]
    assert a.fault_cmd == [(5.0, "kill -9 1")]
    assert a.fault == [(2.5, "blackhole 1")]
    assert a.client_fault == [(3.0, "crash", "x", None),
                              (4.0, "crash", "x/carbons", 0.5),
                              (6.0, "noack", "p", 10.0),
                              (7.5, "offline", "x", 8.0)]
    assert a.late == [("p", 2.0)] and a.mam == "never"
    assert a.random_kinds == ("reset", "crash") and a.seed == 42
    cfg = lc.config_from_args(a, a.server)
    assert (cfg.mam, cfg.carbons, cfg.seed, cfg.late) == \
        ("never", True, 42, {"p": 2.0})
    d = lc.parse_args(["--domain", "d", "--server", "h:1"])
    assert (d.mam, d.no_carbons, d.seed) == ("always", False, None)
    for bad in (["--server", "nohost"],
                ["--server", "h:1", "--fault", "1:reset"],  # needs --proxy
                ["--server", "h:1", "--random-faults", "2",
                 "--random-kinds", "blackhole"],            # needs --proxy
                ["--server", "h:1", "--client-fault", "1:noack:x"],
                ["--server", "h:1", "--client-fault", "1:explode:x"],
                ["--server", "h:1", "--client-fault", "1:offline:x/carbons:2"],
                ["--server", "h:1", "--mam", "roster"]):
        with pytest.raises(SystemExit):
            lc.parse_args(["--domain", "d"] + bad)


def test_random_faults_are_bounded_and_reproducible():
    f1 = lc.random_faults(2, 20, 7)
    assert f1 == lc.random_faults(2, 20, 7)
    assert f1 != lc.random_faults(2, 20, 8)
    assert f1 and all(0 < t < 19 for t, _, _, _ in f1)
    assert {k for _, k, _, _ in f1} <= {"reset", "close", "blackhole"}
    kinds = lc.PROXY_FAULTS + lc.CLIENT_FAULTS
    f2 = lc.random_faults(1, 60, 3, kinds, ["a", "b"], ["a", "a/carbons"])
    assert f2 == lc.random_faults(1, 60, 3, kinds, ["a", "b"],
                                  ["a", "a/carbons"])
    assert len(f2) < 2 * 60
    assert {k for _, k, _, _ in f2} == set(kinds)
    busy = {}
    for t, k, u, secs in f2:
        if k in lc.CLIENT_FAULTS:
            who = u.split("/")[0]
            assert busy.get(who, 0) <= t    # one client fault at a time
            busy[who] = t + secs
            assert 0 < secs <= 1.5 and u in ("a", "b", "a/carbons")
            assert k == "crash" or u != "a/carbons"


def test_the_seed_chooses_every_random_fault_and_is_reported():
    def schedule(seed):
        cfg = lc.Config("d", [("h", 1)], duration=30, seed=seed,
                        random_faults=2)
        chk = lc.LossCheck(cfg, proxy_command=lambda c: "ok")
        return [(f.at, f.name) for f in chk.faults]
    assert schedule(11) == schedule(11) != schedule(12)
    names = {n.split()[0] for _, n in schedule(11)}
    assert names <= {"proxy", "crash", "noack", "offline"}
    with pytest.raises(ValueError):     # proxy kinds without a proxy
        lc.LossCheck(lc.Config("d", [("h", 1)], random_faults=2,
                               random_kinds=["reset"]))
    with pytest.raises(ValueError):     # a client fault for nobody
        lc.LossCheck(lc.Config("d", [("h", 1)]),
                     [lc.Fault.client_fault(1, "crash", "zed")])


def test_fault_schedule_runs_commands_and_reports_failures(tmp_path):
    marker = tmp_path / "ran"
    calls = []

    async def coro():
        calls.append("coro")
        return "done"

    async def main():
        cfg = lc.Config("d", [("127.0.0.1", 1)], duration=1, timeout=5)
        chk = lc.LossCheck(cfg, [
            lc.Fault(0.1, "touch", cmd=f"touch {marker}"),
            lc.Fault(0.2, "bad", cmd="exit 3"),
            lc.Fault(0.3, "coro", action=coro),
            lc.Fault(0.4, "blocking", action=lambda: calls.append("b"),
                     blocking=True),
            lc.Fault(5, "late", action=lambda: calls.append("late")),
        ])
        chk.t0 = time.monotonic()
        await chk._fault_schedule()
        return chk
    chk = asyncio.run(asyncio.wait_for(main(), 30))
    assert marker.exists() and calls == ["coro", "b"]
    log = {f["name"]: f for f in chk.fault_log}
    assert log["bad"]["error"] and "exited 3" in log["bad"]["error"]
    assert log["coro"]["result"] == "done"
    assert log["late"]["result"].startswith("skipped")


def unused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_a_fail_with_exit_1(capsys, tmp_path):
    out = tmp_path / "r.json"
    rc = lc.main(["--domain", "d", "--server", f"127.0.0.1:{unused_port()}",
                  "--duration", "1", "--timeout", "2",
                  "--report", str(out)])
    assert rc == 1
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("losscheck: FAIL") and "login failed" in line
    report = json.loads(out.read_text())
    assert report["pass"] is False and report["counts"]["sent"] == 0


# -- whole runs against the scripted fake server ------------------------
#
# Two users, 1.5 s at 10 messages/s each, carbons on. The fake server is
# honest (tests/fakeserver.py, route mode) except for what cheat(origin)
# scripts for one message, lc-RUN-alice-3. Each cheat must fail the run
# for its own reason: removing that check makes its test fail.

VICTIM = "alice-3"


def run_fake(cheat=None, server_mam="always", faults=(), tweak=None,
             repush=True, **kw):
    from fakeserver import FakeServer

    async def main():
        srv = FakeServer(route=True, mam=server_mam)
        srv.repush = repush
        if cheat is not None:
            srv.cheat = lambda o: cheat if o.endswith(VICTIM) else None
        port = await srv.start()
        try:
            kw.setdefault("duration", 1.5)
            cfg = lc.Config("example.org", [("127.0.0.1", port)],
                            users=[("alice", "pw"), ("bob", "pw")],
                            tls="none", rate=10, drain=8, settle=0.5,
                            timeout=5, backoff=(0.01, 0.1), **kw)
            chk = lc.LossCheck(cfg, list(faults))
            if tweak is not None:
                tweak(chk)
            return await chk.run(), srv
        finally:
            await srv.stop()
    return asyncio.run(asyncio.wait_for(main(), 60))


def assert_fails_for(report, *reasons):
    """FAIL, for exactly these reasons (every count that failed)."""
    assert not report["pass"], report["verdict"]
    got = sorted(f.split("=")[0] for f in report["failures"])
    assert got == sorted(reasons), report["failures"]
    assert report["verdict"].startswith(
        f"losscheck: FAIL seed={report['seed']} ")


@pytest.mark.parametrize("mam", ["always", "never"])
def test_an_honest_server_passes(mam):
    report, srv = run_fake(server_mam=mam, mam=mam)
    c = report["counts"]
    assert report["pass"], report["failures"]
    assert c["sent"] >= 20 and c["live"] == c["acked"] == c["sent"]
    assert c["carbon_live"] == 2 * c["sent"]    # both carbons, always
    assert c["mam"] == (c["sent"] if mam == "always" else 0)
    assert set(report["watchers"]) == {"alice", "bob"}
    assert f"mam={mam}" in report["verdict"]
    assert all(v == "live sent:carbon_live received:carbon_live"
               for v in report["messages"].values())


def test_acked_but_never_delivered_is_lost():
    report, srv = run_fake(cheat="drop")
    c = report["counts"]
    assert c["acked"] == c["sent"] and c["unacked"] == 0
    # no message, so no carbon either: the carbons are lost too
    assert_fails_for(report, "lost", "carbon_lost")
    assert c["lost"] == 1 and report["samples"]["lost"][0].endswith(VICTIM)


def test_ack_h_covering_a_message_never_delivered_is_lost():
    # The server counts the message in h, cuts the link, forgets it, and
    # its <resumed h/> covers it: the client rightly does not resend.
    report, srv = run_fake(cheat="forget")
    c = report["counts"]
    assert [o for o, ch in srv.routed if ch] == \
        [o for o in report["samples"]["lost"]]
    assert report["clients"]["alice"]["resumed"] >= 1
    assert c["acked"] == c["sent"] and c["unacked"] == 0
    assert_fails_for(report, "lost", "carbon_lost")


def test_delivered_only_into_the_archive_is_mam_only():
    report, srv = run_fake(cheat="mam_only")
    assert report["counts"]["mam_only"] == 1
    assert report["counts"]["mam"] == report["counts"]["sent"]
    assert_fails_for(report, "mam_only", "carbon_lost")


def test_delivered_again_under_a_new_stanza_id_fails():
    report, srv = run_fake(cheat="dup_new_id")
    assert report["counts"]["dup_new_id"] == 1
    # the second id is not the archive's either
    assert_fails_for(report, "dup_new_id", "stanza_id_mismatch")


def test_delivered_again_under_a_new_stanza_id_fails_with_mam_never():
    report, srv = run_fake(cheat="dup_new_id", server_mam="never",
                           mam="never")
    assert_fails_for(report, "dup_new_id")


def test_delivered_again_with_the_same_stanza_id_is_counted_and_passes():
    report, srv = run_fake(cheat="dup_same_id")
    c = report["counts"]
    assert report["pass"], report["failures"]
    assert c["dup_same_id"] == 1 and c["redelivered"] == 1
    assert c["dup_same_id"] > 0 and "dup_same_id=1" in report["verdict"]


@pytest.mark.parametrize("cheat", ["no_carbon", "no_sent_carbon"])
def test_a_carbon_dropped_on_a_never_broken_session_is_carbon_lost(cheat):
    report, srv = run_fake(cheat=cheat)
    assert report["counts"]["carbon_lost"] == 1
    assert report["counts"]["lost"] == 0
    assert_fails_for(report, "carbon_lost")
    v = [v for o, v in report["messages"].items() if o.endswith(VICTIM)]
    assert v == [{"no_carbon": "live sent:carbon_live received:carbon_lost",
                  "no_sent_carbon":
                  "live sent:carbon_lost received:carbon_live"}[cheat]]


def test_archive_entries_with_mam_never_fail():
    report, srv = run_fake(server_mam="always", mam="never")
    c = report["counts"]
    assert c["mam_unexpected"] == c["sent"]
    assert_fails_for(report, "mam_unexpected")


def test_a_refused_message_is_retried_and_then_delivered():
    report, srv = run_fake(cheat="bounce_wait")
    c = report["counts"]
    assert report["pass"], report["failures"]
    assert c["retried"] == 1 and c["bounced"] == 0 and c["lost"] == 0
    (bounces,) = report["bounces"].values()
    assert bounces[0]["condition"] == "resource-constraint"


def test_client_crash_resends_its_outbox_and_gets_unacked_again():
    report, srv = run_fake(faults=[
        lc.Fault.client_fault(0.5, "crash", "bob", 0.3),
        lc.Fault.client_fault(0.7, "crash", "alice", 0.2)])
    c = report["counts"]
    assert report["pass"], report["failures"]
    for user in ("alice", "bob"):
        cl = report["clients"][user]
        assert cl["crashes"] == 1 and cl["new_sessions"] == 2
        assert cl["resumed"] == 0 and cl["resume_failed"] == 0
        assert [s["end"] for s in cl["sessions"]] == ["crash", "close"]
    assert {f["name"]: f["targets"] for f in report["faults"]} == \
        {"crash bob 0.3s": ["bob"], "crash alice 0.2s": ["alice"]}
    assert report["faults"][0]["recovery_ms"].keys() == {"bob"}
    # bob's messages sent while it was down came from the spool
    assert c["offline"] > 0 and c["live"] + c["offline"] == c["sent"]


@pytest.mark.parametrize("mam", ["always", "never"])
def test_a_crashed_client_must_get_what_it_never_acked_pushed_again(mam):
    # The server drops what the crashed session was sent and never
    # acked, and what was queued for it while it was down: bob saw some
    # of it before the crash, but that was lost with the process. Only
    # in the archive (mam always) is not enough either.
    report, srv = run_fake(faults=[
        lc.Fault.client_fault(0.8, "crash", "bob", 0.2)], repush=False,
        server_mam=mam, mam=mam)
    c = report["counts"]
    why = "mam_only" if mam == "always" else "lost"
    assert c["forgotten"] > 0 and c[why] >= c["forgotten"]
    assert_fails_for(report, why)


def test_a_crashed_carbons_resource_makes_its_carbons_unguaranteed():
    report, srv = run_fake(faults=[
        lc.Fault.client_fault(0.5, "crash", "bob/carbons", 0.5)])
    c = report["counts"]
    assert report["pass"], report["failures"]
    assert c["carbon_unguaranteed"] > 0 and c["carbon_lost"] == 0
    assert report["watchers"]["bob"]["crashes"] == 1


def test_noack_offline_and_late_users_pass_on_an_honest_server():
    report, srv = run_fake(duration=2.5, late={"bob": 0.6}, faults=[
        lc.Fault.client_fault(1.0, "noack", "alice", 0.8),
        lc.Fault.client_fault(1.2, "offline", "bob", 0.6)])
    c = report["counts"]
    assert report["pass"], report["failures"]
    assert c["offline"] > 0 and c["carbon_unguaranteed"] > 0
    names = [f["name"] for f in report["faults"]]
    assert names == ["late login bob", "noack alice 0.8s",
                     "offline bob 0.6s"]
    bob = report["clients"]["bob"]
    assert bob["logouts"] == 1 and bob["new_sessions"] == 2
    assert report["watchers"]["bob"]["logouts"] == 1
    kinds = [e["kind"] for e in report["clients"]["alice"]["events"]]
    assert "acks-paused" in kinds and "acks-resumed" in kinds


def test_random_client_faults_replay_from_the_seed():
    a, _ = run_fake(duration=3, random_faults=0.5, seed=3)
    b, _ = run_fake(duration=3, random_faults=0.5, seed=3)
    assert a["pass"] and b["pass"], (a["failures"], b["failures"])
    assert a["random_faults"] == b["random_faults"] != []
    assert a["seed"] == b["seed"] == a["config"]["seed"] == 3
    assert " seed=3 " in a["verdict"]
    assert [f["name"] for f in a["faults"]] == \
        [f["name"] for f in b["faults"]]
