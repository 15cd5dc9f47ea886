"""Interop: a second, independent client stack (Debian's python3-aioxmpp,
which uses PyOpenSSL and aiosasl instead of slixmpp's ssl and SASL code)
logs in and exchanges messages with a slixmpp client."""

import asyncio
import datetime
import logging

import aioxmpp
import aioxmpp.connector
import aioxmpp.dispatcher
import pytest

from daemon import DOMAIN, USERS
from slixclient import Client, run, stop_all, within

logging.getLogger("aioxmpp").setLevel(logging.ERROR)


def aioxmpp_client(user, host, port, direct_tls):
    connector = aioxmpp.connector.XMPPOverTLSConnector() if direct_tls \
        else aioxmpp.connector.STARTTLSConnector()
    password = USERS[user][0]
    return aioxmpp.Client(
        aioxmpp.JID.fromstr(f"{user}@{DOMAIN}/aioxmpp"),
        aioxmpp.make_security_layer(password, no_verify=True),
        override_peer=[(host, port, connector)],
        max_initial_attempts=1,
        negotiation_timeout=datetime.timedelta(seconds=15))


@pytest.mark.parametrize("direct_tls", [False, True],
                         ids=["starttls", "direct-tls"])
def test_aioxmpp_and_slixmpp_chat(server, direct_tls):
    async def main():
        port = server.port("127.0.0.1", "tls" if direct_tls else "plain")
        carol = aioxmpp_client("carol", "127.0.0.1", port, direct_tls)
        inbox = asyncio.Queue()

        def on_message(msg):
            if msg.body:
                inbox.put_nowait(msg)

        carol.summon(aioxmpp.dispatcher.SimpleMessageDispatcher) \
            .register_callback(aioxmpp.MessageType.CHAT, None, on_message)
        bob = Client("bob", ("127.0.0.1", server.port()), resource="slix")
        try:
            async with carol.connected():
                assert str(carol.local_jid) == f"carol@{DOMAIN}/aioxmpp"
                await within(carol.send(aioxmpp.Presence(
                    type_=aioxmpp.PresenceType.AVAILABLE)), 15, "presence")
                await bob.start()
                msg = aioxmpp.Message(
                    to=aioxmpp.JID.fromstr(f"bob@{DOMAIN}/slix"),
                    type_=aioxmpp.MessageType.CHAT)
                msg.body[None] = "hello from aioxmpp"
                await within(carol.send(msg), 15, "aioxmpp send")
                m = await bob.next_message()
                assert m["body"] == "hello from aioxmpp"
                assert str(m["from"]) == f"carol@{DOMAIN}/aioxmpp"
                bob.send_message(mto=m["from"], mbody="hello from slixmpp",
                                 mtype="chat")
                got = await within(inbox.get(), 15, "aioxmpp receive")
                assert got.body.any() == "hello from slixmpp"
                assert str(got.from_) == f"bob@{DOMAIN}/slix"
        finally:
            await stop_all(bob)

    run(main())
