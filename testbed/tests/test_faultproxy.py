"""faultproxy against an echo server on loopback: forward, reset,
blackhole (half-open, and what the server said into it), close, delay,
per-connection targets, the control socket of the CLI. Bounded waits,
no timed assertions."""

import asyncio
import os
import socket
import subprocess
import sys

import pytest

from faultproxy import FaultProxy

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY = os.path.join(HERE, "..", "faultproxy.py")


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


class Echo:
    """Upstream: echoes; kick() says 'conflict' to everyone and closes,
    as xmppd does to a half-open session taken over by a resume."""

    def __init__(self):
        self.closed = 0
        self.writers = []

    def kick(self):
        for w in self.writers:
            w.write(b"conflict")
            w.close()

    async def start(self, host="127.0.0.1"):
        self.srv = await asyncio.start_server(self.serve, host, 0)
        return self.srv.sockets[0].getsockname()[1]

    async def serve(self, r, w):
        self.writers.append(w)
        try:
            while True:
                data = await r.read(4096)
                if not data:
                    break
                w.write(data)
                await w.drain()
        except ConnectionError:
            pass
        self.closed += 1
        w.close()

    async def stop(self):
        self.srv.close()
        await self.srv.wait_closed()


async def make_proxy(host="127.0.0.1"):
    echo = Echo()
    up = await echo.start(host)
    fp = FaultProxy(host, 0, host, up)
    port = await fp.start()
    return echo, fp, port


async def roundtrip(r, w, data=b"ping"):
    w.write(data)
    await w.drain()
    return await asyncio.wait_for(r.readexactly(len(data)), 5)


async def until(pred):
    async def poll():
        while not pred():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), 5)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_forward_both_families(host):
    if host == "::1" and not have_ipv6():
        pytest.skip("no IPv6 loopback")

    async def main():
        echo, fp, port = await make_proxy(host)
        r, w = await asyncio.open_connection(host, port)
        assert await roundtrip(r, w, b"x" * 100000) == b"x" * 100000
        assert fp.command("list") == "ok 1:forward"
        assert fp.links[1].bytes == [100000, 100000]
        w.close()
        await fp.stop()
        await echo.stop()
    run(main())


def test_reset_gives_both_sides_an_abort():
    async def main():
        echo, fp, port = await make_proxy()
        r, w = await asyncio.open_connection("127.0.0.1", port)
        await roundtrip(r, w)
        assert fp.command("reset") == "ok 1"
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(r.readexactly(1), 5)
        await until(lambda: echo.closed == 1)
        assert fp.links == {}
        await fp.stop()
        await echo.stop()
    run(main())


def test_blackhole_swallows_keeps_sockets_and_records_what_it_ate():
    async def main():
        echo, fp, port = await make_proxy()
        r, w = await asyncio.open_connection("127.0.0.1", port)
        await roundtrip(r, w)
        assert fp.command("blackhole 1") == "ok 1"
        link = fp.links[1]
        w.write(b"lost")
        await w.drain()
        await until(lambda: link.tail[0].endswith(b"lost"))
        # Nothing reached the echo, so nothing came back.
        assert link.bytes == [4, 4] and link.tail[1] == b"ping"
        # The server ends its side; the client must not learn it.
        echo.kick()
        await until(lambda: link.eof[1])
        assert link.tail[1].endswith(b"conflict")
        assert not r.at_eof() and len(r._buffer) == 0
        assert fp.links[1] is link
        # A new connection through the same proxy forwards again.
        r2, w2 = await asyncio.open_connection("127.0.0.1", port)
        assert await roundtrip(r2, w2) == b"ping"
        assert fp.command("list") == "ok 1:blackhole 2:forward"
        w.close()
        w2.close()
        await fp.stop()
        await echo.stop()
    run(main())


def test_close_and_per_connection_targets():
    async def main():
        echo, fp, port = await make_proxy()
        c1 = await asyncio.open_connection("127.0.0.1", port)
        c2 = await asyncio.open_connection("127.0.0.1", port)
        await roundtrip(*c1)
        await roundtrip(*c2)
        assert fp.command("close 2") == "ok 1"
        assert await asyncio.wait_for(c2[0].read(), 5) == b""
        assert await roundtrip(*c1) == b"ping"      # untouched
        assert fp.command("reset 9") == "error no connection 9"
        assert fp.command("delay x").startswith("error delay")
        assert fp.command("frobnicate").startswith("error unknown")
        assert fp.command("") == "error empty command"
        c1[1].close()
        await fp.stop()
        await echo.stop()
    run(main())


def test_delay_keeps_data_and_order_and_applies_to_new_links():
    async def main():
        echo, fp, port = await make_proxy()
        assert fp.command("delay 20") == "ok"
        r, w = await asyncio.open_connection("127.0.0.1", port)
        for i in range(5):
            w.write(b"%d" % i)
            await w.drain()
            await asyncio.sleep(0)
        got = b""
        while len(got) < 5:
            got += await asyncio.wait_for(r.read(10), 5)
        assert got == b"01234"
        assert fp.links[1].delay_ms == 20
        w.close()
        await fp.stop()
        await echo.stop()
    run(main())


def test_unreachable_upstream_aborts_the_client():
    async def main():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        fp = FaultProxy("127.0.0.1", 0, "127.0.0.1", dead)
        port = await fp.start()
        r, w = await asyncio.open_connection("127.0.0.1", port)
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(r.readexactly(1), 5)
        assert fp.accepted == 0
        await fp.stop()
    run(main())


def test_cli_control_socket(tmp_path):
    async def main():
        echo = Echo()
        up = await echo.start()
        ctl, pf = str(tmp_path / "c.sock"), str(tmp_path / "port")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, PROXY, "--listen", "127.0.0.1:0", "--upstream",
            f"127.0.0.1:{up}", "--control", ctl, "--port-file", pf,
            "--lifetime", "60", stdout=subprocess.DEVNULL)
        try:
            await until(lambda: os.path.exists(pf) and os.path.exists(ctl))
            port = int(open(pf).read())
            r, w = await asyncio.open_connection("127.0.0.1", port)
            assert await roundtrip(r, w) == b"ping"
            cr, cw = await asyncio.open_unix_connection(ctl)
            for cmd, want in ((b"list\n", b"ok 1:forward\n"),
                              (b"\xff\xfe junk\n", None),
                              (b"reset 1\n", b"ok 1\n")):
                cw.write(cmd)
                line = await asyncio.wait_for(cr.readline(), 5)
                if want is not None:
                    assert line == want
                else:
                    assert line.startswith(b"error")
            with pytest.raises((ConnectionError,
                                asyncio.IncompleteReadError)):
                await asyncio.wait_for(r.readexactly(1), 5)
            cw.close()
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 10)
        await echo.stop()
    run(main())
