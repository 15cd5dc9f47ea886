#!/usr/bin/python3
"""losscheck: prove that no acked message is lost while links break.

N users (default alice, bob, carol) each send sequence-numbered chat
messages to the next user in a ring for a bounded time at a bounded rate:

    <message type='chat' to='bob@DOMAIN' id='lc-RUN-alice-7'>
      <body>lc alice 7 SEND-MS</body>
      <origin-id xmlns='urn:xmpp:sid:0' id='lc-RUN-alice-7'/></message>

Each user also runs a second resource ("the watcher", priority -1 so it
takes no message sent to the bare JID) with XEP-0280 carbons: it must get
a <sent/> carbon of what its user sends and a <received/> carbon of what
its user receives.

Faults happen meanwhile: in-process (FaultProxy commands, any callable),
external (--fault-cmd runs a shell command at a given second), or in the
clients themselves (crash, noack, offline, late login). Clients reconnect
with bounded backoff and resume as a real client does (xmppclient.py); a
failed resume or a crash starts a new session and resends the unacked
messages with the same origin-id.

At the end sending stops, the clients drain (bounded), every user's
archive is read (it must hold every message exactly once with
--mam always, nothing of this run with --mam never), and every message
gets a verdict:

  live / resumed / offline   first pushed on a stream that was up, on a
                             resumed stream, from the spool (<delay/>)
  mam_only                   never pushed, only in the archive: FAIL
  lost                       acked or not, neither pushed nor archived:
                             FAIL
  bounced                    refused with an error and never delivered
                             (retried while the error is type 'wait'):
                             FAIL
  dup_same_id                pushed again with the same stanza-id: legal
  dup_new_id                 pushed again with another stanza-id: FAIL
  carbon_*                   the same for both carbons; a missing carbon
                             is carbon_lost (FAIL) only where it was
                             guaranteed, else carbon_unguaranteed

The verdict is one line, "losscheck: PASS seed=N ..." or
"losscheck: FAIL seed=N ... reasons: ...", plus a JSON report (counts,
failures with sample origin-ids, faults with times and recovery times,
per-client connection and session history, configuration). Exit status 0
only on PASS. docs/losscheck.md describes every class and option. The
QEMU testbed runs this same program against the VM.
"""

import argparse
import asyncio
import json
import logging
import os
import random
import re
import secrets
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import xmppclient as xc  # noqa: E402
from xmppclient import bare, now_ms  # noqa: E402

DEFAULT_USERS = [("alice", "wonderland"), ("bob", "builder"),
                 ("carol", "singer")]
MAX_RATE = 200.0        # messages per second per user
MAX_DURATION = 3600.0
MAX_FAULT_SECONDS = 3600.0
MAX_RETRIES = 30        # resends of one message refused with type 'wait'
MAX_RANDOM_FAULTS = 10000
BODY_RE = re.compile(r"^lc (\S+) (\d+) (\d+)$")
MAM_MODES = ("always", "never")
PROXY_FAULTS = ("reset", "close", "blackhole")
CLIENT_FAULTS = ("crash", "noack", "offline")
WATCHER = "carbons"     # fault target USER/carbons: the carbons resource

# The first-delivery class of every message (exactly one each).
FIRST_CLASSES = ("live", "resumed", "offline", "mam_only", "lost",
                 "bounced")
# The class of every expected carbon (two per acked message).
CARBON_CLASSES = ("carbon_live", "carbon_resumed", "carbon_lost",
                  "carbon_unguaranteed")
# Counts with a list of origin-ids (samples in the report).
ID_COUNTS = ("lost", "mam_only", "bounced", "unacked", "dup_same_id",
             "dup_new_id", "not_in_mam", "mam_dup", "stanza_id_mismatch",
             "missing_stanza_id", "misrouted", "bounced_delivered",
             "carbon_lost", "carbon_dup_same_id", "carbon_dup_new_id",
             "carbon_misrouted", "mam_unexpected")
# Any of these > 0 fails the run, whatever the MAM mode ...
FAIL_ALWAYS = ("lost", "mam_only", "bounced", "dup_new_id", "unacked",
               "misrouted", "missing_stanza_id", "bounced_delivered",
               "carbon_lost", "carbon_dup_new_id", "carbon_misrouted",
               "mam_unexpected")
# ... and these with mam 'always' (every message archived once, by the
# id it was delivered with).
FAIL_MAM_ALWAYS = ("not_in_mam", "mam_dup", "stanza_id_mismatch")
VERDICT_KEYS = ("sent", "acked") + FIRST_CLASSES + (
    "dup_same_id", "dup_new_id", "unacked", "mam", "mam_unexpected") + \
    CARBON_CLASSES + ("carbon_dup_same_id", "carbon_dup_new_id")

log = logging.getLogger("losscheck")


def _bounded(what, seconds):
    if not 0 <= seconds <= MAX_FAULT_SECONDS:
        raise ValueError(f"{what}: {seconds}s is not in "
                         f"[0, {MAX_FAULT_SECONDS}]")


def mam_mode(mam):
    """'always' or 'never' (True and False are accepted for them)."""
    if mam is True:
        return "always"
    if mam is False:
        return "never"
    if mam not in MAM_MODES:
        raise ValueError(f"mam must be one of {MAM_MODES}, not {mam!r}")
    return mam


