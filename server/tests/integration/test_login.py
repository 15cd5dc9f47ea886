"""Logging in: IPv4 and IPv6, STARTTLS and direct TLS, and every way a
login must be refused (RFC 6120 §5, §6)."""

import base64

import pytest

from daemon import DOMAIN
from rawxmpp import (NS_BIND, NS_SASL, NS_STREAMS, NS_TLS, RawStream,
                     header, q, sasl_condition)
from slixclient import Client, run, stop_all


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
@pytest.mark.parametrize("tls", ["starttls", "direct"])
def test_slixmpp_login(request, server, family, tls):
    addr = request.getfixturevalue("ipv6") if family == "ipv6" \
        else "127.0.0.1"
    port = server.port(addr, "tls" if tls == "direct" else "plain")

    async def main():
        c = Client("alice", (addr, port), resource=f"{family}-{tls}",
                   direct_tls=tls == "direct")
        try:
            await c.start()
            assert c.is_connected()
            assert str(c.boundjid) == f"alice@{DOMAIN}/{family}-{tls}"
            await c.ping_server()
        finally:
            await stop_all(c)

    run(main())
    assert f"bound jid=alice@{DOMAIN}/{family}-{tls}" in server.stderr()


def test_starttls_is_required_and_only_feature(server):
    s = RawStream("127.0.0.1", server.port())
    try:
        features = s.open()
        tls = features.find(q(NS_TLS, "starttls"))
        assert tls is not None
        assert tls.find(q(NS_TLS, "required")) is not None
        # RFC 6120 §5.3.1: mandatory TLS, so SASL is not offered yet.
        assert features.find(q(NS_SASL, "mechanisms")) is None
        s.starttls()
        features = s.open()
        mechs = [m.text for m in features.iter(q(NS_SASL, "mechanism"))]
        # HA1 credentials: PLAIN only, never SCRAM (docs/auth.md).
        assert mechs == ["PLAIN"]
        assert features.find(q(NS_TLS, "starttls")) is None
    finally:
        s.close()


def test_plaintext_auth_before_tls_is_refused(server, witness):
    """RFC 6120 §6.5.4: PLAIN on an unprotected stream gets
    <encryption-required/>, and the password is never checked."""
    s = RawStream("127.0.0.1", server.port())
    try:
        s.open()
        failure = s.auth_plain("alice", "wonderland")
        assert sasl_condition(failure) == "encryption-required"
        assert "auth ok user=alice" not in server.stderr()
        # The stream is still in its pre-TLS state: TLS, then a login,
        # still work.
        s.starttls()
        s.open()
        assert s.auth_plain("alice", "wonderland").tag == \
            q(NS_SASL, "success")
    finally:
        s.close()
    witness.ping()


@pytest.mark.parametrize("user,password,condition", [
    ("alice", "not-wonderland", "not-authorized"),	# wrong password
    ("mallory", "refused-pw", "not-authorized"),	# REFUSED account
    ("dave", "wrong-pw", "not-authorized"),		# RESTRICTED, wrong pw
    ("nobody", "anything", "not-authorized"),		# unknown user
    ("Alice", "Wonderland", "not-authorized"),		# pw case-sensitive
    # RFC 4616: passwd = 1*SAFE, so an empty one breaks PLAIN's syntax
    # (RFC 6120 §6.5.8).
    ("alice", "", "malformed-request"),
])
def test_bad_credentials_are_refused(server, witness, user, password,
                                     condition):
    s = RawStream("127.0.0.1", server.port())
    try:
        s.open_tls()
        failure = s.auth_plain(user, password)
        assert sasl_condition(failure) == condition
        # RFC 6120 §6.4.5: the client may retry on the same stream.
        assert s.auth_plain("carol", "singer").tag == q(NS_SASL, "success")
    finally:
        s.close()
    if len(password) >= 8:
        assert password not in server.stderr(), "password logged"
    witness.ping()


def test_restricted_user_may_log_in(server):
    """AUTHORIZED and RESTRICTED may log in (docs/auth.md)."""
    s = RawStream("127.0.0.1", server.port())
    try:
        assert s.login("dave", "restricted-pw", resource="r") == \
            f"dave@{DOMAIN}/r"
        s.ping()
    finally:
        s.close()


