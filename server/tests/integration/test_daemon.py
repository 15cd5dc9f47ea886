"""The daemon as an operator sees it: restart keeps state, SIGHUP
reloads users without touching sessions, SIGTERM closes streams cleanly,
`-t` checks a configuration, and the users file is read as Debian
writes it (docs/auth.md, docs/configuration.md)."""

import os
import signal

import pytest

from daemon import (REALM, LOGIN_SUFFIX, ha1, users_line,
                    users_text, write_atomic)
from rawxmpp import NS_SASL, RawStream, q, sasl_condition
from slixclient import Client, run, stop_all, within
from test_im import BOB, ALICE, NS_DELAY, roster_items, roster_set


def v4(d):
    return ("127.0.0.1", d.port())


def try_login(d, user, password, resource="r"):
    """The SASL outcome for user/password: 'success' or the condition."""
    s = RawStream("127.0.0.1", d.port())
    try:
        s.open_tls()
        el = s.auth_plain(user, password)
        if el.tag == q(NS_SASL, "success"):
            s.open()
            s.bind(resource)
            s.ping()
            return "success"
        return sasl_condition(el)
    finally:
        s.close()


def test_restart_keeps_roster_and_offline_messages(make_daemon):
    d = make_daemon()

    async def before():
        b = Client("bob", v4(d), resource="b")
        await b.start()
        await b.stop()
        a = Client("alice", v4(d), resource="a")
        try:
            await a.start()
            await roster_set(a, BOB, name="Bob", groups=["Work"])
            a.send_presence_subscription(pto=BOB)
            a.send_message(mto=BOB, mbody="kept across restarts",
                           mtype="chat")
            await a.roundtrip()
        finally:
            await stop_all(a)

    run(before())
    d.restart()

    async def after():
        a = Client("alice", v4(d), resource="a2")
        b = Client("bob", v4(d), resource="b2")
        try:
            await a.start()
            assert (await roster_items(a))[BOB] == \
                ("none", "subscribe", "Bob", ["Work"])
            await b.start()
            m = await b.next_message()
            assert m["body"] == "kept across restarts"
            assert m.xml.find(q(NS_DELAY, "delay")) is not None
            # The pending request is shown again (RFC 6121 §3.1.3).
            p = await within(b.subscriptions.get(), 15, "request")
            assert p["type"] == "subscribe" and p["from"].bare == ALICE
        finally:
            await stop_all(a, b)

    run(after())


def test_sighup_reloads_users_and_keeps_sessions(server):
    alice = RawStream("127.0.0.1", server.port())
    bob = RawStream("127.0.0.1", server.port())
    try:
        alice.login("alice", "wonderland", resource="stays")
        bob.login("bob", "builder", resource="stays")
        assert try_login(server, "erin", "new-user-pw") == "not-authorized"
        # erin joins, bob leaves Debian.
        text = users_text().replace(users_line("bob", "builder",
                                               "AUTHORIZED"), "")
        text += users_line("erin", "new-user-pw", "AUTHORIZED")
        write_atomic(server.users_file, text)
        mark = len(server.stderr())
        server.signal(signal.SIGHUP)
        server.wait_log("reload requested", start=mark)
        assert try_login(server, "erin", "new-user-pw") == "success"
        assert try_login(server, "bob", "builder") == "not-authorized"
        # Live sessions are untouched, bob's included.
        alice.ping()
        bob.ping()
    finally:
        alice.close()
        bob.close()


def test_sigterm_closes_streams_with_system_shutdown(server):
    s = RawStream("127.0.0.1", server.port())
    s.login("alice", "wonderland", resource="r")
    server.signal(signal.SIGTERM)
    try:
        # RFC 6120 §4.9.3.19.
        assert s.stream_error() == "system-shutdown"
        s.wait_closed()
    finally:
        s.close()
    rc, _ = server.stop()
    assert rc == 0


def test_users_file_as_debian_writes_it(make_daemon):
    """CRLF, upper-case hex, any-case state, comments; a bad line is
    reported with file:line and skipped, the rest still loads."""
    d = make_daemon(start=False)
    frank = "frank" + LOGIN_SUFFIX
    gina = "gina" + LOGIN_SUFFIX
    text = users_text()
    lines = text.count("\n")
    text += f"{frank}:{ha1(frank, 'frank-pw').upper()}:{REALM}:authorized\r\n"
    text += "this line is broken\n"				# lines + 2
    text += f"{gina}:{ha1(gina, 'gina-pw')}:{REALM}:SUSPENDED\n"	# + 3
    text += "   # an indented comment\n\n"
    write_atomic(d.users_file, text)
    d.start()
    assert try_login(d, "frank", "frank-pw") == "success"
    assert try_login(d, "alice", "wonderland") == "success"
    assert try_login(d, "gina", "gina-pw") == "not-authorized"
    log = d.stderr()
    assert f"{d.users_file}:{lines + 2}" in log, log
    assert f"{d.users_file}:{lines + 3}" in log, log


def test_config_check_accepts_a_good_file(make_daemon):
    d = make_daemon(start=False)
    rc, out = d.check_config()
    assert rc == 0, out
    # A check starts nothing.
    assert not os.path.exists(d.port_file)


@pytest.mark.parametrize("bad", [
    "no-such-keyword 1",
    "max-depth banana",
    "listen 127.0.0.1 99999",
    "listen not-an-address 5222",
    'domain "unterminated',
])
def test_config_check_names_file_and_line(make_daemon, bad):
    d = make_daemon(start=False)
    with open(d.conf) as f:
        good = f.read()
    path = os.path.join(d.dir, "bad.conf")
    text = good.replace("\nselfsigned yes\n", f"\n{bad}\nselfsigned yes\n")
    lineno = text.splitlines().index(bad) + 1
    write_atomic(path, text)
    rc, out = d.check_config(path)
    assert rc == 1, out
    assert f"{path}:{lineno}" in out, out


def test_config_check_missing_file(make_daemon):
    d = make_daemon(start=False)
    rc, out = d.check_config(os.path.join(d.dir, "absent.conf"))
    assert rc == 1
    assert "absent.conf" in out

