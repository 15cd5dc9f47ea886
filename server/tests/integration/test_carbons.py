"""XEP-0280 message carbons against the real daemon, exact on the XML:
enable/disable, <sent/> copies to the sender's other resources,
<received/> copies to resources that did not get the original (full-JID
delivery, a negative-priority resource), what is never copied (<private/>,
XEP-0334 <no-copy/>, groupchat), the disco features, and copies under
XEP-0198: a copy sent while a resource hibernates is resent on resume.

"Not copied" is shown by order, never by waiting: an eligible sentinel
sent afterwards must be the next copy that arrives.
"""

import xml.etree.ElementTree as ET

from daemon import DOMAIN
from rawxmpp import NS_CLIENT, RawStream, q
from test_sm import (NS_SM, PASSWORDS, authenticated, barrier, body, chat,
                     connect, drop, is_msg)

NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_HINTS = "urn:xmpp:hints"
NS_DISCO = "http://jabber.org/protocol/disco#info"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"


def login(server, user, resource, carbons=True, priority=None):
    s = RawStream("127.0.0.1", server.port())
    s.login(user, PASSWORDS[user], resource=resource)
    if carbons:
        assert toggle(s, "enable").get("type") == "result"
    prio = f"<priority>{priority}</priority>" if priority is not None else ""
    s.send(f"<presence>{prio}</presence>")
    s.ping()
    return s


def toggle(s, what):
    return s.iq(f"<{what} xmlns='{NS_CARBONS}'/>", to=None, type_="set")


def copy_of(el, direction):
    """The forwarded <message/> inside a carbon, checking the wrapper."""
    assert is_msg(el), ET.tostring(el)
    wrap = el.find(q(NS_CARBONS, direction))
    assert wrap is not None, ET.tostring(el)
    fwd = wrap.find(q(NS_FORWARD, "forwarded"))
    assert fwd is not None, ET.tostring(el)
    inner = fwd.find(q(NS_CLIENT, "message"))
    assert inner is not None, ET.tostring(el)
    return inner


def next_carbon(s):
    return s.wait_for(lambda e: is_msg(e) and (
        e.find(q(NS_CARBONS, "sent")) is not None or
        e.find(q(NS_CARBONS, "received")) is not None))


def test_enable_and_disable(server):
    desk = login(server, "alice", "desk", carbons=False)
    phone = login(server, "alice", "phone", carbons=False)
    try:
        r = toggle(phone, "enable")
        assert r.get("type") == "result" and len(r) == 0
        chat(desk, f"{BOB}/x", "copied")
        inner = copy_of(next_carbon(phone), "sent")
        assert body(inner) == "copied"
        r = toggle(phone, "disable")
        assert r.get("type") == "result"
        chat(desk, f"{BOB}/x", "not copied")
        desk.ping()
        assert not [e for e in barrier(phone) if is_msg(e)]
        assert b"not copied" not in phone.received
    finally:
        desk.close()
        phone.close()


def test_sent_copy_goes_to_the_other_resource(server):
    desk = login(server, "alice", "desk")
    phone = login(server, "alice", "phone")
    bob = login(server, "bob", "home", carbons=False)
    try:
        chat(desk, BOB, "hi bob", extra="<thread>t1</thread>")
        got = bob.wait_for(is_msg)
        assert body(got) == "hi bob"
        c = next_carbon(phone)
        assert c.get("from") == ALICE
        assert c.get("to") == f"{ALICE}/phone"
        assert c.get("type") == "chat"
        inner = copy_of(c, "sent")
        assert inner.get("from") == f"{ALICE}/desk"
        assert inner.get("to") == BOB
        assert inner.get("type") == "chat"
        assert body(inner) == "hi bob"
        assert inner.findtext(q(NS_CLIENT, "thread")) == "t1"
        # The sender gets no copy of its own message.
        assert not [e for e in barrier(desk) if is_msg(e)]
    finally:
        for s in (desk, phone, bob):
            s.close()