class Config:
    """Everything a run depends on; as_dict() goes into the report.

    mam is what the server is configured with ('always' or 'never');
    carbons runs the second, carbons-enabled resource per user; late maps
    a user to the second (after the start of traffic) its clients first
    log in; random_faults (seconds) schedules a random fault about that
    often, of random_kinds, from the one RNG seeded with seed (None: a
    random seed, reported so the run can be replayed)."""

    def __init__(self, domain, servers, users=None, clients=None,
                 duration=20.0, rate=5.0, tls="starttls", run_id=None,
                 drain=20.0, settle=2.0, timeout=10.0, ping_after=1.0,
                 dead_after=3.0, backoff=(0.1, 2.0), mam="always",
                 mam_page=100, rotate=True, carbons=True, seed=None,
                 late=None, random_faults=None, random_kinds=None,
                 crash_pause=1.0, resource="lc",
                 carbon_resource="lc-carbons", retry_after=1.0):
        users = list(users or DEFAULT_USERS)
        if clients is not None:
            users = users[:clients]
        if len(users) < 2:
            raise ValueError("need at least 2 users")
        if len({u for u, _ in users}) != len(users):
            raise ValueError("a user is listed twice")
        if not servers:
            raise ValueError("need a server address")
        if not 0 < rate <= MAX_RATE:
            raise ValueError(f"rate must be in (0, {MAX_RATE}]")
        if not 0 < duration <= MAX_DURATION:
            raise ValueError(f"duration must be in (0, {MAX_DURATION}]")
        names = [u for u, _ in users]
        late = dict(late or {})
        for u, t in late.items():
            if u not in names:
                raise ValueError(f"late user {u!r} is not in this run")
            if not 0 <= t < duration:
                raise ValueError(f"late {u}: {t} is not within the run")
        if random_faults is not None and not 0 < random_faults <= duration:
            raise ValueError("random_faults must be in (0, duration]")
        kinds = tuple(random_kinds or ())
        bad = [k for k in kinds if k not in PROXY_FAULTS + CLIENT_FAULTS]
        if bad:
            raise ValueError(f"unknown random fault kinds {bad}")
        if not 0 <= crash_pause <= MAX_FAULT_SECONDS:
            raise ValueError("crash_pause out of range")
        self.domain = domain
        self.servers = [tuple(s) for s in servers]
        self.users = users
        self.duration, self.rate, self.tls = duration, rate, tls
        self.run_id = secrets.token_hex(3) if run_id is None else run_id
        self.drain, self.settle, self.timeout = drain, settle, timeout
        self.ping_after, self.dead_after = ping_after, dead_after
        self.backoff = backoff
        self.mam, self.mam_page, self.rotate = mam_mode(mam), mam_page, \
            rotate
        self.carbons = bool(carbons)
        self.seed = secrets.randbelow(1 << 31) if seed is None else int(seed)
        self.late = late
        self.random_faults, self.random_kinds = random_faults, kinds
        self.crash_pause = crash_pause
        self.resource, self.carbon_resource = resource, carbon_resource
        self.retry_after = retry_after

    def origin(self, user, seq):
        run = f"{self.run_id}-" if self.run_id else ""
        return f"lc-{run}{user}-{seq}"

    @property
    def prefix(self):
        return f"lc-{self.run_id}-" if self.run_id else "lc-"

    @property
    def names(self):
        return [u for u, _ in self.users]

    def as_dict(self):
        d = {k: v for k, v in vars(self).items() if k != "users"}
        d["users"] = self.names     # never passwords
        d["servers"] = [f"{h}:{p}" for h, p in self.servers]
        d["random_kinds"] = list(self.random_kinds)
        return d


class Fault:
    """One scheduled fault: a shell command, a callable (a coroutine
    function is awaited; a blocking one runs in a thread), or a client
    fault (Fault.client)."""

    def __init__(self, at, name, action=None, cmd=None, blocking=False,
                 client=None):
        if sum(x is not None for x in (action, cmd, client)) != 1:
            raise ValueError("a fault needs exactly one of action, cmd, "
                             "client")
        self.at, self.name = float(at), name
        self.action, self.cmd, self.blocking = action, cmd, blocking
        self.client = client

    @classmethod
    def client_fault(cls, at, kind, user, seconds=None):
        """crash USER [pause], noack USER SECONDS, offline USER SECONDS.
        USER is a user of the run (its main resource; offline takes both
        of its resources) or USER/carbons (its carbons resource; crash
        only)."""
        if kind not in CLIENT_FAULTS:
            raise ValueError(f"client fault kind must be one of "
                             f"{CLIENT_FAULTS}, not {kind!r}")
        if kind != "crash" and seconds is None:
            raise ValueError(f"{kind} needs a duration")
        if seconds is not None and not 0 <= seconds <= MAX_FAULT_SECONDS:
            raise ValueError(f"{kind} {user}: {seconds}s out of range")
        if kind != "crash" and user.endswith("/" + WATCHER):
            raise ValueError(f"{kind} applies to a user, not {user}")
        name = f"{kind} {user}" + (f" {seconds:g}s" if seconds is not None
                                   else "")
        return cls(at, name, client=(kind, user, seconds))


