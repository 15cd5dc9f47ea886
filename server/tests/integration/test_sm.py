"""XEP-0198 stream management against the real daemon, byte-exact on a raw
stream: enable, acks both ways, the server's own <r/>, a too-high h,
resumption (resend of exactly the unacked stanzas, unknown or foreign
previd, an ended session, a half-open old link), and what happens to a
session's queue when it ends for good (hibernation expiry, overflow):
messages go offline with their stanza-id, presence turns unavailable, a
pending iq is answered with an error. Counters across 2^32 are check_sm's.

Every wait is a bounded read; an expiry is awaited on the daemon's log,
never slept for.
"""

import itertools
import xml.etree.ElementTree as ET

from daemon import DOMAIN
from rawxmpp import (NS_CLIENT, NS_STANZA_ERR, NS_STREAM_ERR, NS_STREAMS,
                     RawStream, q, stanza_error)

NS_SM = "urn:xmpp:sm:3"
NS_SID = "urn:xmpp:sid:0"
NS_DELAY = "urn:xmpp:delay"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
PASSWORDS = {"alice": "wonderland", "bob": "builder", "carol": "singer"}
STANZAS = {q(NS_CLIENT, n) for n in ("message", "presence", "iq")}
_barriers = itertools.count(1)


class SMStream(RawStream):
    """A raw stream that counts the stanzas it reads (its own h) and, if
    asked, answers the server's <r/> with that count."""

    def __init__(self, host, port, auto_ack=False, **kw):
        super().__init__(host, port, **kw)
        self.h = 0
        self.counting = False
        self.auto_ack = auto_ack
        self.requests = 0	# <r/> seen from the server

    def next_element(self, timeout=None):
        el = super().next_element(timeout)
        if self.counting and el.tag in STANZAS:
            self.h = (self.h + 1) % (1 << 32)
        if el.tag == q(NS_SM, "r"):
            self.requests += 1
            if self.auto_ack:
                self.ack()
        return el

    def ack(self, h=None):
        self.send(f"<a xmlns='{NS_SM}' h='{self.h if h is None else h}'/>")

    def enable(self, resume=True):
        self.send(f"<enable xmlns='{NS_SM}'"
                  f"{' resume=' + repr('true') if resume else ''}/>")
        el = self.expect(q(NS_SM, "enabled"))
        self.counting = True
        return el

    def authenticate(self, user):
        """TLS and SASL, then the stream restart: the bind features."""
        self.open()
        self.starttls()
        self.open()
        el = self.auth_plain(user, PASSWORDS[user])
        assert el.tag == q("urn:ietf:params:xml:ns:xmpp-sasl", "success")
        return self.open()

    def resume(self, previd, h):
        self.send(f"<resume xmlns='{NS_SM}' previd='{previd}' h='{h}'/>")
        return self.next_element()

    def request(self):
        """Send <r/>, return the h of the server's <a/>."""
        self.send(f"<r xmlns='{NS_SM}'/>")
        a = self.wait_for(lambda e: e.tag == q(NS_SM, "a"))
        return int(a.get("h"))


def connect(server, user, resource, enable=True, presence=False,
            auto_ack=False):
    s = SMStream("127.0.0.1", server.port(), auto_ack=auto_ack)
    s.login(user, PASSWORDS[user], resource=resource)
    s.enabled = s.enable() if enable else None
    if presence:
        s.send("<presence/>")
        # Our own presence comes back to us (RFC 6121 §4.2.2).
        s.wait_for(lambda e: e.tag == q(NS_CLIENT, "presence"))
    return s


def authenticated(server, user):
    """A new connection, authenticated, not yet bound: where a client
    resumes (or binds after a failed resume)."""
    s = SMStream("127.0.0.1", server.port())
    s.authenticate(user)
    return s


def chat(s, to, body, extra=""):
    s.send(f"<message to='{to}' type='chat'><body>{body}</body>"
           f"{extra}</message>")


def is_msg(el):
    return el.tag == q(NS_CLIENT, "message")


def body(el):
    b = el.find(q(NS_CLIENT, "body"))
    return b.text if b is not None else None


def stanza_id(el, by):
    for sid in el.findall(q(NS_SID, "stanza-id")):
        if sid.get("by") == by:
            return sid.get("id")
    return None


