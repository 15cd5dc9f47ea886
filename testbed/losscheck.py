#!/usr/bin/python3
"""losscheck: prove that no message is lost while links break.

N users (default alice, bob, carol) each send sequence-numbered chat
messages to the next user in a ring for a bounded time at a bounded rate:

    <message type='chat' to='bob@DOMAIN' id='lc-RUN-alice-7'>
      <body>lc alice 7 SEND-MS</body>
      <origin-id xmlns='urn:xmpp:sid:0' id='lc-RUN-alice-7'/></message>

while faults happen: in-process (FaultProxy commands, any callable) or
external (--fault-cmd runs a shell command at a given second). Clients
reconnect with bounded backoff and resume as a real client does
(xmppclient.py); a failed resume starts a new session and resends the
unacknowledged messages with the same origin-id.

At the end sending stops, the clients drain (bounded: until the server
acked everything and deliveries settle), each receiver pages through its
MAM archive, and every message is accounted for:

  sent, acked      by the server (XEP-0198 <a h/>)
  live             first delivered on a stream that was up when it was sent
  resumed          first delivered on a resumed stream, sent before it
  offline          first delivered with a XEP-0203 <delay/> (offline store)
  mam              found in the receiver's archive
  redelivered      seen again with the same <stanza-id/> (legal)
  dup_new_id       seen again with a different <stanza-id/> (a failure)
  lost             sent, but neither delivered nor archived (a failure)
  unacked          never acked by the server after the drain (a failure)

The verdict is one line, "losscheck: PASS ..." or "losscheck: FAIL ...",
plus a JSON report (counts, faults with times and recovery times,
per-client connection history, configuration). Exit status 0 only on
PASS. The QEMU testbed runs this same program against the VM.
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
BODY_RE = re.compile(r"^lc (\S+) (\d+) (\d+)$")

log = logging.getLogger("losscheck")


class Config:
    """Everything a run depends on; as_dict() goes into the report."""

    def __init__(self, domain, servers, users=None, clients=None,
                 duration=20.0, rate=5.0, tls="starttls", run_id=None,
                 drain=20.0, settle=2.0, timeout=10.0, ping_after=1.0,
                 dead_after=3.0, backoff=(0.1, 2.0), mam=True,
                 mam_page=100, rotate=True):
        users = list(users or DEFAULT_USERS)
        if clients is not None:
            users = users[:clients]
        if len(users) < 2:
            raise ValueError("need at least 2 users")
        if not servers:
            raise ValueError("need a server address")
        if not 0 < rate <= MAX_RATE:
            raise ValueError(f"rate must be in (0, {MAX_RATE}]")
        if not 0 < duration <= MAX_DURATION:
            raise ValueError(f"duration must be in (0, {MAX_DURATION}]")
        self.domain = domain
        self.servers = [tuple(s) for s in servers]
        self.users = users
        self.duration, self.rate, self.tls = duration, rate, tls
        self.run_id = secrets.token_hex(3) if run_id is None else run_id
        self.drain, self.settle, self.timeout = drain, settle, timeout
        self.ping_after, self.dead_after = ping_after, dead_after
        self.backoff = backoff
        self.mam, self.mam_page, self.rotate = mam, mam_page, rotate

    def origin(self, user, seq):
        run = f"{self.run_id}-" if self.run_id else ""
        return f"lc-{run}{user}-{seq}"

    @property
    def prefix(self):
        return f"lc-{self.run_id}-" if self.run_id else "lc-"

    def as_dict(self):
        d = {k: v for k, v in vars(self).items() if k != "users"}
        d["users"] = [u for u, _ in self.users]     # never passwords
        d["servers"] = [f"{h}:{p}" for h, p in self.servers]
        return d


class Fault:
    """One scheduled fault: a shell command, or a callable (a coroutine
    function is awaited; a blocking one runs in a thread)."""

    def __init__(self, at, name, action=None, cmd=None, blocking=False):
        if (action is None) == (cmd is None):
            raise ValueError("a fault needs exactly one of action, cmd")
        self.at, self.name = float(at), name
        self.action, self.cmd, self.blocking = action, cmd, blocking


class Accounting:
    """Pure bookkeeping of one run: what was sent, acked, delivered,
    archived. No I/O, so it is tested on its own."""

    def __init__(self, prefix="lc-"):
        self.prefix = prefix
        self.msgs = {}          # origin -> record
        self.deliveries = {}    # origin -> [delivery]
        self.archive = {}       # origin -> [(receiver, mam id)]
        self.unexpected = []    # our prefix, but never sent this run
        self.carbons = 0
        self.mam_checked = set()    # receivers whose archive was read

    def sent(self, origin, frm, to, seq, t_ms):
        m = self.msgs.get(origin)
        if m is None:
            self.msgs[origin] = {"from": frm, "to": bare(to), "seq": seq,
                                 "sent_ms": t_ms, "acked_ms": None}

    def acked(self, origin, t_ms):
        m = self.msgs.get(origin)
        if m is not None and m["acked_ms"] is None:
            m["acked_ms"] = t_ms

    def delivered(self, receiver, rec):
        """One message as the receiver's client got it (xc.Received)."""
        origin = rec.origin_id
        if origin is None or not origin.startswith(self.prefix):
            return
        if rec.carbon:
            self.carbons += 1
            return
        m = self.msgs.get(origin)
        if m is None:
            self.unexpected.append(origin)
            return
        kind = "live"
        if rec.delay:
            kind = "offline"
        elif rec.conn_kind == "resumed" and rec.conn_t_ms is not None \
                and m["sent_ms"] < rec.conn_t_ms:
            kind = "resumed"
        self.deliveries.setdefault(origin, []).append({
            "receiver": bare(receiver), "kind": kind,
            "stanza_id": rec.stanza_id, "t_ms": rec.t_ms})

    def archived(self, receiver, mam_id, origin):
        self.mam_checked.add(bare(receiver))
        if origin is None or not origin.startswith(self.prefix):
            return
        if origin not in self.msgs:
            self.unexpected.append(origin)
            return
        self.archive.setdefault(origin, []).append((bare(receiver), mam_id))

    def summary(self):
        c = dict.fromkeys(("sent", "acked", "delivered", "live", "resumed",
                           "offline", "mam", "mam_only", "redelivered",
                           "dup_new_id", "lost", "unacked", "not_in_mam",
                           "mam_dup", "stanza_id_mismatch",
                           "missing_stanza_id", "misrouted"), 0)
        ids = {k: [] for k in ("lost", "unacked", "dup_new_id",
                               "not_in_mam", "mam_dup",
                               "stanza_id_mismatch", "missing_stanza_id",
                               "misrouted")}
        latencies = []
        for origin, m in self.msgs.items():
            c["sent"] += 1
            if m["acked_ms"] is not None:
                c["acked"] += 1
                latencies.append(m["acked_ms"] - m["sent_ms"])
            else:
                ids["unacked"].append(origin)
            self._one(origin, m, c, ids)
        for k, v in ids.items():
            c[k] = len(v)
        c["carbons"] = self.carbons
        c["unexpected"] = len(self.unexpected)
        return c, ids, percentiles(latencies)

    def _one(self, origin, m, c, ids):
        dels = [d for d in self.deliveries.get(origin, ())
                if d["receiver"] == m["to"]]
        if len(dels) != len(self.deliveries.get(origin, ())):
            ids["misrouted"].append(origin)
        arch = [i for r, i in self.archive.get(origin, ()) if r == m["to"]]
        if arch:
            c["mam"] += 1
        if len(set(arch)) > 1:
            ids["mam_dup"].append(origin)
        if not dels:
            if arch:
                c["mam_only"] += 1
            else:
                ids["lost"].append(origin)
            return
        c["delivered"] += 1
        c[dels[0]["kind"]] += 1
        first = dels[0]["stanza_id"]
        if any(d["stanza_id"] is None for d in dels):
            ids["missing_stanza_id"].append(origin)
        for d in dels[1:]:
            if d["stanza_id"] == first and first is not None:
                c["redelivered"] += 1
            elif d["stanza_id"] is not None and first is not None:
                ids["dup_new_id"].append(origin)
        if m["to"] in self.mam_checked:
            if not arch:
                ids["not_in_mam"].append(origin)
            elif first is not None and first not in arch:
                ids["stanza_id_mismatch"].append(origin)


