"""Names, addresses and small helpers shared by the testbed commands.

Everything the testbed creates is named here, so that `tb down` removes
exactly these names and nothing else. Addresses are documentation ranges
(RFC 5737, RFC 3849) and exist only inside the namespaces made here.
"""

import hashlib
import os
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.path.join(TOP, "build")
RUN = os.environ.get("TB_RUN", os.path.join(BUILD, "testbed", "run"))
REPORTS = os.environ.get("TB_REPORTS", os.path.join(BUILD, "testbed"))
IMAGE_DIR = os.environ.get("TB_IMAGE_DIR",
                           os.path.join(BUILD, "testbed", "image"))
# A name under .test (RFC 6761): it can never be real, and the image is
# built with it (mk/testbed.mk passes DOMAIN to `make image`).
DOMAIN = os.environ.get("TB_DOMAIN", "xmpp.test")
USERS_FILE = os.environ.get("TB_USERS",
                            os.path.join(TOP, "fixtures", "users.txt"))
# The image's users.txt realm and login suffix (ansible/inventories/image).
REALM, LOGIN_SUFFIX = "rtc.debian.org", "@debian.org"
# Extra test accounts the testbed adds to the users file, three per client
# namespace (c4a, c4b, c4c, c6a, ...), so that loss checkers can run in
# several namespaces at once without sharing an account. Test-only: the
# password is the name followed by "-testbed".
TESTBED_USERS = [f"{c}{x}" for c in ("c4", "c6", "c46") for x in "abc"]
# What the image's xmppd.conf says (ansible role default), and what a
# scenario run may switch it to (tbvm.set_mam).
MAM_DEFAULT = "always"
MAM_MODES = ("always", "never")
PYTHON = "/usr/bin/python3"

NS_LAN = "tb-lan"
NS_DNS = "tb-dns"
BRIDGE = "tb-br0"
TAP = "tb-tap0"
GW4, GW6 = "192.0.2.1", "2001:db8:1::1"
VM4, VM6 = "192.0.2.10", "2001:db8:1::10"
DNS4, DNS6 = "192.0.2.53", "2001:db8:1::53"
VM_MAC = "52:54:00:00:02:10"
NIC_ID = "nic0"

# Client namespaces: short name -> (namespace, IPv4, IPv6). None means
# that family is absent: no address, and for IPv4-only no IPv6 at all.
CLIENTS = {
    "c4": ("tb-c4", "192.0.2.104", None),
    "c6": ("tb-c6", None, "2001:db8:1::106"),
    "c46": ("tb-c46", "192.0.2.146", "2001:db8:1::146"),
}
# Every namespace, in the order `tb up` makes them (down reverses it).
NAMESPACES = [NS_LAN, NS_DNS] + [v[0] for v in CLIENTS.values()]
XMPP_PORTS = (5222, 5223)


class TbError(Exception):
    """A step failed; the message says which and why."""


def log(msg):
    print(f"tb: {msg}", file=sys.stderr, flush=True)


def run(cmd, check=True, capture=False, timeout=60, input=None):
    """Run argv; bounded; raise TbError naming the command on failure."""
    try:
        p = subprocess.run(cmd, input=input, timeout=timeout, text=True,
                           stdout=subprocess.PIPE if capture else None,
                           stderr=subprocess.PIPE if capture else None)
    except subprocess.TimeoutExpired:
        raise TbError(f"{' '.join(cmd)}: still running after {timeout} s")
    except OSError as e:
        raise TbError(f"{cmd[0]}: {e.strerror}")
    if check and p.returncode != 0:
        why = (p.stderr or "").strip() if capture else ""
        raise TbError(f"{' '.join(cmd)}: exit {p.returncode} {why}".strip())
    return p


def in_ns(ns, *cmd):
    return ["ip", "netns", "exec", ns, *cmd]


def client_ns(name):
    """Namespace of a client name (c4, c6, c46 or tb-c4 ...)."""
    for short, (ns, _, _) in CLIENTS.items():
        if name in (short, ns):
            return ns
    raise TbError(f"no client namespace {name!r} "
                  f"(one of {', '.join(CLIENTS)})")


def ns_exists(ns):
    return os.path.exists(os.path.join("/run/netns", ns))


def wait_until(what, pred, limit, every=0.5):
    """Poll pred() until true; TbError after limit seconds."""
    t0 = time.monotonic()
    while True:
        if pred():
            return time.monotonic() - t0
        if time.monotonic() - t0 > limit:
            raise TbError(f"{what}: not within {limit} s")
        time.sleep(every)


def read_pid(path):
    try:
        with open(path) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def kill_pid(path, grace=5.0):
    """Stop the process whose pid is in path (ours), TERM then KILL."""
    pid = read_pid(path)
    if pid is not None:
        try:
            os.kill(pid, 15)
            t0 = time.monotonic()
            while time.monotonic() - t0 < grace:
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def testbed_password(user):
    return f"{user}-testbed"


def users_file_bytes():
    """The users file the VM gets: USERS_FILE plus TESTBED_USERS."""
    with open(USERS_FILE, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        data += b"\n"
    data += b"# added by the testbed (testbed/lib/tbcommon.py)\n"
    for u in TESTBED_USERS:
        login = u + LOGIN_SUFFIX
        ha1 = hashlib.md5(f"{login}:{REALM}:{testbed_password(u)}"
                          .encode()).hexdigest()
        data += f"{login}:{ha1}:{REALM}:AUTHORIZED\n".encode()
    return data