def barrier(s):
    """Ping the server and return every element that arrived before the
    answer, so "nothing else came" is checked, not assumed (wait_for
    would drop them)."""
    iid = f"barrier{next(_barriers)}"
    s.send(f"<iq type='get' id='{iid}' to='{DOMAIN}'>"
           "<ping xmlns='urn:xmpp:ping'/></iq>")
    seen = []
    while True:
        el = s.next_element()
        if el.tag == q(NS_CLIENT, "iq") and el.get("id") == iid:
            assert el.get("type") == "result", ET.tostring(el)
            return seen
        seen.append(el)


def messages(s, n):
    return [s.wait_for(is_msg) for _ in range(n)]


def failed_condition(el):
    assert el.tag == q(NS_SM, "failed"), ET.tostring(el)
    conds = [c.tag for c in el]
    assert len(conds) == 1, ET.tostring(el)
    assert conds[0].startswith(f"{{{NS_STANZA_ERR}}}"), ET.tostring(el)
    return conds[0].split("}", 1)[1]


def drop(s):
    """The link dies without a </stream:stream>: the server must
    hibernate the session, not end it."""
    s.close()


# -- enable and acks ----------------------------------------------------------

def test_features_offer_sm_and_enable_before_bind_fails(server):
    s = SMStream("127.0.0.1", server.port())
    try:
        feats = s.authenticate("alice")
        assert feats.find(q(NS_SM, "sm")) is not None
        s.send(f"<enable xmlns='{NS_SM}' resume='true'/>")
        assert failed_condition(s.next_element()) == "unexpected-request"
        # The failure is not fatal: binding still works on this stream.
        assert s.bind("desk") == f"{ALICE}/desk"
        assert s.enable().get("resume") == "true"
    finally:
        s.close()


def test_enabled_attributes_and_second_enable_fails(server):
    s = connect(server, "alice", "desk")
    try:
        en = s.enabled
        assert en.get("resume") == "true"
        assert en.get("max") == "300"		# sm-hibernate default
        assert len(en.get("id")) >= 16
        s.send(f"<enable xmlns='{NS_SM}' resume='true'/>")
        assert failed_condition(s.next_element()) == "unexpected-request"
        s.ping()
    finally:
        s.close()


def test_enable_without_resume_has_no_id(server):
    s = connect(server, "alice", "desk", enable=False)
    try:
        en = s.enable(resume=False)
        assert en.get("id") is None and en.get("resume") is None
        assert s.request() == 0
    finally:
        s.close()


def test_r_is_answered_with_the_handled_count(server):
    a = connect(server, "alice", "desk")
    b = connect(server, "bob", "desk", enable=False)
    try:
        assert a.request() == 0
        chat(a, f"{BOB}/desk", "one")
        chat(a, f"{BOB}/desk", "two")
        a.ping()
        # Two messages and the ping iq: three stanzas handled.
        assert a.request() == 3
        assert [body(m) for m in messages(b, 2)] == ["one", "two"]
        assert a.request() == 3		# <r/> itself is not a stanza
    finally:
        a.close()
        b.close()


def test_server_requests_acks_after_stanzas(server):
    a = connect(server, "alice", "desk")
    b = connect(server, "bob", "desk", enable=False)
    try:
        for i in range(8):
            chat(b, f"{ALICE}/desk", f"m{i}")
        got = messages(a, 8)
        assert [body(m) for m in got] == [f"m{i}" for i in range(8)]
        r = a.next_element()
        assert r.tag == q(NS_SM, "r"), ET.tostring(r)
        a.ack()
        assert a.h == 8
        a.ping()
    finally:
        a.close()
        b.close()


def test_ack_beyond_sent_is_a_stream_error(server):
    a = connect(server, "alice", "desk")
    b = connect(server, "bob", "desk", enable=False)
    try:
        chat(b, f"{ALICE}/desk", "only one")
        a.wait_for(is_msg)
        a.ack(5)
        err = a.wait_for(lambda e: e.tag == q(NS_STREAMS, "error"))
        assert err.find(q(NS_STREAM_ERR, "undefined-condition")) is not None
        too = err.find(q(NS_SM, "handled-count-too-high"))
        assert too is not None, ET.tostring(err)
        assert too.get("h") == "5" and too.get("send-count") == "1"
        a.wait_closed()
        assert a.stream_ended
        b.ping()			# the daemon lives on
    finally:
        a.close()
        b.close()