class Accounting:
    """Pure bookkeeping of one run: what was sent, acked, bounced,
    delivered, carbon-copied, archived. No I/O, so it is tested on its
    own.

    sessions maps a watcher's bare JID to its client's session records
    (dicts with carbons_ms and end_ms, see xmppclient): a carbon is
    guaranteed only to a session whose carbons were on when the message
    was sent and that did not end before drain_ms."""

    def __init__(self, prefix="lc-", mam="always", carbons=False):
        self.prefix = prefix
        self.mam = mam_mode(mam)
        self.carbons = carbons
        self.msgs = {}          # origin -> record
        self.deliveries = {}    # origin -> [delivery]
        self.carbon_dels = {}   # (origin, 'sent'|'received') -> [carbon]
        self.archive = {}       # origin -> [(receiver, mam id)]
        self.unexpected = []    # our prefix, but never sent this run
        self.mam_extra = []     # archived with mam never: (owner, origin)
        self.carbons_other = 0  # carbons at a main resource (not counted)
        self.mam_checked = set()    # receivers whose archive was read
        self.sessions = {}      # watcher bare -> [session record]
        self.drain_ms = None
        self.verdicts = {}      # origin -> [its classes], by summary()

    def sent(self, origin, frm, to, seq, t_ms):
        m = self.msgs.get(origin)
        if m is None:
            self.msgs[origin] = {"from": bare(frm), "to": bare(to),
                                 "seq": seq, "sent_ms": t_ms,
                                 "acked_ms": None, "bounces": [],
                                 "retries": 0}

    def acked(self, origin, t_ms):
        m = self.msgs.get(origin)
        if m is not None and m["acked_ms"] is None:
            m["acked_ms"] = t_ms

    def retried(self, origin):
        self.msgs[origin]["retries"] += 1

    def _ours(self, origin):
        return origin is not None and origin.startswith(self.prefix)

    def delivered(self, receiver, rec, watcher=False):
        """One message as a client of receiver got it (xc.Received);
        watcher: that client is the user's carbons resource."""
        origin = rec.origin_id
        if not self._ours(origin):
            return
        m = self.msgs.get(origin)
        if m is None:
            self.unexpected.append(origin)
            return
        if rec.carbon:
            if not watcher or rec.mtype == "error":
                # at a main resource, or a copy of a bounce: not counted
                self.carbons_other += 1
                return
            sids = rec.stanza_ids or {}
            self.carbon_dels.setdefault((origin, rec.carbon), []).append({
                "account": bare(receiver), "kind": self._kind(m, rec, True),
                "cid": sids.get(m["to"], rec.stanza_id), "t_ms": rec.t_ms,
                "rx": rec})
            return
        if rec.mtype == "error":
            m["bounces"].append({"msg_id": rec.msg_id, "t_ms": rec.t_ms,
                                 "type": rec.error_type,
                                 "condition": rec.error_cond})
            return
        self.deliveries.setdefault(origin, []).append({
            "receiver": bare(receiver), "kind": self._kind(m, rec, False),
            "stanza_id": rec.stanza_id, "t_ms": rec.t_ms,
            "msg_id": rec.msg_id, "resource": rec.resource,
            "watcher": watcher, "rx": rec})

    @staticmethod
    def _kept(dels):
        """Deliveries the client kept: not lost with it before it acked
        them (a crash), which the server owes again."""
        return [d for d in dels if not getattr(d.get("rx"), "forgotten",
                                               False)]

    @staticmethod
    def _kind(m, rec, carbon):
        if rec.delay and not carbon:
            return "offline"
        if rec.conn_kind == "resumed" and rec.conn_t_ms is not None \
                and m["sent_ms"] < rec.conn_t_ms:
            return "resumed"
        return "live"

    def archived(self, receiver, mam_id, origin):
        """A row of receiver's archive from the user who sends to it."""
        self.mam_checked.add(bare(receiver))
        if not self._ours(origin):
            return
        if origin not in self.msgs:
            self.unexpected.append(origin)
            return
        self.archive.setdefault(origin, []).append((bare(receiver), mam_id))

    def archived_unexpected(self, owner, mam_id, origin):
        """Any row of this run in an archive that must hold none."""
        if self._ours(origin):
            self.mam_extra.append((bare(owner), origin, mam_id))

    def guaranteed(self, account, t_ms):
        """Whether a carbon of a message sent at t_ms was guaranteed to
        account's watcher: a session of it had carbons on by then and
        was never lost up to the drain (it may have resumed)."""
        for s in self.sessions.get(account, ()):
            c, end = s.get("carbons_ms"), s.get("end_ms")
            if c is not None and c <= t_ms and (end is None or (
                    self.drain_ms is not None and end >= self.drain_ms)):
                return True
        return False

    def outstanding(self):
        """How many deliveries and guaranteed carbons are still awaited
        (the drain waits for 0, or for deliveries to settle)."""
        n = 0
        for origin, m in self.msgs.items():
            dels = self._kept(d for d in self.deliveries.get(origin, ())
                              if d["receiver"] == m["to"])
            if not dels and not self._bounced_final(m):
                n += 1
            if not self.carbons or m["acked_ms"] is None or not dels:
                continue
            for direction, account in (("sent", m["from"]),
                                       ("received", m["to"])):
                if not any(c["account"] == account for c in self._kept(
                        self.carbon_dels.get((origin, direction), ()))) \
                        and self.guaranteed(account, m["sent_ms"]):
                    n += 1
        return n

    @staticmethod
    def _bounced_final(m):
        """Refused, and not to be retried (type other than 'wait', or
        retries exhausted)."""
        if not m["bounces"]:
            return False
        return m["bounces"][-1]["type"] != "wait" or \
            m["retries"] >= MAX_RETRIES

    def summary(self):
        c = dict.fromkeys(("sent", "acked", "delivered", "mam",
                           "redelivered", "retried", "forgotten") +
                          FIRST_CLASSES +
                          CARBON_CLASSES + ID_COUNTS, 0)
        ids = {k: [] for k in ID_COUNTS}
        latencies = []
        self.verdicts = {}
        for origin, m in self.msgs.items():
            c["sent"] += 1
            if m["retries"]:
                c["retried"] += 1
            if m["acked_ms"] is not None:
                c["acked"] += 1
                latencies.append(m["acked_ms"] - m["sent_ms"])
            else:
                ids["unacked"].append(origin)
            delivered = self._one(origin, m, c, ids)
            if self.carbons and m["acked_ms"] is not None and \
                    (delivered or not m["bounces"]):
                self._carbons(origin, m, c, ids)
        ids["mam_unexpected"] = [o for _, o, _ in self.mam_extra]
        for k, v in ids.items():
            c[k] = len(v)
            for origin in v:
                if origin in self.verdicts and k not in FIRST_CLASSES \
                        and k != "carbon_lost" and \
                        k not in self.verdicts[origin]:
                    self.verdicts[origin].append(k)
        c["carbons_other"] = self.carbons_other
        c["unexpected"] = len(self.unexpected)
        return c, ids, percentiles(latencies)

    def _one(self, origin, m, c, ids):
        """Classify one message; True when it was delivered."""
        every = self.deliveries.get(origin, ())
        dels = [d for d in every if d["receiver"] == m["to"]]
        if len(dels) != len(every):
            ids["misrouted"].append(origin)
        arch = [i for r, i in self.archive.get(origin, ()) if r == m["to"]]
        if arch:
            c["mam"] += 1
        if len(set(arch)) > 1:
            ids["mam_dup"].append(origin)
        refused = {b["msg_id"] for b in m["bounces"]} - {None}
        if any(d["msg_id"] in refused for d in dels):
            # The error said "stored nowhere", yet that attempt came.
            ids["bounced_delivered"].append(origin)
        kept = self._kept(dels)
        c["forgotten"] += len(dels) - len(kept)
        if not kept:
            first = "mam_only" if arch else "bounced" if m["bounces"] \
                else "lost"
            ids[first].append(origin)
            self.verdicts[origin] = [first]
            return False
        c["delivered"] += 1
        c[kept[0]["kind"]] += 1
        self.verdicts[origin] = [kept[0]["kind"]]
        sids = {d["stanza_id"] for d in dels}
        if None in sids:
            ids["missing_stanza_id"].append(origin)
        if len(sids - {None}) > 1:
            ids["dup_new_id"].append(origin)
        elif len(dels) > 1:
            ids["dup_same_id"].append(origin)
            c["redelivered"] += len(dels) - 1
        if self.mam == "always" and m["to"] in self.mam_checked:
            if not arch:
                ids["not_in_mam"].append(origin)
            elif any(s not in arch for s in sids - {None}):
                ids["stanza_id_mismatch"].append(origin)
        return True

    def _carbons(self, origin, m, c, ids):
        for direction, account in (("sent", m["from"]),
                                   ("received", m["to"])):
            every = self.carbon_dels.get((origin, direction), ())
            mine = [d for d in every if d["account"] == account]
            if len(mine) != len(every):
                ids["carbon_misrouted"].append(origin)
            kept = self._kept(mine)
            if not kept:
                if self.guaranteed(account, m["sent_ms"]):
                    ids["carbon_lost"].append(origin)
                    self.verdicts[origin].append(f"{direction}:carbon_lost")
                else:
                    c["carbon_unguaranteed"] += 1
                    self.verdicts[origin].append(
                        f"{direction}:carbon_unguaranteed")
                continue
            c["carbon_" + kept[0]["kind"]] += 1
            self.verdicts[origin].append(
                f"{direction}:carbon_{kept[0]['kind']}")
            if len({d["cid"] for d in mine} - {None}) > 1:
                ids["carbon_dup_new_id"].append(origin)
            elif len(mine) > 1:
                ids["carbon_dup_same_id"].append(origin)


