"""Acked means durable, on every path: one or more regression tests per
case of the durability review, each reproduced on loopback with raw
streams and real faults (a full file system, an external SQLite lock
holder, SIGKILL, SIGTERM, a deleted database file).

  1  disk full: nothing acked that is not stored; while degraded new
     messages get <resource-constraint/> (type wait), sessions, presence,
     pings and MAM go on; recovery by itself and after a restart
  2  <resumed h/> and <failed h/> count only committed stanzas
  3  another process holds the write lock for 10 s: no ack for what was
     not committed, the event loop does not stall, every ack delivered
  4  acked messages in a recipient's queue survive SIGKILL whatever the
     archive settings, pushed again with their stanza-id; origin-id
     de-duplication with the archive off
  5  an offline queue larger than sm-queue-max at login: flow-controlled,
     in order, removed only when acked
  6  SIGTERM: listeners closed first, a final <a h/>, nothing lost
  7  overflow: a bounced message is stored nowhere, a stored one is
     never bounced
  8  the WAL on a small file system stays small
  9  the database file deleted, moved or replaced while running: no
     further ack, exit 1, the next start refuses until --init
 10  MAM results a client never acked are not queued for it as messages

Every wait is bounded and waits on something real (an element, a log
line, a row count, the process's exit). The one timed assertion (case 3)
is bounded generously: it tells a loop that answers from one that stalls
for seconds.
"""

import itertools
import os
import re
import signal
import sqlite3
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from daemon import DOMAIN, SANITIZER_MARKERS, tail
from faults import (LockHolder, kill9, spool_count, tables, wait_until)
from rawxmpp import (NS_CLIENT, NS_STREAMS, RawStream, StreamClosed, q,
                     stanza_error)
from test_mam import NS_FORWARD, NS_MAM, NS_RSM, Page, ok, query
from test_sm import (ALICE, BOB, NS_DELAY, NS_SID, NS_SM, PASSWORDS,
                     SMStream, authenticated, barrier, body, connect,
                     is_msg, stanza_id)

CAROL = f"carol@{DOMAIN}"
RESERVE_MIB = 1
RESERVE = f"store-reserve {RESERVE_MIB}\n"
# The store's log lines (a path may contain these words, never alone).
DEGRADED = r"store: .*\bdegraded\b"
RECOVERED = r"store: .*\brecovered\b"
MARKER = "xmppd.sqlite.marker"


# -- clients -----------------------------------------------------------------

def err_of(el):
    """(type, condition) of a stanza error."""
    e = el.find(q(NS_CLIENT, "error"))
    return (e.get("type") if e is not None else None, stanza_error(el))


def is_chat(el):
    """A message for the user, not an error, not a MAM result."""
    return is_msg(el) and el.get("type") != "error" and \
        el.find(q(NS_MAM, "result")) is None