def percentiles(values):
    if not values:
        return {"n": 0}
    v = sorted(values)

    def pick(p):
        return v[min(len(v) - 1, int(p * len(v)))]
    return {"n": len(v), "p50": pick(0.5), "p99": pick(0.99), "max": v[-1]}


def verdict(counts, failures):
    keys = ("sent", "acked", "live", "resumed", "offline", "mam",
            "redelivered", "lost", "dup_new_id")
    nums = " ".join(f"{k}={counts.get(k, 0)}" for k in keys)
    if not failures:
        return f"losscheck: PASS {nums}"
    return f"losscheck: FAIL {nums} reasons: " + "; ".join(failures)


def recovery(faults, clients):
    """For each fault: per client, the time from the fault to the first
    successful resume or new session after the link went down. A
    link-down is pinned on the first fault after that link came up: a
    blackholed link is only found dead dead_after later, possibly after
    the next fault. Clients whose link did not go down are not listed."""
    for f in faults:
        f["recovery_ms"] = {}
    timed = sorted((f for f in faults if f.get("t_ms") is not None),
                   key=lambda f: f["t_ms"])
    for name, events in clients.items():
        up = 0
        for i, (t, kind, _) in enumerate(events):
            if kind in ("resumed", "new-session"):
                up = t
            if kind != "link-down":
                continue
            cause = next((f for f in timed if up <= f["t_ms"] <= t), None)
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


