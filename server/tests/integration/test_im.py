"""Instant messaging and presence with real slixmpp clients (RFC 6121):
chat, offline delivery, the subscription handshake, presence broadcast,
roster pushes, and a second bind of the same full JID."""

import asyncio
import xml.etree.ElementTree as ET

from daemon import DOMAIN
from rawxmpp import NS_CLIENT, RawStream, q, stanza_error
from slixclient import Client, connected, run, stop_all, within

NS_ROSTER = "jabber:iq:roster"
NS_DELAY = "urn:xmpp:delay"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
CAROL = f"carol@{DOMAIN}"


def v4(server, kind="plain"):
    return ("127.0.0.1", server.port("127.0.0.1", kind))


async def roster_items(c):
    """A fresh roster get: jid -> (subscription, ask, name, groups)."""
    iq = c.make_iq_get(queryxmlns=NS_ROSTER)
    resp = await within(iq.send(timeout=15), 16, "roster result")
    items = {}
    for it in resp.xml.iter(q(NS_ROSTER, "item")):
        items[it.get("jid")] = (it.get("subscription"), it.get("ask"),
                                it.get("name"),
                                sorted(g.text for g in
                                       it.iter(q(NS_ROSTER, "group"))))
    return items


async def roster_set(c, jid, name=None, groups=(), remove=False):
    iq = c.make_iq_set()
    query = ET.SubElement(iq.xml, q(NS_ROSTER, "query"))
    item = ET.SubElement(query, q(NS_ROSTER, "item"), jid=jid)
    if name is not None:
        item.set("name", name)
    if remove:
        item.set("subscription", "remove")
    for g in groups:
        ET.SubElement(item, q(NS_ROSTER, "group")).text = g
    resp = await within(iq.send(timeout=15), 16, "roster set result")
    assert resp["type"] == "result"


async def next_push(c, jid):
    """The next roster push about jid, as its <item/> element."""
    while True:
        iq = await within(c.roster_pushes.get(), 15, f"push for {jid}")
        for it in iq.xml.iter(q(NS_ROSTER, "item")):
            if it.get("jid") == jid:
                return it


async def first_from(c, bare):
    """The first presence from bare still queued for c, requests aside."""
    while True:
        p = await within(c.presences.get(), 15, f"presence from {bare}")
        if p["from"].bare == bare and p["type"] != "subscribe":
            return p


def test_two_users_exchange_messages(server):
    async def main():
        a = Client("alice", v4(server), resource="desk")
        b = Client("bob", v4(server, "tls"), resource="phone",
                   direct_tls=True)
        try:
            await connected(a, b)
            text = "héllo bob ☃ <&> ]]>"
            a.send_message(mto=BOB, mbody=text, mtype="chat")
            m = await b.next_message()
            assert m["body"] == text
            assert m["type"] == "chat"
            assert str(m["from"]) == f"{ALICE}/desk"
            assert str(m["to"]).startswith(BOB)
            b.send_message(mto=m["from"], mbody="hi alice", mtype="chat")
            m = await a.next_message()
            assert m["body"] == "hi alice"
            assert str(m["from"]) == f"{BOB}/phone"
            # A normal message to a full JID reaches exactly that one.
            a.send_message(mto=f"{BOB}/phone", mbody="direct")
            assert (await b.next_message())["body"] == "direct"
        finally:
            await stop_all(a, b)

    run(main())


def test_chat_to_bare_jid_reaches_every_resource(server):
    async def main():
        a = Client("alice", v4(server), resource="a")
        b1 = Client("bob", v4(server), resource="one")
        b2 = Client("bob", v4(server), resource="two")
        try:
            await connected(a, b1, b2)
            a.send_message(mto=BOB, mbody="to all of you", mtype="chat")
            for b in (b1, b2):
                assert (await b.next_message())["body"] == "to all of you"
        finally:
            await stop_all(a, b1, b2)

    run(main())