def percentiles(values):
    if not values:
        return {"n": 0}
    v = sorted(values)

    def pick(p):
        return v[min(len(v) - 1, int(p * len(v)))]
    return {"n": len(v), "p50": pick(0.5), "p99": pick(0.99), "max": v[-1]}


def failure_keys(mam):
    return FAIL_ALWAYS + (FAIL_MAM_ALWAYS if mam_mode(mam) == "always"
                          else ())


def verdict(counts, failures, seed=None, mam=None):
    """One line: every class, the seed to replay it, and on FAIL why."""
    head = []
    if seed is not None:
        head.append(f"seed={seed}")
    if mam is not None:
        head.append(f"mam={mam}")
    nums = " ".join(head + [f"{k}={counts.get(k, 0)}"
                            for k in VERDICT_KEYS])
    if not failures:
        return f"losscheck: PASS {nums}"
    return f"losscheck: FAIL {nums} reasons: " + "; ".join(failures)


def recovery(faults, clients):
    """For each fault: per client, the time from the fault to the first
    successful resume or new session after the link went down. A
    link-down is pinned on the first fault after that link came up: a
    blackholed link is only found dead dead_after later, possibly after
    the next fault. A fault with 'targets' (a crash) only counts for
    those clients; one marked 'keeps_links' (noack, offline, a late
    login) breaks no link and counts for none. Clients whose link did
    not go down are not listed."""
    for f in faults:
        f["recovery_ms"] = {}
    timed = sorted((f for f in faults if f.get("t_ms") is not None and
                    not f.get("keeps_links")), key=lambda f: f["t_ms"])
    for name, events in clients.items():
        up = 0
        for i, (t, kind, _) in enumerate(events):
            if kind in ("resumed", "new-session"):
                up = t
            if kind != "link-down":
                continue
            cause = next((f for f in timed if up <= f["t_ms"] <= t and (
                not f.get("targets") or name in f["targets"])), None)
            if cause is None or name in cause["recovery_ms"]:
                continue
            back = next((t2 for t2, k2, _ in events[i:]
                         if k2 in ("resumed", "new-session")), None)
            cause["recovery_ms"][name] = \
                None if back is None else back - cause["t_ms"]
    for f in faults:
        done = [v for v in f["recovery_ms"].values() if v is not None]
        f["max_recovery_ms"] = max(done) if done else None
        f["unrecovered"] = sorted(k for k, v in f["recovery_ms"].items()
                                  if v is None)


def random_faults(every, duration, rng, kinds=PROXY_FAULTS, users=(),
                  crash_targets=None):
    """A reproducible random fault schedule: about one fault every
    `every` seconds (0.5 to 1.5 times it apart), never in the last
    second. rng is a random.Random (or a seed for one): every choice
    (time, kind, user, duration) comes from it, in a fixed order.
    Returns [(at, kind, user or None, seconds or None)]. A client fault
    goes to a user without one in progress (skipped when there is none);
    noack and offline last 0.5 to 1.5 times `every`, a crash pauses 0.2
    to 1 s before its new login."""
    if not isinstance(rng, random.Random):
        rng = random.Random(rng)
    kinds = tuple(kinds)
    if not kinds:
        raise ValueError("no fault kinds")
    if any(k in CLIENT_FAULTS for k in kinds) and not users:
        raise ValueError("client faults need users")
    crash_targets = list(crash_targets or users)
    out, t, busy = [], every, {}
    while t < duration - 1 and len(out) < MAX_RANDOM_FAULTS:
        kind = rng.choice(kinds)
        if kind in PROXY_FAULTS:
            out.append((round(t, 2), kind, None, None))
        else:
            pool = crash_targets if kind == "crash" else users
            free = [u for u in pool if busy.get(u.split("/")[0], 0) <= t]
            if free:
                user = rng.choice(free)
                if kind == "crash":
                    secs = round(rng.uniform(0.2, 1.0), 2)
                else:
                    secs = round(every * rng.uniform(0.5, 1.5), 2)
                busy[user.split("/")[0]] = t + secs + 1.0
                out.append((round(t, 2), kind, user, secs))
        t += every * rng.uniform(0.5, 1.5)
    return out