def test_bad_h_is_invalid_xml(server):
    a = connect(server, "alice", "desk")
    try:
        a.send(f"<a xmlns='{NS_SM}' h='-1'/>")
        assert a.stream_error() == "invalid-xml"
    finally:
        a.close()


# -- resumption -----------------------------------------------------------------

def test_resume_resends_exactly_the_unacked_in_order(server):
    a = connect(server, "alice", "desk")
    b = connect(server, "bob", "desk", enable=False)
    try:
        previd = a.enabled.get("id")
        chat(a, f"{BOB}/desk", "from alice")
        assert body(b.wait_for(is_msg)) == "from alice"
        for i in range(3):
            chat(b, f"{ALICE}/desk", f"live{i}")
        live = messages(a, 3)
        first_ids = [stanza_id(m, ALICE) for m in live]
        assert all(first_ids)
        a.ack(1)			# only live0 acknowledged
        a.ping()			# the ack is handled before the drop
        drop(a)
        for i in range(2):
            chat(b, f"{ALICE}/desk", f"later{i}")
        b.ping()

        n = authenticated(server, "alice")
        res = n.resume(previd, 1)
        assert res.tag == q(NS_SM, "resumed"), ET.tostring(res)
        # alice sent one message and one ping iq before the drop.
        assert res.get("h") == "2" and res.get("previd") == previd
        n.counting = True
        n.h = 1
        # Exactly the unacked, in order: two messages, the ping's
        # result (sent after the ack), the two that came while away.
        again = [n.next_element() for _ in range(5)]
        assert [e.tag.split("}")[1] for e in again] == [
            "message", "message", "iq", "message", "message"]
        assert again[2].get("type") == "result"
        assert [body(m) for m in again if is_msg(m)] == [
            "live1", "live2", "later0", "later1"]
        # A redelivered message keeps its stanza-id.
        assert [stanza_id(m, ALICE) for m in again[:2]] == first_ids[1:]
        assert n.next_element().tag == q(NS_SM, "r")
        n.ack()
        assert n.h == 6
        # The session is the same: its full JID still receives.
        chat(b, f"{ALICE}/desk", "after resume")
        assert body(n.wait_for(is_msg)) == "after resume"
        chat(n, f"{BOB}/desk", "back")
        assert body(b.wait_for(is_msg)) == "back"
        assert n.request() == 3
        n.close()
    finally:
        b.close()


def test_resume_unknown_previd_then_bind(server):
    s = SMStream("127.0.0.1", server.port())
    try:
        s.authenticate("alice")
        res = s.resume("0123456789abcdef0123456789abcdef", 0)
        assert failed_condition(res) == "item-not-found"
        assert res.get("h") is None
        assert s.bind("desk") == f"{ALICE}/desk"
        s.ping()
    finally:
        s.close()


def test_resume_of_another_users_session_is_refused(server):
    a = connect(server, "alice", "desk")
    previd = a.enabled.get("id")
    drop(a)				# hibernating: the most tempting target
    m = SMStream("127.0.0.1", server.port())
    try:
        m.authenticate("bob")
        res = m.resume(previd, 0)
        assert failed_condition(res) == "item-not-found"
        assert res.get("h") is None	# nothing about alice's session
        assert m.bind("desk") == f"{BOB}/desk"
        # alice's session survived the attempt.
        n = authenticated(server, "alice")
        assert n.resume(previd, 0).tag == q(NS_SM, "resumed")
        n.close()
    finally:
        m.close()


