#!/usr/bin/python3
"""xmppclient: a small, exact asyncio XMPP client for the loss checker.

It does what a real mobile client does on a bad link, and nothing else:
connect (IPv4 or IPv6, STARTTLS or direct TLS, no certificate check:
test certificates are self-signed), SASL PLAIN, bind, XEP-0198 stream
management with resumption, XEP-0280 carbons, XEP-0313 archive queries
with XEP-0059 paging, presence, and reconnection with bounded backoff.

Why not slixmpp: its XEP-0198 plugin (1.8.3) empties its unacked queue
when it sends <resume/> and on <failed/>, so after a resume it cannot say
which of its messages reached the server. Here the counters (mod 2^32)
and the unacked queue are our own and exact:

  - on <resumed h/>: what h covers is acked, the rest is resent as is;
  - on <failed h/>: what h covers reached the server; every other
    message is resent on the new session with the same origin-id, and
    unacked presences/iqs of the dead session are dropped (the new
    session sends its own presence).

Faults a real client brings on itself, for the loss checker:

  - crash(pause): the process dies: the TCP link is aborted with nothing
    more written (no ack), the XEP-0198 state is forgotten; only the
    persisted outbox survives (the messages sent but not seen acked,
    resent on the next session with the same origin-id, as
    Conversations does); a new session (no resume) after the pause;
  - pause_acks() / resume_acks(): stop answering <r/> and sending <a/>
    (a resume meanwhile claims only the h already told);
  - logout() / login(): a clean end of the session, and a new one.

The client also keeps a record of its sessions (when each started, when
its carbons were confirmed, when and how it ended): a carbon is only
guaranteed to a session that lived through.

Every wait is bounded. Standard library only (Debian's /usr/bin/python3).
"""

import asyncio
import base64
import collections
import ctypes
import itertools
import logging
import ssl
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

NS_CLIENT = "jabber:client"
NS_STREAM = "http://etherx.jabber.org/streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_SM = "urn:xmpp:sm:3"
NS_CARBONS = "urn:xmpp:carbons:2"
NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_FORWARD = "urn:xmpp:forward:0"
NS_DELAY = "urn:xmpp:delay"
NS_SID = "urn:xmpp:sid:0"
NS_DATA = "jabber:x:data"
NS_PING = "urn:xmpp:ping"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"

MOD = 1 << 32
STANZAS = {f"{{{NS_CLIENT}}}{n}" for n in ("message", "presence", "iq")}

log = logging.getLogger("xmppclient")


def now_ms():
    """Wall-clock milliseconds: comparable across processes and hosts."""
    return int(time.time() * 1000)


def q(tag, ns):
    return f"{{{ns}}}{tag}"


def bare(jid):
    return (jid or "").split("/", 1)[0].lower()


class ProtocolError(Exception):
    """The peer broke XMPP; reconnecting might help."""


class FatalError(Exception):
    """Reconnecting cannot help (bad password, a server that acks more
    than was sent): the client stops and reports it."""


class LinkDown(Exception):
    """The TCP link ended or was declared dead."""


def _expat_no_deferral(c_parser):
    """Switch off expat's reparse deferral for an _elementtree.XMLParser.

    Bookworm's expat (2.5.0-1+deb12u2 and later) backports the 2.6
    deferral: a complete stanza, or the closing </stream:stream>, can be
    held back until more bytes arrive, which never happens when the peer
    waits for our answer. Python 3.11 has no switch for it (3.13's
    flush()), so call the library's own through ctypes on the parser's
    XML_Parser, the first field after the object header; expat keeps the
    owning object as its user data (first field of its struct), which
    proves the pointer before anything is written through it. Returns
    whether deferral is now off (False where the library has no switch,
    which also means it does not defer)."""
    try:
        lib = ctypes.CDLL("libexpat.so.1")
        setter = lib.XML_SetReparseDeferralEnabled
    except (OSError, AttributeError):
        return False
    hdr = ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(ctypes.c_void_p)
    xp = ctypes.c_void_p.from_address(id(c_parser) + hdr).value
    if not xp or ctypes.c_void_p.from_address(xp).value != id(c_parser):
        raise RuntimeError("unexpected _elementtree.XMLParser layout")
    setter.argtypes = (ctypes.c_void_p, ctypes.c_ubyte)
    setter.restype = ctypes.c_ubyte
    return bool(setter(xp, 0))


