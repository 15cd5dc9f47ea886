"""The testbed network: namespaces, bridge, veths and dnsmasq.

    netns tb-lan: bridge tb-br0 192.0.2.1/24 2001:db8:1::1/64, tap tb-tap0
      |- veth -> netns tb-dns  eth0 .53 / ::53, dnsmasq
      |- veth -> netns tb-c4   eth0 192.0.2.104 (no IPv6 at all)
      |- veth -> netns tb-c6   eth0 2001:db8:1::106 (no IPv4 address)
      `- veth -> netns tb-c46  eth0 192.0.2.146 2001:db8:1::146

Everything lives in namespaces made here; the host's own interfaces are
never touched. The only files outside build/ are /etc/netns/tb-*/
resolv.conf (what `ip netns exec` shows those namespaces as
/etc/resolv.conf), removed by exact name on `tb down`.
"""

import os
import shutil

from tbcommon import (BRIDGE, CLIENTS, DNS4, DNS6, DOMAIN, GW4, GW6, NS_DNS,
                      NS_LAN, NAMESPACES, RUN, TOP, TbError, VM4, VM6, in_ns,
                      kill_pid, log, ns_exists, read_pid, run, wait_until)

DNSMASQ_TEMPLATE = os.path.join(TOP, "testbed", "dnsmasq.conf.in")
DNSMASQ_PID = os.path.join(RUN, "dnsmasq.pid")


def sysctl(ns, *settings):
    run(in_ns(ns, "sysctl", "-qw", *settings))


def new_ns(ns, ipv6=True):
    run(["ip", "netns", "add", ns])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])
    # No duplicate address detection: addresses are usable at once, no
    # waits (the addresses are fixed and unique by construction).
    sysctl(ns, "net.ipv6.conf.all.accept_dad=0",
           "net.ipv6.conf.default.accept_dad=0",
           "net.ipv6.conf.default.accept_ra=0")
    if not ipv6:
        sysctl(ns, "net.ipv6.conf.default.disable_ipv6=1")


def add_port(ns, port, v4, v6):
    """A veth from the bridge in tb-lan to eth0 in ns, with addresses."""
    run(["ip", "-n", NS_LAN, "link", "add", port, "type", "veth",
         "peer", "name", "eth0", "netns", ns])
    run(["ip", "-n", NS_LAN, "link", "set", port, "master", BRIDGE, "up"])
    if v4:
        run(["ip", "-n", ns, "addr", "add", f"{v4}/24", "dev", "eth0"])
    if v6:
        run(["ip", "-n", ns, "addr", "add", f"{v6}/64", "dev", "eth0",
             "nodad"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])


def write_resolv(ns, servers):
    d = os.path.join("/etc/netns", ns)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "resolv.conf"), "w") as f:
        f.write("".join(f"nameserver {s}\n" for s in servers))
        f.write("options timeout:1 attempts:2\n")


def dnsmasq_conf():
    with open(DNSMASQ_TEMPLATE) as f:
        text = f.read()
    for key, val in (("@DOMAIN@", DOMAIN), ("@RUN@", RUN), ("@VM4@", VM4),
                     ("@VM6@", VM6)):
        text = text.replace(key, val)
    path = os.path.join(RUN, "dnsmasq.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def start_dnsmasq():
    conf = dnsmasq_conf()
    run(in_ns(NS_DNS, "dnsmasq", f"--conf-file={conf}"))
    wait_until("dnsmasq pid file", lambda: read_pid(DNSMASQ_PID), 10, 0.1)


def up():
    if any(ns_exists(ns) for ns in NAMESPACES):
        raise TbError("a testbed network exists already (tb down)")
    os.makedirs(RUN, exist_ok=True)
    try:
        new_ns(NS_LAN)
        run(["ip", "-n", NS_LAN, "link", "add", BRIDGE, "type", "bridge",
             "stp_state", "0", "forward_delay", "0"])
        run(["ip", "-n", NS_LAN, "addr", "add", f"{GW4}/24", "dev", BRIDGE])
        run(["ip", "-n", NS_LAN, "addr", "add", f"{GW6}/64", "dev", BRIDGE,
             "nodad"])
        run(["ip", "-n", NS_LAN, "link", "set", BRIDGE, "up"])
        new_ns(NS_DNS)
        add_port(NS_DNS, "tb-dns", DNS4, DNS6)
        for short, (ns, v4, v6) in CLIENTS.items():
            new_ns(ns, ipv6=v6 is not None)
            add_port(ns, f"tb-{short}", v4, v6)
            # Resolver order follows the family the namespace has.
            write_resolv(ns, [DNS6, DNS4] if v4 is None else [DNS4, DNS6])
        start_dnsmasq()
    except TbError:
        down()
        raise
    log(f"network up: {', '.join(NAMESPACES)}; dnsmasq serves {DOMAIN}")


def down():
    """Remove exactly what up() made; quiet about what is already gone."""
    kill_pid(DNSMASQ_PID)
    for ns in reversed(NAMESPACES):
        if ns_exists(ns):
            run(["ip", "netns", "del", ns], check=False)
        d = os.path.join("/etc/netns", ns)
        if os.path.isdir(d):
            shutil.rmtree(d, ignore_errors=True)
    try:
        os.rmdir("/etc/netns")      # only if empty: others' stay
    except OSError:
        pass


def status():
    have = [ns for ns in NAMESPACES if ns_exists(ns)]
    dns = read_pid(DNSMASQ_PID)
    print(f"namespaces: {' '.join(have) or 'none'}")
    print(f"dnsmasq: {'pid %d' % dns if dns else 'not running'}")
    return len(have) == len(NAMESPACES) and dns is not None
