"""xmppclient against a scripted fake server: counters, acks, resume,
failed resume, dead-link detection, MAM paging. Every wait is bounded;
nothing asserts how long something took."""

import asyncio
import os
import shutil
import ssl
import subprocess

import pytest

import xmppclient as xc
from fakeserver import FakeServer
from xmppclient import SMQueue, StreamParser, MOD, NS_SM

DOMAIN = "example.org"


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def until(pred, timeout=10):
    """Bounded wait for a condition (polling: no timing is asserted)."""
    async def poll():
        while not pred():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), timeout)


def client(port, **kw):
    kw.setdefault("tls", "none")
    kw.setdefault("timeout", 5)
    kw.setdefault("backoff", (0.01, 0.05))
    c = xc.XMPPClient("alice", kw.pop("password", "pw"), DOMAIN,
                      [("127.0.0.1", port)], **kw)
    c.acked = []
    c.got = []
    c.on_acked = lambda tag, t: c.acked.append(tag)
    c.on_message = c.got.append
    return c


def origins(elements):
    out = []
    for el in elements:
        o = el.find(xc.q("origin-id", xc.NS_SID))
        if el.tag == xc.q("message", xc.NS_CLIENT) and o is not None:
            out.append(o.get("id"))
    return out


# -- pure parts ---------------------------------------------------------

def test_parser_gives_the_same_stanzas_for_any_chunking():
    doc = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
           b"xmlns:stream='http://etherx.jabber.org/streams'>"
           b"<message to='a@b'><body>x &amp; \xc3\xa9</body></message>"
           b"<r xmlns='urn:xmpp:sm:3'/></stream:stream>")
    whole = StreamParser().feed(doc)
    p = StreamParser()
    split = []
    for i in range(len(doc)):
        split.extend(p.feed(doc[i:i + 1]))
    kinds = [k for k, _ in whole]
    assert kinds == ["open", "stanza", "stanza", "close"]
    assert [k for k, _ in split] == kinds
    assert split[1][1].findtext(xc.q("body", xc.NS_CLIENT)) == "x & \u00e9"


def test_parser_refuses_bad_xml():
    p = StreamParser()
    p.feed(b"<stream:stream xmlns:stream='http://etherx.jabber.org/"
           b"streams'>")
    with pytest.raises(xc.ProtocolError):
        p.feed(b"<a></b>")


def test_sm_counters_wrap_at_2_32():
    sm = SMQueue(out=MOD - 2)
    for i in range(4):
        sm.sent(f"<m{i}/>", i)
    assert sm.out == 2
    done = sm.ack(MOD - 1)
    assert [t for _, t in done] == [0]
    done = sm.ack(1)
    assert [t for _, t in done] == [1, 2]
    assert [t for _, t in sm.unacked] == [3]
    assert sm.take_unacked() == [("<m3/>", 3)]
    assert sm.out == sm.acked == 1
    sm = SMQueue(inbound=MOD - 1)
    sm.received()
    assert sm.inbound == 0


def test_sm_ack_beyond_sent_is_fatal_and_changes_nothing():
    sm = SMQueue()
    sm.sent("<m/>", "t")
    with pytest.raises(xc.FatalError):
        sm.ack(2)
    with pytest.raises(xc.FatalError):
        sm.ack(MOD)
    assert len(sm.unacked) == 1 and sm.acked == 0
    assert sm.ack(0) == []          # a repeated ack is harmless


def test_mam_query_xml_carries_with_and_paging():
    el = xc.ET.fromstring(xc.mam_query_xml("q1", "b@x", 50, "id<7"))
    rsm = el.find(xc.q("set", xc.NS_RSM))
    assert rsm.findtext(xc.q("max", xc.NS_RSM)) == "50"
    assert rsm.findtext(xc.q("after", xc.NS_RSM)) == "id<7"
    vals = {f.get("var"): f.findtext(xc.q("value", xc.NS_DATA))
            for f in el.iter(xc.q("field", xc.NS_DATA))}
    assert vals == {"FORM_TYPE": xc.NS_MAM, "with": "b@x"}


