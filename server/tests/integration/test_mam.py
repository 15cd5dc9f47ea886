"""XEP-0313 message archives (with XEP-0359 ids and XEP-0059 paging)
against the real daemon, exact on the XML: both directions archived, the
delivered <stanza-id/> equal to the archive id (live and from offline),
every filter (with bare/full, start/end, after-id/before-id, ids), RSM
paging both ways with <fin complete='true'/> exactly on the last page,
errors, one user never reading another's archive, preferences, retention
at start-up, origin-id deduplication and forged stanza-ids.
"""

import itertools
import os
import sqlite3
import xml.etree.ElementTree as ET

from daemon import DOMAIN
from rawxmpp import NS_CLIENT, NS_STANZA_ERR, RawStream, q, stanza_error
from test_sm import (PASSWORDS, barrier, body, chat, is_msg, messages,
                     stanza_id)

NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_DATA = "jabber:x:data"
NS_FORWARD = "urn:xmpp:forward:0"
NS_DELAY = "urn:xmpp:delay"
NS_SID = "urn:xmpp:sid:0"
NS_DISCO = "http://jabber.org/protocol/disco#info"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
CAROL = f"carol@{DOMAIN}"
_qids = itertools.count(1)


def login(server, user, resource="home", presence=True):
    s = RawStream("127.0.0.1", server.port())
    s.login(user, PASSWORDS[user], resource=resource, presence=presence)
    if presence:
        barrier(s)
    return s


class Page:
    """One query's answer: the <result/>s and the closing iq."""

    def __init__(self, results, iq):
        self.iq = iq
        self.results = results		# (id, stamp, forwarded message)
        fin = iq.find(q(NS_MAM, "fin"))
        self.fin = fin
        self.complete = fin is not None and fin.get("complete") == "true"
        rset = fin.find(q(NS_RSM, "set")) if fin is not None else None
        self.first = rset.findtext(q(NS_RSM, "first")) if rset is not None \
            else None
        self.last = rset.findtext(q(NS_RSM, "last")) if rset is not None \
            else None

    @property
    def ids(self):
        return [r[0] for r in self.results]

    @property
    def bodies(self):
        return [body(r[2]) for r in self.results]


def query(s, form=(), rsm="", to=None, extra=""):
    """Send a MAM query; collect its results up to the iq answer. form is
    (var, value-or-list) pairs; rsm the inside of <set/>."""
    qid = f"q{next(_qids)}"
    fields = "".join(
        f"<field var='{var}'>" + "".join(
            f"<value>{v}</value>"
            for v in (val if isinstance(val, list) else [val])) +
        "</field>" for var, val in form)
    x = (f"<x xmlns='{NS_DATA}' type='submit'><field var='FORM_TYPE' "
         f"type='hidden'><value>{NS_MAM}</value></field>{fields}</x>")
    rset = f"<set xmlns='{NS_RSM}'>{rsm}</set>" if rsm is not None else ""
    to_attr = f" to='{to}'" if to else ""
    s.send(f"<iq type='set' id='{qid}'{to_attr}><query xmlns='{NS_MAM}' "
           f"queryid='{qid}'>{x}{rset}{extra}</query></iq>")
    results = []
    while True:
        el = s.next_element()
        if el.tag == q(NS_CLIENT, "iq") and el.get("id") == qid:
            return Page(results, el)
        res = el.find(q(NS_MAM, "result"))
        assert is_msg(el) and res is not None, ET.tostring(el)
        assert res.get("queryid") == qid
        fwd = res.find(q(NS_FORWARD, "forwarded"))
        stamp = fwd.find(q(NS_DELAY, "delay")).get("stamp")
        results.append((res.get("id"), stamp,
                        fwd.find(q(NS_CLIENT, "message"))))


def ok(page):
    assert page.iq.get("type") == "result", ET.tostring(page.iq)
    return page


def error_of(page):
    assert page.iq.get("type") == "error", ET.tostring(page.iq)
    assert page.results == []
    return stanza_error(page.iq)