class LossCheck:
    """One run. Hooks: on_event(user, kind, info) for client events
    (user is 'alice' or 'alice/carbons'), on_fault(record) after each
    fault; note_fault(name) records a fault the caller injected itself.

    proxy_command(text) -> str applies a fault proxy command (needed for
    random proxy faults). Client faults can be scheduled
    (Fault.client_fault) or called directly: crash(user, pause),
    noack(user, seconds), offline(user, seconds)."""

    def __init__(self, cfg, faults=(), proxy_command=None):
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.proxy_command = proxy_command
        faults = list(faults)
        for f in faults:
            if f.client is not None:
                self._check_target(f.client[0], f.client[1])
        self.random_schedule = []
        if cfg.random_faults:
            kinds = cfg.random_kinds or (
                (PROXY_FAULTS if proxy_command else ()) + CLIENT_FAULTS)
            if any(k in PROXY_FAULTS for k in kinds) and not proxy_command:
                raise ValueError("random proxy faults need a proxy")
            self.random_kinds = tuple(kinds)
            crash = cfg.names + ([f"{u}/{WATCHER}" for u in cfg.names]
                                 if cfg.carbons else [])
            self.random_schedule = random_faults(
                cfg.random_faults, cfg.duration, self.rng, kinds,
                cfg.names, crash)
            for at, kind, user, secs in self.random_schedule:
                if kind in PROXY_FAULTS:
                    faults.append(Fault(at, f"proxy {kind}",
                                        action=self._proxy_action(kind)))
                else:
                    faults.append(Fault.client_fault(at, kind, user, secs))
        else:
            self.random_kinds = ()
        self.faults = sorted(faults, key=lambda f: f.at)
        self.acct = Accounting(cfg.prefix, cfg.mam, cfg.carbons)
        self.clients = []       # the main resource of each user
        self.watchers = {}      # user -> its carbons resource
        self.by_user = {}
        self.fault_log = []
        self.errors = []
        self.on_event = None
        self.on_fault = None
        self.t0 = None
        self._tasks = []        # every task of ours, cancelled at the end
        self._restores = []     # re-logins and acks back: awaited first
        self._restore_by = 0.0  # when the last one is due (monotonic)
        self.mam_retries = []   # archive queries that had to be redone
        self._retrying = set()  # origins with a resend pending
        self._stopping = False

    # -- clients ---------------------------------------------------------

    def _proxy_action(self, command):
        def act():
            return self.proxy_command(command)
        return act

    def _check_target(self, kind, user):
        name, _, res = user.partition("/")
        if name not in self.cfg.names or res not in ("", WATCHER) or (
                res and not self.cfg.carbons):
            raise ValueError(f"{kind}: no client {user!r} in this run")

    def _make_client(self, user, password, watcher=False):
        cfg = self.cfg
        c = xc.XMPPClient(user, password, cfg.domain, cfg.servers,
                          tls=cfg.tls, timeout=cfg.timeout,
                          ping_after=cfg.ping_after,
                          dead_after=cfg.dead_after, backoff=cfg.backoff,
                          rotate=cfg.rotate,
                          resource=cfg.carbon_resource if watcher
                          else cfg.resource,
                          carbons=cfg.carbons, priority=-1 if watcher else 0)
        label = f"{user}/{WATCHER}" if watcher else user
        c.label = label
        c.on_message = lambda rec: self._delivered(c, rec, watcher)
        c.on_acked = self.acct.acked

        def event(kind, info):
            if self.on_event is not None:
                self.on_event(label, kind, info)
        c.on_event = event
        return c

    def _delivered(self, client, rec, watcher):
        self.acct.delivered(client.bare, rec, watcher)
        if rec.mtype == "error" and not rec.carbon and \
                rec.error_type == "wait" and \
                self.acct.msgs.get(rec.origin_id) is not None and \
                rec.origin_id not in self._retrying:
            self._retrying.add(rec.origin_id)
            self._track(self._retry(rec.origin_id))

    def _user_clients(self, user):
        out = [self.by_user[user]]
        if user in self.watchers:
            out.append(self.watchers[user])
        return out

    def _target(self, user):
        name, _, res = user.partition("/")
        if name not in self.by_user or (res and name not in self.watchers):
            raise ValueError(f"no client {user!r} in this run")
        return self.watchers[name] if res else self.by_user[name]

    def _all_clients(self):
        return self.clients + list(self.watchers.values())

    def _track(self, coro, restore_in=None):
        """Run coro as our task; restore_in: it ends a client fault that
        many seconds from now, and the drain waits for it."""
        t = asyncio.ensure_future(coro)
        self._tasks.append(t)
        if restore_in is not None:
            self._restores.append(t)
            self._restore_by = max(self._restore_by,
                                   time.monotonic() + restore_in)
        return t

    async def _later(self, seconds, coro_fn):
        await asyncio.sleep(seconds)
        return await coro_fn()

    # -- client faults ---------------------------------------------------

    def crash(self, user, pause=None):
        """USER's client process dies (see XMPPClient.crash); it logs in
        again with a new session after pause seconds."""
        pause = self.cfg.crash_pause if pause is None else pause
        _bounded("crash pause", pause)
        c = self._target(user)
        if not c.crash(pause):
            return "skipped: not logged in"
        return f"crashed; new session after {pause:g}s"

    def noack(self, user, seconds):
        """USER's main client stops acking for seconds, then acks all."""
        _bounded("noack", seconds)
        c = self._target(user)
        c.pause_acks()

        async def back():
            c.resume_acks()
        self._track(self._later(seconds, back), restore_in=seconds)
        return f"not acking for {seconds:g}s"

    async def offline(self, user, seconds):
        """USER's clients log out cleanly and log in again after
        seconds (new sessions): what is sent to it meanwhile waits in
        the server's spool."""
        _bounded("offline", seconds)
        self._target(user)          # a client of this run, or ValueError
        clients = self._user_clients(user.partition("/")[0])
        done = await asyncio.gather(*(c.logout(self.cfg.timeout)
                                      for c in clients))
        if not any(done):
            return "skipped: not logged in"
        self._track(self._later(seconds, lambda: self._login(clients)),
                    restore_in=seconds)
        return f"logged out for {seconds:g}s"

    async def _login(self, clients):
        res = await asyncio.gather(*(c.login(self.cfg.timeout)
                                     for c in clients),
                                   return_exceptions=True)
        for c, r in zip(clients, res):
            if isinstance(r, BaseException):
                self.errors.append(f"login of {c.label} failed: "
                                   f"{type(r).__name__}: {r}")

    async def _late(self, user, at):
        await asyncio.sleep(max(0.0, self.t0 + at - time.monotonic()))
        rec = self.note_fault(f"late login {user}", result=f"after {at:g}s")
        rec["keeps_links"] = True
        await self._login(self._user_clients(user))

    async def _retry(self, origin):
        """Resend a message refused with type 'wait' (same origin-id, a
        new stanza id per attempt), bounded in count."""
        m = self.acct.msgs[origin]
        try:
            await self._resend(origin, m)
        finally:
            self._retrying.discard(origin)

    async def _resend(self, origin, m):
        if m["retries"] >= MAX_RETRIES:
            return
        await asyncio.sleep(self.cfg.retry_after)
        sender = next(c for c in self.clients if c.bare == m["from"])
        for _ in range(int(self.cfg.drain / 0.1) + 1):
            if self._stopping:
                return
            if sender.online.is_set():
                break
            await asyncio.sleep(0.1)
        n = m["retries"] + 1
        if sender.send_message(m["to"], f"lc {sender.user} {m['seq']} "
                               f"{m['sent_ms']}", origin, tag=origin,
                               msg_id=f"{origin}~{n}"):
            self.acct.retried(origin)

    # -- the run ---------------------------------------------------------

    def note_fault(self, name, result="ok", error=None):
        rec = {"name": name, "t_ms": now_ms(),
               "offset_s": round(time.monotonic() - self.t0, 3)
               if self.t0 else None, "result": result, "error": error}
        self.fault_log.append(rec)
        log.info("fault %s at %.1fs: %s", name, rec["offset_s"] or 0,
                 error or result)
        if self.on_fault is not None:
            self.on_fault(rec)
        return rec

    async def run(self):
        cfg = self.cfg
        for u, p in cfg.users:
            c = self._make_client(u, p)
            self.clients.append(c)
            self.by_user[u] = c
            if cfg.carbons:
                self.watchers[u] = self._make_client(u, p, watcher=True)
        first = [c for c in self._all_clients()
                 if c.user not in cfg.late]
        started = await asyncio.gather(
            *(c.start(cfg.timeout) for c in first), return_exceptions=True)
        bad = [f"{c.label}: {e}" for c, e in zip(first, started)
               if isinstance(e, BaseException)]
        if bad:
            self.errors.extend(f"login failed: {b}" for b in bad)
            await self._close()
            return self.report(started_ms=now_ms(), stopped_ms=now_ms())
        self.t0 = time.monotonic()
        start_ms = now_ms()
        for u, at in sorted(cfg.late.items()):
            self._track(self._late(u, at), restore_in=at)
        n = len(self.clients)
        senders = [asyncio.ensure_future(self._sender(c, self.clients[
            (i + 1) % n])) for i, c in enumerate(self.clients)]
        faults = asyncio.ensure_future(self._fault_schedule())
        try:
            await asyncio.gather(*senders)
        finally:
            for t in senders:
                t.cancel()
            faults.cancel()
            await asyncio.gather(faults, return_exceptions=True)
        stop_ms = now_ms()
        await self._settle_faults()
        await self._drain()
        await self._read_archives()
        self._stopping = True
        await self._close()
        return self.report(started_ms=start_ms, stopped_ms=stop_ms)

    async def _sender(self, client, peer):
        interval = 1.0 / self.cfg.rate
        end = self.t0 + self.cfg.duration
        next_t = self.t0
        seq = 0
        while True:
            next_t += interval
            if next_t >= end:
                return
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))
            if not client.online.is_set():
                continue        # a real client would queue; we just skip
            origin = self.cfg.origin(client.user, seq + 1)
            t = now_ms()
            if client.send_message(peer.bare,
                                   f"lc {client.user} {seq + 1} {t}",
                                   origin, tag=origin):
                seq += 1
                self.acct.sent(origin, client.bare, peer.bare, seq, t)

    async def _fault_schedule(self):
        for f in self.faults:
            if f.at >= self.cfg.duration:
                self.fault_log.append({"name": f.name, "t_ms": None,
                                       "result": "skipped: after the end"})
                continue
            await asyncio.sleep(max(0.0, self.t0 + f.at - time.monotonic()))
            await self._inject(f)

    async def _inject(self, f):
        t_ms = now_ms()
        try:
            if f.cmd is not None:
                result = await run_shell(f.cmd, self.cfg.timeout * 3)
            elif f.client is not None:
                kind, user, secs = f.client
                if kind == "crash":
                    result = self.crash(user, secs)
                elif kind == "noack":
                    result = self.noack(user, secs)
                else:
                    result = await self.offline(user, secs)
            elif asyncio.iscoroutinefunction(f.action):
                result = await f.action()
            elif f.blocking:
                result = await asyncio.get_running_loop().run_in_executor(
                    None, f.action)
            else:
                result = f.action()
            rec = self.note_fault(f.name, result=str(result))
        except Exception as e:     # a fault that did not happen is reported
            rec = self.note_fault(f.name, result="error",
                                  error=f"{type(e).__name__}: {e}")
        rec["t_ms"] = t_ms
        rec["scheduled_s"] = f.at
        if f.client is not None:
            rec["targets"] = [f.client[1]]
            rec["keeps_links"] = f.client[0] != "crash"

    async def _settle_faults(self):
        """Bounded: the clients' faults end (acks back, logins after
        offline or late) even when they were due after the traffic."""
        pending = [t for t in self._restores if not t.done()]
        if pending:
            bound = max(0.0, self._restore_by - time.monotonic()) + \
                2 * self.cfg.timeout
            await asyncio.wait(pending, timeout=bound)
        late = [t for t in self._restores if not t.done()]
        if late:
            self.errors.append(f"{len(late)} client fault(s) did not end "
                               "in time")

    async def _drain(self):
        """Bounded: every client is back online and flushes its unacked
        queue, then wait until every message was delivered and every
        guaranteed carbon came, or deliveries stop."""
        deadline = time.monotonic() + self.cfg.drain

        async def back(c):
            try:
                await c.wait_online(max(0.1, deadline - time.monotonic()))
            except xc.LinkDown as e:
                self.errors.append(f"{c.label} not back online: {e}")
        await asyncio.gather(*(back(c) for c in self._all_clients()))
        await asyncio.gather(*(c.flush(max(0.1, deadline -
                                           time.monotonic()))
                               for c in self.clients))
        for u, w in self.watchers.items():
            self.acct.sessions[w.bare] = w.sessions
        last, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            if not self.acct.outstanding():
                break
            seen = sum(len(d) for d in self.acct.deliveries.values()) + \
                sum(len(d) for d in self.acct.carbon_dels.values()) + \
                sum(m["retries"] for m in self.acct.msgs.values())
            if seen != last:
                last, quiet_since = seen, time.monotonic()
            elif time.monotonic() - quiet_since > self.cfg.settle:
                break
            await asyncio.sleep(0.1)
        self.acct.drain_ms = now_ms()
        # Tell the server what we handled.
        for c in self._all_clients():
            c.send_ack()

    async def _read_archives(self):
        """mam always: each user's archive must hold what the previous
        user sent it; mam never: no archive may hold anything of this
        run (both peers of each user are asked)."""
        n = len(self.clients)
        for i, c in enumerate(self.clients):
            sender = self.clients[(i - 1) % n]
            peers = [sender] if self.cfg.mam == "always" else \
                list({p.bare: p for p in (sender,
                                          self.clients[(i + 1) % n])
                      }.values())
            for peer in peers:
                rows = await self._query(c, peer)
                if rows is None:
                    continue
                self.acct.mam_checked.add(c.bare)
                for mam_id, msg, _ in rows:
                    if msg is None:
                        continue
                    f = xc.parse_message(msg, c.bare)
                    if self.cfg.mam == "never":
                        self.acct.archived_unexpected(c.bare, mam_id,
                                                      f["origin_id"])
                    elif bare(f["frm"]) == sender.bare and \
                            bare(f["to"]) == c.bare:
                        self.acct.archived(c.bare, mam_id, f["origin_id"])

    async def _query(self, c, peer, attempts=3):
        """c's archive with peer, all pages; None when it failed. A link
        lost meanwhile (a page of results can overflow a small
        sm-queue-max and end the session) is retried from the start, up
        to attempts times, each with half the page size."""
        page = max(1, int(self.cfg.mam_page))
        for attempt in range(attempts):
            try:
                await c.wait_online(self.cfg.timeout)
                return await c.mam_query(peer.bare, page=page,
                                         timeout=self.cfg.timeout)
            except (xc.LinkDown, xc.ProtocolError, asyncio.TimeoutError,
                    OSError) as e:
                why = f"{type(e).__name__}: {e}"
                self.mam_retries.append({"user": c.bare, "with": peer.bare,
                                         "page": page, "error": why})
                page = max(1, page // 2)
        self.errors.append(f"MAM query of {c.bare} with {peer.bare} "
                           f"failed {attempts} times: {why}")
        return None

    async def _close(self):
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in self._all_clients()),
                             return_exceptions=True)

    def report(self, started_ms, stopped_ms):
        counts, ids, ack_lat = self.acct.summary()
        failures = [f"{k}={counts[k]}" for k in failure_keys(self.cfg.mam)
                    if counts[k]]
        if counts["sent"] == 0:
            failures.append("nothing sent")
        for c in self._all_clients():
            failures.extend(f"{c.label}: {e}" for e in c.errors)
        failures.extend(self.errors)
        failures.extend(f"fault {f['name']} failed: {f['error']}"
                        for f in self.fault_log if f.get("error"))
        recovery(self.fault_log, {c.label: c.events
                                  for c in self._all_clients()})
        line = verdict(counts, failures, self.cfg.seed, self.cfg.mam)
        secs = max(0.001, (stopped_ms - started_ms) / 1000)
        return {
            "verdict": line,
            "pass": not failures,
            "failures": failures,
            "seed": self.cfg.seed,
            "counts": counts,
            "ack_latency_ms": ack_lat,
            "rate_msgs_per_s": round(counts["sent"] / secs, 2),
            "faults": self.fault_log,
            "random_faults": [{"at": a, "kind": k, "user": u,
                               "seconds": s}
                              for a, k, u, s in self.random_schedule],
            "clients": {c.user: client_summary(c) for c in self.clients},
            "watchers": {u: client_summary(w)
                         for u, w in self.watchers.items()},
            "samples": {k: sorted(v)[:20] for k, v in ids.items() if v},
            "messages": {o: " ".join(v) for o, v in
                         sorted(self.acct.verdicts.items())},
            "bounces": {o: m["bounces"] for o, m in
                        sorted(self.acct.msgs.items()) if m["bounces"]},
            "unexpected": sorted(set(self.acct.unexpected))[:20],
            "mam_retries": self.mam_retries,
            "started_ms": started_ms,
            "stopped_ms": stopped_ms,
            "config": dict(self.cfg.as_dict(),
                           random_kinds=list(self.random_kinds)),
        }