class StreamParser:
    """Bytes of one XML stream -> ('open', attrib), ('stanza', element),
    ('close', None). A new parser is needed after each stream restart."""

    def __init__(self):
        self._p = ET.XMLPullParser(events=("start", "end"))
        _expat_no_deferral(self._p._parser)
        self._depth = 0
        self._root = None

    def feed(self, data):
        try:
            self._p.feed(data)
            out = []
            for ev, el in self._p.read_events():
                out.extend(self._event(ev, el))
            return out
        except ET.ParseError as e:
            raise ProtocolError(f"bad XML: {e}") from None

    def _event(self, ev, el):
        if ev == "start":
            self._depth += 1
            if self._depth == 1:
                self._root = el
                return [("open", dict(el.attrib))]
            return []
        self._depth -= 1
        if self._depth == 0:
            return [("close", None)]
        if self._depth == 1:
            # Detach the finished stanza: a long stream must not grow.
            self._root.remove(el)
            return [("stanza", el)]
        return []


class SMQueue:
    """XEP-0198 counters and the unacked queue, without I/O.

    Invariant: out == (acked + len(unacked)) mod 2^32. Entries are
    (xml text, tag); tag is what the owner wants back when it is acked
    (None for presences and iqs)."""

    def __init__(self, out=0, inbound=0):
        self.out = out % MOD
        self.acked = out % MOD
        self.inbound = inbound % MOD
        self.unacked = collections.deque()

    def sent(self, xml, tag=None):
        self.unacked.append((xml, tag))
        self.out = (self.out + 1) % MOD

    def received(self):
        self.inbound = (self.inbound + 1) % MOD

    def ack(self, h):
        """Drop what h covers; return those entries. An h beyond what was
        sent is the server's bug (XEP-0198 §4: undefined-condition)."""
        if not 0 <= h < MOD:
            raise FatalError(f"ack h={h} out of range")
        n = (h - self.acked) % MOD
        if n > len(self.unacked):
            raise FatalError(f"server acked h={h}: {n} stanzas since "
                f"h={self.acked}, but only {len(self.unacked)} were sent")
        done = [self.unacked.popleft() for _ in range(n)]
        self.acked = h
        return done

    def take_unacked(self):
        """Empty the queue for a resend; the resends count again."""
        rest = list(self.unacked)
        self.unacked.clear()
        self.out = self.acked
        return rest


class Received:
    """One message as delivered to us, with what the checker needs.
    stanza_id is the <stanza-id/> stamped by our own account; stanza_ids
    maps every stamping account ('by') to its id. For a carbon, the
    fields describe the forwarded message and carbon is 'sent' or
    'received'. mtype 'error' with error_type/error_cond is a bounce.
    forgotten becomes True when the client loses it before acking it (a
    crash, or a resume while acks are paused): the server owes it
    again."""

    __slots__ = ("frm", "to", "body", "origin_id", "stanza_id", "delay",
        "carbon", "gen", "conn_kind", "conn_t_ms", "t_ms", "addr",
        "stanza_ids", "msg_id", "mtype", "error_type", "error_cond",
        "session", "resource", "forgotten")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__slots__}


def parse_message(el, own_bare):
    """Fields of a <message/> element: origin-id, our stanza-id (and
    every stanza-id by account), delay, id, type, error."""
    b = child(el, "body")
    body = b.text if b is not None else None
    origin = el.find(q("origin-id", NS_SID))
    sid, sids = None, {}
    for s in el.findall(q("stanza-id", NS_SID)):
        by = bare(s.get("by"))
        sids.setdefault(by, s.get("id"))
        if by == own_bare and sid is None:
            sid = s.get("id")
    delay = el.find(q("delay", NS_DELAY))
    err = child(el, "error") if el.get("type") == "error" else None
    return {
        "frm": el.get("from"), "to": el.get("to"), "body": body,
        "origin_id": origin.get("id") if origin is not None else None,
        "stanza_id": sid, "stanza_ids": sids,
        "delay": delay.get("stamp") if delay is not None else None,
        "msg_id": el.get("id"), "mtype": el.get("type"),
        "error_type": err.get("type") if err is not None else None,
        "error_cond": error_condition(err) if err is not None else None,
    }


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE # test certificates are self-signed
    return ctx


