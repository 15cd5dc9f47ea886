#!/usr/bin/python3
"""login_rate.py: full logins per second through each auth backend, the
figures docs/auth.md quotes (`make bench-radius`).

Two daemons of the integration tests' daemon.py serve the same accounts,
one from its users file (`auth file`), one through a real FreeRADIUS on
loopback (`auth radius`, server/tests/integration/freeradius.py). One
client logs in sequentially (TCP, STARTTLS, SASL PLAIN, bind) LOGINS
times to each, and this is repeated RUNS times, alternating the two, so
a machine that slows down during the run weighs on both alike. It prints
the figures and asserts nothing about them: a measurement, not a test.
Every login must still succeed, or the figure would be of failures.

Environment: XMPPD (default build/xmppd, the -O2 build), BENCH_LOGINS
(200), BENCH_RUNS (3). Needs Debian's freeradius package.
"""
import os
import pathlib
import statistics
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "server", "tests", "integration"))

from daemon import Daemon
from freeradius import (FREERADIUS, FreeRadius, secret_file,
                        use_radius)
from rawxmpp import RawStream


def login_rate(port, n):
    """Sequential full logins per second."""
    started = time.monotonic()
    for i in range(n):
        s = RawStream("127.0.0.1", port)
        try:
            s.login("alice", "wonderland", resource=f"r{i}")
        finally:
            s.close()
    return n / (time.monotonic() - started)


def spread(rates):
    """"median (min-max) logins/s, ms each" for a list of rates."""
    return (f"{statistics.median(rates):.0f} ({min(rates):.0f}-"
            f"{max(rates):.0f}) logins/s, "
            f"{1000 / statistics.median(rates):.1f} ms each")


def main():
    binary = os.path.abspath(os.environ.get(
        "XMPPD", os.path.join(TOP, "build", "xmppd")))
    n = int(os.environ.get("BENCH_LOGINS", "200"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    if not os.access(binary, os.X_OK):
        sys.exit(f"login_rate: no xmppd at {binary} (make all)")
    if not os.access(FREERADIUS, os.X_OK):
        sys.exit("login_rate: freeradius is not installed")
    with tempfile.TemporaryDirectory(prefix="login-rate.") as tmp:
        tmp = pathlib.Path(tmp)
        certdir = tmp / "cert"
        started = []
        try:
            radius = FreeRadius(tmp / "radius")
            started.append(radius)
            radius.start()
            daemons = {}
            certdir.mkdir()
            for name in ("file", "radius"):
                workdir = tmp / f"xmppd-{name}"
                workdir.mkdir()
                d = Daemon(binary, workdir, certdir, ipv6=False)
                if name == "radius":
                    use_radius(d, [("127.0.0.1", radius.port)],
                               secret_file(tmp))
                started.append(d)
                daemons[name] = d.start()
            rates = {name: [] for name in daemons}
            for run in range(runs):
                for name, d in daemons.items():
                    rate = login_rate(d.port(), n)
                    rates[name].append(rate)
                    print(f"login_rate: run {run + 1}/{runs}, auth {name}: "
                          f"{n} sequential logins, {rate:.0f} logins/s",
                          flush=True)
        finally:
            for p in reversed(started):
                p.stop()
    print(f"login_rate: {binary}, {n} sequential logins x {runs} runs "
          "(median, min-max):")
    print(f"  users file (auth file):      {spread(rates['file'])}")
    print(f"  FreeRADIUS (auth radius):    {spread(rates['radius'])}")


if __name__ == "__main__":
    main()