def client_summary(c):
    kinds = [k for _, k, _ in c.events]
    return {
        "connections": c.gen,
        "link_downs": kinds.count("link-down"),
        "resumed": kinds.count("resumed"),
        "resume_failed": kinds.count("resume-failed"),
        "new_sessions": kinds.count("new-session"),
        "connect_failed": kinds.count("connect-failed"),
        "crashes": kinds.count("crash"),
        "logouts": kinds.count("logout"),
        "addresses": sorted({i.get("addr") for _, k, i in c.events
                             if k in ("resumed", "new-session")}),
        "resumed_on": sorted({i.get("addr") for _, k, i in c.events
                              if k == "resumed"}),
        "sessions": c.sessions,
        "errors": c.errors,
        "events": [{"t_ms": t, "kind": k, **i} for t, k, i in c.events],
    }


async def run_shell(cmd, timeout):
    """Run a fault command; its failure is the fault's failure."""
    p = await asyncio.create_subprocess_shell(
        cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(p.communicate(), timeout)
    except asyncio.TimeoutError:
        p.kill()
        await p.wait()
        raise RuntimeError(f"{cmd!r} still running after {timeout}s")
    text = out.decode("utf-8", "replace").strip()[-500:]
    if p.returncode != 0:
        raise RuntimeError(f"{cmd!r} exited {p.returncode}: {text}")
    return text or "ok"


# -- command line -------------------------------------------------------

def hostport(s):
    """HOST:PORT, [V6]:PORT or bare V6 with a port after the last colon."""
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {s!r}")
    return host.strip("[]"), int(port)


def timed(s):
    """SECONDS:TEXT."""
    at, sep, what = s.partition(":")
    try:
        return float(at), what
    except ValueError:
        raise argparse.ArgumentTypeError(f"not SECONDS:WHAT: {s!r}") from None


def user_arg(s):
    name, sep, pw = s.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"not NAME:PASSWORD: {s!r}")
    return name, pw


