"""testbed/lib/srv.py: the SRV lookup a testbed client does, without a
network: answers are built by hand, the resolver is a local UDP socket."""

import os
import socket
import struct
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import srv  # noqa: E402


def answer(qid, name, records, rcode=0, compress=True):
    """A DNS answer to an SRV query for name with (prio, weight, port,
    target) records; the owner names point back at the question."""
    q = srv.encode_name(name) + struct.pack("!HH", srv.T_SRV, 1)
    msg = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(records),
                      0, 0) + q
    for prio, weight, port, target in records:
        owner = b"\xc0\x0c" if compress else srv.encode_name(name)
        rdata = struct.pack("!HHH", prio, weight, port) + \
            srv.encode_name(target)
        msg += owner + struct.pack("!HHIH", srv.T_SRV, 1, 60, len(rdata)) \
            + rdata
    return msg


def test_parse_answer_with_compressed_owner():
    name = "_xmpp-client._tcp.xmpp.test"
    recs = [(0, 5, 5222, "xmpp.xmpp.test"), (10, 0, 5333, "b.xmpp.test")]
    assert srv.parse_srv_answer(answer(7, name, recs), 7) == recs
    assert srv.parse_srv_answer(answer(7, name, recs, compress=False),
                                7) == recs


def test_nxdomain_is_empty_and_other_errors_raise():
    name = "_xmpp-client._tcp.nowhere.test"
    assert srv.parse_srv_answer(answer(1, name, [], rcode=3), 1) == []
    with pytest.raises(ValueError):
        srv.parse_srv_answer(answer(1, name, [], rcode=2), 1)


def test_wrong_id_truncated_and_looping_answers_raise():
    msg = answer(9, "_x._tcp.a.test", [(0, 0, 1, "t.a.test")])
    with pytest.raises(ValueError):
        srv.parse_srv_answer(msg, 8)
    for cut in (5, 20, len(msg) - 3):
        with pytest.raises(ValueError):
            srv.parse_srv_answer(msg[:cut], 9)
    loop = struct.pack("!HHHHHH", 1, 0x8180, 1, 0, 0, 0) + b"\xc0\x0c"
    with pytest.raises(ValueError):
        srv.parse_srv_answer(loop, 1)


def test_order_is_by_priority_then_weight():
    recs = [(20, 0, 3, "c"), (10, 0, 2, "b"), (10, 100, 1, "a"),
            (5, 1, 4, "d")]
    for _ in range(20):
        out = srv.order(recs)
        assert out[0][3] == "d"
        assert {r[3] for r in out[1:3]} == {"a", "b"}
        assert out[3][3] == "c"


def test_resolve_asks_the_nameserver_and_keeps_srv_order():
    """A fake nameserver on 127.0.0.1 answers with two targets that are
    IP literals, so getaddrinfo needs no DNS of its own."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    seen = []

    def serve():
        data, peer = s.recvfrom(512)
        qid = struct.unpack("!H", data[:2])[0]
        name, _ = srv.read_name(data, 12)
        seen.append(name)
        s.sendto(answer(qid, name, [(1, 0, 5222, "127.0.0.2"),
                                    (0, 0, 5223, "127.0.0.1")]), peer)

    t = threading.Thread(target=serve)
    t.start()
    port = s.getsockname()[1]
    real = srv.lookup_srv

    def lookup(name, servers, timeout=2.0):
        # The fake listens on a high port: point the query there.
        qid = 4242
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.settimeout(timeout)
            c.connect(("127.0.0.1", port))
            c.send(srv.query_packet(qid, name, srv.T_SRV))
            return srv.parse_srv_answer(c.recv(4096), qid)

    srv.lookup_srv = lookup
    try:
        addrs = srv.resolve("xmpp.test", servers=["127.0.0.1"])
    finally:
        srv.lookup_srv = real
        t.join()
        s.close()
    assert seen == ["_xmpp-client._tcp.xmpp.test"]
    # Priority order: 5223 (priority 0) before 5222 (priority 1).
    assert addrs == ["127.0.0.1:5223", "127.0.0.2:5222"]


def test_bad_label_is_refused():
    with pytest.raises(ValueError):
        srv.encode_name("a" * 64 + ".test")
    with pytest.raises(ValueError):
        srv.encode_name("a..test")
