"""A minimal blocking XMPP client on a raw socket.

slixmpp hides the exact stream and SASL conditions a server sends; the
bad-input and authentication tests need to see them byte for byte, and to
send things no real client would. Each read has a deadline, so a server
that stalls fails the test instead of hanging it.
"""

import base64
import itertools
import socket
import ssl
import time
import xml.etree.ElementTree as ET

from daemon import DOMAIN

NS_STREAMS = "http://etherx.jabber.org/streams"
NS_STREAM_ERR = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZA_ERR = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_CLIENT = "jabber:client"
NS_PING = "urn:xmpp:ping"

TIMEOUT = 10.0

_ids = itertools.count(1)


def q(ns, name):
    return f"{{{ns}}}{name}"


def header(to=DOMAIN):
    return (f"<?xml version='1.0'?><stream:stream to='{to}' "
            f"xmlns='{NS_CLIENT}' xmlns:stream='{NS_STREAMS}' "
            f"version='1.0'>")


def client_tls_context():
    """TLS without verification: the daemon's certificate is self-signed."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class StreamClosed(Exception):
    """The server closed the TCP (or TLS) connection."""


class ProtocolError(AssertionError):
    pass


class RawStream:
    def __init__(self, host, port, direct_tls=False, timeout=TIMEOUT):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.eof = False
        self.received = b""	# everything, for failure messages
        self.stream_attrs = None
        self.stream_ended = False
        self.jid = None
        if direct_tls:
            self._wrap_tls()
        self._new_parser()

    # -- bytes -------------------------------------------------------------

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _recv(self, deadline):
        """One read; False on timeout. Sets eof on close or reset."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError,
                ssl.SSLZeroReturnError):
            data = b""
        except ssl.SSLError:
            # A server that drops a TLS connection without close_notify.
            data = b""
        if not data:
            self.eof = True
            return True
        self.received += data
        self._feed(data)
        return True

    def _wrap_tls(self):
        self.sock = client_tls_context().wrap_socket(
            self.sock, server_hostname=DOMAIN)

    # -- XML ---------------------------------------------------------------

    def _new_parser(self):
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.root = None
        self.queue = []
        self.unparsable = False

    def _feed(self, data):
        if self.unparsable:
            return
        self.parser.feed(data)
        events = self.parser.read_events()
        while True:
            try:
                ev, el = next(events)
            except StopIteration:
                return
            except ET.ParseError:
                # Not XML (a TLS alert on a port we spoke garbage to):
                # keep the bytes for wait_closed(), parse no further.
                self.unparsable = True
                return
            self._event(ev, el)

    def _event(self, ev, el):
        if ev == "start":
            if self.depth == 0:
                self.root = el
                self.stream_attrs = dict(el.attrib)
            self.depth += 1
        else:
            self.depth -= 1
            if self.depth == 1:
                self.queue.append(el)
                self.root.remove(el)
            elif self.depth == 0:
                self.stream_ended = True

    def next_element(self, timeout=None):
        """The next top-level element; StreamClosed or TimeoutError."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.queue:
            if self.eof:
                raise StreamClosed(self.received[-400:])
            if not self._recv(deadline):
                raise TimeoutError(
                    f"nothing within the deadline; got {self.received[-400:]!r}")
        return self.queue.pop(0)

    def expect(self, tag, timeout=None):
        el = self.next_element(timeout)
        if el.tag != tag:
            raise ProtocolError(f"expected {tag}, got {ET.tostring(el)!r}")
        return el

    def wait_for(self, pred, timeout=None):
        """Skip elements (presence, pushes) until pred(el) holds."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching element; got "
                                   f"{self.received[-400:]!r}")
            el = self.next_element(left)
            if pred(el):
                return el

    # -- negotiation ---------------------------------------------------------

    def open(self, to=DOMAIN):
        """Send a stream header, return the features element."""
        self.send(header(to))
        return self.expect(q(NS_STREAMS, "features"))

    def starttls(self):
        self.send(f"<starttls xmlns='{NS_TLS}'/>")
        self.expect(q(NS_TLS, "proceed"))
        self._wrap_tls()
        self._new_parser()

    def open_tls(self):
        """Stream header, STARTTLS, new header: the SASL features."""
        self.open()
        self.starttls()
        return self.open()

    def auth_plain(self, user, password, authzid=""):
        """Send SASL PLAIN; returns the <success/> or <failure/> element."""
        blob = f"{authzid}\0{user}\0{password}".encode()
        self.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>"
                  f"{base64.b64encode(blob).decode()}</auth>")
        el = self.next_element()
        if el.tag == q(NS_SASL, "success"):
            self._new_parser()
        return el

    def bind(self, resource=None):
        res = f"<resource>{resource}</resource>" if resource else ""
        iid = f"bind{next(_ids)}"
        self.send(f"<iq type='set' id='{iid}'><bind xmlns='{NS_BIND}'>"
                  f"{res}</bind></iq>")
        el = self.wait_for(lambda e: e.get("id") == iid)
        if el.get("type") != "result":
            raise ProtocolError(f"bind failed: {ET.tostring(el)!r}")
        self.jid = el.find(f"{q(NS_BIND, 'bind')}/{q(NS_BIND, 'jid')}").text
        return self.jid

    def login(self, user, password, resource=None, direct_tls=False,
              presence=False):
        """STARTTLS (unless direct TLS), PLAIN, bind. Returns the JID."""
        features = self.open()
        if not direct_tls:
            if features.find(q(NS_TLS, "starttls")) is None:
                raise ProtocolError("no STARTTLS offered")
            self.starttls()
            features = self.open()
        if features.find(q(NS_SASL, "mechanisms")) is None:
            raise ProtocolError("no SASL after TLS")
        el = self.auth_plain(user, password)
        if el.tag != q(NS_SASL, "success"):
            raise ProtocolError(f"auth failed: {ET.tostring(el)!r}")
        self.open()
        jid = self.bind(resource)
        if presence:
            self.send("<presence/>")
        return jid

    # -- stanzas -------------------------------------------------------------

    def iq(self, payload, to=DOMAIN, type_="get", timeout=None):
        """Send an iq and return its response (result or error)."""
        iid = f"iq{next(_ids)}"
        to_attr = f" to='{to}'" if to else ""
        self.send(f"<iq type='{type_}' id='{iid}'{to_attr}>{payload}</iq>")
        return self.wait_for(
            lambda e: e.tag == q(NS_CLIENT, "iq") and e.get("id") == iid,
            timeout)

    def ping(self, timeout=None):
        """XEP-0199 ping to the server; asserts a result comes back."""
        r = self.iq(f"<ping xmlns='{NS_PING}'/>", timeout=timeout)
        if r.get("type") != "result":
            raise ProtocolError(f"ping: {ET.tostring(r)!r}")
        return True

    # -- endings -------------------------------------------------------------

    def stream_error(self, timeout=None):
        """Wait for <stream:error/>; return its defined condition."""
        el = self.wait_for(lambda e: e.tag == q(NS_STREAMS, "error"),
                           timeout)
        for child in el:
            if child.tag.startswith(f"{{{NS_STREAM_ERR}}}") and \
                    child.tag != q(NS_STREAM_ERR, "text"):
                return child.tag.split("}", 1)[1]
        raise ProtocolError(f"stream error without a condition: "
                            f"{ET.tostring(el)!r}")

    def wait_closed(self, timeout=None):
        """Read (and keep) until the server closes the connection."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            if not self._recv(deadline):
                raise TimeoutError(
                    f"server kept the connection open; got "
                    f"{self.received[-400:]!r}")
        return self.received

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def stanza_error(el):
    """The defined condition of a stanza error, or None."""
    err = el.find(q(NS_CLIENT, "error"))
    if err is None:
        return None
    for child in err:
        if child.tag.startswith(f"{{{NS_STANZA_ERR}}}") and \
                child.tag != q(NS_STANZA_ERR, "text"):
            return child.tag.split("}", 1)[1]
    return None


def sasl_condition(el):
    """The condition inside a SASL <failure/>."""
    if el.tag != q(NS_SASL, "failure"):
        raise ProtocolError(f"expected SASL failure, got "
                            f"{ET.tostring(el)!r}")
    for child in el:
        if child.tag != q(NS_SASL, "text"):
            return child.tag.split("}", 1)[1]
    return None