def client_fault_arg(s):
    """SECONDS:KIND:USER[:SECONDS] -> (at, kind, user, seconds)."""
    parts = s.split(":")
    try:
        if len(parts) not in (3, 4):
            raise ValueError()
        at = float(parts[0])
        secs = float(parts[3]) if len(parts) == 4 else None
        Fault.client_fault(at, parts[1], parts[2], secs)    # checks
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"not SECONDS:crash|noack|offline:USER[:SECONDS]: {s!r} "
            f"{e}") from None
    return at, parts[1], parts[2], secs


def late_arg(s):
    user, sep, at = s.partition(":")
    try:
        return user, float(at)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not USER:SECONDS: {s!r}") \
            from None


def kinds_arg(s):
    kinds = tuple(k for k in s.split(",") if k)
    bad = [k for k in kinds if k not in PROXY_FAULTS + CLIENT_FAULTS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(
            f"fault kinds are {','.join(PROXY_FAULTS + CLIENT_FAULTS)}")
    return kinds


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Send numbered messages while links break and clients "
        "crash; account for every one. Exit 0 only on PASS.")
    p.add_argument("--domain", required=True)
    p.add_argument("--server", action="append", type=hostport, required=True,
                   help="HOST:PORT of xmppd; repeat for other addresses "
                   "(e.g. [::1]:5222): reconnects rotate through them")
    p.add_argument("--user", action="append", type=user_arg,
                   help="NAME:PASSWORD (default alice, bob, carol)")
    p.add_argument("--clients", type=int, help="use the first N users")
    p.add_argument("--duration", type=float, default=20.0,
                   help="seconds of traffic (default 20)")
    p.add_argument("--rate", type=float, default=5.0,
                   help="messages per second per user (default 5)")
    p.add_argument("--tls", choices=("starttls", "direct"),
                   default="starttls")
    p.add_argument("--run-id", help="origin-id prefix for this run "
                   "(default random; '' gives lc-USER-SEQ)")
    p.add_argument("--drain", type=float, default=20.0,
                   help="bound on the final drain, seconds")
    p.add_argument("--settle", type=float, default=2.0,
                   help="the drain ends after this many quiet seconds")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="bound on each connect, login and query, seconds")
    p.add_argument("--dead-after", type=float, default=3.0,
                   help="seconds without an answer before a link is dead")
    p.add_argument("--mam", choices=MAM_MODES, default="always",
                   help="what the server archives (its mam-default): "
                   "always: every message archived once, by its "
                   "stanza-id; never: no archive holds any of them")
    p.add_argument("--mam-page", type=int, default=100,
                   help="archive page size (default 100; a page larger "
                   "than the server's sm-queue-max can end the session)")
    p.add_argument("--no-carbons", action="store_true",
                   help="no second resource, no carbons accounting")
    p.add_argument("--fault-cmd", action="append", type=timed, default=[],
                   help="SECONDS:SHELL-COMMAND, run at that second")
    p.add_argument("--client-fault", action="append", type=client_fault_arg,
                   default=[], metavar="SECONDS:KIND:USER[:SECONDS]",
                   help="crash:USER[:PAUSE] (USER or USER/carbons), "
                   "noack:USER:SECONDS, offline:USER:SECONDS")
    p.add_argument("--late", action="append", type=late_arg, default=[],
                   metavar="USER:SECONDS",
                   help="USER's clients first log in SECONDS after the "
                   "traffic starts")
    p.add_argument("--crash-pause", type=float, default=1.0,
                   help="seconds a crashed client stays down (default 1)")
    p.add_argument("--proxy", action="store_true",
                   help="put an in-process FaultProxy before each server")
    p.add_argument("--fault", action="append", type=timed, default=[],
                   help="SECONDS:PROXY-COMMAND (with --proxy), e.g. 5:reset")
    p.add_argument("--random-faults", type=float, metavar="SECONDS",
                   help="a random fault about every SECONDS")
    p.add_argument("--random-kinds", type=kinds_arg, metavar="K1,K2,..",
                   help="kinds of random faults (default: reset, close, "
                   "blackhole with --proxy, and crash, noack, offline)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of every random choice (default random; "
                   "printed on the verdict line: give it to replay)")
    p.add_argument("--report", help="write the JSON report here ('-': "
                   "stdout)")
    p.add_argument("-v", "--verbose", action="count", default=0)
    a = p.parse_args(argv)
    if a.fault and not a.proxy:
        p.error("--fault needs --proxy")
    if a.random_kinds and not a.random_faults:
        p.error("--random-kinds needs --random-faults")
    if not a.proxy and any(k in PROXY_FAULTS for k in a.random_kinds or ()):
        p.error("random reset, close and blackhole need --proxy")
    return a


