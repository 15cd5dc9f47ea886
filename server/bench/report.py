#!/usr/bin/python3
"""report.py BENCH_DIR DOC: turn the raw JSON of server/bench/run.sh into
the three-way table of docs/performance.md (median of the runs, min-max,
and a ratio column per peer). Only the text between the bench:begin and
bench:end markers is replaced; the rest of DOC is left alone.

A ratio is how many times better xmppd is (>1: xmppd better), whichever
way the figure points: peer/xmppd for costs, xmppd/peer for rates.
"""
import glob
import json
import os
import re
import statistics
import sys

SERVERS = ("xmppd", "prosody", "ejabberd")
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def load(bench_dir, srv, work):
    """Every run of one workload on one server, as parsed JSON."""
    runs = []
    for path in sorted(glob.glob(os.path.join(bench_dir,
                                              "%s-%s-[0-9]*.json" % (srv, work)))):
        try:
            with open(path) as f:
                runs.append(json.load(f))
        except (OSError, ValueError):
            runs.append({"broken": path})
    return runs


def ckpt(run, n, key):
    for c in run.get("checkpoints", []):
        if c["sessions"] >= n * 0.99:
            return c[key]
    return None


def ok(run):
    """
    A run counts if no session failed and it finished, except that a
    message run may hit its time bound: its rate is delivered/elapsed
    (marked in the table).
    """
    if "broken" in run or run.get("failed", 0) > 0:
        return False
    if run.get("timed_out"):
        return run.get("mode") == "msg" and run.get("delivered", 0) > 0
    return True


# figure: (label, workload, extractor, higher_is_better, format)
FIGURES = [
    ("RSS idle, KiB", "idle", lambda r: r.get("rss_idle_kib"), False, "%.0f"),
    ("KiB per session, 1,000 idle", "idle",
     lambda r: ckpt(r, 1000, "kib_per_session"), False, "%.1f"),
    ("KiB per session, 10,000 idle", "idle",
     lambda r: ckpt(r, 10000, "kib_per_session"), False, "%.1f"),
    ("logins/s (TLS+SASL+bind+SM)", "login",
     lambda r: r.get("logins_per_s"), True, "%.0f"),
    ("server CPU ms per login", "login",
     lambda r: r.get("cpu_ms_per_login"), False, "%.2f"),
    ("messages/s delivered (MAM, acked)", "msg",
     lambda r: r.get("msgs_per_s"), True, "%.0f"),
    ("server CPU s per 10,000 messages", "msg",
     lambda r: r.get("cpu_s_per_10k"), False, "%.2f"),
    ("MAM last page p50, ms", "mam", lambda r: r.get("p50_ms"), False, "%.1f"),
    ("MAM last page p99, ms", "mam", lambda r: r.get("p99_ms"), False, "%.1f"),
    ("resume 1,000 sessions, s to all redelivered", "resume",
     lambda r: r.get("all_redelivered_s"), False, "%.2f"),
]


def cell(values, fmt, nruns):
    if not values:
        return "n/a (%d runs failed)" % nruns if nruns else "not run", None
    med = statistics.median(values)
    text = fmt % med
    if len(values) > 1:
        text += " (" + fmt % min(values) + "–" + fmt % max(values) + ")"
    if len(values) < nruns:
        text += " [%d/%d runs ok]" % (len(values), nruns)
    return text, med


def figure_row(bench_dir, label, work, get, higher, fmt):
    cells, meds = [], {}
    for srv in SERVERS:
        runs = load(bench_dir, srv, work)
        vals = [get(r) for r in runs if ok(r)]
        vals = [v for v in vals if v is not None and v >= 0]
        text, meds[srv] = cell(vals, fmt, len(runs))
        if any(r.get("timed_out") for r in runs if ok(r)):
            text += " ⏱"
        cells.append(text)
    ratios = []
    for peer in SERVERS[1:]:
        x, p = meds.get("xmppd"), meds.get(peer)
        if not x or not p:
            ratios.append("–")
        else:
            ratios.append("%.1f×" % (x / p if higher else p / x))
    return "| %s | %s |" % (label, " | ".join(cells + ratios))


def max_sessions(bench_dir):
    path = os.path.join(bench_dir, "xmppd-idle-max.json")
    try:
        with open(path) as f:
            r = json.load(f)
    except (OSError, ValueError):
        return "xmppd maximum-sessions run: not run."
    last = r["checkpoints"][-1] if r.get("checkpoints") else None
    if last is None:
        return "xmppd maximum-sessions run: no checkpoint reached."
    return ("xmppd alone: %d concurrent authenticated TLS sessions held "
            "(%d failed), RSS %.0f KiB, %.1f KiB per session; the bench "
            "process itself peaked at %d KiB." %
            (last["sessions"], r.get("failed", 0), last["rss_kib"],
             last["kib_per_session"], r.get("bench_maxrss_kib", 0)))


def table(bench_dir):
    head = ("| figure | xmppd | Prosody 0.12 | ejabberd 23.01 "
            "| xmppd vs Prosody | xmppd vs ejabberd |\n"
            "|---|---|---|---|---|---|")
    rows = [figure_row(bench_dir, *f) for f in FIGURES]
    note = ("⏱ the run stopped at its time bound (30 s) before all 20,000 "
            "messages were delivered; the rate is delivered/elapsed.")
    return "\n".join([head] + rows + ["", note, "", max_sessions(bench_dir)])


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: report.py BENCH_DIR DOC")
    bench_dir, doc = sys.argv[1], sys.argv[2]
    text = table(bench_dir)
    with open(doc) as f:
        old = f.read()
    if BEGIN not in old or END not in old:
        sys.exit("report.py: %s lacks the %s/%s markers" % (doc, BEGIN, END))
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END),
                 lambda m: BEGIN + "\n" + text + "\n" + END, old, flags=re.S)
    with open(doc, "w") as f:
        f.write(new)
    print(text)


if __name__ == "__main__":
    main()