def test_offline_delivery_with_delay(server):
    async def main():
        b = Client("bob", v4(server), resource="first")
        await b.start()		# the account is known from now on
        await b.stop()
        a = Client("alice", v4(server), resource="a")
        b2 = b3 = None
        try:
            await a.start()
            a.send_message(mto=BOB, mbody="while you were away",
                           mtype="chat")
            a.send_message(mto=BOB, mbody="second", mtype="chat")
            await a.roundtrip()		# both are stored now
            b2 = Client("bob", v4(server), resource="back")
            await b2.start()
            got = [await b2.next_message(), await b2.next_message()]
            assert [m["body"] for m in got] == \
                ["while you were away", "second"]
            for m in got:
                delay = m.xml.find(q(NS_DELAY, "delay"))
                assert delay is not None, ET.tostring(m.xml)
                assert delay.get("stamp", "").endswith("Z")
                assert delay.get("from") == DOMAIN
                assert str(m["from"]) == f"{ALICE}/a"
            await b2.stop()
            # Delivered once: the queue is empty now.
            b3 = Client("bob", v4(server), resource="again")
            await b3.start()
            await b3.roundtrip()
            assert b3.messages.empty()
        finally:
            await stop_all(*[c for c in (a, b2, b3) if c is not None])

    run(main())


def test_subscription_handshake_and_presence_broadcast(server):
    async def main():
        a = Client("alice", v4(server), resource="a")
        b = Client("bob", v4(server), resource="b")
        try:
            await connected(a, b)
            # alice asks, bob approves: alice now sees bob ("to").
            a.send_presence_subscription(pto=BOB)
            p = await within(b.subscriptions.get(), 15, "subscribe")
            assert p["type"] == "subscribe" and p["from"].bare == ALICE
            item = await next_push(a, BOB)
            assert item.get("ask") == "subscribe"
            b.send_presence(pto=ALICE, ptype="subscribed")
            p = await within(a.subscriptions.get(), 15, "subscribed")
            assert p["type"] == "subscribed" and p["from"].bare == BOB
            # RFC 6121 §3.1.5: the approval first, then bob's presence.
            assert (await first_from(a, BOB))["type"] == "subscribed"
            await a.next_presence(BOB)
            # bob asks back, alice approves: both.
            b.send_presence_subscription(pto=ALICE)
            p = await within(a.subscriptions.get(), 15, "subscribe back")
            assert p["type"] == "subscribe"
            a.send_presence(pto=BOB, ptype="subscribed")
            p = await within(b.subscriptions.get(), 15, "subscribed back")
            assert p["type"] == "subscribed"
            assert (await first_from(b, ALICE))["type"] == "subscribed"
            await b.next_presence(ALICE)
            ra, rb = await roster_items(a), await roster_items(b)
            assert ra[BOB][:2] == ("both", None)
            assert rb[ALICE][:2] == ("both", None)
            # Broadcast: a status change reaches the contact.
            a.send_presence(pstatus="in a meeting", pshow="dnd")
            p = await b.next_presence(ALICE, status="in a meeting")
            assert p["show"] == "dnd"
            assert str(p["from"]) == f"{ALICE}/a"
            b.send_presence(pstatus="building")
            await a.next_presence(BOB, status="building")
            # carol has no subscription: she sees none of it.
            c = Client("carol", v4(server), resource="c")
            await c.start()
            a.send_presence(pstatus="only for bob")
            await b.next_presence(ALICE, status="only for bob")
            await c.roundtrip()
            while not c.presences.empty():
                assert c.presences.get_nowait()["from"].bare == CAROL
            await c.stop()
            # Going offline is broadcast as unavailable.
            await b.stop()
            await a.next_presence(BOB, ptype="unavailable")
        finally:
            await stop_all(a, b)

    run(main())


def test_subscription_request_survives_offline(server):
    """A request to an offline contact is shown at its next login
    (RFC 6121 §3.1.3)."""
    async def main():
        c = Client("carol", v4(server), resource="c")
        await c.start()
        await c.stop()
        a = Client("alice", v4(server), resource="a")
        c2 = None
        try:
            await a.start()
            a.send_presence_subscription(pto=CAROL)
            await a.roundtrip()
            c2 = Client("carol", v4(server), resource="later")
            await c2.start()
            p = await within(c2.subscriptions.get(), 15, "stored request")
            assert p["type"] == "subscribe" and p["from"].bare == ALICE
        finally:
            await stop_all(*[x for x in (a, c2) if x is not None])

    run(main())