async def start_proxies(servers):
    from faultproxy import FaultProxy
    proxies, addrs = [], []
    for host, port in servers:
        listen = "::1" if ":" in host else "127.0.0.1"
        fp = FaultProxy(listen, 0, host, port)
        addrs.append((listen, await fp.start()))
        proxies.append(fp)
    return proxies, addrs


def proxy_fault(proxies, command):
    def act():
        return "; ".join(p.command(command) for p in proxies)
    return act


def config_from_args(a, servers):
    return Config(a.domain, servers, users=a.user, clients=a.clients,
                  duration=a.duration, rate=a.rate, tls=a.tls,
                  run_id=a.run_id, drain=a.drain, settle=a.settle,
                  dead_after=a.dead_after, timeout=a.timeout, mam=a.mam,
                  mam_page=a.mam_page,
                  carbons=not a.no_carbons, seed=a.seed,
                  late=dict(a.late), random_faults=a.random_faults,
                  random_kinds=a.random_kinds, crash_pause=a.crash_pause)


async def main_async(a):
    proxies, servers = [], a.server
    if a.proxy:
        proxies, servers = await start_proxies(a.server)
    try:
        cfg = config_from_args(a, servers)
        faults = [Fault(t, f"cmd {shlex.split(c)[0] if c.strip() else c}",
                        cmd=c) for t, c in a.fault_cmd]
        faults += [Fault(t, f"proxy {c}", action=proxy_fault(proxies, c))
                   for t, c in a.fault]
        faults += [Fault.client_fault(*f) for f in a.client_fault]
        run_proxy = (lambda c: proxy_fault(proxies, c)()) if proxies \
            else None
        check = LossCheck(cfg, faults, proxy_command=run_proxy)
        report = await check.run()
    finally:
        for fp in proxies:
            await fp.stop()
    report["config"]["proxy"] = bool(proxies)
    return report


def main(argv=None):
    a = parse_args(argv)
    logging.basicConfig(level=(logging.WARNING, logging.INFO,
                               logging.DEBUG)[min(a.verbose, 2)],
                        format="%(asctime)s %(name)s %(message)s")
    try:
        report = asyncio.run(main_async(a))
    except ValueError as e:
        print(f"losscheck: {e}", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=1, sort_keys=True)
    if a.report == "-":
        print(text)
    elif a.report:
        tmp = a.report + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, a.report)
    print(report["verdict"], flush=True)
    return 0 if report["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