def test_resume_after_the_session_ended_reports_h(make_daemon):
    server = make_daemon(extra_conf="sm-hibernate 1\n")
    a = connect(server, "alice", "desk")
    b = connect(server, "bob", "desk", enable=False)
    try:
        assert a.enabled.get("max") == "1"
        previd = a.enabled.get("id")
        chat(a, f"{BOB}/desk", "x")
        chat(a, f"{BOB}/desk", "y")
        a.ping()
        drop(a)
        server.wait_log("reason=hibernation expired")
        # Another account learns nothing about the ended session.
        m = authenticated(server, "bob")
        res = m.resume(previd, 0)
        assert failed_condition(res) == "item-not-found"
        assert res.get("h") is None
        m.close()
        n = authenticated(server, "alice")
        res = n.resume(previd, 0)
        assert failed_condition(res) == "item-not-found"
        assert res.get("h") == "3"	# two messages and the ping
        assert n.bind("desk") == f"{ALICE}/desk"
        n.close()
    finally:
        b.close()


def test_half_open_old_stream_gets_conflict(server):
    a = connect(server, "alice", "desk")
    b = connect(server, "bob", "desk", enable=False)
    try:
        previd = a.enabled.get("id")
        chat(b, f"{ALICE}/desk", "before")
        assert body(a.wait_for(is_msg)) == "before"
        # The old TCP link stays open: only the client gave up on it.
        n = authenticated(server, "alice")
        res = n.resume(previd, 0)
        assert res.tag == q(NS_SM, "resumed") and res.get("h") == "0"
        assert body(n.wait_for(is_msg)) == "before"
        assert a.stream_error() == "conflict"
        a.wait_closed()
        chat(b, f"{ALICE}/desk", "after")
        assert body(n.wait_for(is_msg)) == "after"
        n.close()
    finally:
        a.close()
        b.close()


# -- a session that ends for good -------------------------------------------

def test_hibernation_expiry_sends_unacked_messages_offline(make_daemon):
    server = make_daemon(extra_conf="sm-hibernate 1\n")
    a = connect(server, "alice", "desk", presence=True)
    b = connect(server, "bob", "desk", enable=False)
    try:
        for i in range(3):
            chat(b, ALICE, f"m{i}")
        got = messages(a, 3)
        ids = [stanza_id(m, ALICE) for m in got]
        # Acked: the presence echo and m0; m1 and m2 are not.
        a.ack(a.h - 2)
        a.ping()
        drop(a)
        server.wait_log("reason=hibernation expired")
        n = RawStream("127.0.0.1", server.port())
        n.login("alice", "wonderland", resource="phone", presence=True)
        off = [n.wait_for(is_msg) for _ in range(2)]
        assert [body(m) for m in off] == ["m1", "m2"]
        assert [stanza_id(m, ALICE) for m in off] == ids[1:]
        for m in off:
            delay = m.find(q(NS_DELAY, "delay"))
            assert delay is not None and delay.get("from") == DOMAIN
        assert not [e for e in barrier(n) if is_msg(e)]	# no m0
        n.close()
    finally:
        b.close()


def test_queue_full_messages_wait_in_the_spool(make_daemon):
    """A client that never acks gets spooled messages only up to half its
    queue (flow control): the rest wait in the spool instead of ending
    the session. Nothing is bounced or dropped: a new login gets all of
    them, in order, each with its one stanza-id."""
    server = make_daemon(extra_conf="sm-queue-max 3\n")
    a = connect(server, "alice", "desk")
    b = connect(server, "bob", "desk", enable=False)
    try:
        for i in range(5):
            chat(b, f"{ALICE}/desk", f"m{i}")
        b.ping()
        first = a.wait_for(is_msg)
        assert body(first) == "m0"
        a.ping()
        assert "resource-constraint" not in server.stderr()
        n = RawStream("127.0.0.1", server.port())
        n.login("alice", "wonderland", resource="desk", presence=True)
        off = [n.wait_for(is_msg) for _ in range(5)]
        # Nothing bounced, nothing dropped, and the order is kept.
        assert [body(m) for m in off] == [f"m{i}" for i in range(5)]
        assert len({stanza_id(m, ALICE) for m in off}) == 5
        assert stanza_id(off[0], ALICE) == stanza_id(first, ALICE)
        n.close()
        assert not [e for e in barrier(b) if is_msg(e)]	# no bounce
    finally:
        a.close()
        b.close()