def exchange(a, b, b_jid, n, prefix="m"):
    """a sends n chats to b (bare JID), b reads them; b's stanza-ids."""
    for i in range(n):
        chat(a, b_jid, f"{prefix}{i}")
    got = messages(b, n)
    assert [body(m) for m in got] == [f"{prefix}{i}" for i in range(n)]
    return [stanza_id(m, b_jid) for m in got]


def test_both_directions_archived_with_matching_ids(server):
    a = login(server, "alice")
    b = login(server, "bob")
    try:
        chat(a, BOB, "to bob", extra=f"<origin-id xmlns='{NS_SID}' "
             "id='orig-1'/>")
        got = b.wait_for(is_msg)
        b_sid = stanza_id(got, BOB)
        assert b_sid and len(got.findall(q(NS_SID, "stanza-id"))) == 1
        chat(b, ALICE, "to alice")
        a_sid = stanza_id(a.wait_for(is_msg), ALICE)
        pa = ok(query(a))
        assert pa.bodies == ["to bob", "to alice"] and pa.complete
        assert pa.ids[1] == a_sid
        out, inc = pa.results[0][2], pa.results[1][2]
        assert out.get("from") == f"{ALICE}/home" and out.get("to") == BOB
        assert inc.get("from") == f"{BOB}/home" and inc.get("to") == ALICE
        assert out.find(q(NS_SID, "origin-id")).get("id") == "orig-1"
        pb = ok(query(b))
        assert pb.bodies == ["to bob", "to alice"]
        assert pb.ids[0] == b_sid
        assert pb.results[0][2].find(q(NS_SID, "origin-id")).get("id") == \
            "orig-1"
        assert pa.first == pa.ids[0] and pa.last == pa.ids[-1]
    finally:
        a.close()
        b.close()


def test_filters_with_start_end_and_ids(server):
    a = login(server, "alice")
    b = login(server, "bob", "home")
    b2 = login(server, "bob", "work")
    c = login(server, "carol")
    try:
        chat(b, f"{ALICE}/home", "from bob home")
        a.wait_for(is_msg)
        chat(c, f"{ALICE}/home", "from carol")
        a.wait_for(is_msg)
        chat(b2, f"{ALICE}/home", "from bob work")
        a.wait_for(is_msg)
        chat(a, f"{BOB}/work", "to bob work")
        b2.wait_for(is_msg)
        allp = ok(query(a))
        assert allp.bodies == ["from bob home", "from carol",
                               "from bob work", "to bob work"]
        ids = allp.ids
        assert ok(query(a, [("with", BOB)])).bodies == [
            "from bob home", "from bob work", "to bob work"]
        assert ok(query(a, [("with", f"{BOB}/work")])).bodies == [
            "from bob work", "to bob work"]
        assert ok(query(a, [("with", CAROL)])).bodies == ["from carol"]
        # start and end are inclusive, in the server's own stamps.
        stamps = [r[1] for r in allp.results]
        k = 2
        assert ok(query(a, [("start", stamps[k])])).ids == \
            [i for i, st in zip(ids, stamps) if st >= stamps[k]]
        assert ok(query(a, [("end", stamps[1])])).ids == \
            [i for i, st in zip(ids, stamps) if st <= stamps[1]]
        assert ok(query(a, [("start", "2999-01-01T00:00:00Z")])).ids == []
        assert ok(query(a, [("end", "2000-01-01T00:00:00Z")])).ids == []
        # after-id and before-id exclude the named message.
        assert ok(query(a, [("after-id", ids[1])])).ids == ids[2:]
        assert ok(query(a, [("before-id", ids[2])])).ids == ids[:2]
        assert ok(query(a, [("after-id", ids[0]),
                            ("before-id", ids[3])])).ids == ids[1:3]
        p = ok(query(a, [("ids", [ids[3], ids[0]])]))
        assert sorted(p.ids) == sorted([ids[0], ids[3]])
        assert p.complete
    finally:
        for s in (a, b, b2, c):
            s.close()


