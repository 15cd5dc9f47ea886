"""Hostile and broken input (RFC 6120 §4.9.3, §11): each case gets its
exact stream or stanza error, the connection is closed when the stream is
dead, and a client logged in at the same time keeps being served."""

import socket
import ssl

import pytest

from daemon import DOMAIN, MAX_DEPTH, MAX_STANZA
from rawxmpp import (NS_CLIENT, RawStream, client_tls_context,
                     header, q, stanza_error)


def fresh(server, **kw):
    """An unauthenticated stream that has received our features."""
    s = RawStream("127.0.0.1", server.port(), **kw)
    s.open()
    return s


def logged_in(server, user="alice", password="wonderland"):
    s = RawStream("127.0.0.1", server.port())
    s.login(user, password, resource="victim")
    return s


def expect_stream_error(s, condition):
    try:
        assert s.stream_error() == condition
        s.wait_closed()
    finally:
        s.close()


def client_hello():
    """The first flight of a real TLS client, as bytes."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_tls_context().wrap_bio(inc, out, server_hostname=DOMAIN)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def test_malformed_xml_before_tls(server, witness):
    s = fresh(server)
    s.send("<message to='bob@localhost'><body>hi</bod></message>")
    expect_stream_error(s, "not-well-formed")
    witness.ping()


BILLION_LAUGHS = (
    "<?xml version='1.0'?><!DOCTYPE stream:stream ["
    "<!ENTITY lol 'lol'>"
    + "".join(f"<!ENTITY lol{i} '{('&lol' + str(i - 1) + ';') * 10}'>"
              .replace("&lol0;", "&lol;") for i in range(1, 10))
    + "]>")


@pytest.mark.parametrize("prolog,after", [
    pytest.param(BILLION_LAUGHS, "", id="entity-bomb"),
    pytest.param("<?xml version='1.0'?><!DOCTYPE stream:stream SYSTEM "
                 "'file:///etc/passwd'>", "", id="external-dtd"),
    pytest.param("", "<!-- a comment -->", id="comment"),
    pytest.param("", "<?php echo 1; ?>", id="processing-instruction"),
])
def test_restricted_xml(server, witness, prolog, after):
    s = RawStream("127.0.0.1", server.port())
    body = header()
    if prolog:
        body = prolog + body.replace("<?xml version='1.0'?>", "")
    s.send(body + after + ("&lol9;" if prolog == BILLION_LAUGHS else ""))
    expect_stream_error(s, "restricted-xml")
    witness.ping()


DEEP = MAX_DEPTH * 4


@pytest.mark.parametrize("data,condition", [
    pytest.param("<message to='bob@localhost'><body>hi</bod></message>",
                 "not-well-formed", id="mismatched-tag"),
    # RFC 6120 §11.1: no entity references but the five predefined.
    pytest.param("<message to='bob@localhost'><body>&xxe;</body></message>",
                 "restricted-xml", id="entity-reference"),
    pytest.param(b"<message to='bob@localhost'><body>a\x00b</body></message>",
                 "not-well-formed", id="nul-byte"),
    pytest.param("<blurb xmlns='jabber:client'/>",
                 "unsupported-stanza-type", id="unknown-element"),
    pytest.param("<message to='bob@localhost'>" + "<a xmlns='x:y'>" * DEEP
                 + "</a>" * DEEP + "</message>",
                 "policy-violation", id="deep-nesting"),
])
def test_bad_input_after_login(server, witness, data, condition):
    s = logged_in(server)
    s.send(data)
    expect_stream_error(s, condition)
    witness.ping()


def send_tolerant(s, data, chunk=8192):
    """Send until the server hangs up on us (it may stop reading)."""
    for i in range(0, len(data), chunk):
        try:
            s.send(data[i:i + chunk])
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            return


def test_oversized_stanza(server, witness):
    s = logged_in(server)
    body = "x" * (MAX_STANZA + 4096)
    send_tolerant(s, f"<message to='bob@localhost' type='chat'>"
                     f"<body>{body}</body></message>".encode())
    expect_stream_error(s, "policy-violation")
    witness.ping()


def test_oversized_stream_header_attribute(server, witness):
    s = RawStream("127.0.0.1", server.port())
    send_tolerant(s, (header().replace("version=", "x='" + "y" *
                      (MAX_STANZA + 4096) + "' version=")).encode())
    expect_stream_error(s, "policy-violation")
    witness.ping()


def test_stanza_just_under_the_limit_is_delivered(server, witness):
    """The limit is not off by a wide margin: a big legal message
    reaches bob."""
    s = logged_in(server)
    try:
        body = "y" * (MAX_STANZA // 2)
        s.send(f"<message to='bob@{DOMAIN}/witness' type='chat' id='big'>"
               f"<body>{body}</body></message>")
        got = witness.wait_for(lambda e: e.get("id") == "big")
        assert got.find(q(NS_CLIENT, "body")).text == body
        s.ping()
    finally:
        s.close()


BAD_JIDS = [
    "bad@@localhost",
    "@localhost",
    "alice@localhost/",
    "a b@localhost",
    "x" * 1100 + "@localhost",
    "alice@local host",
]


@pytest.mark.parametrize("kind", ["message", "iq", "presence"])
def test_invalid_jid_in_to(server, witness, kind):
    """RFC 6120 §8.3.3.8: a stanza error, and the stream lives on."""
    s = logged_in(server)
    payload = {"message": "<body>x</body>",
               "iq": "<ping xmlns='urn:xmpp:ping'/>",
               "presence": ""}[kind]
    extra = {"message": " type='chat'", "iq": " type='get'",
             "presence": " type='subscribe'"}[kind]
    try:
        for i, to in enumerate(BAD_JIDS):
            s.send(f"<{kind} to='{to}' id='bad{i}'{extra}>{payload}"
                   f"</{kind}>")
            err = s.wait_for(lambda e: e.get("id") == f"bad{i}")
            assert err.tag == q(NS_CLIENT, kind)
            assert err.get("type") == "error", to
            assert stanza_error(err) == "jid-malformed", to
        s.ping()
    finally:
        s.close()
    witness.ping()


def test_http_request_on_xmpp_port(server, witness):
    s = RawStream("127.0.0.1", server.port())
    s.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    expect_stream_error(s, "not-well-formed")
    witness.ping()


def test_tls_client_hello_on_plain_port(server, witness):
    """A client that wanted direct TLS but hit the STARTTLS port."""
    s = RawStream("127.0.0.1", server.port())
    s.send(client_hello())
    try:
        s.wait_closed()
    finally:
        s.close()
    witness.ping()


@pytest.mark.parametrize("junk", [
    b"\x00\x01\x02garbage that is not a ClientHello\r\n" * 20,
    b"<?xml version='1.0'?><stream:stream to='localhost'>",
    b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",	# truncated hello
])
def test_garbage_instead_of_client_hello_on_tls_port(server, witness, junk):
    s = RawStream("127.0.0.1", server.port(kind="tls"))
    s.send(junk)
    try:
        s.wait_closed()
    finally:
        s.close()
    witness.ping()


def test_garbage_after_starttls_proceed(server, witness):
    s = fresh(server)
    s.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    s.expect(q("urn:ietf:params:xml:ns:xmpp-tls", "proceed"))
    s.send(b"this is not TLS at all\r\n" * 10)
    try:
        s.wait_closed()
    finally:
        s.close()
    witness.ping()


def test_garbage_inside_tls(server, witness):
    s = RawStream("127.0.0.1", server.port(kind="tls"), direct_tls=True)
    s.send("\x01\x02 this is not XML")
    expect_stream_error(s, "not-well-formed")
    witness.ping()


def test_silent_client_does_not_block_others(server, witness):
    """A half-done TLS handshake must not stall the loop
    (docs/architecture.md: no network peer can block it)."""
    s = RawStream("127.0.0.1", server.port(kind="tls"))
    try:
        s.send(client_hello()[:20])
        witness.ping()
    finally:
        s.close()
    witness.ping()


def test_stream_error_closes_with_stream_end(server):
    s = fresh(server)
    s.send("<message><body>x</bod>")
    try:
        assert s.stream_error() == "not-well-formed"
        s.wait_closed()
        assert s.stream_ended, "no </stream:stream> after the error"
        assert s.stream_attrs is not None
        assert s.stream_attrs.get("from") == DOMAIN
    finally:
        s.close()


def test_header_namespace_checked(server):
    s = RawStream("127.0.0.1", server.port())
    s.send("<?xml version='1.0'?><stream:stream to='localhost' "
           "xmlns='jabber:client' xmlns:stream='urn:wrong' version='1.0'>")
    try:
        cond = s.stream_error()
        # RFC 6120 §4.9.3.10: invalid-namespace.
        assert cond == "invalid-namespace"
        s.wait_closed()
    finally:
        s.close()



def test_reader_that_stops_reading_is_cut_off_alone(server, witness):
    """A client that never reads must not grow the server's memory
    without bound: past 4 MiB of unsent output its stream ends with
    resource-constraint. The cut happens while a bare-JID delivery walks
    carol's sessions, so the other resource must keep working. Headlines
    are not spooled, so they are written at once (chat messages are
    flow-controlled instead: the next test)."""
    stuck = RawStream("127.0.0.1", server.port())
    stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.login("carol", "singer", resource="stuck", presence=True)
    reader = RawStream("127.0.0.1", server.port())
    reader.login("carol", "singer", resource="reader", presence=True)
    sender = RawStream("127.0.0.1", server.port())
    sender.login("alice", "wonderland", resource="a")
    body = "x" * (MAX_STANZA // 2)
    count = 12 * 1024 * 1024 // len(body)	# well past 4 MiB + buffers
    try:
        for i in range(count):
            sender.send(f"<message to='carol@{DOMAIN}' type='headline' "
                        f"id='m{i}'><body>{body}</body></message>")
            # The reading resource gets every one, in order.
            got = reader.wait_for(
                lambda e: e.tag == q(NS_CLIENT, "message") and
                e.get("id") == f"m{i}")
            assert got.find(q(NS_CLIENT, "body")).text == body
        witness.ping()
        # The stuck client cannot read its stream error (it is behind
        # megabytes it never read); the daemon's log names its port.
        port = stuck.sock.getsockname()[1]
        log = server.stderr()
        assert f"stream error=resource-constraint peer=127.0.0.1:{port}" \
            in log, log[-2000:]
        # reader and alice were never cut.
        reader.ping()
        sender.ping()
    finally:
        for s in (stuck, reader, sender, witness):
            s.close()


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_reader_that_stops_reading_holds_no_chat_in_memory(make_daemon,
                                                           monkeypatch):
    """Chat messages are spooled: a stream that does not read gets them
    only as fast as its output drains, so a client that never reads costs
    the server its socket buffers, not the megabytes sent to it. The
    reading resource gets every one, in order, and nobody is cut."""
    # AddressSanitizer keeps freed memory in quarantine (256 MiB by
    # default), which would hide any growth: keep it small here.
    monkeypatch.setenv("ASAN_OPTIONS",
                       "detect_leaks=1:abort_on_error=0:quarantine_size_mb=1")
    # No archive: it would grow by the 12 MiB sent, and SQLite's page cache
    # with it, which says nothing about the stuck stream.
    server = make_daemon(extra_conf="mam-default never\n")
    witness = RawStream("127.0.0.1", server.port())
    witness.login("bob", "builder", resource="witness")
    stuck = RawStream("127.0.0.1", server.port())
    stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.login("carol", "singer", resource="stuck", presence=True)
    reader = RawStream("127.0.0.1", server.port())
    reader.login("carol", "singer", resource="reader", presence=True)
    sender = RawStream("127.0.0.1", server.port())
    sender.login("alice", "wonderland", resource="a")
    body = "x" * (MAX_STANZA // 2)
    count = 12 * 1024 * 1024 // len(body)
    before = _rss_kib(server.proc.pid)
    try:
        for i in range(count):
            sender.send(f"<message to='carol@{DOMAIN}' type='chat' "
                        f"id='c{i}'><body>{body}</body></message>")
            got = reader.wait_for(
                lambda e: e.tag == q(NS_CLIENT, "message") and
                e.get("id") == f"c{i}")
            assert got.find(q(NS_CLIENT, "body")).text == body
        witness.ping()
        grown = _rss_kib(server.proc.pid) - before
        # 12 MiB went to carol; the stuck stream may hold its 64 KiB
        # window plus the kernel's buffers, and the allocator its slack.
        assert grown < 8 * 1024, f"RSS grew {grown} KiB"
        assert "stream error=resource-constraint" not in server.stderr()
        reader.ping()
        sender.ping()
    finally:
        for s in (stuck, reader, sender, witness):
            s.close()