# -- against the fake server ---------------------------------------------

def test_acks_and_answers_r_with_exact_h():
    async def main():
        srv = FakeServer()
        c = client(await srv.start(), ack_every=100)
        await c.start()
        for i in range(3):
            assert c.send_message("bob@example.org", f"m{i}", f"o{i}",
                                  tag=f"o{i}")
        assert await c.flush(5) == 0
        assert c.acked == ["o0", "o1", "o2"]
        conn = srv.conns[-1]
        # The server sends two messages and asks; the client must count
        # them plus the carbons result the fake answered.
        for i in range(2):
            conn.send_stanza(f"<message from='bob@example.org/r' "
                             f"type='chat'><body>in{i}</body></message>")
        conn.send(f"<r xmlns='{xc.NS_SM}'/>")
        await until(lambda: conn.session.client_h is not None)
        assert conn.session.client_h == conn.session.out == 3
        assert [m.body for m in c.got] == ["in0", "in1"]
        await c.close()
        await srv.stop()
    run(main())


def test_received_message_fields():
    async def main():
        srv = FakeServer()
        c = client(await srv.start())
        await c.start()
        srv.conns[-1].send_stanza(
            "<message from='bob@example.org/r' to='alice@example.org/r'>"
            "<body>hi</body><stanza-id xmlns='urn:xmpp:sid:0' "
            "by='other@example.org' id='wrong'/><stanza-id "
            "xmlns='urn:xmpp:sid:0' by='alice@example.org' id='S1'/>"
            "<origin-id xmlns='urn:xmpp:sid:0' id='O1'/><delay "
            "xmlns='urn:xmpp:delay' stamp='2024-01-01T00:00:00Z'/>"
            "</message>")
        await until(lambda: c.got)
        m = c.got[0]
        assert (m.stanza_id, m.origin_id, m.delay, m.conn_kind) == \
            ("S1", "O1", "2024-01-01T00:00:00Z", "new")
        await c.close()
        await srv.stop()
    run(main())


def test_resume_resends_exactly_what_h_does_not_cover():
    async def main():
        srv = FakeServer(answer_r=False)
        c = client(await srv.start(), ack_every=100)
        await c.start()
        for i in range(5):
            c.send_message("bob@example.org", f"m{i}", f"o{i}", tag=f"o{i}")
        first = srv.conns[-1]
        await until(lambda: len(origins(first.session.received)) == 5)
        first.send_stanza("<message from='bob@example.org/r'><body>x"
                          "</body></message>")
        await until(lambda: c.got)
        # The server claims only the first 3 messages (plus the carbons
        # iq and the presence) arrived: the last two must come again.
        srv.answer_r = True
        srv.resume_h = lambda s: s.h_in - 2
        first.abort()
        await srv.wait_conns(2)
        await until(lambda: c.online.is_set() and c.conn_kind == "resumed")
        second = srv.conns[-1]
        assert second.session is first.session
        assert first.session.client_h == 2     # carbons result + message
        await until(lambda: len(origins(second.elements)) == 2)
        assert origins(second.elements) == ["o3", "o4"]
        assert await c.flush(5) == 0
        assert c.acked == [f"o{i}" for i in range(5)]
        await c.close()
        await srv.stop()
    run(main())