def test_rsm_paging_both_ways(server):
    a = login(server, "alice")
    b = login(server, "bob")
    try:
        exchange(b, a, ALICE, 7)
        ids = ok(query(a)).ids
        assert len(ids) == 7
        # Forwards: complete only on the page that reaches the end.
        p1 = ok(query(a, rsm="<max>3</max>"))
        assert p1.ids == ids[0:3] and not p1.complete
        assert p1.fin.get("complete") is None
        assert (p1.first, p1.last) == (ids[0], ids[2])
        p2 = ok(query(a, rsm=f"<max>3</max><after>{p1.last}</after>"))
        assert p2.ids == ids[3:6] and not p2.complete
        p3 = ok(query(a, rsm=f"<max>3</max><after>{p2.last}</after>"))
        assert p3.ids == ids[6:] and p3.complete
        assert (p3.first, p3.last) == (ids[6], ids[6])
        # A page that ends exactly at the end is complete too.
        p = ok(query(a, rsm=f"<max>3</max><after>{ids[3]}</after>"))
        assert p.ids == ids[4:7] and p.complete
        # Backwards from the newest: the last page via an empty <before/>.
        b1 = ok(query(a, rsm="<max>3</max><before/>"))
        assert b1.ids == ids[4:7] and not b1.complete
        assert (b1.first, b1.last) == (ids[4], ids[6])
        b2 = ok(query(a, rsm=f"<max>3</max><before>{b1.first}</before>"))
        assert b2.ids == ids[1:4] and not b2.complete
        b3 = ok(query(a, rsm=f"<max>3</max><before>{b2.first}</before>"))
        assert b3.ids == ids[0:1] and b3.complete
        # Everything on one page: complete, both ways.
        assert ok(query(a, rsm="<max>7</max><before/>")).complete
        assert ok(query(a, rsm="<max>7</max>")).complete
        # Every message exactly once over the forward walk.
        assert p1.ids + p2.ids + p3.ids == ids
        assert b3.ids + b2.ids + b1.ids == ids
    finally:
        a.close()
        b.close()


def test_max_page_caps_the_page(make_daemon):
    server = make_daemon(extra_conf="mam-max-page 2\n")
    a = login(server, "alice")
    b = login(server, "bob")
    try:
        exchange(b, a, ALICE, 3)
        p = ok(query(a, rsm="<max>50</max>"))
        assert len(p.ids) == 2 and not p.complete
        p = ok(query(a, rsm=None))
        assert len(p.ids) == 2 and not p.complete
    finally:
        a.close()
        b.close()


def test_query_errors(server):
    a = login(server, "alice")
    b = login(server, "bob")
    try:
        exchange(b, a, ALICE, 1)
        assert error_of(query(a, [("no-such-field", "x")])) == \
            "feature-not-implemented"
        assert error_of(query(a, [("after-id", "no-such-id")])) == \
            "item-not-found"
        assert error_of(query(a, rsm="<after>no-such-id</after>")) == \
            "item-not-found"
        assert error_of(query(a, [("ids", ["no-such-id"])])) == \
            "item-not-found"
        assert error_of(query(a, [("start", "yesterday")])) == "bad-request"
        assert error_of(query(a, [("with", "@@")])) == "jid-malformed"
        assert error_of(query(a, [("start", "2020-01-02T00:00:00Z"),
                                  ("end", "2020-01-01T00:00:00Z")])) == \
            "bad-request"
        a.ping()
    finally:
        a.close()
        b.close()


