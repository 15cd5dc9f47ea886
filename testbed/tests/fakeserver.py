"""A tiny scripted XMPP server for testing xmppclient's parsing and
XEP-0198 bookkeeping, and the loss checker's verdicts. It is not xmppd
and proves nothing about it: the real proof is
server/tests/integration/test_losscheck.py.

Plain TCP (the client runs with tls='none') or STARTTLS with a given
ssl context. One FakeSession per XEP-0198 session, surviving its
connections so that resumption can be scripted.

With route=True it is a small honest server for whole loss-checker runs:
resources bound as asked, messages to a bare JID routed to the available
resources of priority >= 0, XEP-0280 carbons, a per-account spool that
keeps every message until a stream of the account acks it and pushes
what is left (with a <delay/>) at the next initial presence, a stanza-id
on every delivery, an archive when mam='always', origin-id
de-duplication, resumption with the unacked stanzas sent again. Then
cheat(origin) -> str or None scripts how it breaks the promise for one
message (see ROUTE_CHEATS), which is how the tests prove the checker
catches each way of cheating.
"""

import asyncio
import itertools
from xml.sax.saxutils import escape, quoteattr

import xmppclient as xc
from xmppclient import NS_SM, NS_CLIENT, q

# What cheat(origin) may answer for one message (route mode):
ROUTE_CHEATS = {
    "drop": "acked, then neither delivered nor stored",
    "mam_only": "acked and archived, never delivered",
    "dup_new_id": "delivered, then again under a new stanza-id",
    "dup_same_id": "delivered twice with the same stanza-id (legal)",
    "no_carbon": "delivered, but no <received/> carbon to anybody",
    "no_sent_carbon": "delivered, but no <sent/> carbon to anybody",
    "forget": "counted in h, then the sender's link is cut and the "
              "message forgotten (resumed h still covers it)",
    "bounce_wait": "refused with <error type='wait'/> the first time",
}


class FakeSession:
    def __init__(self, sid, jid):
        self.id = sid
        self.jid = jid
        self.bare = xc.bare(jid)
        self.h_in = 0           # stanzas received from the client
        self.out = 0            # stanzas sent to the client
        self.client_h = None    # last <a h/> from the client
        self.received = []      # every stanza element, in order
        self.conns = []
        # route mode
        self.conn = None        # the live connection, None: hibernated
        self.outq = []          # [(text, spool id or None)] not acked
        self.acked_out = 0      # what the client's h covered
        self.available = False
        self.priority = 0
        self.carbons = False
        self.ended = False


class FakeConn:
    def __init__(self, server, reader, writer):
        self.server = server
        self.reader, self.writer = reader, writer
        self.session = None
        self.elements = []      # everything received after the features
        self.closed = asyncio.Event()
        self.closed_cleanly = False     # the client sent </stream:stream>

    def send(self, text):
        if not self.writer.is_closing():
            self.writer.write(text.encode())

    def send_stanza(self, text, spool_id=None):
        """A stanza the client must count."""
        self.send(text)
        if self.session is not None:
            self.session.out += 1
            self.session.outq.append((text, spool_id))

    def abort(self):
        self.writer.transport.abort()