class Sender:
    """One account sending messages as a careful XEP-0198 client does:
    it knows exactly which of its stanzas the server acknowledged (<a/>,
    <resumed/>, <failed/>), resumes when the link drops and resends what
    was not acknowledged with the same origin-id. It records which
    messages were acked and which came back as errors."""

    def __init__(self, server, user="alice", resource="desk"):
        self.server, self.user, self.resource = server, user, resource
        # A careful client answers the server's <r/>: otherwise the
        # errors for refused messages pile up unacknowledged until the
        # queue overflows and the session ends with them.
        self.s = connect(server, user, resource, auto_ack=True)
        self.previd = self.s.enabled.get("id")
        self.unacked = []       # (kind, id, xml) in the order sent
        self.h = 0              # the server's last h
        self.acked = []         # message ids an h covered, in order
        self.errors = {}        # message id -> (type, condition)
        self.other = []         # anything else received
        self.hs = []            # every h the server reported
        self.resumed = self.failed = 0
        self.down = False

    # sending
    def message(self, to, mid, text=None, extra=""):
        xml = (f"<message to='{to}' type='chat' id='{mid}'><body>"
               f"{text or mid}</body><origin-id xmlns='{NS_SID}' "
               f"id='{mid}'/>{extra}</message>")
        self._send("message", mid, xml)

    def raw_message(self, mid, xml):
        self._send("message", mid, xml)

    def sent_directly(self, n=1):
        """n stanzas went out on self.s by other means (an iq helper):
        count them, so the server's h maps onto what was sent."""
        self.unacked += [("other", None, None)] * n

    def _send(self, kind, sid, xml):
        self.unacked.append((kind, sid, xml))
        if not self.down:
            try:
                self.s.send(xml)
            except OSError:
                self.down = True

    # receiving
    def handle(self, el):
        if el.tag == q(NS_SM, "a"):
            self.ack(int(el.get("h")))
        elif is_msg(el) and el.get("type") == "error":
            self.errors[el.get("id")] = err_of(el)
        else:
            self.other.append(el)

    def ack(self, h):
        self.hs.append(h)
        n = (h - self.h) % (1 << 32)
        assert n <= len(self.unacked), \
            f"server acked h={h}: {n} since h={self.h}, only " \
            f"{len(self.unacked)} sent"
        self.acked += [sid for kind, sid, _ in self.unacked[:n]
                       if kind == "message"]
        del self.unacked[:n]
        self.h = h

    def poll(self, timeout):
        """Handle whatever arrives within timeout; False if the link is
        (now) down."""
        if self.down:
            return False
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return True
                self.handle(self.s.next_element(left))
        except TimeoutError:
            return True
        except (StreamClosed, OSError):
            self.down = True
            return False

    def request(self, timeout=20.0):
        """<r/>, and handle everything up to the <a/>. False if the link
        went down instead."""
        if self.down:
            return False
        deadline = time.monotonic() + timeout
        try:
            self.s.send(f"<r xmlns='{NS_SM}'/>")
            while True:
                el = self.s.next_element(max(0.01, deadline -
                                             time.monotonic()))
                self.handle(el)
                if el.tag == q(NS_SM, "a"):
                    return True
        except (StreamClosed, OSError):
            self.down = True
            return False

    def reconnect(self):
        """A new connection: resume, or bind a new session when the
        resume fails; then resend what the server has not acked."""
        old = self.s
        old.close()
        n = authenticated(self.server, self.user)
        n.auto_ack = True
        res = n.resume(self.previd, old.h)
        if res.tag == q(NS_SM, "resumed"):
            self.resumed += 1
            self.ack(int(res.get("h")))
            n.counting, n.h = True, old.h
            rest = self.unacked
        else:
            assert res.tag == q(NS_SM, "failed"), ET.tostring(res)
            self.failed += 1
            if res.get("h") is not None:
                self.ack(int(res.get("h")))
            n.bind(self.resource)
            self.previd = n.enable().get("id")
            self.h = 0
            rest = [u for u in self.unacked if u[0] == "message"]
        self.s, self.down, self.unacked = n, False, []
        for kind, sid, xml in rest:
            if xml is not None:
                self._send(kind, sid, xml)

    def recover(self, timeout=30.0):
        """reconnect(), retried (bounded) while the server closes the new
        connection too (it may end every stream of a failed turn)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.reconnect()
            except (StreamClosed, OSError, TimeoutError, AssertionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def settle(self, timeout=60.0):
        """Until the server acked everything sent (resuming as needed)."""
        deadline = time.monotonic() + timeout
        while self.unacked:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.unacked)} stanzas still "
                                   f"unacked after {timeout}s")
            if self.down:
                self.recover()
            else:
                self.request()
        return self

    @property
    def delivered_ok(self):
        """Acked and not refused: what the recipient must get."""
        return [m for m in self.acked if m not in self.errors]

    def close(self):
        self.s.close()


def receiver(server, user="bob", resource="phone", ack=True, resume=False,
             presence=True):
    """A stream-managed login; ack=True answers every <r/>."""
    s = SMStream("127.0.0.1", server.port(), auto_ack=ack)
    s.login(user, PASSWORDS[user], resource=resource)
    s.enabled = s.enable(resume=resume)
    if presence:
        s.send("<presence/>")
    return s


def collect(s, n, timeout=30.0, partial=False):
    """The next n chat messages; presence and the rest are skipped. With
    partial, what came within timeout (a shortfall is for the caller's
    assertion to show), else TimeoutError."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            out.append(s.wait_for(is_chat, max(0.01, left)))
        except TimeoutError:
            if partial:
                return out
            raise TimeoutError(f"{len(out)} of {n} messages within "
                               f"{timeout}s: {[body(m) for m in out][-5:]}")
    return out


def no_more_messages(s):
    """After a ping round trip: the messages that came meanwhile."""
    return [body(m) for m in barrier(s) if is_msg(m)]


def drain_all(s, quiet_barriers=1):
    """Every chat message until a ping round trip brings none."""
    out = []
    while True:
        got = [m for m in barrier(s) if is_chat(m)]
        out += got
        if not got:
            quiet_barriers -= 1
            if quiet_barriers <= 0:
                return out


def login_count(server, user, resource, expect, timeout=10.0):
    """Log in with presence, take the `expect` messages pushed (acking
    them), then whatever else comes before a ping's answer; returns
    (body, stanza-id, has delay) for each, so a shortfall or an extra
    shows in the caller's comparison."""
    s = receiver(server, user, resource)
    try:
        got = collect(s, expect, timeout, partial=True) if expect else []
        got += [m for m in barrier(s) if is_chat(m)]
        ack_all_and_close(s)
        return [(body(m), stanza_id(m, f"{user}@{DOMAIN}"),
                 m.find(q(NS_DELAY, "delay")) is not None) for m in got]
    finally:
        s.close()


def ack_all_and_close(s):
    """Ack everything received, make sure the server handled it, end the
    stream cleanly."""
    s.ack()
    barrier(s)
    s.send("</stream:stream>")
    s.wait_closed()


