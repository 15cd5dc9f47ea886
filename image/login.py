#!/usr/bin/python3
"""Log in once to xmppd with slixmpp (STARTTLS, SASL PLAIN, bind).

usage: login.py JID PASSWORD HOST PORT [TIMEOUT]
Exit 0 after session start and a round trip (XEP-0199 ping to the
server), 1 on failure or time-out. The image's certificate is a fresh
self-signed one, so it is not verified: this checks the service, not PKI.
"""
import asyncio
import logging
import ssl
import sys

import slixmpp


class Login(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.ok = False
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0199")
        self.add_event_handler("session_start", self.started)
        self.add_event_handler("failed_auth", self.failed)

    async def started(self, _event):
        await self.plugin["xep_0199"].ping(self.boundjid.domain, timeout=20)
        print("login.py: logged in as", self.boundjid.full)
        self.ok = True
        self.disconnect()

    def failed(self, _event):
        print("login.py: authentication failed", file=sys.stderr)
        self.disconnect()


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    jid, password, host, port = sys.argv[1:5]
    limit = float(sys.argv[5]) if len(sys.argv) > 5 else 60
    logging.basicConfig(level=logging.ERROR)
    # slixmpp leaves its filter task pending at disconnect: not an error.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    client = Login(jid, password)
    client.connect((host, int(port)))
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(client.disconnected, limit))
    except asyncio.TimeoutError:
        print("login.py: no session within %g s" % limit, file=sys.stderr)
    return 0 if client.ok else 1


if __name__ == "__main__":
    sys.exit(main())