class LossCheck:
    """One run. Hooks: on_event(user, kind, info) for client events,
    on_fault(record) after each fault; note_fault(name) records a fault
    the caller injected itself."""

    def __init__(self, cfg, faults=()):
        self.cfg = cfg
        self.faults = sorted(faults, key=lambda f: f.at)
        self.acct = Accounting(cfg.prefix)
        self.clients = []
        self.fault_log = []
        self.errors = []
        self.on_event = None
        self.on_fault = None
        self.t0 = None

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

    def _make_client(self, user, password):
        cfg = self.cfg
        c = xc.XMPPClient(user, password, cfg.domain, cfg.servers,
                          tls=cfg.tls, timeout=cfg.timeout,
                          ping_after=cfg.ping_after,
                          dead_after=cfg.dead_after, backoff=cfg.backoff,
                          rotate=cfg.rotate)
        c.on_message = lambda rec: self.acct.delivered(c.bare, rec)
        c.on_acked = self.acct.acked

        def event(kind, info):
            if self.on_event is not None:
                self.on_event(user, kind, info)
        c.on_event = event
        return c

    async def run(self):
        cfg = self.cfg
        self.clients = [self._make_client(u, p) for u, p in cfg.users]
        started = await asyncio.gather(
            *(c.start(cfg.timeout) for c in self.clients),
            return_exceptions=True)
        bad = [f"{c.bare}: {e}" for c, e in zip(self.clients, started)
               if isinstance(e, BaseException)]
        if bad:
            self.errors.extend(f"login failed: {b}" for b in bad)
            await self._close()
            return self.report(started_ms=now_ms(), stopped_ms=now_ms())
        self.t0 = time.monotonic()
        start_ms = now_ms()
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
        await self._drain()
        if cfg.mam:
            await self._read_archives()
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

    async def _drain(self):
        """Bounded: every client flushes its unacked queue, then wait
        until every acked message was delivered or deliveries stop."""
        deadline = time.monotonic() + self.cfg.drain
        await asyncio.gather(*(c.flush(self.cfg.drain)
                               for c in self.clients))
        last, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            pending = [o for o, m in self.acct.msgs.items()
                       if o not in self.acct.deliveries]
            if not pending:
                break
            seen = sum(len(d) for d in self.acct.deliveries.values())
            if seen != last:
                last, quiet_since = seen, time.monotonic()
            elif time.monotonic() - quiet_since > self.cfg.settle:
                break
            await asyncio.sleep(0.05)
        # Let receivers tell the server what they processed.
        for c in self.clients:
            c.request_ack()

    async def _read_archives(self):
        n = len(self.clients)
        for i, c in enumerate(self.clients):
            sender = self.clients[(i - 1) % n]
            try:
                await c.wait_online(self.cfg.timeout)
                rows = await c.mam_query(sender.bare, page=self.cfg.mam_page,
                                         timeout=self.cfg.timeout)
            except (xc.LinkDown, xc.ProtocolError, asyncio.TimeoutError,
                    OSError) as e:
                self.errors.append(f"MAM query of {c.bare} failed: "
                                   f"{type(e).__name__}: {e}")
                continue
            self.acct.mam_checked.add(c.bare)
            for mam_id, msg, _ in rows:
                if msg is None:
                    continue
                f = xc.parse_message(msg, c.bare)
                if bare(f["frm"]) == sender.bare and bare(f["to"]) == c.bare:
                    self.acct.archived(c.bare, mam_id, f["origin_id"])

    async def _close(self):
        await asyncio.gather(*(c.close() for c in self.clients),
                             return_exceptions=True)

    def report(self, started_ms, stopped_ms):
        counts, ids, ack_lat = self.acct.summary()
        failures = []
        for k in ("lost", "dup_new_id", "unacked", "not_in_mam", "mam_dup",
                  "stanza_id_mismatch", "missing_stanza_id", "misrouted"):
            if counts[k]:
                failures.append(f"{k}={counts[k]}")
        if counts["sent"] == 0:
            failures.append("nothing sent")
        for c in self.clients:
            failures.extend(f"{c.bare}: {e}" for e in c.errors)
        failures.extend(self.errors)
        failures.extend(f"fault {f['name']} failed: {f['error']}"
                        for f in self.fault_log if f.get("error"))
        recovery(self.fault_log, {c.user: c.events for c in self.clients})
        line = verdict(counts, failures)
        secs = max(0.001, (stopped_ms - started_ms) / 1000)
        return {
            "verdict": line,
            "pass": not failures,
            "failures": failures,
            "counts": counts,
            "ack_latency_ms": ack_lat,
            "rate_msgs_per_s": round(counts["sent"] / secs, 2),
            "faults": self.fault_log,
            "clients": {c.user: client_summary(c) for c in self.clients},
            "samples": {k: sorted(v)[:20] for k, v in ids.items() if v},
            "unexpected": sorted(set(self.acct.unexpected))[:20],
            "started_ms": started_ms,
            "stopped_ms": stopped_ms,
            "config": self.cfg.as_dict(),
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
        "addresses": sorted({i.get("addr") for _, k, i in c.events
                             if k in ("resumed", "new-session")}),
        "resumed_on": sorted({i.get("addr") for _, k, i in c.events
                              if k == "resumed"}),
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


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Send numbered messages while links break; account "
        "for every one. Exit 0 only on PASS.")
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
    p.add_argument("--timeout", type=float, default=10.0,
                   help="bound on each connect, login and query, seconds")
    p.add_argument("--dead-after", type=float, default=3.0,
                   help="seconds without an answer before a link is dead")
    p.add_argument("--no-mam", action="store_true",
                   help="do not query the archives")
    p.add_argument("--fault-cmd", action="append", type=timed, default=[],
                   help="SECONDS:SHELL-COMMAND, run at that second")
    p.add_argument("--proxy", action="store_true",
                   help="put an in-process FaultProxy before each server")
    p.add_argument("--fault", action="append", type=timed, default=[],
                   help="SECONDS:PROXY-COMMAND (with --proxy), e.g. 5:reset")
    p.add_argument("--random-faults", type=float, metavar="SECONDS",
                   help="with --proxy: a random reset/close/blackhole "
                   "about every SECONDS")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--report", help="write the JSON report here ('-': "
                   "stdout)")
    p.add_argument("-v", "--verbose", action="count", default=0)
    a = p.parse_args(argv)
    if (a.fault or a.random_faults) and not a.proxy:
        p.error("--fault and --random-faults need --proxy")
    return a