def mam_page(s, with_jid, page=100):
    """A MAM query on any stream (SM nonzas in between are skipped)."""
    qid = f"mq{next(_qids)}"
    s.send(f"<iq type='set' id='{qid}'><query xmlns='{NS_MAM}' "
           f"queryid='{qid}'><x xmlns='jabber:x:data' type='submit'>"
           f"<field var='FORM_TYPE' type='hidden'><value>{NS_MAM}</value>"
           f"</field><field var='with'><value>{with_jid}</value></field>"
           f"</x><set xmlns='{NS_RSM}'><max>{page}</max></set></query></iq>")
    results = []
    while True:
        el = s.next_element()
        if el.tag == q(NS_CLIENT, "iq") and el.get("id") == qid:
            return Page(results, el)
        res = el.find(q(NS_MAM, "result")) if is_msg(el) else None
        if res is not None:
            fwd = res.find(q(NS_FORWARD, "forwarded"))
            results.append((res.get("id"), None,
                            fwd.find(q(NS_CLIENT, "message"))))


_qids = itertools.count(1)


def state_path(fs):
    return os.path.join(fs.path, "state")


# -- 1: disk full ------------------------------------------------------------

def fill_and_burst(d, fs, a, n):
    """Fill the file system, then send n messages to bob (offline) and a
    ping in one go; then ask for an ack in a later turn. The old server
    acked the burst although its commit failed."""
    fs.fill()
    for i in range(n):
        a.message(BOB, f"full{i}")
    iid = "burst-ping"
    a._send("iq", iid, f"<iq type='get' id='{iid}'><ping "
            "xmlns='urn:xmpp:ping'/></iq>")
    # Either the ping's answer or the end of the stream: the burst was
    # handled. Only then <r/>, so it lands in a turn of its own.
    deadline = time.monotonic() + 20
    while not a.down and time.monotonic() < deadline:
        a.poll(0.2)
        if any(e.get("id") == iid for e in a.other):
            break
    a.request()


@pytest.mark.parametrize("restart", [False, True],
                         ids=["recovers-by-itself", "after-restart"])
def test_disk_full_acks_only_what_is_stored(make_daemon, small_fs, restart):
    fs = small_fs(4)
    d = make_daemon(extra_conf=RESERVE, state_dir=state_path(fs))
    a = Sender(d)
    try:
        for i in range(5):
            a.message(BOB, f"pre{i}")
        a.settle()
        assert a.acked == [f"pre{i}" for i in range(5)]
        fill_and_burst(d, fs, a, 20)
        a.settle()
        for mid, err in a.errors.items():
            assert err == ("wait", "resource-constraint"), (mid, err)
        mark = d.log_size()
        fs.free()
        if restart:
            a.close()
            d.restart()
            mark = 0
        expected = a.delivered_ok
        got = login_count(d, "bob", "phone", len(expected))
        assert [b for b, _, _ in got] == expected, \
            f"acked to alice: {len(a.acked)}, refused: {len(a.errors)}, " \
            f"pushed to bob: {len(got)}"
        assert all(sid for _, sid, _ in got)
        # The fault happened: the stream ended, or messages were refused.
        assert a.resumed + a.failed + len(a.errors) > 0, \
            "the full disk changed nothing: no failed commit, no refusal"
        # New messages are accepted again (by itself: no restart needed).
        if not restart:
            d.wait_log_re(RECOVERED, mark, timeout=20)
            a.message(BOB, "post")
            a.settle()
        else:
            a = Sender(d)
            a.message(BOB, "post")
            a.settle()
        assert a.errors.get("post") is None
        assert [b for b, _, _ in login_count(d, "bob", "p2", 1)] == ["post"]
    finally:
        a.close()


def test_disk_full_degraded_mode_keeps_sessions_and_recovers(make_daemon,
                                                            small_fs):
    fs = small_fs(4)
    d = make_daemon(extra_conf=RESERVE, state_dir=state_path(fs))
    reserve = os.path.join(d.state_dir, "xmppd.reserve")
    assert os.path.getsize(reserve) == RESERVE_MIB << 20
    b = receiver(d, "bob", "desk")
    barrier(b)
    c = RawStream("127.0.0.1", d.port())
    c.login("carol", "singer", resource="desk", presence=True)
    a = Sender(d)
    try:
        mark = d.log_size()
        fs.fill()
        d.wait_log_re(DEGRADED, mark, timeout=15)
        assert not os.path.exists(reserve), "the reserve was not released"
        # A new message is refused, stored nowhere, and says so.
        a.message(BOB, "while-full")
        a.message(f"{BOB}/desk", "while-full-to-resource")
        assert a.request()
        assert a.errors == {
            "while-full": ("wait", "resource-constraint"),
            "while-full-to-resource": ("wait", "resource-constraint")}
        assert no_more_messages(b) == []
        # Everything else goes on, on the same streams.
        a.s.ping()
        a.sent_directly()
        c.ping()
        b.ping()
        a.s.send(f"<presence to='{BOB}/desk'><status>still here"
                 "</status></presence>")
        a.sent_directly()
        p = b.wait_for(lambda e: e.tag == q(NS_CLIENT, "presence") and
                       e.get("from") == f"{ALICE}/desk")
        assert p.findtext(q(NS_CLIENT, "status")) == "still here"
        assert ok(query(c, [("with", ALICE)])).iq is not None
        # Changes that need storing are refused the same way.
        r = a.s.iq("<query xmlns='jabber:iq:roster'><item jid='"
                   f"{CAROL}' name='Carol'/></query>", to=None,
                   type_="set")
        a.sent_directly()
        assert err_of(r) == ("wait", "resource-constraint")
        assert a.request() and a.unacked == []
        assert not a.down and a.resumed == a.failed == 0
        # Space back: recovery by itself, the reserve taken again.
        fs.free()
        d.wait_log_re(RECOVERED, mark, timeout=20)
        assert os.path.getsize(reserve) == RESERVE_MIB << 20
        a.message(BOB, "after")
        assert a.request() and "after" in a.acked and "after" not in \
            a.errors
        assert body(b.wait_for(is_chat)) == "after"
        log = d.stderr()[mark:]
        assert len(re.findall(DEGRADED, log, re.IGNORECASE)) == 1, \
            "degraded mode is logged once, not per message"
    finally:
        a.close()
        b.close()
        c.close()