def test_overflow_during_a_presence_fan_out(make_daemon):
    """The overflow happens while the server walks alice's resources to
    deliver one presence: the walk must survive the session ending."""
    server = make_daemon(extra_conf="sm-queue-max 2\n")
    a1 = connect(server, "alice", "desk", presence=True)
    a2 = connect(server, "alice", "phone", presence=True)
    b = connect(server, "bob", "desk", enable=False)
    try:
        for i in range(4):
            b.send(f"<presence to='{ALICE}'><status>s{i}</status>"
                   "</presence>")
        b.ping()
        assert a1.stream_error() == "resource-constraint"
        assert a2.stream_error() == "resource-constraint"
        b.ping()
    finally:
        a1.close()
        a2.close()
        b.close()


def _subscribe(server, watcher, watched):
    """watcher subscribes to watched's presence, watched approves."""
    w = RawStream("127.0.0.1", server.port())
    w.login(watcher, PASSWORDS[watcher], resource="setup", presence=True)
    d = RawStream("127.0.0.1", server.port())
    d.login(watched, PASSWORDS[watched], resource="setup", presence=True)
    w.send(f"<presence to='{watched}@{DOMAIN}' type='subscribe'/>")
    d.wait_for(lambda e: e.get("type") == "subscribe")
    d.send(f"<presence to='{watcher}@{DOMAIN}' type='subscribed'/>")
    w.wait_for(lambda e: e.get("type") == "subscribed")
    w.close()
    d.send("</stream:stream>")
    d.wait_closed()
    d.close()


def test_hibernated_presence_stays_until_expiry(make_daemon):
    server = make_daemon(extra_conf="sm-hibernate 2\n")
    _subscribe(server, "bob", "alice")
    b = RawStream("127.0.0.1", server.port())
    b.login("bob", "builder", resource="desk", presence=True)
    try:
        a = connect(server, "alice", "desk")
        a.send("<presence><status>here</status></presence>")
        p = b.wait_for(lambda e: e.tag == q(NS_CLIENT, "presence") and
                       e.get("from") == f"{ALICE}/desk")
        assert p.get("type") is None
        drop(a)
        server.wait_log("hibernating jid=alice@localhost/desk")
        # A new resource of bob's probes: alice is still available.
        b2 = RawStream("127.0.0.1", server.port())
        b2.login("bob", "builder", resource="phone", presence=True)
        p = b2.wait_for(lambda e: e.tag == q(NS_CLIENT, "presence") and
                        e.get("from") == f"{ALICE}/desk")
        assert p.get("type") is None
        assert p.findtext(q(NS_CLIENT, "status")) == "here"
        b2.close()
        # At expiry (not before the log says so) unavailable goes out.
        gone = b.wait_for(lambda e: e.tag == q(NS_CLIENT, "presence") and
                          e.get("from") == f"{ALICE}/desk", timeout=15)
        assert gone.get("type") == "unavailable"
        server.wait_log("closed reason=hibernation expired")
    finally:
        b.close()


def test_pending_iq_to_an_ended_session_gets_an_error(make_daemon):
    server = make_daemon(extra_conf="sm-hibernate 1\n")
    a = connect(server, "alice", "desk")
    b = RawStream("127.0.0.1", server.port())
    b.login("bob", "builder", resource="desk")
    try:
        b.send(f"<iq type='get' id='v1' to='{ALICE}/desk'>"
               "<query xmlns='jabber:iq:version'/></iq>")
        iq = a.wait_for(lambda e: e.tag == q(NS_CLIENT, "iq"))
        assert iq.get("id") == "v1" and iq.get("from") == f"{BOB}/desk"
        drop(a)				# never answered, never acked
        err = b.wait_for(lambda e: e.get("id") == "v1", timeout=15)
        assert err.get("type") == "error"
        assert err.get("from") == f"{ALICE}/desk"
        assert err.get("to") == f"{BOB}/desk"
        assert stanza_error(err) == "recipient-unavailable"
        server.wait_log("closed reason=hibernation expired")
    finally:
        b.close()


def test_resume_needs_authentication_first(server):
    s = SMStream("127.0.0.1", server.port())
    try:
        s.open()
        s.starttls()
        s.open()
        s.send(f"<resume xmlns='{NS_SM}' previd='x' h='0'/>")
        # Before SASL a resume is not something to answer.
        assert s.stream_error() == "not-authorized"
    finally:
        s.close()
