"""A tiny scripted XMPP server for testing xmppclient's parsing and
XEP-0198 bookkeeping. It is not xmppd and proves nothing about it: the
real proof is server/tests/integration/test_losscheck.py.

Plain TCP (the client runs with tls='none') or STARTTLS with a given
ssl context. One FakeSession per XEP-0198 session, surviving its
connections so that resumption can be scripted.
"""

import asyncio
import itertools

import xmppclient as xc
from xmppclient import NS_SM, NS_CLIENT, q


class FakeSession:
    def __init__(self, sid, jid):
        self.id = sid
        self.jid = jid
        self.h_in = 0           # stanzas received from the client
        self.out = 0            # stanzas sent to the client
        self.client_h = None    # last <a h/> from the client
        self.received = []      # every stanza element, in order
        self.conns = []


class FakeConn:
    def __init__(self, server, reader, writer):
        self.server = server
        self.reader, self.writer = reader, writer
        self.session = None
        self.elements = []      # everything received after the features
        self.closed = asyncio.Event()

    def send(self, text):
        if not self.writer.is_closing():
            self.writer.write(text.encode())

    def send_stanza(self, text):
        """A stanza the client must count."""
        self.send(text)
        if self.session is not None:
            self.session.out += 1

    def abort(self):
        self.writer.transport.abort()


class FakeServer:
    """resume: 'resume' | 'fail' | 'fail-h'; resume_h(session) gives the
    h claimed in <resumed/> or <failed/> (default: the true count)."""

    def __init__(self, password="pw", domain="example.org", sm=True,
                 resume="resume", answer_r=True, tls_ctx=None):
        self.password, self.domain = password, domain
        self.sm, self.resume, self.answer_r = sm, resume, answer_r
        self.tls_ctx = tls_ctx
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
        async for kind, el in ev:
            if kind == "close":
                return
            conn.elements.append(el)
            self._handle(conn, user, el)

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
        rows = [r for r in self.mam
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
