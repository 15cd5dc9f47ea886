"""The loss checker (testbed/losscheck.py) against the real xmppd, through
testbed/faultproxy.py on 127.0.0.1 and ::1. Each scenario sends for a few
seconds while links break, then accounts for every message: lost and
dup_new_id must be 0, every message acked, archived and delivered.

  no faults            the baseline: all live, all in MAM
  reset storm          RST every 2 s: resume, resend, nothing lost
  half-open            blackhole: the client finds the link dead, resumes
                       on a new connection, the server closes the old one
                       with <conflict/>
  across families      the IPv4 link is reset, the client resumes over ::1
  server crash         SIGKILL and restart on the same state: <failed/>,
                       new sessions, resends deduplicated by origin-id

They skip (not fail) only when the daemon does not offer XEP-0198 with
resumption, which is checked at run time.
"""

import asyncio
import json
import os
import signal
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "testbed"))

import losscheck as lc  # noqa: E402
import xmppclient as xc  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402

DOMAIN = "localhost"
DURATION = 10.0         # seconds of traffic per scenario (bounded)
RATE = 5.0              # messages per second per user


async def _probe_sm(port):
    c = xc.XMPPClient("alice", "wonderland", DOMAIN, [("127.0.0.1", port)],
                      timeout=10)
    try:
        await c.start()
        return c.sm_on and c.sm_id is not None
    finally:
        await c.close()


@pytest.fixture
def sm_server(server):
    """The daemon, if it offers stream management with resumption."""
    if not asyncio.run(asyncio.wait_for(_probe_sm(server.port()), 30)):
        pytest.skip("xmppd does not offer urn:xmpp:sm:3 with resume='true' "
                    "yet: the loss checker needs it")
    return server


async def _proxies(upstreams):
    out = []
    for host, port in upstreams:
        fp = FaultProxy(host, 0, host, port)
        await fp.start()
        out.append(fp)
    return out


def run_check(tmp_path, upstreams, faults=lambda proxies: [], **kw):
    """One loss-checker run through fresh proxies; returns the report and
    the proxies (stopped) for post-mortem checks."""
    async def main():
        proxies = await _proxies(upstreams)
        try:
            cfg = lc.Config(DOMAIN, [(p.listen[0], p.port) for p in proxies],
                            duration=kw.pop("duration", DURATION),
                            rate=RATE, dead_after=2.0, drain=20.0,
                            timeout=10.0, **kw)
            report = await lc.LossCheck(cfg, faults(proxies)).run()
        finally:
            # Let a server that closes a half-open link do so first.
            await asyncio.sleep(0.2)
            for p in proxies:
                p.seen = list(p.links.values())     # stop() forgets them
                await p.stop()
        return report, proxies
    report, proxies = asyncio.run(asyncio.wait_for(main(), DURATION + 90))
    (tmp_path / "losscheck.json").write_text(json.dumps(report, indent=1))
    print(report["verdict"])
    return report, proxies


def assert_no_loss(report):
    c = report["counts"]
    assert report["pass"], f"{report['verdict']}\n{report['failures']}"
    assert c["lost"] == 0 and c["dup_new_id"] == 0 and c["unacked"] == 0
    assert c["sent"] > 0 and c["mam"] == c["sent"]


def proxy_fault(proxies, command, which=None):
    targets = proxies if which is None else [proxies[which]]

    def act():
        return "; ".join(p.command(command) for p in targets)
    return act


def test_no_faults(sm_server, tmp_path):
    report, _ = run_check(tmp_path, [("127.0.0.1", sm_server.port())])
    assert_no_loss(report)
    c = report["counts"]
    assert c["live"] == c["sent"] and c["redelivered"] == 0
    for cl in report["clients"].values():
        assert cl["link_downs"] == 0


def test_reset_storm(sm_server, tmp_path):
    def faults(proxies):
        return [lc.Fault(t, "reset", action=proxy_fault(proxies, "reset"))
                for t in (2, 4, 6, 8)]
    report, _ = run_check(tmp_path, [("127.0.0.1", sm_server.port())],
                          faults)
    assert_no_loss(report)
    assert [f["result"] for f in report["faults"]] == ["ok 3"] * 4
    for cl in report["clients"].values():
        assert cl["link_downs"] >= 4 and cl["resumed"] >= 4
        assert cl["resume_failed"] == 0


def test_half_open_link_resumes_and_old_is_closed_with_conflict(
        sm_server, tmp_path):
    def faults(proxies):
        return [lc.Fault(3, "blackhole",
                         action=proxy_fault(proxies, "blackhole"))]
    report, proxies = run_check(tmp_path, [("127.0.0.1", sm_server.port())],
                                faults)
    assert_no_loss(report)
    for name, cl in report["clients"].items():
        assert cl["resumed"] >= 1 and cl["resume_failed"] == 0, name
    assert report["faults"][0]["max_recovery_ms"] is not None
    holes = [l for l in proxies[0].seen if l.mode == "blackhole"]
    assert len(holes) == 3
    log = sm_server.stderr()
    for link in holes:
        # The server ended the session's old connection at the resume,
        # with a conflict stream error (TLS hides it from the proxy, the
        # daemon's log names the connection by its peer port).
        assert link.eof[1], "server kept the half-open connection"
        port = link.writers[1].get_extra_info("sockname")[1]
        assert f"stream error=conflict peer=127.0.0.1:{port}" in log


def test_resume_across_families(sm_server, ipv6, tmp_path):
    v4, v6 = ("127.0.0.1", sm_server.port()), \
        (ipv6, sm_server.port(ipv6))

    def faults(proxies):
        return [lc.Fault(3, "reset v4", action=proxy_fault(proxies, "reset",
                                                            which=0))]
    report, proxies = run_check(tmp_path, [v4, v6], faults)
    assert_no_loss(report)
    v6_addr = f"{ipv6}:{proxies[1].port}"
    for name, cl in report["clients"].items():
        assert cl["resume_failed"] == 0, name
        assert v6_addr in cl["resumed_on"], (name, cl["resumed_on"])


def test_server_crash_and_restart(sm_server, tmp_path):
    def faults(proxies):
        def crash_restart():
            sm_server.signal(signal.SIGKILL)
            rc, _ = sm_server.stop()        # reaps it; no SIGTERM needed
            if rc != -signal.SIGKILL:
                raise RuntimeError(f"xmppd exited {rc}, not by SIGKILL")
            sm_server.start()       # same directory: same SQLite state
            proxies[0].upstream = ("127.0.0.1", sm_server.port())
            return "restarted"
        return [lc.Fault(4, "SIGKILL xmppd", action=crash_restart,
                         blocking=True)]
    report, _ = run_check(tmp_path, [("127.0.0.1", sm_server.port())],
                          faults)
    assert_no_loss(report)
    assert report["faults"][0]["result"] == "restarted"
    for name, cl in report["clients"].items():
        assert cl["resume_failed"] >= 1 and cl["new_sessions"] >= 2, name