def test_received_copy_for_full_jid_delivery(server):
    desk = login(server, "alice", "desk")
    phone = login(server, "alice", "phone")
    bob = login(server, "bob", "home", carbons=False)
    try:
        chat(bob, f"{ALICE}/desk", "to desk only")
        orig = desk.wait_for(is_msg)
        assert body(orig) == "to desk only"
        assert orig.find(q(NS_CARBONS, "received")) is None
        c = next_carbon(phone)
        assert c.get("from") == ALICE and c.get("to") == f"{ALICE}/phone"
        inner = copy_of(c, "received")
        assert inner.get("from") == f"{BOB}/home"
        assert inner.get("to") == f"{ALICE}/desk"
        assert body(inner) == "to desk only"
        # desk got the original, so no copy for desk.
        assert not [e for e in barrier(desk) if is_msg(e)]
    finally:
        for s in (desk, phone, bob):
            s.close()


def test_negative_priority_resource_gets_received_copy(server):
    desk = login(server, "alice", "desk")
    lurk = login(server, "alice", "lurk", priority=-1)
    bob = login(server, "bob", "home", carbons=False)
    try:
        chat(bob, ALICE, "to the bare jid")
        assert body(desk.wait_for(is_msg)) == "to the bare jid"
        inner = copy_of(next_carbon(lurk), "received")
        assert inner.get("to") == ALICE and body(inner) == "to the bare jid"
    finally:
        for s in (desk, lurk, bob):
            s.close()


def test_private_no_copy_and_groupchat_are_not_copied(server):
    desk = login(server, "alice", "desk")
    phone = login(server, "alice", "phone")
    bob = login(server, "bob", "home", carbons=False)
    try:
        chat(bob, f"{ALICE}/desk", "private in",
             extra=f"<private xmlns='{NS_CARBONS}'/>")
        assert barrier(bob) == []	# handled before what follows
        assert body(desk.wait_for(is_msg)) == "private in"
        chat(desk, BOB, "private", extra=f"<private xmlns='{NS_CARBONS}'/>")
        chat(desk, BOB, "no-copy", extra=f"<no-copy xmlns='{NS_HINTS}'/>")
        desk.send(f"<message to='{BOB}/home' type='groupchat'>"
                  "<body>groupchat</body></message>")
        chat(desk, BOB, "sentinel")
        # bob got the private ones; they are just not copied.
        got = [body(bob.wait_for(is_msg)) for _ in range(4)]
        assert got == ["private", "no-copy", "groupchat", "sentinel"]
        inner = copy_of(next_carbon(phone), "sent")
        assert body(inner) == "sentinel"
        assert not [e for e in barrier(phone) if is_msg(e)]
    finally:
        for s in (desk, phone, bob):
            s.close()


def test_disco_lists_carbons(server):
    s = login(server, "alice", "desk", carbons=False)
    try:
        r = s.iq(f"<query xmlns='{NS_DISCO}'/>", to=DOMAIN)
        assert r.get("type") == "result"
        feats = {f.get("var") for f in r.iter(q(NS_DISCO, "feature"))}
        assert "urn:xmpp:carbons:2" in feats
        assert "urn:xmpp:carbons:rules:0" in feats
    finally:
        s.close()


def test_copies_are_stream_managed_and_resent_on_resume(server):
    desk = login(server, "alice", "desk")
    phone = connect(server, "alice", "phone")	# XEP-0198 with resume
    bob = login(server, "bob", "home", carbons=False)
    try:
        assert toggle(phone, "enable").get("type") == "result"
        phone.send("<presence/>")
        barrier(phone)			# presences in, counted
        previd = phone.enabled.get("id")
        h = phone.h
        phone.ack()
        phone.ping()			# the ack is handled
        drop(phone)
        chat(desk, BOB, "while phone sleeps")
        assert body(bob.wait_for(is_msg)) == "while phone sleeps"
        desk.ping()
        n = authenticated(server, "alice")
        res = n.resume(previd, h)
        assert res.tag == q(NS_SM, "resumed"), ET.tostring(res)
        # The last ping's result (never acked), then the copy.
        first = n.next_element()
        assert first.tag == q(NS_CLIENT, "iq"), ET.tostring(first)
        assert first.get("type") == "result"
        inner = copy_of(n.next_element(), "sent")
        assert body(inner) == "while phone sleeps"
        assert n.next_element().tag == q(NS_SM, "r")
        n.close()
    finally:
        desk.close()
        bob.close()