@pytest.mark.parametrize("mode", ["fail", "fail-h"])
def test_failed_resume_resends_messages_on_a_new_session(mode):
    async def main():
        srv = FakeServer(answer_r=False, resume=mode)
        c = client(await srv.start(), ack_every=100)
        await c.start()
        for i in range(4):
            c.send_message("bob@example.org", f"m{i}", f"o{i}", tag=f"o{i}")
        first = srv.conns[-1]
        await until(lambda: len(origins(first.session.received)) == 4)
        # <failed h/> says carbons iq + presence + o0 arrived.
        srv.resume_h = lambda s: 3
        srv.answer_r = True
        first.abort()
        await srv.wait_conns(2)
        await until(lambda: c.online.is_set() and c.conn_kind == "new" and
                    c.gen == 2)
        second = srv.conns[-1]
        expect = ["o1", "o2", "o3"] if mode == "fail-h" else \
            ["o0", "o1", "o2", "o3"]
        await until(lambda: len(origins(second.elements)) == len(expect))
        assert origins(second.elements) == expect
        # Stale presence is not replayed: exactly one, the new session's.
        tags = [e.tag for e in second.session.received]
        assert tags.count(xc.q("presence", xc.NS_CLIENT)) == 1
        assert second.session is not first.session
        assert await c.flush(5) == 0
        assert sorted(c.acked) == sorted(set(c.acked))
        assert set(c.acked) == {"o0", "o1", "o2", "o3"}
        kinds = [k for _, k, _ in c.events if k != "carbons"]
        assert "resume-failed" in kinds and kinds[-1] == "new-session"
        assert [(s["no"], s["end"]) for s in c.sessions] == \
            [(1, "failed"), (2, None)]
        await c.close()
        await srv.stop()
    run(main())


def test_silent_link_is_declared_dead_and_resumed():
    async def main():
        srv = FakeServer(answer_r=False)
        c = client(await srv.start(), ping_after=0.2, dead_after=0.5)
        await c.start()
        await srv.wait_conns(2, timeout=15)     # gave up on the first
        await until(lambda: c.conn_kind == "resumed")
        kinds = [k for _, k, _ in c.events]
        assert "link-error" in kinds and "resumed" in kinds
        await c.close()
        await srv.stop()
    run(main())


def test_server_acking_more_than_sent_stops_the_client():
    async def main():
        srv = FakeServer()
        c = client(await srv.start())
        await c.start()
        srv.conns[-1].send(f"<a xmlns='{xc.NS_SM}' h='99'/>")
        await until(lambda: c.errors)
        assert "h=99" in c.errors[0]
        await c.close()
        await srv.stop()
    run(main())


def test_wrong_password_is_fatal_not_retried_forever():
    async def main():
        srv = FakeServer()
        c = client(await srv.start(), password="nope")
        with pytest.raises(xc.LinkDown):
            await c.start()
        assert "not-authorized" in c.errors[0]
        assert len(srv.conns) == 1
        await c.close()
        await srv.stop()
    run(main())


def test_mam_paging_collects_every_page():
    async def main():
        srv = FakeServer()
        srv.mam = [(f"id{i}", "bob@example.org/r", "alice@example.org",
                    f"b{i}", f"o{i}") for i in range(5)]
        srv.mam.append(("idx", "carol@example.org/r", "alice@example.org",
                        "c", "oc"))
        c = client(await srv.start())
        await c.start()
        rows = await c.mam_query("bob@example.org", page=2)
        assert [r[0] for r in rows] == [f"id{i}" for i in range(5)]
        assert [xc.parse_message(r[1], c.bare)["origin_id"]
                for r in rows] == [f"o{i}" for i in range(5)]
        assert srv.mam_queries == [("bob@example.org", 2, None),
                                   ("bob@example.org", 2, "id1"),
                                   ("bob@example.org", 2, "id3")]
        await c.close()
        await srv.stop()
    run(main())