class FakeServer:
    """resume: 'resume' | 'fail' | 'fail-h'; resume_h(session) gives the
    h claimed in <resumed/> or <failed/> (default: the true count)."""

    def __init__(self, password="pw", domain="example.org", sm=True,
                 resume="resume", answer_r=True, tls_ctx=None, route=False,
                 mam="always"):
        self.password, self.domain = password, domain
        self.sm, self.resume, self.answer_r = sm, resume, answer_r
        self.tls_ctx = tls_ctx
        self.route, self.mam_mode = route, mam
        self.cheat = lambda origin: None
        # False: the cheat of dropping, when a session ends, what it was
        # sent and never acked (instead of pushing it at the next login)
        self.repush = True
        self.by_jid = {}        # full JID -> its current FakeSession
        self.spool = {}         # bare -> {spool id: [fields, holder]}
        self.archives = {}      # bare -> [(id, from, to, body, origin)]
        self.origins = set()    # (sender bare, origin-id) accepted
        self.bounced = set()    # origins refused once (bounce_wait)
        self.routed = []        # (origin, cheat) per accepted message
        self.resume_h = lambda s: s.h_in
        self.sessions = {}
        self.conns = []
        self.mam = []           # [(id, from, to, body, origin)]
        self.mam_queries = []   # (with, max, after) per page asked
        self.new_conn = asyncio.Event()
        self._ids = itertools.count(1)
        self._server = None

    async def start(self):
        self._server = await asyncio.start_server(self._accept,
                                                  "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self):
        for c in self.conns:
            c.abort()
        self._server.close()
        await self._server.wait_closed()

    async def wait_conns(self, n, timeout=10):
        async def wait():
            while len(self.conns) < n:
                self.new_conn.clear()
                await self.new_conn.wait()
        await asyncio.wait_for(wait(), timeout)

    async def _accept(self, reader, writer):
        conn = FakeConn(self, reader, writer)
        self.conns.append(conn)
        self.new_conn.set()
        try:
            await self._serve(conn)
        except (ConnectionError, OSError, EOFError, xc.ProtocolError,
                asyncio.IncompleteReadError):
            pass
        finally:
            conn.closed.set()

    async def _elements(self, conn, parser):
        while True:
            data = await conn.reader.read(65536)
            if not data:
                raise EOFError()
            for ev in parser.feed(data):
                yield ev

    async def _restart(self, conn, features):
        parser = xc.StreamParser()
        events = self._elements(conn, parser)
        kind, _ = await events.__anext__()
        assert kind == "open"
        conn.send("<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
                  " xmlns:stream='http://etherx.jabber.org/streams' "
                  f"from='{self.domain}' id='x' version='1.0'>"
                  f"<stream:features>{features}</stream:features>")
        return events

    async def _serve(self, conn):
        if self.tls_ctx is not None:
            ev = await self._restart(conn, "<starttls xmlns='"
                                     f"{xc.NS_TLS}'><required/></starttls>")
            _, el = await ev.__anext__()
            assert el.tag == q("starttls", xc.NS_TLS)
            conn.send(f"<proceed xmlns='{xc.NS_TLS}'/>")
            await conn.writer.start_tls(self.tls_ctx)
        ev = await self._restart(
            conn, f"<mechanisms xmlns='{xc.NS_SASL}'><mechanism>PLAIN"
            "</mechanism></mechanisms>")
        _, el = await ev.__anext__()
        user, pw = self._plain(el.text)
        if pw != self.password:
            conn.send(f"<failure xmlns='{xc.NS_SASL}'><not-authorized/>"
                      "</failure>")
            return
        conn.send(f"<success xmlns='{xc.NS_SASL}'/>")
        sm = f"<sm xmlns='{NS_SM}'/>" if self.sm else ""
        ev = await self._restart(conn, f"<bind xmlns='{xc.NS_BIND}'/>{sm}")
        self.jid = f"{user}@{self.domain}/r"
        try:
            async for kind, el in ev:
                if kind == "close":
                    conn.closed_cleanly = True
                    conn.send("</stream:stream>")
                    if self.route:
                        self._end(conn.session)
                    conn.writer.close()
                    return
                conn.elements.append(el)
                if self.route:
                    self._route_handle(conn, user, el)
                else:
                    self._handle(conn, user, el)
        finally:
            s = conn.session
            if self.route and s is not None and s.conn is conn:
                s.conn = None       # hibernated until resumed or ended

    @staticmethod
    def _plain(text):
        import base64
        _, user, pw = base64.b64decode(text).decode().split("\0")
        return user, pw

    def _handle(self, conn, user, el):
        s = conn.session
        if el.tag == q("resume", NS_SM):
            self._resume(conn, el)
        elif el.tag == q("enable", NS_SM):
            sid = f"sm{next(self._ids)}"
            conn.session = FakeSession(sid, f"{user}@{self.domain}/r")
            conn.session.conns.append(conn)
            self.sessions[sid] = conn.session
            conn.send(f"<enabled xmlns='{NS_SM}' id='{sid}' resume='true'/>")
        elif el.tag == q("r", NS_SM):
            if self.answer_r and s is not None:
                conn.send(f"<a xmlns='{NS_SM}' h='{s.h_in}'/>")
        elif el.tag == q("a", NS_SM):
            if s is not None:
                s.client_h = int(el.get("h"))
        elif el.tag == q("iq", NS_CLIENT) and \
                el.find(q("bind", xc.NS_BIND)) is not None:
            conn.send(f"<iq type='result' id='{el.get('id')}'><bind xmlns='"
                      f"{xc.NS_BIND}'><jid>{user}@{self.domain}/r</jid>"
                      "</bind></iq>")
        elif el.tag in xc.STANZAS:
            if s is not None:
                s.h_in += 1
                s.received.append(el)
            if el.tag == q("iq", NS_CLIENT):
                self._iq(conn, el)

    def _resume(self, conn, el):
        old = self.sessions.get(el.get("previd"))
        if old is None or self.resume != "resume":
            h = f" h='{self.resume_h(old)}'" if old is not None and \
                self.resume == "fail-h" else ""
            self.sessions.pop(el.get("previd"), None)
            conn.send(f"<failed xmlns='{NS_SM}'{h}><item-not-found "
                      f"xmlns='{xc.NS_STANZAS}'/></failed>")
            return
        old.client_h = int(el.get("h"))
        # What h does not cover was lost in transit, as far as we know.
        old.h_in = self.resume_h(old)
        conn.session = old
        old.conns.append(conn)
        conn.send(f"<resumed xmlns='{NS_SM}' previd='{old.id}' "
                  f"h='{old.h_in}'/>")

    def _iq(self, conn, el):
        query = el.find(q("query", xc.NS_MAM))
        if query is None:
            if el.find(q("enable", xc.NS_CARBONS)) is not None and \
                    conn.session is not None:
                conn.session.carbons = True
            conn.send_stanza(f"<iq type='result' id='{el.get('id')}'/>")
            return
        rsm = query.find(q("set", xc.NS_RSM))
        page = int(rsm.findtext(q("max", xc.NS_RSM)))
        after = rsm.findtext(q("after", xc.NS_RSM))
        with_jid = None
        for f in query.iter(q("field", xc.NS_DATA)):
            if f.get("var") == "with":
                with_jid = f.findtext(q("value", xc.NS_DATA))
        self.mam_queries.append((with_jid, page, after))
        src = self.archives.get(conn.session.bare, []) if self.route \
            else self.mam
        rows = [r for r in src
                if with_jid in (None, xc.bare(r[1]), xc.bare(r[2]))]
        start = 0
        if after is not None:
            start = [r[0] for r in rows].index(after) + 1
        chunk = rows[start:start + page]
        qid = query.get("queryid")
        for mid, frm, to, body, origin in chunk:
            conn.send_stanza(
                f"<message to='{conn.session.jid}'><result xmlns='"
                f"{xc.NS_MAM}' queryid='{qid}' id='{mid}'><forwarded "
                f"xmlns='{xc.NS_FORWARD}'><delay xmlns='{xc.NS_DELAY}' "
                "stamp='2024-01-01T00:00:00Z'/><message xmlns='jabber:client'"
                f" from='{frm}' to='{to}' type='chat'><body>{body}</body>"
                f"<origin-id xmlns='{xc.NS_SID}' id='{origin}'/></message>"
                "</forwarded></result></message>")
        complete = start + page >= len(rows)
        last = f"<last>{chunk[-1][0]}</last>" if chunk else ""
        conn.send_stanza(
            f"<iq type='result' id='{el.get('id')}'><fin xmlns='"
            f"{xc.NS_MAM}'{' complete=' + repr('true') if complete else ''}>"
            f"<set xmlns='{xc.NS_RSM}'>{last}</set></fin></iq>")

    # -- route mode: a small honest server, and its scripted cheats -----

    def _route_handle(self, conn, user, el):
        s = conn.session
        if el.tag == q("resume", NS_SM):
            self._route_resume(conn, el)
        elif el.tag == q("enable", NS_SM):
            s.id = f"sm{next(self._ids)}"
            self.sessions[s.id] = s
            conn.send(f"<enabled xmlns='{NS_SM}' id='{s.id}' "
                      "resume='true'/>")
        elif el.tag == q("r", NS_SM):
            if self.answer_r and s is not None:
                conn.send(f"<a xmlns='{NS_SM}' h='{s.h_in}'/>")
        elif el.tag == q("a", NS_SM):
            if s is not None:
                self._acked(s, int(el.get("h")))
        elif el.tag == q("iq", NS_CLIENT) and \
                el.find(q("bind", xc.NS_BIND)) is not None:
            res = el.findtext(f"{q('bind', xc.NS_BIND)}/"
                              f"{q('resource', xc.NS_BIND)}") or "r"
            jid = f"{user}@{self.domain}/{res}"
            old = self.by_jid.get(jid)
            if old is not None:         # conflict: the old one ends
                if old.conn is not None:
                    old.conn.abort()
                self._end(old)
            s = conn.session = FakeSession(None, jid)
            s.conn = conn
            s.conns.append(conn)
            self.by_jid[jid] = s
            conn.send(f"<iq type='result' id='{el.get('id')}'><bind "
                      f"xmlns='{xc.NS_BIND}'><jid>{jid}</jid></bind></iq>")
        elif el.tag in xc.STANZAS and s is not None:
            s.h_in += 1
            s.received.append(el)
            if el.tag == q("iq", NS_CLIENT):
                self._iq(conn, el)
            elif el.tag == q("presence", NS_CLIENT) and el.get("to") is None:
                s.available = True
                try:
                    s.priority = int(el.findtext(q("priority", NS_CLIENT))
                                     or 0)
                except ValueError:
                    s.priority = 0
                if s.priority >= 0:
                    self._push_spool(s)
            elif el.tag == q("message", NS_CLIENT):
                self._route_message(conn, s, el)

    def _acked(self, s, h):
        n = (h - s.acked_out) % xc.MOD
        for _, sid in s.outq[:n]:
            if sid is not None:
                self.spool.get(s.bare, {}).pop(sid, None)
        del s.outq[:n]
        s.acked_out = s.client_h = h

    def _route_resume(self, conn, el):
        old = self.sessions.get(el.get("previd"))
        if old is None or old.ended:
            conn.send(f"<failed xmlns='{NS_SM}'><item-not-found "
                      f"xmlns='{xc.NS_STANZAS}'/></failed>")
            return
        if old.conn is not None:
            old.conn.abort()
        self._acked(old, int(el.get("h")))
        conn.session, old.conn = old, conn
        old.conns.append(conn)
        conn.send(f"<resumed xmlns='{NS_SM}' previd='{old.id}' "
                  f"h='{old.h_in}'/>")
        rest, old.outq = old.outq, []
        old.out = old.acked_out
        for text, sid in rest:
            conn.send_stanza(text, sid)

    def _end(self, s):
        """The session is over for good: what it did not ack stays in
        the spool (pushed at the next login), copies are dropped."""
        if s is None or s.ended:
            return
        s.ended, s.available = True, False
        for _, sid in s.outq:
            row = self.spool.get(s.bare, {}).get(sid)
            if row is not None and row[1] is s:
                row[1] = None
                if not self.repush:
                    del self.spool[s.bare][sid]
        s.outq = []
        if self.by_jid.get(s.jid) is s:
            del self.by_jid[s.jid]

    def _to_session(self, s, text, sid=None):
        """Queue a stanza for a session, sent now if it is connected."""
        if s.conn is not None:
            s.conn.send_stanza(text, sid)
        else:
            s.out += 1
            s.outq.append((text, sid))

    def _push_spool(self, s):
        for sid, row in self.spool.get(s.bare, {}).items():
            if row[1] is None or row[1].ended:
                row[1] = s
                self._to_session(s, self._msg_xml(row[0], sid, s.bare,
                                                  delay=True), sid)

    def _sessions_of(self, bare):
        return [s for s in self.by_jid.values() if s.bare == bare]

    @staticmethod
    def _msg_xml(f, sid, by, delay=False, to=None):
        extra = f"<stanza-id xmlns='{xc.NS_SID}' by='{by}' id='{sid}'/>" \
            if sid is not None else ""
        if delay:
            extra += (f"<delay xmlns='{xc.NS_DELAY}' "
                      "stamp='2024-01-01T00:00:00Z'/>")
        return (f"<message from={quoteattr(f['from'])} "
                f"to={quoteattr(to or f['to'])} type='chat' "
                f"id={quoteattr(f['id'])}><body>{escape(f['body'])}</body>"
                f"<origin-id xmlns='{xc.NS_SID}' id={quoteattr(f['origin'])}"
                f"/>{extra}</message>")

    def _carbon(self, s, direction, f, sid, by):
        inner = self._msg_xml(f, sid, by)
        self._to_session(s, f"<message from='{s.bare}' to='{s.jid}' "
                         f"type='chat'><{direction} xmlns='"
                         f"{xc.NS_CARBONS}'><forwarded xmlns='"
                         f"{xc.NS_FORWARD}'>{inner}</forwarded></"
                         f"{direction}></message>")

    def _route_message(self, conn, s, el):
        origin_el = el.find(q("origin-id", xc.NS_SID))
        f = {"from": s.jid, "to": el.get("to") or s.bare,
             "id": el.get("id") or "", "body": el.findtext(
                 q("body", NS_CLIENT)) or "",
             "origin": origin_el.get("id") if origin_el is not None else ""}
        to = xc.bare(f["to"])
        cheat = self.cheat(f["origin"])
        if cheat == "bounce_wait" and f["origin"] not in self.bounced:
            self.bounced.add(f["origin"])
            conn.send_stanza(
                f"<message from={quoteattr(f['to'])} to='{s.jid}' "
                f"type='error' id={quoteattr(f['id'])}><body>"
                f"{escape(f['body'])}</body><origin-id xmlns='{xc.NS_SID}'"
                f" id={quoteattr(f['origin'])}/><error type='wait'>"
                f"<resource-constraint xmlns='{xc.NS_STANZAS}'/></error>"
                "</message>")
            return
        key = (s.bare, f["origin"])
        if f["origin"] and key in self.origins:
            return                  # a resend: accepted and dropped
        self.origins.add(key)
        self.routed.append((f["origin"], cheat))
        if cheat == "forget":
            conn.abort()            # h_in already counts it
            return
        if cheat == "drop":
            return
        sid = f"S{next(self._ids)}"
        if self.mam_mode == "always" or cheat == "mam_only":
            self.archives.setdefault(to, []).append(
                (sid, f["from"], to, f["body"], f["origin"]))
        if cheat == "mam_only":
            return
        if cheat != "no_sent_carbon":
            for o in self._sessions_of(s.bare):
                if o is not s and o.carbons:
                    self._carbon(o, "sent", f, sid, to)
        row = [f, None]
        self.spool.setdefault(to, {})[sid] = row
        targets = [t for t in self._sessions_of(to)
                   if t.available and t.priority >= 0]
        for t in targets:
            row[1] = t
            self._to_session(t, self._msg_xml(f, sid, to), sid)
            if cheat == "dup_same_id":
                self._to_session(t, self._msg_xml(f, sid, to))
            elif cheat == "dup_new_id":
                self._to_session(t, self._msg_xml(f, f"{sid}b", to))
        if cheat != "no_carbon":
            for o in self._sessions_of(to):
                if o not in targets and o.carbons:
                    self._carbon(o, "received", f, sid, to)
