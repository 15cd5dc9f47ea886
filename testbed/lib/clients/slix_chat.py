#!/usr/bin/python3
"""A slixmpp client for reproducing interop problems against the VM.

usage: slix_chat.py JID PASSWORD [--to JID --send TEXT]... [--listen S]
Connects the way slixmpp does by itself (SRV, then A/AAAA of the domain,
through the namespace's resolver), logs every stanza it receives and
sends the given messages after session start; stays --listen seconds
(default 5), then disconnects. Exit 0 if the session started. Edit a copy
to reproduce a bug: the handlers below are the place to add stanzas.
The VM's certificate is self-signed, so it is not verified.
"""

import argparse
import asyncio
import logging
import ssl
import sys

import slixmpp


class Chat(slixmpp.ClientXMPP):
    def __init__(self, jid, password, sends, listen):
        super().__init__(jid, password)
        self.sends, self.listen, self.ok = sends, listen, False
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        for plugin in ("xep_0030", "xep_0199", "xep_0198", "xep_0280"):
            self.register_plugin(plugin)
        self.add_event_handler("session_start", self.started)
        self.add_event_handler("message", self.message)
        self.add_event_handler("failed_auth", self.failed)

    async def started(self, _event):
        self.ok = True
        print(f"slix_chat: session {self.boundjid.full}", flush=True)
        self.send_presence()
        await self.get_roster()
        for to, text in self.sends:
            self.send_message(mto=to, mbody=text, mtype="chat")
            print(f"slix_chat: sent to {to}: {text}", flush=True)
        await asyncio.sleep(self.listen)
        self.disconnect()

    def message(self, msg):
        print(f"slix_chat: from {msg['from']}: {msg['body']!r}\n"
              f"  {msg}", flush=True)

    def failed(self, _event):
        print("slix_chat: authentication failed", file=sys.stderr)
        self.disconnect()


def main():
    p = argparse.ArgumentParser(description="slixmpp client for the testbed")
    p.add_argument("jid")
    p.add_argument("password")
    p.add_argument("--to", action="append", default=[])
    p.add_argument("--send", action="append", default=[])
    p.add_argument("--listen", type=float, default=5.0)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log the XML stream (slixmpp DEBUG)")
    a = p.parse_args()
    if len(a.to) != len(a.send):
        p.error("give --to and --send in pairs")
    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.ERROR)
    c = Chat(a.jid, a.password, list(zip(a.to, a.send)), a.listen)
    c.connect()
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(c.disconnected, a.timeout))
    except asyncio.TimeoutError:
        print(f"slix_chat: still connected after {a.timeout} s",
              file=sys.stderr)
    return 0 if c.ok else 1


if __name__ == "__main__":
    sys.exit(main())