def test_roster_push_to_second_resource(server):
    async def main():
        a1 = Client("alice", v4(server), resource="one")
        a2 = Client("alice", v4(server, "tls"), resource="two",
                    direct_tls=True)
        try:
            await connected(a1, a2)
            await roster_set(a1, CAROL, name="Carol", groups=["Friends"])
            item = await next_push(a2, CAROL)
            assert item.get("name") == "Carol"
            assert item.get("subscription") == "none"
            assert [g.text for g in item] == ["Friends"]
            # The resource that made the change gets the push too.
            assert (await next_push(a1, CAROL)).get("name") == "Carol"
            assert (await roster_items(a2))[CAROL] == \
                ("none", None, "Carol", ["Friends"])
            await roster_set(a2, CAROL, remove=True)
            item = await next_push(a1, CAROL)
            assert item.get("subscription") == "remove"
            assert CAROL not in await roster_items(a1)
        finally:
            await stop_all(a1, a2)

    run(main())


def test_second_bind_of_same_full_jid_gets_conflict(server):
    """RFC 6120 §7.7.2.2: the new session wins, the old one gets a
    <conflict/> stream error."""
    async def main():
        old = Client("alice", v4(server), resource="same")
        new = Client("alice", v4(server, "tls"), resource="same",
                     direct_tls=True)
        try:
            await old.start()
            gone = asyncio.ensure_future(
                old.wait_until("disconnected", timeout=15))
            await new.start()
            err = await within(old.stream_errors.get(), 15, "conflict")
            assert err["condition"] == "conflict"
            await within(gone, 16, "old session closed")
            assert str(new.boundjid) == f"{ALICE}/same"
            await new.ping_server()
            # Messages to the full JID now reach the new session.
            b = Client("bob", v4(server), resource="b")
            await b.start()
            b.send_message(mto=f"{ALICE}/same", mbody="who is there")
            assert (await new.next_message())["body"] == "who is there"
            await b.stop()
        finally:
            await stop_all(new, old)

    run(main())


def test_message_to_unknown_user_is_service_unavailable(server):
    """RFC 6121 §8.5.2.2.1: the same answer as for an offline account,
    so presence does not leak."""
    s = RawStream("127.0.0.1", server.port())
    try:
        s.login("alice", "wonderland", resource="r", presence=True)
        s.send(f"<message to='nobody@{DOMAIN}' id='u1' type='chat'>"
               "<body>anyone?</body></message>")
        err = s.wait_for(lambda e: e.get("id") == "u1")
        assert err.tag == q(NS_CLIENT, "message")
        assert err.get("type") == "error"
        assert stanza_error(err) == "service-unavailable"
        s.send(f"<iq to='nobody@{DOMAIN}/x' id='u2' type='get'>"
               "<ping xmlns='urn:xmpp:ping'/></iq>")
        err = s.wait_for(lambda e: e.get("id") == "u2")
        assert stanza_error(err) == "service-unavailable"
    finally:
        s.close()


def test_listed_user_who_never_logged_in_gets_offline_messages(server):
    """carol is in the users file but has never logged in: the backend
    knows her, so a message waits for her instead of bouncing."""
    async def main():
        a = Client("alice", v4(server), resource="a")
        c = None
        try:
            await a.start()
            a.send_message(mto=CAROL, mbody="welcome", mtype="chat")
            await a.roundtrip()
            assert a.messages.empty()	# no error bounced back
            c = Client("carol", v4(server), resource="first")
            await c.start()
            m = await c.next_message()
            assert m["body"] == "welcome"
            assert m.xml.find(q(NS_DELAY, "delay")) is not None
        finally:
            await stop_all(*[x for x in (a, c) if x is not None])

    run(main())


def _raw(server, user, password, resource="r"):
    s = RawStream("127.0.0.1", server.port())
    s.login(user, password, resource=resource, presence=True)
    return s


def _answer(s, iid):
    return s.wait_for(lambda e: e.get("id") == iid)