def random_faults(every, duration, seed):
    rnd = random.Random(seed)
    out, t = [], every
    while t < duration - 1:
        out.append((round(t, 2), rnd.choice(("reset", "close", "blackhole"))))
        t += every * rnd.uniform(0.5, 1.5)
    return out


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


async def main_async(a):
    proxies, servers = [], a.server
    if a.proxy:
        proxies, servers = await start_proxies(a.server)
    cfg = Config(a.domain, servers, users=a.user, clients=a.clients,
                 duration=a.duration, rate=a.rate, tls=a.tls,
                 run_id=a.run_id, drain=a.drain, dead_after=a.dead_after,
                 timeout=a.timeout,
                 mam=not a.no_mam)
    faults = [Fault(t, f"cmd {shlex.split(c)[0] if c.strip() else c}",
                    cmd=c) for t, c in a.fault_cmd]
    sched = list(a.fault)
    if a.random_faults:
        sched += random_faults(a.random_faults, a.duration, a.seed)
    faults += [Fault(t, f"proxy {c}", action=proxy_fault(proxies, c))
               for t, c in sched]
    try:
        report = await LossCheck(cfg, faults).run()
    finally:
        for fp in proxies:
            await fp.stop()
    report["config"]["proxy"] = bool(proxies)
    report["config"]["seed"] = a.seed
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