# -- 2: h tied to a commit ---------------------------------------------------

@pytest.mark.parametrize("how", ["resumed", "failed"])
def test_resume_h_counts_only_committed(make_daemon, how):
    d = make_daemon(extra_conf="sm-hibernate 1\n" if how == "failed"
                    else "")
    a = connect(d, "alice", "desk")
    previd = a.enabled.get("id")
    holder = LockHolder(d.db)
    try:
        a.send(f"<message to='{BOB}' type='chat' id='c0'><body>c0</body>"
               "</message>")
        a.send(f"<message to='{BOB}' type='chat' id='c1'><body>c1</body>"
               "</message>")
        assert a.request() == 2			# committed
        mark = d.log_size()
        holder.start()
        a.send(f"<message to='{BOB}' type='chat' id='u0'><body>u0</body>"
               f"<origin-id xmlns='{NS_SID}' id='u0'/></message>"
               "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"
               f"<r xmlns='{NS_SM}'/>")
        # The write cannot commit: the server ends the stream, or (the
        # old server) answers after its busy timeout. No ack covers it.
        hs = []
        try:
            while True:
                el = a.next_element(20)
                if el.tag == q(NS_SM, "a"):
                    hs.append(int(el.get("h")))
                if el.tag == q(NS_SM, "a") or el.get("id") == "p1":
                    break
        except StreamClosed:
            pass
        assert all(h <= 2 for h in hs), f"acked h={hs} while the lock " \
            "was held: the message was not committed"
        a.close()
        if how == "failed":
            d.wait_log("reason=hibernation expired", timeout=15)
        holder.release()
        wait_recovered(d, mark)
        n = authenticated(d, "alice")
        res = n.resume(previd, 0)
        assert res.tag == q(NS_SM, how), ET.tostring(res)
        assert res.get("h") == "2", \
            f"<{how} h={res.get('h')}/> counts stanzas never committed"
        n.close()
    finally:
        holder.kill()
        a.close()


def test_failed_commit_ends_a_non_resumable_stream_with_an_error(
        make_daemon):
    """A stream that cannot resume learns of the failed commit from an
    internal-server-error; what it sent was stored nowhere."""
    d = make_daemon()
    s = RawStream("127.0.0.1", d.port())
    s.login("carol", "singer", resource="plain")
    holder = LockHolder(d.db)
    try:
        mark = d.log_size()
        holder.start()
        s.send(f"<message to='{BOB}' type='chat' id='n0'><body>n0</body>"
               "</message>")
        assert s.stream_error(timeout=20) == "internal-server-error"
        holder.release()
        wait_recovered(d, mark)
        assert login_count(d, "bob", "p", 0) == []
    finally:
        holder.kill()
        s.close()


def wait_recovered(d, mark):
    """After a fault that may have put the store in degraded mode (logged
    after offset mark): wait for the recovery. Without that mode (the old
    server) there is nothing to wait for."""
    m = re.search(DEGRADED, d.stderr()[mark:], re.IGNORECASE)
    if m:
        d.wait_log_re(RECOVERED, mark + m.end(), timeout=20)


# -- 3: the write lock held by another process ------------------------------