def test_one_user_never_reads_another_archive(server):
    a = login(server, "alice")
    b = login(server, "bob")
    c = login(server, "carol")
    try:
        bob_ids = exchange(c, b, BOB, 2, prefix="secret")
        exchange(b, a, ALICE, 1, prefix="for alice")
        # Asking bob's account for its archive is an error, with no rows.
        assert error_of(query(a, to=BOB)) == "service-unavailable"
        # To bob's full JID it is an iq for bob's client, not the server.
        a.send(f"<iq type='set' id='full1' to='{BOB}/home'><query "
               f"xmlns='{NS_MAM}'/></iq>")
        fwd = b.wait_for(lambda e: e.get("id") == "full1")
        assert fwd.get("from") == f"{ALICE}/home"
        assert barrier(a) == []		# and no archive rows for alice
        # Naming bob's archive ids from alice's archive finds nothing.
        assert error_of(query(a, [("ids", [bob_ids[0]])])) == \
            "item-not-found"
        assert error_of(query(a, rsm=f"<after>{bob_ids[0]}</after>")) == \
            "item-not-found"
        # With carol or with bob: only alice's own rows.
        assert ok(query(a, [("with", CAROL)])).ids == []
        assert ok(query(a)).bodies == ["for alice0"]
        assert ok(query(b)).bodies == ["secret0", "secret1", "for alice0"]
    finally:
        for s in (a, b, c):
            s.close()


def prefs_set(s, default, always=(), never=()):
    jids = lambda xs: "".join(f"<jid>{j}</jid>" for j in xs)  # noqa: E731
    return s.iq(f"<prefs xmlns='{NS_MAM}' default='{default}'><always>"
                f"{jids(always)}</always><never>{jids(never)}</never>"
                "</prefs>", to=None, type_="set")


def prefs_of(iq):
    p = iq.find(q(NS_MAM, "prefs"))
    lists = {n: sorted(j.text for j in p.find(q(NS_MAM, n))
                       .findall(q(NS_MAM, "jid")))
             for n in ("always", "never")}
    return p.get("default"), lists["always"], lists["never"]


def test_prefs_get_set_and_effect(server):
    a = login(server, "alice")
    b = login(server, "bob")
    c = login(server, "carol")
    try:
        r = a.iq(f"<prefs xmlns='{NS_MAM}'/>", to=None)
        assert r.get("type") == "result"
        assert prefs_of(r) == ("always", [], [])
        r = prefs_set(a, "never", always=[f"{BOB}/home"])
        assert r.get("type") == "result"
        assert prefs_of(r) == ("never", [BOB], [])
        assert prefs_of(a.iq(f"<prefs xmlns='{NS_MAM}'/>", to=None)) == \
            ("never", [BOB], [])
        exchange(b, a, ALICE, 1, prefix="bob-kept")
        exchange(c, a, ALICE, 1, prefix="carol-dropped")
        chat(a, CAROL, "to carol dropped")
        c.wait_for(is_msg)
        assert ok(query(a)).bodies == ["bob-kept0"]
        # The sender's own archive follows its own preferences.
        assert "carol-dropped0" in ok(query(c)).bodies
        r = prefs_set(a, "always", never=[CAROL])
        assert prefs_of(r) == ("always", [], [CAROL])
        exchange(b, a, ALICE, 1, prefix="bob-again")
        exchange(c, a, ALICE, 1, prefix="carol-again")
        assert ok(query(a)).bodies == ["bob-kept0", "bob-again0"]
        r = prefs_set(a, "sometimes")
        assert r.get("type") == "error"
        assert stanza_error(r) == "bad-request"
        assert prefs_of(a.iq(f"<prefs xmlns='{NS_MAM}'/>", to=None))[0] == \
            "always"
    finally:
        for s in (a, b, c):
            s.close()


def test_retention_expires_old_rows_at_start_up(make_daemon):
    server = make_daemon(extra_conf="mam-retention-days 2\n")
    a = login(server, "alice")
    b = login(server, "bob")
    exchange(b, a, ALICE, 2, prefix="r")
    ids = ok(query(a)).ids
    a.close()
    b.close()
    server.stop_checked()
    # No honest way to age a row through XMPP: age it in the file.
    db = sqlite3.connect(os.path.join(server.state_dir, "xmppd.sqlite"))
    with db:
        n = db.execute("UPDATE archive SET stamp_ms = stamp_ms - ? "
                       "WHERE id = ?", (3 * 86400 * 1000, ids[0])).rowcount
    db.close()
    assert n == 1
    server.start()
    server.wait_log("mam: expired 1 archived messages older than 2 days")
    a = login(server, "alice")
    try:
        assert ok(query(a)).ids == ids[1:]
        b = login(server, "bob")
        # bob's outgoing copy of r0 was not aged: it stays.
        assert ok(query(b)).bodies == ["r0", "r1"]
        b.close()
    finally:
        a.close()


