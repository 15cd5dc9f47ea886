#!/usr/bin/python3
"""Find an XMPP server the way a client does (RFC 6120 §3.2.1).

Asks the nameservers of /etc/resolv.conf (in a testbed namespace, the
dnsmasq of tb-dns) for _xmpp-client._tcp.DOMAIN (or _xmpps-client with
--direct-tls), orders the targets by priority and weight, and resolves
each with getaddrinfo(AI_ADDRCONFIG), which drops the families this
namespace has no address of. Prints one HOST:PORT per line ([v6]:port),
the order a client tries them in. Standard library only.
"""

import argparse
import random
import socket
import struct
import sys

T_SRV = 33


def nameservers(path="/etc/resolv.conf"):
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                out.append(parts[1])
    return out


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad label in {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def query_packet(qid, name, qtype):
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + \
        encode_name(name) + struct.pack("!HH", qtype, 1)


def read_name(msg, off, depth=0):
    """A possibly compressed name at off; (name, offset after it)."""
    labels, end = [], None
    while True:
        if off >= len(msg) or depth > 20:
            raise ValueError("truncated or looping name")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(msg):
                raise ValueError("truncated pointer")
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            depth += 1
            continue
        off += 1
        if n == 0:
            return ".".join(labels), (end if end is not None else off)
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n


def parse_srv_answer(msg, qid):
    """[(priority, weight, port, target)] from a DNS answer."""
    if len(msg) < 12:
        raise ValueError("short answer")
    rid, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    if rid != qid:
        raise ValueError("answer to another query")
    rcode = flags & 0xF
    if rcode == 3:
        return []
    if rcode != 0:
        raise ValueError(f"rcode {rcode}")
    off = 12
    for _ in range(qd):
        _, off = read_name(msg, off)
        off += 4
    out = []
    for _ in range(an):
        _, off = read_name(msg, off)
        if off + 10 > len(msg):
            raise ValueError("truncated record")
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        if rtype == T_SRV and rdlen >= 7:
            prio, weight, port = struct.unpack("!HHH", msg[off:off + 6])
            target, _ = read_name(msg, off + 6)
            out.append((prio, weight, port, target))
        off += rdlen
    return out


def lookup_srv(name, servers, timeout=2.0):
    last = None
    for ns in servers:
        qid = random.randrange(1 << 16)
        fam = socket.AF_INET6 if ":" in ns else socket.AF_INET
        try:
            with socket.socket(fam, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.connect((ns, 53))
                s.send(query_packet(qid, name, T_SRV))
                return parse_srv_answer(s.recv(4096), qid)
        except (OSError, ValueError) as e:
            last = f"{ns}: {e}"
    raise OSError(f"no nameserver answered for {name}: {last}")


def order(records):
    """RFC 2782: ascending priority; weighted random within one."""
    out = []
    for prio in sorted({r[0] for r in records}):
        group = [r for r in records if r[0] == prio]
        while group:
            total = sum(r[1] for r in group)
            pick = random.uniform(0, total) if total else 0
            for r in group:
                pick -= r[1]
                if pick <= 0:
                    break
            group.remove(r)
            out.append(r)
    return out


def resolve(domain, direct_tls=False, servers=None):
    service = "_xmpps-client" if direct_tls else "_xmpp-client"
    recs = lookup_srv(f"{service}._tcp.{domain}",
                      servers or nameservers())
    if len(recs) == 1 and recs[0][3] in ("", "."):
        return []                    # "service decidedly not available"
    addrs = []
    for _, _, port, target in order(recs):
        try:
            infos = socket.getaddrinfo(target, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_ADDRCONFIG)
        except socket.gaierror:
            continue
        for fam, _, _, _, sa in infos:
            hp = f"[{sa[0]}]:{port}" if fam == socket.AF_INET6 else \
                f"{sa[0]}:{port}"
            if hp not in addrs:
                addrs.append(hp)
    return addrs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("domain")
    p.add_argument("--direct-tls", action="store_true",
                   help="look up _xmpps-client (XEP-0368)")
    a = p.parse_args(argv)
    try:
        addrs = resolve(a.domain, a.direct_tls)
    except OSError as e:
        print(f"srv: {e}", file=sys.stderr)
        return 1
    if not addrs:
        print(f"srv: no usable address for {a.domain}", file=sys.stderr)
        return 1
    print("\n".join(addrs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
