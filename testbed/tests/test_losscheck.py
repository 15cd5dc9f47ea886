"""The loss checker's own logic: accounting, verdict, recovery times,
fault scheduling, command line. No server needed (the proof against the
real xmppd is server/tests/integration/test_losscheck.py)."""

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


def test_same_stanza_id_is_redelivery_new_id_is_duplicate():
    a = acct_with(2)
    a.delivered(B, rec("lc-r-alice-0", "s0"))
    a.delivered(B, rec("lc-r-alice-0", "s0", delay="x"))
    a.delivered(B, rec("lc-r-alice-1", "s1"))
    a.delivered(B, rec("lc-r-alice-1", "s9"))
    c, ids, _ = a.summary()
    assert c["redelivered"] == 1
    assert ids["dup_new_id"] == ["lc-r-alice-1"]


def test_lost_unacked_and_mam_only():
    a = acct_with(3)
    a.sent("lc-r-alice-9", A, B, 9, 1)          # never acked, never seen
    a.archived(B, "s1", "lc-r-alice-1")         # only in the archive
    a.delivered(B, rec("lc-r-alice-2", "s2"))
    a.archived(B, "s2", "lc-r-alice-2")
    c, ids, _ = a.summary()
    assert sorted(ids["lost"]) == ["lc-r-alice-0", "lc-r-alice-9"]
    assert ids["unacked"] == ["lc-r-alice-9"]
    assert c["mam_only"] == 1 and c["mam"] == 2


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
    a.delivered(B, rec("lc-r-alice-1", "c", carbon="received"))
    c, ids, _ = a.summary()
    assert ids["missing_stanza_id"] == ["lc-r-alice-0"]
    assert ids["misrouted"] == ["lc-r-alice-1"]
    assert "lc-r-alice-1" in ids["lost"]        # bob never got it
    assert c["unexpected"] == 1 and c["carbons"] == 1


def test_verdict_line():
    counts = dict.fromkeys(("sent", "acked", "live", "resumed", "offline",
                            "mam", "redelivered", "lost", "dup_new_id"), 0)
    counts.update(sent=5, acked=5, live=5, mam=5)
    assert lc.verdict(counts, []) == (
        "losscheck: PASS sent=5 acked=5 live=5 resumed=0 offline=0 mam=5 "
        "redelivered=0 lost=0 dup_new_id=0")
    line = lc.verdict(dict(counts, lost=2), ["lost=2", "unacked=1"])
    assert line.startswith("losscheck: FAIL ") and \
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
    assert faults[1]["recovery_ms"] == {"alice": 400, "carol": None}
    assert faults[1]["max_recovery_ms"] == 400
    assert faults[1]["unrecovered"] == ["carol"]
    assert faults[2]["recovery_ms"] == {}


def test_config_checks_bounds_and_hides_passwords():
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
                       "--proxy", "--fault", "2.5:blackhole 1"])
    assert a.server == [("127.0.0.1", 5222), ("::1", 5223)]
    assert a.user == [("x", "y:z"), ("p", "q")]
    assert a.fault_cmd == [(5.0, "kill -9 1")]
    assert a.fault == [(2.5, "blackhole 1")]
    with pytest.raises(SystemExit):
        lc.parse_args(["--domain", "d", "--server", "nohost"])
    with pytest.raises(SystemExit):
        lc.parse_args(["--domain", "d", "--server", "h:1",
                       "--fault", "1:reset"])      # needs --proxy


def test_random_faults_are_bounded_and_reproducible():
    f1 = lc.random_faults(2, 20, seed=7)
    assert f1 == lc.random_faults(2, 20, seed=7)
    assert f1 and all(0 < t < 19 for t, _ in f1)
    assert {c for _, c in f1} <= {"reset", "close", "blackhole"}


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