def test_crash_writes_nothing_forgets_sm_and_resends_the_outbox():
    async def main():
        srv = FakeServer(answer_r=False)
        c = client(await srv.start(), ack_every=100)
        await c.start()
        for i in range(3):
            c.send_message("bob@example.org", f"m{i}", f"o{i}", tag=f"o{i}")
        first = srv.conns[-1]
        await until(lambda: len(origins(first.session.received)) == 3)
        first.send_stanza("<message from='bob@example.org/r'><body>x"
                          "</body></message>")
        await until(lambda: c.got)
        srv.answer_r = True
        assert c.crash(pause=0.3)
        assert not c.online.is_set() and c.sm_id is None
        await asyncio.wait_for(first.closed.wait(), 10)
        # A dead process says nothing: no <a/>, no </stream:stream>.
        assert not first.closed_cleanly
        assert not [e for e in first.elements if e.tag == xc.q("a", NS_SM)]
        assert first.session.client_h is None
        await srv.wait_conns(2)
        await until(lambda: c.online.is_set())
        second = srv.conns[-1]
        tags = [e.tag for e in second.elements]
        assert xc.q("resume", NS_SM) not in tags        # a new session
        assert xc.q("enable", NS_SM) in tags
        await until(lambda: len(origins(second.elements)) == 3)
        assert origins(second.elements) == ["o0", "o1", "o2"]
        assert await c.flush(5) == 0
        assert sorted(c.acked) == ["o0", "o1", "o2"]
        assert [s["end"] for s in c.sessions] == ["crash", None]
        ev = [(t, k) for t, k, _ in c.events]
        kinds = [k for _, k in ev]
        assert kinds.index("crash") < kinds.index("link-down") < \
            len(kinds) - 1 - kinds[::-1].index("new-session")
        t_crash = next(t for t, k in ev if k == "crash")
        t_back = [t for t, k in ev if k == "new-session"][-1]
        assert t_back - t_crash >= 250      # the pause (a lower bound)
        await c.close()
        assert not c.crash(0)               # but not once closed
        await srv.stop()
    run(main())


def test_paused_acks_leave_r_unanswered_and_a_resume_claims_the_told_h():
    async def main():
        srv = FakeServer()
        c = client(await srv.start())
        await c.start()
        conn = srv.conns[-1]
        msg = "<message from='bob@example.org/r'><body>{}</body></message>"
        conn.send_stanza(msg.format(1))
        conn.send(f"<r xmlns='{NS_SM}'/>")
        # carbons result + message 1
        await until(lambda: conn.session.client_h == 2)
        c.pause_acks()
        conn.send_stanza(msg.format(2))
        conn.send_stanza(msg.format(3))
        conn.send(f"<r xmlns='{NS_SM}'/>")
        await until(lambda: len(c.got) == 3)
        await asyncio.sleep(0.2)
        assert conn.session.client_h == 2       # no answer to <r/>
        conn.abort()
        await srv.wait_conns(2)
        await until(lambda: c.conn_kind == "resumed" and c.online.is_set())
        assert conn.session.client_h == 2       # <resume h='2'/>
        assert c.sm.inbound == 2
        c.resume_acks()
        await until(lambda: srv.conns[-1].elements and
                    srv.conns[-1].elements[-1].tag == xc.q("a", NS_SM))
        assert srv.conns[-1].elements[-1].get("h") == "2"
        await c.close()
        await srv.stop()
    run(main())


def test_logout_ends_the_session_cleanly_and_login_starts_a_new_one():
    async def main():
        srv = FakeServer(answer_r=False)
        c = client(await srv.start(), ack_every=100)
        await c.start()
        c.send_message("bob@example.org", "m0", "o0", tag="o0")
        first = srv.conns[-1]
        await until(lambda: len(origins(first.session.received)) == 1)
        assert await c.logout(0.3)          # o0 is never acked
        assert first.closed_cleanly and not c.online.is_set()
        assert [s["end"] for s in c.sessions] == ["logout"]
        assert not c.send_message("bob@example.org", "m1", "o1", tag="o1")
        assert not await c.logout(0.3)      # already out
        srv.answer_r = True
        assert await c.login()
        second = srv.conns[-1]
        assert second is not first and c.conn_kind == "new"
        await until(lambda: origins(second.elements) == ["o0"])
        assert await c.flush(5) == 0 and c.acked == ["o0"]
        assert [s["end"] for s in c.sessions] == ["logout", None]
        await c.close()
        await srv.stop()
    run(main())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")
def test_starttls_then_login(tmp_path):
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "1",
                    "-subj", "/CN=example.org"], check=True,
                   capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.fspath(crt), os.fspath(key))

    async def main():
        srv = FakeServer(tls_ctx=ctx)
        c = client(await srv.start(), tls="starttls")
        await c.start()
        assert c.jid == "alice@example.org/r"
        assert c.send_message("bob@example.org", "m", "o", tag="o")
        assert await c.flush(5) == 0
        await c.close()
        await srv.stop()
    run(main())