class XMPPClient:
    """One account, one resource, reconnecting until close().

    Callbacks (plain functions, called in the loop):
      on_message(Received)      a message for us (not MAM results): chat,
                                carbons, and bounces (mtype 'error')
      on_acked(tag, t_ms)       the server acked a stanza sent with tag
      on_event(kind, info)      connect/link-down/resumed/new-session/
                                resume-failed/crash/logout/carbons/...

    priority is the initial presence's (a negative one takes no message
    sent to the bare JID: RFC 6121 §8.5.2.1.1). sessions lists every
    session: {"no", "start_ms", "carbons_ms", "end_ms", "end"}.
    """

    def __init__(self, user, password, domain, addrs, *, tls="starttls",
        resource="lc", timeout=10.0, ping_after=1.0, dead_after=3.0,
        backoff=(0.1, 2.0), ack_every=5, carbons=True, rotate=True,
        priority=0):
        if tls not in ("starttls", "direct", "none"):
            raise ValueError("tls must be starttls, direct or none")
        if not addrs:
            raise ValueError("no server address")
        self.user, self.domain = user, domain
        self._password = password
        self.bare = f"{user}@{domain}".lower()
        self.jid = None
        self.addrs = [tuple(a) for a in addrs]
        self.tls, self.resource, self.timeout = tls, resource, timeout
        self.ping_after, self.dead_after = ping_after, dead_after
        self.backoff, self.ack_every = backoff, ack_every
        self.carbons, self.rotate = carbons, rotate
        self.priority = int(priority)
        self.on_message = self.on_acked = self.on_event = None
        self.sm = SMQueue()
        self.sm_id = None
        self.sm_on = False
        self.addr_index = 0
        self.gen = 0
        self.conn_kind = None
        self.conn_t_ms = None
        self.conn_addr = None
        self.events = []
        self.errors = []
        self.online = asyncio.Event()
        self._acked = asyncio.Event()
        self._reader = self._writer = self._parser = None
        self._pending = collections.deque()
        self._iqs = {}
        self._mam = {}
        self._ids = itertools.count(1)
        self._since_r = 0
        self._last_rx = 0.0
        self._r_sent = None
        self._resend = []
        self._closing = False
        self._task = None
        self._stopped = asyncio.Event()
        self.sessions = []          # see the class documentation
        self.acking = True          # False: <r/> unanswered, no <a/>
        self._told_h = 0            # the last h we told the server
        self._down = False          # the link was crashed: read no more
        self._hold_until = 0.0      # no connection before (monotonic)
        self._since_told = []       # Received since the last h we told

    # -- public ----------------------------------------------------------

    async def start(self, wait=None):
        """Start the reconnecting supervisor; wait (bounded) for online."""
        self._task = asyncio.ensure_future(self._supervise())
        await self.wait_online(wait if wait is not None else self.timeout)

    async def wait_online(self, timeout):
        waiter = asyncio.ensure_future(self.online.wait())
        stop = asyncio.ensure_future(self._stopped.wait())
        done, _ = await asyncio.wait({waiter, stop}, timeout=timeout,
            return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        stop.cancel()
        if not self.online.is_set():
            why = self.errors[-1] if self.errors else "timeout"
            raise LinkDown(f"{self.bare} not online within "
                f"{timeout}s: {why}")

    def send_message(self, to, body, origin_id, tag=None, mtype="chat",
        msg_id=None):
        """Send a chat message now; False when not online (not sent).
        The stanza id is msg_id, or the origin-id."""
        xml = (f"<message type={quoteattr(mtype)} to={quoteattr(to)} "
            f"id={quoteattr(msg_id or origin_id)}><body>{escape(body)}</body>"
            f"<origin-id xmlns='{NS_SID}' id={quoteattr(origin_id)}/>"
            "</message>")
        return self.send_stanza(xml, tag)

    def send_stanza(self, xml, tag=None):
        if not self.online.is_set():
            return False
        self._write(xml)
        if self.sm_on:
            self.sm.sent(xml, tag)
            self._since_r += 1
            if self._since_r >= self.ack_every:
                self.request_ack()
        return True

    def request_ack(self):
        if self.online.is_set() and self.sm_on:
            self._since_r = 0
            if self._r_sent is None:
                self._r_sent = time.monotonic()
            self._write(f"<r xmlns='{NS_SM}'/>")

    async def flush(self, timeout):
        """Wait (bounded) until the server acked everything we sent.
        Returns the number still unacked."""
        deadline = time.monotonic() + timeout
        while self.sm.unacked and time.monotonic() < deadline:
            self._acked.clear()
            self.request_ack()
            try:
                await asyncio.wait_for(self._acked.wait(),
                    min(0.5, max(0.01, deadline - time.monotonic())))
            except asyncio.TimeoutError:
                pass
        return len(self.sm.unacked)

    async def iq(self, itype, payload, timeout=None, to=None):
        """Send an iq and wait (bounded) for its result or error."""
        iid = f"iq{next(self._ids)}"
        fut = asyncio.get_running_loop().create_future()
        self._iqs[iid] = fut
        dest = f" to={quoteattr(to)}" if to else ""
        try:
            if not self.send_stanza(f"<iq type='{itype}' id='{iid}'"
                f"{dest}>{payload}</iq>"):
                raise LinkDown("not online")
            return await asyncio.wait_for(fut, timeout or self.timeout)
        finally:
            self._iqs.pop(iid, None)

    async def mam_query(self, with_jid=None, page=100, timeout=None,
        max_pages=10000):
        """Page through our archive (XEP-0313, XEP-0059 after=last).
        Returns [(mam id, forwarded <message/> element, delay stamp)]."""
        out, after = [], None
        for _ in range(max_pages):
            qid = f"q{next(self._ids)}"
            rows = self._mam[qid] = []
            try:
                res = await self.iq("set", mam_query_xml(qid, with_jid,
                    page, after), timeout)
            finally:
                self._mam.pop(qid, None)
            if res.get("type") != "result":
                raise ProtocolError(f"MAM query failed: "
                    f"{ET.tostring(res, 'unicode')[:200]}")
            out.extend(rows)
            fin = res.find(q("fin", NS_MAM))
            if fin is None:
                raise ProtocolError("MAM result without <fin/>")
            last = fin.findtext(f"{q('set', NS_RSM)}/{q('last', NS_RSM)}")
            if fin.get("complete") in ("true", "1") or not rows or \
                not last:
                return out
            after = last
        raise ProtocolError(f"MAM: more than {max_pages} pages")

    async def close(self, timeout=2.0):
        """End the stream cleanly (the session ends, no hibernation)."""
        self._closing = True
        if self.online.is_set() and self._writer is not None:
            try:
                if self.sm_on:
                    self._told(self.sm.inbound)
                    self._write(f"<a xmlns='{NS_SM}' "
                        f"h='{self.sm.inbound}'/>")
                self._write("</stream:stream>")
                await asyncio.wait_for(self._writer.drain(), timeout)
            except (OSError, asyncio.TimeoutError):
                pass
        self._abort()
        await self._stop_task(timeout)
        self._end_session("close")

    def abort_link(self):
        """Drop the TCP link as a crashed network would (for tests)."""
        self._abort()

    @property
    def session(self):
        """The current (last) session record, or None before the first."""
        return self.sessions[-1] if self.sessions else None

    def crash(self, pause=1.0):
        """The client process dies: the link is aborted with nothing more
        written (no <a/>, no </stream>), stanzas already read but not
        handled are lost with it, the XEP-0198 state (session id,
        counters, unacked presences and iqs) is forgotten. Only the
        persisted outbox survives: messages sent but not seen acked are
        resent with the same origin-id on the next session, which is a
        new one (no resume), after pause seconds. False when there was
        no session to crash (closed, or logged out)."""
        if self._closing or self._task is None or self._task.done():
            return False
        self._event("crash", pause=pause, unacked=len(self.sm.unacked),
            forgotten=len(self._since_told))
        self._forget()
        self._fail_iqs("crashed")
        self._pending.clear()
        self._down = True
        self.online.clear()
        self._abort()
        self._resend.extend((x, t) for x, t in self.sm.take_unacked()
            if t is not None)
        self.sm = SMQueue()
        self.sm_id = None
        self.sm_on = False
        self._end_session("crash")
        self._hold_until = time.monotonic() + max(0.0, pause)
        return True

    def pause_acks(self):
        """Stop acking what we receive: <r/> goes unanswered, no <a/> is
        sent, and a resume meanwhile claims only the h already told (the
        rest was not handled, so the server sends it again)."""
        self.acking = False
        self._event("acks-paused", h=self.sm.inbound, told=self._told_h)

    def resume_acks(self):
        """Ack again, at once with everything received meanwhile."""
        self.acking = True
        self._event("acks-resumed", h=self.sm.inbound, told=self._told_h)
        self.send_ack()

    def send_ack(self):
        """An unsolicited <a h/> (XEP-0198 allows it): tell the server
        what we handled. Not while acks are paused."""
        if self.acking and self.online.is_set() and self.sm_on:
            self._told(self.sm.inbound)
            self._write(f"<a xmlns='{NS_SM}' h='{self.sm.inbound}'/>")

    def _told(self, h):
        self._told_h = h
        self._since_told.clear()

    def _fail_iqs(self, why):
        """Requests of a session that is over get no answer: say so now
        instead of letting each wait for its timeout."""
        for fut in self._iqs.values():
            if not fut.done():
                fut.set_exception(LinkDown(why))

    def _forget(self):
        """What we received but never acked is lost with this client."""
        for rec in self._since_told:
            rec.forgotten = True
        self._since_told.clear()

    async def logout(self, timeout=2.0):
        """End the session cleanly (like close()) but keep the client:
        login() starts a new session later. Unacked messages stay in the
        outbox and are resent on the next session (same origin-id)."""
        if self._task is None or self._closing:
            return False
        if self.online.is_set():
            await self.flush(timeout)
        self._closing = True
        was_online = self.online.is_set()
        self.online.clear()     # nothing more is sent on this stream
        if was_online and self._writer is not None:
            try:
                if self.sm_on and self.acking:
                    self._told(self.sm.inbound)
                    self._write(f"<a xmlns='{NS_SM}' "
                        f"h='{self.sm.inbound}'/>")
                self._write("</stream:stream>")
                await asyncio.wait_for(self._writer.drain(), timeout)
                # The server's </stream:stream> ends the read loop; what
                # it delivers meanwhile is still read (and unacked).
                await asyncio.wait_for(self._stopped.wait(), timeout)
            except (OSError, asyncio.TimeoutError):
                pass
        self._abort()
        await self._stop_task(timeout)
        self._resend.extend((x, t) for x, t in self.sm.take_unacked()
            if t is not None)
        self.sm = SMQueue()
        self.sm_id = None
        self.sm_on = False
        self._end_session("logout")
        self._event("logout", outbox=len(self._resend))
        return True

    async def login(self, wait=None):
        """Start again after logout() (a new session); bounded wait."""
        if self._task is not None and not self._task.done():
            return False
        self._closing = False
        self._stopped.clear()
        await self.start(wait)
        return True

    async def _stop_task(self, timeout):
        if self._task is not None:
            self._task.cancel()
            try:
                await asyncio.wait_for(self._task, timeout)
            except (asyncio.CancelledError, asyncio.TimeoutError):
                pass

    def _end_session(self, how):
        s = self.session
        if s is not None and s["end_ms"] is None:
            s["end_ms"], s["end"] = now_ms(), how

    # -- events ----------------------------------------------------------

    def _event(self, kind, **info):
        info.setdefault("addr", self.conn_addr)
        self.events.append((now_ms(), kind, info))
        log.debug("%s %s %s", self.bare, kind, info)
        if self.on_event is not None:
            self.on_event(kind, info)

    def _fail(self, msg):
        self.errors.append(msg)
        self._event("error", error=msg)

    # -- connection supervisor -----------------------------------------

    async def _supervise(self):
        delay = self.backoff[0]
        try:
            while not self._closing:
                hold = self._hold_until - time.monotonic()
                if hold > 0:        # a crashed client is restarting
                    await asyncio.sleep(hold)
                    continue
                try:
                    await asyncio.wait_for(self._connect(),
                        self.timeout)
                except FatalError as e:
                    self._fail(str(e))
                    return
                except (OSError, EOFError, LinkDown, ProtocolError,
                    asyncio.TimeoutError) as e:
                    self._abort()
                    self._event("connect-failed",
                        error=f"{type(e).__name__}: {e}")
                    self._next_addr()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.backoff[1])
                    continue
                delay = self.backoff[0]
                try:
                    await self._serve()
                except FatalError as e:
                    self._fail(str(e))
                    return
                finally:
                    self.online.clear()
                    self._abort()
                if not self._closing:
                    if not self.sm_id and not self._down:
                        # Nothing to resume: this session is over.
                        self._end_session("link-down")
                    self._event("link-down")
                    self._next_addr()
        finally:
            self.online.clear()
            self._stopped.set()

    def _next_addr(self):
        if self.rotate:
            self.addr_index = (self.addr_index + 1) % len(self.addrs)

    def _abort(self):
        w, self._writer = self._writer, None
        if w is not None:
            w.transport.abort()

    def _write(self, text):
        if self._writer is None or self._writer.is_closing():
            return
        self._writer.write(text.encode())

    async def _next(self, timeout):
        """The next top-level event of the stream (bounded wait)."""
        deadline = None if timeout is None else \
            time.monotonic() + timeout
        while not self._pending:
            if self._down:
                raise LinkDown("crashed")
            left = None if deadline is None else \
                deadline - time.monotonic()
            if left is not None and left <= 0:
                raise asyncio.TimeoutError()
            data = await asyncio.wait_for(self._reader.read(65536), left)
            if self._down:
                raise LinkDown("crashed")
            if not data:
                raise LinkDown("connection closed by peer")
            self._last_rx = time.monotonic()
            self._pending.extend(self._parser.feed(data))
        return self._pending.popleft()

    async def _expect(self):
        """The next stanza or nonza during negotiation."""
        kind, el = await self._next(self.timeout)
        if kind == "close":
            raise LinkDown("stream closed during negotiation")
        if kind == "open":
            raise ProtocolError("unexpected second stream header")
        if el.tag == q("error", NS_STREAM):
            raise LinkDown(f"stream error {error_condition(el)}")
        return el

    async def _open_stream(self):
        self._parser = StreamParser()
        self._pending.clear()
        self._write("<?xml version='1.0'?><stream:stream "
            f"xmlns='{NS_CLIENT}' xmlns:stream='{NS_STREAM}' "
            f"to={quoteattr(self.domain)} version='1.0'>")
        kind, _ = await self._next(self.timeout)
        if kind != "open":
            raise ProtocolError("no stream header")
        feats = await self._expect()
        if feats.tag != q("features", NS_STREAM):
            raise ProtocolError(f"expected features, got {feats.tag}")
        return feats

    async def _connect(self):
        host, port = self.addrs[self.addr_index]
        self.gen += 1
        self.conn_addr = f"{host}:{port}"
        self.sm_on = False
        self._r_sent = None
        self._down = False
        ctx = tls_context() if self.tls == "direct" else None
        self._reader, self._writer = await asyncio.open_connection(
            host, port, ssl=ctx,
            server_hostname=self.domain if ctx else None)
        if self._down:
            raise LinkDown("crashed while connecting")
        feats = await self._open_stream()
        if self.tls == "starttls":
            feats = await self._starttls(feats)
        feats = await self._auth(feats)
        if self.sm_id is not None and feats.find(q("sm", NS_SM)) is not \
            None and await self._resume():
            return
        await self._new_session(feats)

    async def _starttls(self, feats):
        if feats.find(q("starttls", NS_TLS)) is None:
            raise ProtocolError("server offers no STARTTLS")
        self._write(f"<starttls xmlns='{NS_TLS}'/>")
        el = await self._expect()
        if el.tag != q("proceed", NS_TLS):
            raise ProtocolError(f"STARTTLS refused: {el.tag}")
        await self._writer.start_tls(tls_context(),
            server_hostname=self.domain)
        return await self._open_stream()

    async def _auth(self, feats):
        mechs = [m.text for m in feats.iter(q("mechanism", NS_SASL))]
        if "PLAIN" not in mechs:
            raise ProtocolError(f"no SASL PLAIN (offered {mechs})")
        cred = base64.b64encode(
            f"\0{self.user}\0{self._password}".encode()).decode()
        self._write(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>"
            f"{cred}</auth>")
        el = await self._expect()
        if el.tag == q("failure", NS_SASL):
            cond = [c.tag.split("}")[-1] for c in el]
            if "temporary-auth-failure" in cond:
                raise ProtocolError(f"SASL failure {cond}")
            raise FatalError(f"{self.bare}: SASL failure {cond}")
        if el.tag != q("success", NS_SASL):
            raise ProtocolError(f"SASL: unexpected {el.tag}")
        return await self._open_stream()

    async def _resume(self):
        """Try XEP-0198 resumption; True when resumed."""
        if not self.acking:
            # Not acking: what was received since the last <a/> counts
            # as not handled; the server sends it again after the resume.
            self.sm.inbound = self._told_h
            self._forget()
        self._told(self.sm.inbound)
        self._write(f"<resume xmlns='{NS_SM}' h='{self.sm.inbound}' "
            f"previd={quoteattr(self.sm_id)}/>")
        el = await self._expect()
        if el.tag == q("resumed", NS_SM):
            self._acknowledge(parse_h(el))
            rest = self.sm.take_unacked()
            self._go_online("resumed")
            for xml, tag in rest:
                self.send_stanza(xml, tag)
            self._event("resumed", resent=len(rest), h=el.get("h"))
            return True
        if el.tag != q("failed", NS_SM):
            raise ProtocolError(f"resume: unexpected {el.tag}")
        if el.get("h") is not None:
            self._acknowledge(parse_h(el))
        self._keep_messages()
        self.sm_id = None
        self._end_session("failed")
        self._event("resume-failed", h=el.get("h"),
            condition=error_condition(el), resend=len(self._resend))
        return False

    def _keep_messages(self):
        """Unacked messages of a dead session wait in _resend until a
        new session is online, even across failed connection attempts."""
        self._resend.extend((x, t) for x, t in self.sm.take_unacked()
            if t is not None)

    async def _new_session(self, feats):
        self._keep_messages()
        self._fail_iqs("session ended")
        self._write(f"<iq type='set' id='bind'><bind xmlns='{NS_BIND}'>"
            f"<resource>{escape(self.resource)}</resource></bind></iq>")
        el = await self._expect()
        jid = el.findtext(f"{q('bind', NS_BIND)}/{q('jid', NS_BIND)}")
        if el.get("type") != "result" or not jid:
            raise ProtocolError("bind failed: "
                f"{ET.tostring(el, 'unicode')[:200]}")
        self.jid = jid
        sess = feats.find(q("session", NS_SESSION))
        if sess is not None and sess.find(q("optional", NS_SESSION)) is None:
            self._write(f"<iq type='set' id='sess'>"
                f"<session xmlns='{NS_SESSION}'/></iq>")
            await self._expect()
        self.sm = SMQueue()
        self._told(0)
        self._end_session("replaced")
        self.sessions.append({"no": len(self.sessions) + 1,
            "start_ms": now_ms(), "carbons_ms": None, "end_ms": None,
            "end": None})
        if feats.find(q("sm", NS_SM)) is not None:
            self._write(f"<enable xmlns='{NS_SM}' resume='true'/>")
            el = await self._expect()
            if el.tag == q("enabled", NS_SM):
                self.sm_on = True
                resumable = el.get("resume") in ("true", "1")
                self.sm_id = el.get("id") if resumable else None
            else:
                self._fail(f"SM enable refused: {el.tag}")
        self._go_online("new")
        if self.carbons:
            self.send_stanza(f"<iq type='set' "
                f"id='carbons-{self.session['no']}'>"
                f"<enable xmlns='{NS_CARBONS}'/></iq>")
        if self.priority:
            self.send_stanza(f"<presence><priority>{self.priority}"
                "</priority></presence>")
        else:
            self.send_stanza("<presence/>")
        leftover, self._resend = self._resend, []
        for xml, tag in leftover:
            self.send_stanza(xml, tag)
        self._event("new-session", jid=jid, resent=len(leftover),
            sm=self.sm_on, resumable=self.sm_id is not None)

    def _go_online(self, kind):
        self.sm_on = self.sm_on or kind == "resumed"
        self.conn_kind = kind
        self.conn_t_ms = now_ms()
        self._last_rx = time.monotonic()
        self.online.set()

    def _acknowledge(self, h):
        t = now_ms()
        for _, tag in self.sm.ack(h):
            if tag is not None and self.on_acked is not None:
                self.on_acked(tag, t)
        self._r_sent = None
        self._acked.set()

    # -- the online stream ---------------------------------------------

    async def _serve(self):
        """Read and dispatch until the link ends or is declared dead."""
        reader = asyncio.ensure_future(self._read_loop())
        watchdog = asyncio.ensure_future(self._watchdog())
        try:
            done, _ = await asyncio.wait({reader, watchdog},
                return_when=asyncio.FIRST_COMPLETED)
        finally:
            reader.cancel()
            watchdog.cancel()
        for t in done:
            exc = t.exception()
            if isinstance(exc, FatalError):
                raise exc
            if exc is not None and not isinstance(exc, (LinkDown,
                OSError, ProtocolError, EOFError)):
                raise exc
            if exc is not None:
                self._event("link-error",
                    error=f"{type(exc).__name__}: {exc}")

    async def _read_loop(self):
        while True:
            kind, el = await self._next(None)
            if kind == "close":
                raise LinkDown("stream closed by server")
            if kind == "stanza":
                self._dispatch(el)

    async def _watchdog(self):
        """A silent link is found by asking for an ack (XEP-0198 §4)
        and giving up after dead_after without any byte back."""
        while True:
            await asyncio.sleep(min(0.25, self.ping_after / 2))
            t = time.monotonic()
            if self._r_sent is not None and self._last_rx > self._r_sent:
                self._r_sent = None
            if self._r_sent is not None and \
                t - self._r_sent > self.dead_after:
                raise LinkDown(f"no answer for {self.dead_after}s")
            if t - self._last_rx > self.ping_after and \
                self._r_sent is None:
                if self.sm_on:
                    self.request_ack()
                else:
                    self._r_sent = t
                    self._write("<iq type='get' id='keepalive'>"
                        f"<ping xmlns='{NS_PING}'/></iq>")

    def _dispatch(self, el):
        if el.tag == q("r", NS_SM):
            self.send_ack()
        elif el.tag == q("a", NS_SM):
            self._acknowledge(parse_h(el))
        elif el.tag == q("error", NS_STREAM):
            cond = error_condition(el)
            self._event("stream-error", condition=cond)
            raise LinkDown(f"stream error {cond}")
        elif el.tag in STANZAS:
            if self.sm_on:
                self.sm.received()
            if el.tag == q("message", NS_CLIENT):
                self._on_message(el)
            elif el.tag == q("iq", NS_CLIENT):
                self._on_iq(el)

    def _on_iq(self, el):
        itype, iid = el.get("type"), el.get("id")
        if iid == f"carbons-{len(self.sessions)}" and itype in ("result",
                "error"):
            if itype == "result":
                self.session["carbons_ms"] = now_ms()
                self._event("carbons", enabled=True)
            else:
                err = child(el, "error")
                self._fail("carbons refused: " + str(
                    error_condition(err) if err is not None else None))
            return
        if itype in ("result", "error"):
            fut = self._iqs.get(iid)
            if fut is not None and not fut.done():
                fut.set_result(el)
            return
        to = f" to={quoteattr(el.get('from'))}" if el.get("from") else ""
        if itype == "get" and el.find(q("ping", NS_PING)) is not None:
            self.send_stanza(f"<iq type='result' id={quoteattr(iid or '')}"
                f"{to}/>")
        elif itype in ("get", "set"):
            self.send_stanza(f"<iq type='error' id={quoteattr(iid or '')}"
                f"{to}><error type='cancel'><service-unavailable "
                f"xmlns='{NS_STANZAS}'/></error></iq>")

    def _on_message(self, el):
        res = el.find(q("result", NS_MAM))
        if res is not None:
            rows = self._mam.get(res.get("queryid"))
            fwd = res.find(q("forwarded", NS_FORWARD))
            if rows is not None and fwd is not None:
                d = fwd.find(q("delay", NS_DELAY))
                rows.append((res.get("id"), child(fwd, "message"),
                    d.get("stamp") if d is not None else None))
            return
        carbon = None
        for kind in ("received", "sent"):
            c = el.find(q(kind, NS_CARBONS))
            if c is not None and bare(el.get("from")) == self.bare:
                fwd = c.find(q("forwarded", NS_FORWARD))
                inner = child(fwd, "message") if fwd is not None else None
                if inner is None:
                    return
                carbon, el = kind, inner
                break
        if self.on_message is None:
            return
        f = parse_message(el, self.bare)
        sess = self.session
        rec = Received(carbon=carbon, gen=self.gen,
            conn_kind=self.conn_kind, conn_t_ms=self.conn_t_ms,
            t_ms=now_ms(), addr=self.conn_addr,
            session=sess["no"] if sess else None,
            resource=(self.jid or "").partition("/")[2] or None,
            forgotten=False, **f)
        if self.sm_on:
            self._since_told.append(rec)
        self.on_message(rec)