def test_login_with_full_authcid_and_stringprep(server):
    """The authcid may be a bare JID; localparts are nodeprep'd."""
    s = RawStream("127.0.0.1", server.port(kind="tls"), direct_tls=True)
    try:
        s.open()
        assert s.auth_plain(f"ALICE@{DOMAIN}", "wonderland").tag == \
            q(NS_SASL, "success")
        s.open()
        assert s.bind("x").startswith(f"alice@{DOMAIN}/")
    finally:
        s.close()


def test_too_many_failures_end_the_stream(server):
    """RFC 6120 §6.4.5: a bounded number of retries, then a
    <policy-violation/> stream error (xmppd allows 5)."""
    s = RawStream("127.0.0.1", server.port())
    try:
        s.open_tls()
        for _ in range(5):
            assert sasl_condition(s.auth_plain("alice", "nope")) == \
                "not-authorized"
        assert s.stream_error() == "policy-violation"
        s.wait_closed()
    finally:
        s.close()


def test_stream_to_other_domain_is_host_unknown(server):
    s = RawStream("127.0.0.1", server.port())
    try:
        s.send("<?xml version='1.0'?><stream:stream to='example.org' "
               "xmlns='jabber:client' "
               "xmlns:stream='http://etherx.jabber.org/streams' "
               "version='1.0'>")
        assert s.stream_error() == "host-unknown"
        s.wait_closed()
    finally:
        s.close()


def test_authzid_is_prepared_like_the_authcid(server):
    """RFC 6120 §6.3.8: an authzid naming the same account in another
    case is the same account."""
    s = RawStream("127.0.0.1", server.port(kind="tls"), direct_tls=True)
    try:
        s.open()
        el = s.auth_plain("ALICE", "wonderland",
                          authzid=f"ALICE@{DOMAIN.upper()}")
        assert el.tag == q(NS_SASL, "success")
        s.open()
        assert s.bind("x").startswith(f"alice@{DOMAIN}/")
    finally:
        s.close()
    s = RawStream("127.0.0.1", server.port(kind="tls"), direct_tls=True)
    try:
        s.open()
        assert sasl_condition(s.auth_plain(
            "alice", "wonderland", authzid=f"bob@{DOMAIN}")) == \
            "invalid-authzid"
    finally:
        s.close()


def test_pre_approval_is_advertised(server):
    """RFC 6121 §3.4: a server that honours pre-approvals says so in
    the stream features after authentication."""
    s = RawStream("127.0.0.1", server.port(kind="tls"), direct_tls=True)
    try:
        s.open()
        assert s.auth_plain("alice", "wonderland").tag == \
            q(NS_SASL, "success")
        features = s.open()
        assert features.find(
            q("urn:xmpp:features:pre-approval", "sub")) is not None
    finally:
        s.close()


def _plain(user, password):
    blob = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    return f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{blob}</auth>"


def test_restart_header_pipelined_with_auth(server):
    """A client that sends its new stream header in the same packet as
    <auth/> gets the new stream's features once the password check
    answers: the header is parsed by the restarted stream, not lost."""
    s = RawStream("127.0.0.1", server.port(kind="tls"), direct_tls=True)
    try:
        s.open()
        s.send(_plain("alice", "wonderland") + header())
        assert s.next_element().tag == q(NS_SASL, "success")
        s._new_parser()
        features = s.expect(q(NS_STREAMS, "features"), timeout=5)
        assert features.find(q(NS_BIND, "bind")) is not None
        assert s.bind("p").startswith(f"alice@{DOMAIN}/")
        s.ping()
    finally:
        s.close()


def test_retry_pipelined_after_a_failed_auth(server):
    """What follows a failing <auth/> is parsed in the same stream."""
    s = RawStream("127.0.0.1", server.port(kind="tls"), direct_tls=True)
    try:
        s.open()
        s.send(_plain("alice", "nope") + _plain("alice", "wonderland"))
        assert sasl_condition(s.next_element()) == "not-authorized"
        assert s.next_element(timeout=5).tag == q(NS_SASL, "success")
    finally:
        s.close()