class Pinger:
    """Another client pinging the server throughout: the round trip of
    each ping, or the time until the server closed the stream (a stream
    that shares a failed turn is ended; it logs in again)."""

    def __init__(self, server):
        self.server = server
        self.rtts = []
        self.closed = 0
        self.s = self._login()

    def _login(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            s = RawStream("127.0.0.1", self.server.port())
            try:
                s.login("carol", "singer", resource="pinger")
                return s
            except (StreamClosed, OSError):
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def once(self, bound=15.0):
        t = time.monotonic()
        try:
            self.s.ping(timeout=bound)
            self.rtts.append(time.monotonic() - t)
        except StreamClosed:
            self.rtts.append(time.monotonic() - t)
            self.closed += 1
            self.s.close()
            self.s = self._login()

    def close(self):
        self.s.close()


def test_write_lock_held_10s_no_stall_no_false_ack(make_daemon):
    d = make_daemon()
    a = Sender(d)
    p = Pinger(d)
    holder = LockHolder(d.db, hold=10.0)
    try:
        a.message(BOB, "before")
        a.settle()
        mark = d.log_size()
        holder.start()
        i = 0
        while time.monotonic() - holder.locked_at < 10.0:
            a.message(BOB, f"locked{i}")
            i += 1
            a.poll(0.1)
            p.once()
            if a.down:
                a.recover()
        holder.release()
        wait_recovered(d, mark)
        for j in range(5):
            a.message(BOB, f"after{j}")
        a.settle()
        p.once()
        slow = [round(r, 2) for r in p.rtts if r >= 3.0]
        assert not slow, f"the event loop stalled: ping round trips " \
            f"{slow} s while another process held the lock"
        for mid, err in a.errors.items():
            assert err == ("wait", "resource-constraint"), (mid, err)
        assert set(a.acked) >= {f"after{j}" for j in range(5)}
        expected = a.delivered_ok
        got = login_count(d, "bob", "phone", len(expected))
        assert [b for b, _, _ in got] == expected
        print(f"lock: {i} sent, {len(a.acked)} acked, {len(a.errors)} "
              f"refused, {a.resumed} resumes; ping max "
              f"{max(p.rtts):.3f}s over {len(p.rtts)}, {p.closed} closed")
    finally:
        holder.kill()
        a.close()
        p.close()


# -- 4: delivery does not depend on the archive ----------------------------

PAYLOAD = "<data xmlns='urn:example:payload'>no body here</data>"


@pytest.mark.parametrize("mam", ["never", "roster", "always"])
def test_sigkill_acked_messages_in_queue_are_pushed_again(make_daemon, mam):
    d = make_daemon(extra_conf=f"mam-default {mam}\n")
    b = receiver(d, "bob", "desk", ack=False, resume=True)
    barrier(b)
    a = Sender(d)
    try:
        for i in range(10):
            a.message(BOB, f"m{i}")
        a.raw_message("bodiless", f"<message to='{BOB}' type='chat' "
                      f"id='bodiless'>{PAYLOAD}<origin-id xmlns='{NS_SID}' "
                      "id='bodiless'/></message>")
        a.settle()
        assert len(a.acked) == 11 and not a.errors
        live = collect(b, 11)
        ids = [stanza_id(m, BOB) for m in live]
        assert all(ids), "a delivered message without our stanza-id"
        kill9(d)			# bob never acked any of them
        d.start()
        b.close()
        a.close()
        s = receiver(d, "bob", "desk2")
        again = collect(s, 11)
        assert [body(m) for m in again] == [f"m{i}" for i in range(10)] + \
            [None]
        assert again[10].find("{urn:example:payload}data") is not None
        assert [stanza_id(m, BOB) for m in again] == ids
        assert all(m.find(q(NS_DELAY, "delay")) is not None for m in again)
        assert no_more_messages(s) == []
        ack_all_and_close(s)
        # Acked now: gone for good.
        assert login_count(d, "bob", "desk3", 0) == []
    finally:
        b.close()
        a.close()


def test_origin_id_dedup_with_archive_off(make_daemon):
    d = make_daemon(extra_conf="mam-default never\n")
    a = Sender(d)
    try:
        a.message(BOB, "x1", text="once", extra="")
        a.settle()
        # The resend of a client that lost the ack: same origin-id, a new
        # stanza id attribute.
        a.raw_message("x1-again", f"<message to='{BOB}' type='chat' "
                      "id='x1-again'><body>once</body><origin-id "
                      f"xmlns='{NS_SID}' id='x1'/></message>")
        a.settle()
        assert not a.errors
        assert [b for b, _, _ in login_count(d, "bob", "p", 1)] == ["once"]
    finally:
        a.close()


# -- 5: a large offline queue at login ----------------------------------------

def test_offline_queue_beyond_sm_queue_max(make_daemon):
    n = 1000
    d = make_daemon(extra_conf="sm-queue-max 50\nmax-offline 2000\n")
    a = Sender(d)
    try:
        for i in range(n):
            a.message(BOB, f"q{i}")
            if i % 100 == 99:
                a.request()
        a.settle()
        assert len(a.acked) == n and not a.errors
        assert spool_count(d.db, "bob") == n
        # A client that acks nothing gets no more than its window, and
        # its stream stays up: no overflow.
        s = receiver(d, "bob", "lazy", ack=False)
        first = [m for m in drain_all(s, 2)]
        s.ping()
        assert 0 < len(first) <= 50, f"{len(first)} pushed unacked"
        assert [body(m) for m in first] == [f"q{i}"
                                            for i in range(len(first))]
        assert spool_count(d.db, "bob") == n, "removed before any ack"
        s.send("</stream:stream>")
        s.wait_closed()
        s.close()
        # A client that acks gets all of them, in order, then a message
        # sent while it was catching up.
        s = receiver(d, "bob", "busy", ack=True)
        got = collect(s, 10)
        a.message(BOB, "live-after")
        a.settle()
        got += collect(s, n + 1 - 10, timeout=120)
        assert [body(m) for m in got] == [f"q{i}" for i in range(n)] + \
            ["live-after"]
        assert len({stanza_id(m, BOB) for m in got}) == n + 1
        assert no_more_messages(s) == []
        s.send(f"<a xmlns='{NS_SM}' h='{s.h}'/>")
        s.ping()
        wait_until(lambda: spool_count(d.db, "bob") == 0, 15,
                   "the spool emptied after the acks")
        s.close()
        assert login_count(d, "bob", "again", 0) == []
    finally:
        a.close()


# -- 6: SIGTERM ---------------------------------------------------------------

def test_sigterm_closes_listeners_first_and_loses_nothing(make_daemon):
    d = make_daemon()
    a = Sender(d)
    for i in range(5):
        a.message(BOB, f"s{i}")
    a.settle()
    a.close()
    c = connect(d, "carol", "desk")
    ports = sorted(set(d.ports.items()))
    grabbed = []
    try:
        c.send(f"<message to='{ALICE}' type='chat' id='c0'><body>c0</body>"
               "</message>")
        c.ping()
        committed = 2			# the message and the ping
        d.signal(signal.SIGTERM)
        # The final ack, then <system-shutdown/>.
        final = []
        while True:
            el = c.next_element(15)
            if el.tag == q(NS_SM, "a"):
                final.append(int(el.get("h")))
            if el.tag == q(NS_STREAMS, "error"):
                break
        cond = [ch.tag.split("}")[1] for ch in el]
        assert "system-shutdown" in cond
        # The listeners were closed before: a login now is refused. If one
        # gets through (the old server), it takes bob's queue: see below.
        accepted = []
        for (addr, kind), port in ports:
            try:
                s = SMStream(addr, port, direct_tls=(kind == "tls"),
                             timeout=5)
            except ConnectionRefusedError:
                continue
            accepted.append(f"{addr}:{port}/{kind}")
            try:
                if kind == "plain" and addr == "127.0.0.1":
                    s.login("bob", "builder", resource="late")
                    s.enable()
                    s.send("<presence/>")
                    while True:
                        el = s.next_element(5)
                        if is_chat(el):
                            grabbed.append(body(el))
            except (StreamClosed, TimeoutError, OSError, AssertionError):
                pass
            finally:
                s.close()
        rc = d.wait_exit(15)
        d.start()
        got = login_count(d, "bob", "after", 5)
        assert [b for b, _, _ in got] == [f"s{i}" for i in range(5)], \
            f"lost in shutdown; a late login took {grabbed}"
        assert [b for b, _, _ in login_count(d, "alice", "x", 1)] == ["c0"]
        assert accepted == [], f"accepted during shutdown: {accepted}"
        assert final == [committed], \
            f"final acks {final}: want one <a h='{committed}'/>"
        assert rc == 0
    finally:
        c.close()


# -- 7: overflow ----------------------------------------------------------------

def mam_bodies(server, user, with_jid):
    s = RawStream("127.0.0.1", server.port())
    try:
        s.login(user, PASSWORDS[user], resource="mam")
        page = ok(query(s, [("with", with_jid)], rsm="<max>100</max>"))
        return [body(m) for _, _, m in page.results]
    finally:
        s.close()


def test_overflow_bounced_is_stored_nowhere(make_daemon):
    d = make_daemon(extra_conf="max-offline 5\n")
    a = Sender(d)
    try:
        for i in range(8):
            a.message(BOB, f"o{i}")
        a.settle()
        assert a.errors == {f"o{i}": ("cancel", "service-unavailable")
                            for i in range(5, 8)}, a.errors
        assert mam_bodies(d, "alice", BOB) == [f"o{i}" for i in range(5)]
        got = login_count(d, "bob", "phone", 5)
        assert [b for b, _, _ in got] == [f"o{i}" for i in range(5)]
        assert mam_bodies(d, "bob", ALICE) == [f"o{i}" for i in range(5)]
        # Room again once bob acked: accepted.
        a.message(BOB, "o8")
        a.settle()
        assert "o8" not in a.errors
    finally:
        a.close()


def test_overflow_error_carries_no_stanza_id(make_daemon):
    d = make_daemon(extra_conf="max-offline 1\n")
    a = connect(d, "alice", "desk")
    try:
        for i in range(2):
            a.send(f"<message to='{BOB}' type='chat' id='e{i}'><body>e{i}"
                   "</body></message>")
        err = a.wait_for(lambda e: is_msg(e) and e.get("type") == "error")
        assert err.get("id") == "e1"
        assert err.findall(q(NS_SID, "stanza-id")) == [], \
            "a bounced message must not look stored"
    finally:
        a.close()


# -- 8: the WAL on a small file system ------------------------------------------

def test_wal_stays_small_on_a_small_file_system(make_daemon, small_fs):
    """Sustained writes on a 4 MiB file system: about 20 messages of 4 KiB
    a second for bob (offline), spooled, then pushed and deleted when he
    logs in every 2 s; several MiB go through the WAL in all. The WAL
    never takes more than half the file system, nothing is refused or
    lost, the store never degrades, and the clean shutdown checkpoints
    the WAL away."""
    fs = small_fs(4)
    d = make_daemon(extra_conf=RESERVE + "mam-default never\n",
                    state_dir=state_path(fs))
    wal = d.db + "-wal"
    sizes = []
    stop = threading.Event()

    def watch():
        # Only stat(2): a reader on the database would pin the WAL.
        while not stop.wait(0.02):
            try:
                sizes.append(os.path.getsize(wal))
            except FileNotFoundError:
                pass
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    a = Sender(d)
    delivered, n = [], 0

    def bob_reads():
        want = len(a.delivered_ok) - len(delivered)
        return [b.split()[0] for b, _, _ in
                login_count(d, "bob", "desk", want)]
    try:
        end = time.monotonic() + 12
        next_login = time.monotonic() + 2
        while time.monotonic() < end and d.alive():
            a.message(BOB, f"w{n}", text=f"w{n} " + "x" * 4000)
            n += 1
            a.poll(0.05)			# the pace: about 20 a second
            if a.down:
                a.recover()
            if time.monotonic() >= next_login:
                a.settle()
                delivered += bob_reads()
                next_login = time.monotonic() + 2
        a.settle()
        delivered += bob_reads()
        assert a.errors == {}, f"refused: {list(a.errors.items())[:3]}"
        assert delivered == [f"w{i}" for i in range(n)], \
            f"{n} sent, {len(a.acked)} acked, {len(delivered)} delivered"
        assert not re.search(DEGRADED, d.stderr(), re.IGNORECASE), \
            "the store degraded: the WAL filled the file system"
    finally:
        stop.set()
        t.join(5)
        a.close()
    top = max(sizes)
    print(f"wal: {n} messages in 12 s, largest WAL {top} bytes, file "
          f"system {fs.size_mib} MiB")
    assert top <= (fs.size_mib << 20) // 2, \
        f"the WAL reached {top} bytes on a {fs.size_mib} MiB file system"
    rc, err = d.stop()
    assert rc == 0, tail(err)
    assert not os.path.exists(wal) or os.path.getsize(wal) == 0, \
        "the checkpoint at shutdown did not empty the WAL"


class Reader(threading.Thread):
    """Reads one stream (auto-acking) in the background, keeping the
    first word of each chat message's body."""

    def __init__(self, s):
        super().__init__(daemon=True)
        self.s, self.got, self.error = s, [], None
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                el = self.s.next_element(0.2)
            except TimeoutError:
                continue
            except (StreamClosed, OSError) as e:
                self.error = e
                return
            if is_chat(el):
                self.got.append(body(el).split()[0])

    def wait_for(self, n, timeout):
        wait_until(lambda: len(self.got) >= n or self.error, timeout,
                   f"{n} messages read (have {len(self.got)})", 0.05)

    def stop(self):
        self.halt.set()
        self.join(10)


def test_wal_burst_on_a_small_file_system_recovers_by_itself(make_daemon,
                                                             small_fs):
    """Two senders as fast as the server acks for 3 s, to two online
    resources, on a 4 MiB file system: the WAL may fill it (the store
    degrades, refuses with wait), but once the burst is over the server
    gets its space back by itself and accepts messages again; nothing
    acked is lost."""
    fs = small_fs(4)
    d = make_daemon(extra_conf=RESERVE + "mam-default never\n",
                    state_dir=state_path(fs))
    readers = {}
    for res in ("desk", "desk2"):
        r = receiver(d, "bob", res)
        barrier(r)
        readers[res] = Reader(r)
        readers[res].start()
    senders = {"alice": Sender(d, "alice"), "carol": Sender(d, "carol")}
    to = {"alice": f"{BOB}/desk", "carol": f"{BOB}/desk2"}
    failures = []

    def burst(name):
        a, n = senders[name], 0
        try:
            end = time.monotonic() + 3.0
            while time.monotonic() < end:
                for _ in range(10):
                    a.message(to[name], f"{name[0]}{n}",
                              text=f"{name[0]}{n} " + "x" * 2000)
                    n += 1
                a.request()
                if a.down:
                    a.recover()
            a.settle()
        except Exception as e:		# reported by the main thread
            failures.append(f"{name}: {type(e).__name__}: {e}")
    threads = [threading.Thread(target=burst, args=(u,)) for u in senders]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        assert not failures, failures
        for name, res in (("alice", "desk"), ("carol", "desk2")):
            a = senders[name]
            for mid, err in a.errors.items():
                assert err == ("wait", "resource-constraint"), (mid, err)
            readers[res].wait_for(len(a.delivered_ok), 30)
            assert readers[res].got == a.delivered_ok, \
                f"{name}: {len(a.delivered_ok)} acked and not refused, " \
                f"{len(readers[res].got)} delivered"
        refused = sum(len(a.errors) for a in senders.values())
        degraded = re.search(DEGRADED, d.stderr(), re.IGNORECASE)
        print(f"burst: {sum(len(a.acked) for a in senders.values())} acked,"
              f" {refused} refused, WAL {os.path.getsize(d.db + '-wal')} "
              f"bytes, {fs.free_bytes()} free")
        if degraded:
            d.wait_log_re(RECOVERED, degraded.end(), timeout=20)
        a = senders["alice"]
        a.message(to["alice"], "after")
        a.settle()
        assert "after" not in a.errors, a.errors["after"]
        readers["desk"].wait_for(len(a.delivered_ok), 10)
        assert readers["desk"].got[-1] == "after"
    finally:
        for r in readers.values():
            r.stop()
            r.s.close()
        for a in senders.values():
            a.close()


# -- 9: the database file watched -------------------------------------------------

def _replace_with_empty(db):
    tmp = db + ".new"
    sqlite3.connect(tmp).close()
    os.replace(tmp, db)


FILE_FAULTS = {
    "deleted": os.unlink,
    "moved": lambda db: os.rename(db, db + ".moved"),
    "replaced": _replace_with_empty,
}


@pytest.mark.parametrize("fault", sorted(FILE_FAULTS))
def test_database_file_gone_exits_and_next_start_refuses(make_daemon, fault):
    d = make_daemon()
    a = connect(d, "alice", "desk")
    try:
        for i in range(3):
            a.send(f"<message to='{BOB}' type='chat'><body>d{i}</body>"
                   "</message>")
        assert a.request() == 3
        mark = d.log_size()
        FILE_FAULTS[fault](d.db)
        a.send(f"<message to='{BOB}' type='chat'><body>gone</body>"
               f"</message><r xmlns='{NS_SM}'/>")
        hs = []
        try:
            while not hs or hs[-1] <= 3:
                el = a.next_element(15)
                if el.tag == q(NS_SM, "a"):
                    hs.append(int(el.get("h")))
        except (StreamClosed, TimeoutError):
            pass
        assert all(h <= 3 for h in hs), \
            f"acked h={hs} after the database file was {fault}"
        rc = d.wait_exit(15)
        err = d.stderr()
        assert rc == 1, f"exit status {rc}:\n{tail(err)}"
        assert not [m for m in SANITIZER_MARKERS if m in err], tail(err)
        assert "xmppd.sqlite" in err[mark:], "the exit does not say why"
    finally:
        a.close()
    assert os.path.exists(os.path.join(d.state_dir, MARKER))
    # The next start refuses: the marker says a database existed.
    rc, out = d.run_once(["-d"])
    assert rc == 1, f"a start on a {fault} database: exit {rc}\n{out}"
    assert "--init" in out and "xmppd.sqlite" in out, out
    # --init makes a new, empty one.
    init_and_start(d)
    assert login_count(d, "bob", "p", 0) == []


def init_and_start(d):
    """`xmppd --init`: a new empty database, then the daemon runs."""
    d.start(args=["--init"])


def test_start_without_marker_creates_the_database(make_daemon):
    """A first start (no marker, no database) needs no --init; it leaves
    the marker behind."""
    d = make_daemon()
    assert os.path.exists(d.db)
    assert os.path.exists(os.path.join(d.state_dir, MARKER))


# -- 10: MAM results are not queued as messages ------------------------------

def test_unacked_mam_results_are_not_queued(make_daemon):
    d = make_daemon(extra_conf="sm-hibernate 1\nmax-offline 15\n")
    a = Sender(d)
    try:
        for i in range(10):
            a.message(BOB, f"h{i}")
        a.settle()
        assert len(login_count(d, "bob", "first", 10)) == 10
        # A client queries its archive and loses its link unacked.
        s = receiver(d, "bob", "mam", ack=False, resume=True)
        barrier(s)
        for _ in range(2):
            page = ok(mam_page(s, ALICE))
            assert len(page.results) == 10
        s.close()
        d.wait_log("reason=hibernation expired", timeout=15)
        # A real message is not refused for a queue full of copies.
        a.message(BOB, "real")
        a.settle()
        assert a.errors == {}
        s = receiver(d, "bob", "next")
        got = collect(s, 1)
        assert body(got[0]) == "real"
        rest = barrier(s)
        results = [m for m in rest if is_msg(m)]
        assert results == [], \
            f"pushed at login: {[ET.tostring(m)[:120] for m in results]}"
        ack_all_and_close(s)
        if "spool" in tables(d.db):
            assert spool_count(d.db, "bob") == 0
    finally:
        a.close()


