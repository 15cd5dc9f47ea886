"""auth radius: xmppd against a real FreeRADIUS (Debian's freeradius
package) with rlm_digest and rlm_passwd, started by each test on loopback
from fixtures/radius/ in a temporary directory and stopped by PID in
teardown, also when the test fails.

FreeRADIUS itself checks the Digest response: its log shows "Login OK" /
"Login incorrect" for the user, so an accept cannot come from xmppd alone.
"""

import base64
import hashlib
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

from daemon import LOGIN_SUFFIX, USERS
from freeradius import (FREERADIUS, RETRIES, TIMEOUT_MS, FreeRadius,
                        secret_file, use_radius)
from rawxmpp import NS_SASL, RawStream, sasl_condition

pytestmark = pytest.mark.skipif(
    not os.access(FREERADIUS, os.X_OK),
    reason="freeradius is not installed (ci/install-deps.sh installs it)")


@pytest.fixture
def radius_factory(tmp_path):
    started = []

    def make(name="radius", **kw):
        r = FreeRadius(tmp_path / name, **kw)
        started.append(r)
        return r.start()

    yield make
    for r in started:
        r.stop()


def radius_daemon(make_daemon, servers, secret_path, name="xmppd",
                  realm=None, start=True):
    """A daemon of daemon.py authenticating through radius."""
    d = use_radius(make_daemon(name, start=False), servers, secret_path,
                   realm)
    if start:
        d.start()
    return d


@pytest.fixture
def radius(radius_factory):
    return radius_factory()


@pytest.fixture
def rserver(make_daemon, radius, tmp_path):
    """xmppd authenticating through the FreeRADIUS above."""
    d = radius_daemon(make_daemon, [("127.0.0.1", radius.port)],
                      secret_file(tmp_path))
    d.radius = radius
    return d


def auth_attempt(port, user, password):
    """STARTTLS and one SASL PLAIN; returns (element, stream)."""
    s = RawStream("127.0.0.1", port)
    s.open()
    s.starttls()
    s.open()
    return s.auth_plain(user, password), s


def assert_condition(port, user, password, condition):
    el, s = auth_attempt(port, user, password)
    try:
        assert sasl_condition(el) == condition
    finally:
        s.close()


