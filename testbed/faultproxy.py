#!/usr/bin/python3
"""faultproxy: a TCP proxy between XMPP clients and xmppd that breaks links
on command, for loopback tests of stream management.

Every accepted client connection is forwarded to the upstream address.
Faults apply to all current connections, or to one by its number:

  forward            pass bytes both ways (the default)
  reset              abort with a TCP RST on both sides (SO_LINGER 0)
  blackhole          stop forwarding, keep both sockets open: each side
                     sees a half-open connection and must time out
  delay MS           hold every chunk MS milliseconds before passing it
  close              close both sides cleanly (FIN)

Use it from Python (FaultProxy, in-process with asyncio) or as a program:

  faultproxy.py --listen 127.0.0.1:0 --upstream 127.0.0.1:5222 \\
      --control /tmp/fp.sock --port-file /tmp/fp.port

and send commands as lines to the unix control socket, e.g.
`echo 'reset' | socat - UNIX:/tmp/fp.sock` or `echo 'blackhole 3' | ...`;
the reply is "ok ..." or "error ...". `list` shows the connections.
"""

import argparse
import asyncio
import os
import socket
import struct
import sys

TAIL = 4096
CONNECT_TIMEOUT = 10.0


class Link:
    """One proxied client connection: two sockets and two pumps."""

    def __init__(self, proxy, num, creader, cwriter, ureader, uwriter):
        self.proxy = proxy
        self.num = num
        self.sides = ((creader, uwriter), (ureader, cwriter))
        self.writers = (cwriter, uwriter)
        self.mode = "forward"
        self.delay_ms = 0
        self.resumed = asyncio.Event()
        self.resumed.set()
        self.tasks = [asyncio.ensure_future(self._pump(r, w))
                      for r, w in self.sides]
        self.bytes = [0, 0]
        # Per direction (0: client->server, 1: server->client): whether
        # that side sent EOF, and its last TAIL bytes, swallowed or not,
        # so a test can see e.g. the <conflict/> a server sent into a
        # blackholed link.
        self.eof = [False, False]
        self.tail = [b"", b""]

    async def _pump(self, reader, writer):
        idx = 0 if writer is self.writers[1] else 1
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    self.eof[idx] = True
                    break
                self.tail[idx] = (self.tail[idx] + data)[-TAIL:]
                # A blackholed link swallows everything silently: the
                # sender's kernel acks it, the receiver never sees it.
                if self.mode == "blackhole":
                    continue
                if self.delay_ms:
                    await asyncio.sleep(self.delay_ms / 1000)
                if self.mode == "blackhole":
                    continue
                writer.write(data)
                self.bytes[idx] += len(data)
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            # A blackholed peer must not learn that the other side left.
            if self.mode != "blackhole":
                self.close()

    def reset(self):
        """Abort both sockets with RST."""
        for w in self.writers:
            sock = w.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                except OSError:
                    pass
            w.transport.abort()
        self._forget()

    def close(self):
        for w in self.writers:
            if not w.is_closing():
                w.close()
        self._forget()

    def _forget(self):
        for t in self.tasks:
            if t is not asyncio.current_task():
                t.cancel()
        self.proxy.links.pop(self.num, None)


class FaultProxy:
    """An asyncio TCP proxy with fault commands (see the module doc)."""

    def __init__(self, listen_host, listen_port, up_host, up_port):
        self.listen = (listen_host, listen_port)
        self.upstream = (up_host, up_port)
        self.links = {}
        self.next_num = 1
        self.server = None
        self.default_delay = 0
        self.accepted = 0

    async def start(self):
        self.server = await asyncio.start_server(
            self._accept, self.listen[0], self.listen[1])
        # Kept: a stopped server has no sockets to ask, and reports
        # still name the port afterwards.
        self._port = self.server.sockets[0].getsockname()[1]
        return self._port

    @property
    def port(self):
        return self._port

    async def _accept(self, creader, cwriter):
        try:
            ureader, uwriter = await asyncio.wait_for(
                asyncio.open_connection(*self.upstream), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            cwriter.transport.abort()
            return
        num = self.next_num
        self.next_num += 1
        self.accepted += 1
        link = Link(self, num, creader, cwriter, ureader, uwriter)
        link.delay_ms = self.default_delay
        self.links[num] = link

    def _targets(self, num):
        if num is None:
            return list(self.links.values())
        if num not in self.links:
            raise KeyError(f"no connection {num}")
        return [self.links[num]]

    def command(self, line):
        """Apply one command line; returns the reply text."""
        words = line.split()
        if not words:
            return "error empty command"
        cmd, args = words[0], words[1:]
        try:
            if cmd == "list":
                return "ok " + " ".join(
                    f"{n}:{l.mode}" for n, l in sorted(self.links.items()))
            if cmd == "delay":
                ms = int(args[0])
                num = int(args[1]) if len(args) > 1 else None
                if num is None:
                    self.default_delay = ms
                for l in self._targets(num):
                    l.delay_ms = ms
                return "ok"
            num = int(args[0]) if args else None
            targets = self._targets(num)
            if cmd in ("forward", "blackhole"):
                # New connections always start forwarding, so a client
                # can reconnect and resume past a blackholed link.
                for l in targets:
                    l.mode = cmd
                return f"ok {len(targets)}"
            if cmd == "reset":
                for l in targets:
                    l.reset()
                return f"ok {len(targets)}"
            if cmd == "close":
                for l in targets:
                    l.close()
                return f"ok {len(targets)}"
        except KeyError as e:
            return f"error {e.args[0]}"
        except (ValueError, IndexError) as e:
            return f"error {cmd}: {e}"
        return f"error unknown command {cmd!r}"

    async def stop(self):
        for l in list(self.links.values()):
            l.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def _control(proxy, path):
    async def serve(reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                reply = proxy.command(line.decode("utf-8", "replace"))
                writer.write((reply + "\n").encode())
                await writer.drain()
        except (ConnectionError, OSError, ValueError):
            pass        # a control client that vanished or sent junk
        writer.close()
    return await asyncio.start_unix_server(serve, path)


def _hostport(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


async def _main(args):
    lh, lp = _hostport(args.listen)
    uh, up = _hostport(args.upstream)
    proxy = FaultProxy(lh, lp, uh, up)
    port = await proxy.start()
    ctl = await _control(proxy, args.control) if args.control else None
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(f"faultproxy listening on {lh}:{port} -> {uh}:{up}", flush=True)
    try:
        # Bounded: a forgotten proxy stops by itself.
        await asyncio.sleep(args.lifetime)
    finally:
        if ctl is not None:
            ctl.close()
        await proxy.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", required=True, help="ADDR:PORT (port 0: any)")
    p.add_argument("--upstream", required=True, help="ADDR:PORT of xmppd")
    p.add_argument("--control", help="unix socket for commands")
    p.add_argument("--port-file", help="write the bound port here")
    p.add_argument("--lifetime", type=float, default=3600,
                   help="exit after this many seconds (default 3600)")
    args = p.parse_args()
    try:
        asyncio.run(_main(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