def test_broken_iqs_are_bad_request(server):
    """RFC 6120 §8.2.3: an iq has one of four types, an id, and a get or
    set exactly one payload; a broken one is answered bad-request."""
    s = _raw(server, "alice", "wonderland")
    try:
        ping = "<ping xmlns='urn:xmpp:ping'/>"
        s.send(f"<iq type='bogus' id='b1'>{ping}</iq>")
        assert stanza_error(_answer(s, "b1")) == "bad-request"
        s.send(f"<iq type='get' id='b2'>{ping}{ping}</iq>")
        assert stanza_error(_answer(s, "b2")) == "bad-request"
        s.send("<iq type='get' id='b3'/>")
        assert stanza_error(_answer(s, "b3")) == "bad-request"
        s.send(f"<iq type='get'>{ping}</iq>")
        err = s.wait_for(lambda e: e.tag == q(NS_CLIENT, "iq"))
        assert err.get("type") == "error" and err.get("id") is None
        assert stanza_error(err) == "bad-request"
        s.ping()
    finally:
        s.close()


def test_message_to_the_server_is_service_unavailable(server):
    """RFC 6120 §10.5.1: the server handles a stanza to its domain or
    answers with an error; it has no message service, so it says so."""
    s = _raw(server, "alice", "wonderland")
    try:
        s.send(f"<message to='{DOMAIN}' id='d1' type='chat'>"
               "<body>hello server</body></message>")
        assert stanza_error(_answer(s, "d1")) == "service-unavailable"
        s.send(f"<message to='{DOMAIN}/x' id='d2'>"
               "<body>hello</body></message>")
        assert stanza_error(_answer(s, "d2")) == "service-unavailable"
        s.ping()
    finally:
        s.close()


def test_message_of_unknown_type_is_normal(server):
    """RFC 6121 §5.2.2: an unknown type is treated as normal."""
    a = _raw(server, "alice", "wonderland")
    b = _raw(server, "bob", "builder")
    try:
        a.send(f"<message to='{BOB}' id='t1' type='bogus'>"
               "<body>odd type</body></message>")
        m = b.wait_for(lambda e: e.tag == q(NS_CLIENT, "message") and
                       e.get("id") == "t1")
        assert m.get("type") == "normal"
        assert m.findtext(q(NS_CLIENT, "body")) == "odd type"
        a.ping()
        assert b"type='error'" not in a.received and \
            b'type="error"' not in a.received
    finally:
        a.close()
        b.close()


def test_client_delay_claiming_the_server_is_replaced(server):
    """XEP-0203: the spool's delay stamp is the server's. A client's
    <delay from='domain'/> is stripped, so it can neither fake the time
    nor suppress the real stamp."""
    a = _raw(server, "alice", "wonderland")
    try:
        a.send(f"<message to='{CAROL}' id='f1' type='chat'>"
               "<body>later</body>"
               f"<delay xmlns='{NS_DELAY}' from='{DOMAIN}' "
               "stamp='2001-01-01T00:00:00Z'/></message>")
        a.ping()
    finally:
        a.close()
    c = _raw(server, "carol", "singer")
    try:
        m = c.wait_for(lambda e: e.tag == q(NS_CLIENT, "message") and
                       e.get("id") == "f1")
        stamps = [d.get("stamp") for d in m.iter(q(NS_DELAY, "delay"))
                  if d.get("from") == DOMAIN]
        assert len(stamps) == 1, ET.tostring(m)
        assert not stamps[0].startswith("2001"), ET.tostring(m)
    finally:
        c.close()


def test_subscribe_to_remote_domain_is_remote_server_not_found(server):
    """No server-to-server: a subscription request to another domain is
    answered like any other stanza for it."""
    s = _raw(server, "alice", "wonderland")
    try:
        s.send("<presence to='someone@elsewhere.example' id='r1' "
               "type='subscribe'/>")
        err = _answer(s, "r1")
        assert err.tag == q(NS_CLIENT, "presence")
        assert stanza_error(err) == "remote-server-not-found"
        s.ping()
    finally:
        s.close()