def wait_for(pred, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("user", ["alice", "dave"])	# AUTHORIZED, RESTRICTED
def test_right_password_is_accepted(rserver, user):
    s = RawStream("127.0.0.1", rserver.port())
    try:
        assert s.login(user, USERS[user][0]).startswith(f"{user}@")
        s.ping()
    finally:
        s.close()
    login = user + LOGIN_SUFFIX
    # The verdict is FreeRADIUS's: rlm_digest checked the response.
    wait_for(lambda: f"Login OK: [{login}]" in rserver.radius.log(),
             "FreeRADIUS's Login OK")


@pytest.mark.parametrize("user,password", [
    ("alice", "wrong-pw"),		# wrong password
    ("nobody", "anything"),		# unknown user
    ("mallory", "refused-pw"),		# REFUSED account, right password
])
def test_bad_credentials_are_not_authorized(rserver, user, password):
    assert_condition(rserver.port(), user, password, "not-authorized")
    login = user + LOGIN_SUFFIX
    wait_for(lambda: "Login incorrect" in rserver.radius.log()
             and f"[{login}]" in rserver.radius.log(),
             "FreeRADIUS's Login incorrect")
    assert password not in rserver.stderr(), "password logged"


def test_wrong_realm_is_not_authorized(make_daemon, radius, tmp_path):
    """HA1 binds the realm: xmppd configured for another realm proves a
    response FreeRADIUS cannot match, even with the right password."""
    d = radius_daemon(make_daemon, [("127.0.0.1", radius.port)],
                      secret_file(tmp_path), realm="other.example.org")
    assert_condition(d.port(), "alice", USERS["alice"][0], "not-authorized")


def test_radius_down_is_temporary_failure_others_keep_chatting(rserver):
    """FreeRADIUS frozen (no answers): the login waits out timeout x
    retries, then temporary-auth-failure; meanwhile a logged-in pair
    keeps exchanging messages. Killed (port closed): the same, at once."""
    bob = RawStream("127.0.0.1", rserver.port())
    alice = RawStream("127.0.0.1", rserver.port())
    try:
        bob.login("bob", "builder", resource="chat", presence=True)
        alice_jid = alice.login("alice", "wonderland", resource="chat",
                                presence=True)
        rserver.radius.freeze()
        mark = len(rserver.stderr())
        carol = RawStream("127.0.0.1", rserver.port())
        carol.open()
        carol.starttls()
        carol.open()
        blob = base64.b64encode(b"\0carol\0singer").decode()
        started = time.monotonic()
        carol.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{blob}</auth>")
        # While carol's Access-Request goes unanswered, bob and alice chat.
        for i in range(3):
            bob.send(f"<message to='{alice_jid}' type='chat' id='m{i}'>"
                     f"<body>hello {i}</body></message>")
            alice.wait_for(lambda e, i=i: e.get("id") == f"m{i}")
            bob.ping()
        el = carol.next_element(timeout=30)
        elapsed = time.monotonic() - started
        assert sasl_condition(el) == "temporary-auth-failure"
        carol.close()
        # Not before the configured timeout x retries (a generous upper
        # bound only: CI machines are slow).
        assert elapsed >= TIMEOUT_MS * RETRIES / 1000.0 * 0.9
        log = rserver.stderr()[mark:]
        assert f"server=127.0.0.1 port {rserver.radius.port} failed: " \
            "no valid answer" in log
        assert "tempfail" in log

        rserver.radius.stop()
        assert_condition(rserver.port(), "carol", "singer",
                         "temporary-auth-failure")
        bob.ping()
        alice.ping()
    finally:
        bob.close()
        alice.close()


def test_second_server_takes_over(make_daemon, radius_factory, tmp_path,
                                  ipv6):
    first = radius_factory("first")
    second = radius_factory("second")
    d = radius_daemon(make_daemon, [("127.0.0.1", first.port),
                                    (ipv6, second.port)],
                      secret_file(tmp_path))
    s = RawStream("127.0.0.1", d.port())
    s.login("alice", "wonderland")
    s.close()
    assert "Login OK: [alice" in first.log()
    first.stop()
    s = RawStream("127.0.0.1", d.port())
    s.login("bob", "builder")
    s.close()
    assert "Login OK: [bob" in second.log()
    assert f"server=127.0.0.1 port {first.port} failed" in d.stderr()


def test_wrong_shared_secret_is_logged(make_daemon, radius, tmp_path):
    """FreeRADIUS drops a request whose Message-Authenticator fails; xmppd
    says so and answers temporary-auth-failure, never not-authorized."""
    d = radius_daemon(make_daemon, [("127.0.0.1", radius.port)],
                      secret_file(tmp_path, secret="not-the-secret"))
    assert_condition(d.port(), "alice", "wonderland",
                     "temporary-auth-failure")
    assert "wrong shared secret" in d.stderr()
    assert "Shared secret is incorrect" in radius.log()


class ForgingRadius(threading.Thread):
    """Answers every Access-Request with an Access-Accept signed with the
    wrong secret, as a server with a different secret (or an attacker)
    would: xmppd must log it and must not let the user in."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.answered = 0

    def run(self):
        while not self.stopping:
            try:
                req, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            hdr = bytes([2, req[1]]) + struct.pack(">H", 20)
            auth = hashlib.md5(hdr + req[4:20] + b"forged").digest()
            self.sock.sendto(hdr + auth, peer)
            self.answered += 1

    def stop(self):
        self.stopping = True
        self.join(5)
        self.sock.close()


def test_forged_answer_is_bad_shared_secret(make_daemon, tmp_path):
    forger = ForgingRadius()
    forger.start()
    try:
        d = radius_daemon(make_daemon, [("127.0.0.1", forger.port)],
                          secret_file(tmp_path))
        assert_condition(d.port(), "alice", "wrong-pw",
                         "temporary-auth-failure")
        assert forger.answered >= 1
        log = d.stderr()
        assert "response authenticator mismatch, bad shared secret?" in log
        assert f"server=127.0.0.1 port {forger.port}" in log
    finally:
        forger.stop()


def test_world_readable_secret_refuses_to_start(make_daemon, radius,
                                                tmp_path):
    d = radius_daemon(make_daemon, [("127.0.0.1", radius.port)],
                      secret_file(tmp_path, mode=0o644), start=False)
    # Run it by hand: the fixture's teardown wants a clean exit.
    r = subprocess.run([d.binary, "-c", d.conf, "-d"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30, cwd=d.dir)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode != 0
    assert "radius-secret-file" in err and "chmod o-rw" in err, err
