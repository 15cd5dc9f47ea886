"""Server services through slixmpp's own plugins: service discovery
(XEP-0030), ping (XEP-0199) and software version (XEP-0092)."""

from daemon import DOMAIN
from rawxmpp import RawStream, stanza_error
from slixclient import Client, run, stop_all, within


def addr(server):
    return ("127.0.0.1", server.port())


def test_disco_info_lists_the_modules_features(server):
    async def main():
        c = Client("alice", addr(server), resource="d")
        try:
            await c.start()
            info = await within(c["xep_0030"].get_info(jid=DOMAIN,
                                                       timeout=15), 16,
                                "disco#info")
            q = info["disco_info"]
            features = set(q["features"])
            for var in ("http://jabber.org/protocol/disco#info",
                        "urn:xmpp:ping", "jabber:iq:version",
                        "jabber:iq:roster"):
                assert var in features, sorted(features)
            assert ("server", "im") in {(i[0], i[1])
                                        for i in q["identities"]}
            # Each feature exactly once: the list comes from one table.
            raw = [f for f in q.xml.iter(
                "{http://jabber.org/protocol/disco#info}feature")]
            assert len(raw) == len(features)
            items = await within(c["xep_0030"].get_items(jid=DOMAIN,
                                                         timeout=15), 16,
                                 "disco#items")
            assert items["type"] == "result"
        finally:
            await stop_all(c)

    run(main())


def test_ping_server_and_own_account(server):
    async def main():
        c = Client("bob", addr(server), resource="p")
        try:
            await c.start()
            rtt = await c.ping_server()
            assert rtt >= 0
            await within(c["xep_0199"].ping(jid=f"bob@{DOMAIN}",
                                            timeout=15), 16, "account ping")
        finally:
            await stop_all(c)

    run(main())


def test_software_version(server):
    async def main():
        c = Client("carol", addr(server), resource="v")
        try:
            await c.start()
            iq = await within(c["xep_0092"].get_version(DOMAIN, timeout=15),
                              16, "version")
            v = iq["software_version"]
            assert v["name"] == "xmppd"
            assert v["version"]
            assert not v["os"], "the OS is not disclosed"
        finally:
            await stop_all(c)

    run(main())


def test_unknown_iq_is_service_unavailable(server):
    """RFC 6120 §8.4: an iq nobody handles gets an error, not silence."""
    s = RawStream("127.0.0.1", server.port())
    try:
        s.login("alice", "wonderland", resource="u")
        r = s.iq("<query xmlns='urn:example:nothing'/>")
        assert r.get("type") == "error"
        assert stanza_error(r) == "service-unavailable"
        r = s.iq("<query xmlns='urn:example:nothing'/>", type_="set")
        assert stanza_error(r) == "service-unavailable"
    finally:
        s.close()