def child(el, local):
    """The first child named local in any namespace: forwarded copies
    may come back as jabber:client or jabber:server (XEP-0297)."""
    for c in el:
        if c.tag.rsplit("}", 1)[-1] == local:
            return c
    return None


def parse_h(el):
    try:
        h = int(el.get("h", ""))
    except ValueError:
        raise FatalError(f"bad h={el.get('h')!r} in {el.tag}") from None
    if not 0 <= h < MOD:
        raise FatalError(f"h={h} out of range in {el.tag}")
    return h


def error_condition(el):
    for c in el:
        if c.tag.split("}")[-1] != "text":
            return c.tag.split("}")[-1]
    return None


def mam_query_xml(queryid, with_jid, page, after):
    """A XEP-0313 query form with an XEP-0059 page request."""
    form = (f"<x xmlns='{NS_DATA}' type='submit'>"
        f"<field var='FORM_TYPE' type='hidden'><value>{NS_MAM}</value>"
        "</field>")
    if with_jid:
        form += f"<field var='with'><value>{escape(with_jid)}</value></field>"
    form += "</x>"
    rsm = f"<set xmlns='{NS_RSM}'><max>{int(page)}</max>"
    if after is not None:
        rsm += f"<after>{escape(after)}</after>"
    rsm += "</set>"
    return f"<query xmlns='{NS_MAM}' queryid={quoteattr(queryid)}>" \
        f"{form}{rsm}</query>"