def test_resend_with_same_origin_id_is_not_delivered_twice(server):
    a = login(server, "alice")
    b = login(server, "bob")
    try:
        oid = f"<origin-id xmlns='{NS_SID}' id='once-1'/>"
        chat(a, BOB, "only once", extra=oid)
        first = b.wait_for(is_msg)
        chat(a, BOB, "only once", extra=oid)
        chat(a, BOB, "next", extra=f"<origin-id xmlns='{NS_SID}' "
             "id='once-2'/>")
        got = b.wait_for(is_msg)
        assert body(got) == "next"
        assert ok(query(b)).ids == [stanza_id(first, BOB),
                                    stanza_id(got, BOB)]
        assert ok(query(a)).bodies == ["only once", "next"]
        # The same origin-id to someone else is a different message.
        c = login(server, "carol")
        chat(a, CAROL, "only once", extra=oid)
        assert body(c.wait_for(is_msg)) == "only once"
        c.close()
    finally:
        a.close()
        b.close()


def test_forged_stanza_id_is_stripped(server):
    a = login(server, "alice")
    b = login(server, "bob")
    try:
        chat(b, ALICE, "forged", extra=f"<stanza-id xmlns='{NS_SID}' "
             f"by='{ALICE}' id='forged-id'/><stanza-id xmlns='{NS_SID}' "
             f"id='no-by'/><stanza-id xmlns='{NS_SID}' "
             "by='Alice@LocalHost' id='forged-case'/>")
        got = a.wait_for(is_msg)
        sids = got.findall(q(NS_SID, "stanza-id"))
        assert len(sids) == 1, ET.tostring(got)
        assert sids[0].get("by") == ALICE
        assert sids[0].get("id") != "forged-id"
        page = ok(query(a))
        assert page.ids == [sids[0].get("id")]
        archived = page.results[0][2]
        assert b"forged-" not in ET.tostring(archived)
    finally:
        a.close()
        b.close()


def test_offline_delivery_and_archive_agree(server):
    a = login(server, "alice")
    try:
        chat(a, BOB, "while away")
        barrier(a)
        b = login(server, "bob", presence=False)
        b.send("<presence/>")
        got = b.wait_for(is_msg)
        assert body(got) == "while away"
        assert got.find(q(NS_DELAY, "delay")) is not None
        sid = stanza_id(got, BOB)
        assert ok(query(b)).ids == [sid]
        b.close()
    finally:
        a.close()


def test_account_disco_lists_mam(server):
    a = login(server, "alice")
    try:
        r = a.iq(f"<query xmlns='{NS_DISCO}'/>", to=ALICE)
        assert r.get("type") == "result", ET.tostring(r)
        feats = {f.get("var") for f in r.iter(q(NS_DISCO, "feature"))}
        assert NS_MAM in feats and NS_SID in feats
    finally:
        a.close()


def test_rsm_max_zero_is_the_count(server):
    """XEP-0059 §2.6: <max>0</max> returns no item and the count."""
    a = login(server, "alice")
    b = login(server, "bob")
    try:
        exchange(b, a, ALICE, 3)
        page = ok(query(a, rsm="<max>0</max>"))
        assert page.results == []
        rset = page.fin.find(q(NS_RSM, "set"))
        assert rset.findtext(q(NS_RSM, "count")) == "3", ET.tostring(page.iq)
        assert page.first is None and page.last is None
        a.ping()
    finally:
        a.close()
        b.close()


def test_query_error_says_why(server):
    """RFC 6120 §8.3.2: the error names the field that was wrong."""
    a = login(server, "alice")
    try:
        page = query(a, [("start", "yesterday")])
        assert error_of(page) == "bad-request"
        text = page.iq.find(q(NS_CLIENT, "error")).findtext(
            q(NS_STANZA_ERR, "text"))
        assert text, ET.tostring(page.iq)
        a.ping()
    finally:
        a.close()
