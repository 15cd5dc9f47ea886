"""slixmpp (Debian's python3-slixmpp 1.8.3) as the real client of the tests.

Each test runs its own asyncio loop (run()); every wait goes through
asyncio.wait_for, so a silent server fails a test instead of hanging it.
"""

import asyncio
import logging
import ssl

import slixmpp

from daemon import DOMAIN, USERS

TIMEOUT = 15.0
# slixmpp reports an available presence's <show/> as its type.
AVAILABLE = ("available", "chat", "away", "xa", "dnd")

# slixmpp logs every reconnect attempt at warning level; the tests check
# outcomes themselves.
logging.getLogger("slixmpp").setLevel(logging.ERROR)


class LoginFailed(AssertionError):
    pass


def run(coro, timeout=120.0):
    """Run one test coroutine in a fresh loop, bounded."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def within(aw, timeout=TIMEOUT, what="event"):
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for "
                             f"{what}") from None


class Client(slixmpp.ClientXMPP):
    """A slixmpp client pinned to one address; queues what it receives."""

    def __init__(self, user, addr, resource=None, password=None,
                 direct_tls=False):
        jid = f"{user}@{DOMAIN}" + (f"/{resource}" if resource else "")
        if password is None:
            password = USERS[user][0]
        super().__init__(jid, password)
        for plugin in ("xep_0030", "xep_0092", "xep_0199", "xep_0203"):
            self.register_plugin(plugin)
        # The daemon's certificate is self-signed (selfsigned yes).
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.addr = addr
        self.direct_tls = direct_tls
        # Subscriptions are answered by the tests, not automatically.
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False
        self.messages = asyncio.Queue()
        self.presences = asyncio.Queue()
        self.subscriptions = asyncio.Queue()
        self.roster_pushes = asyncio.Queue()
        self.stream_errors = asyncio.Queue()
        self.add_event_handler("message", self.messages.put_nowait)
        self.add_event_handler("presence", self.presences.put_nowait)
        for ev in ("presence_subscribe", "presence_subscribed"):
            self.add_event_handler(ev, self.subscriptions.put_nowait)
        # roster_update also fires for our own roster get: keep pushes.
        self.add_event_handler("roster_update", self._on_roster_update)
        self.add_event_handler("stream_error", self.stream_errors.put_nowait)

    def _on_roster_update(self, iq):
        if iq["type"] == "set":
            self.roster_pushes.put_nowait(iq)

    async def get_dns_records(self, domain, port=None):
        # Connect exactly where we were told: slixmpp would otherwise
        # resolve the JID's domain ("localhost") and use port 5222.
        host, port = self.addr
        return [(host, host, port)]

    async def start(self, presence=True, roster=True, timeout=TIMEOUT):
        """Connect, authenticate, bind; then roster and initial presence."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def ok(_event):
            if not done.done():
                done.set_result(True)

        def failed(event):
            if not done.done():
                done.set_exception(LoginFailed(f"{self.boundjid}: {event!r}"))

        self.add_event_handler("session_start", ok, disposable=True)
        for ev in ("failed_all_auth", "connection_failed", "disconnected"):
            self.add_event_handler(ev, failed, disposable=True)
        self.connect(address=self.addr, use_ssl=self.direct_tls,
                     force_starttls=not self.direct_tls,
                     disable_starttls=self.direct_tls)
        try:
            await within(done, timeout, f"session_start of {self.boundjid}")
        finally:
            for ev in ("failed_all_auth", "connection_failed",
                       "disconnected"):
                self.del_event_handler(ev, failed)
            self.del_event_handler("session_start", ok)
        if roster:
            await within(self.get_roster(timeout=timeout), timeout, "roster")
        if presence:
            self.send_presence()
            # Once the ping is answered the server has handled the
            # initial presence: messages to the bare JID now reach us.
            await self.roundtrip()
        return self

    async def ping_server(self, timeout=TIMEOUT):
        return await within(
            self["xep_0199"].ping(jid=DOMAIN, timeout=timeout),
            timeout + 1, "ping reply")

    async def roundtrip(self):
        """A ping round trip: the server has handled all we sent before."""
        await self.ping_server()

    async def next_message(self, timeout=TIMEOUT, with_body=True):
        while True:
            m = await within(self.messages.get(), timeout, "a message")
            if not with_body or m["body"]:
                return m

    async def next_presence(self, from_bare, ptype=None, status=None,
                            timeout=TIMEOUT):
        """Skip presences until one from from_bare (and type/status) comes."""
        while True:
            p = await within(self.presences.get(), timeout,
                             f"presence from {from_bare}")
            if p["from"].bare != from_bare:
                continue
            if ptype is None and p["type"] not in AVAILABLE:
                continue
            if ptype is not None and p["type"] != ptype:
                continue
            if status is not None and p["status"] != status:
                continue
            return p

    async def stop(self):
        """Close the stream and wait (bounded) for the server to close."""
        if not self.transport:
            self.cancel_connection_attempt()
            return
        gone = asyncio.ensure_future(
            self.wait_until("disconnected", timeout=TIMEOUT))
        await asyncio.sleep(0)		# let it register its handler
        self.disconnect(wait=5)
        try:
            await within(gone, TIMEOUT + 1, "disconnect")
        finally:
            self.abort()


async def connected(*clients, **kw):
    """Start several clients concurrently."""
    await asyncio.gather(*(c.start(**kw) for c in clients))
    return clients


async def stop_all(*clients):
    for c in clients:
        try:
            await c.stop()
        except Exception:  # a test already failed; do not mask it
            c.abort()
