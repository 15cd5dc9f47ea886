#!/usr/bin/python3
"""report.py BENCH_DIR DOC: turn the raw JSON of server/bench/run.sh into
the three-way table of docs/performance.md (median of the runs, min-max,
and a ratio column per peer). Only the text between the bench:begin and
bench:end markers is replaced; the rest of DOC is left alone.

A ratio is how many times better xmppd is (>1: xmppd better), whichever
way the figure points: peer/xmppd for costs, xmppd/peer for rates.

Rows marked "xmppd only" are xmppd runs with another setting (archiving
off: workloads msg_mamoff, resume_mamoff); the peers were not run that
way, so their cells and ratios stay empty. The message workload without
origin-ids (msg_noorigin) gets a line under the table, and so does the
message-rate target (xmppd with MAM on against Prosody, same invocation).
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


TARGET_VS_PROSODY = 25.0     # messages/s, MAM on, same invocation


def rate(r):
    return r.get("msgs_per_s")


def cpu10k(r):
    return r.get("cpu_s_per_10k")


def resume_s(r):
    return r.get("all_redelivered_s")


# figure: (label, workload, extractor, higher_is_better, format[, servers])
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
    ("messages/s delivered (MAM on, acked)", "msg", rate, True, "%.0f"),
    ("server CPU s per 10,000 messages", "msg", cpu10k, False, "%.2f"),
    ("messages/s delivered, MAM off (xmppd only)", "msg_mamoff", rate,
     True, "%.0f", ("xmppd",)),
    ("server CPU s per 10,000 messages, MAM off (xmppd only)", "msg_mamoff",
     cpu10k, False, "%.2f", ("xmppd",)),
    ("MAM last page p50, ms", "mam", lambda r: r.get("p50_ms"), False, "%.1f"),
    ("MAM last page p99, ms", "mam", lambda r: r.get("p99_ms"), False, "%.1f"),
    ("resume 1,000 sessions, s to all redelivered", "resume", resume_s,
     False, "%.2f"),
    ("resume 1,000 sessions, MAM off (xmppd only)", "resume_mamoff",
     resume_s, False, "%.2f", ("xmppd",)),
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


def values(bench_dir, srv, work, get):
    """The figure of every run that counts, and how many runs there were."""
    runs = load(bench_dir, srv, work)
    vals = [get(r) for r in runs if ok(r)]
    return [v for v in vals if v is not None and v >= 0], runs


def figure_row(bench_dir, label, work, get, higher, fmt, servers=SERVERS):
    cells, meds = [], {}
    for srv in SERVERS:
        if srv not in servers:
            cells.append("–")
            continue
        vals, runs = values(bench_dir, srv, work, get)
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


def med(bench_dir, srv, work, get):
    vals, _ = values(bench_dir, srv, work, get)
    return (statistics.median(vals), min(vals), max(vals)) if vals else None


def variants(bench_dir):
    """xmppd's message rate with MAM off and without origin-ids, against
    MAM on with origin-ids (the table's row), medians of the same runs."""
    on = med(bench_dir, "xmppd", "msg", rate)
    on_cpu = med(bench_dir, "xmppd", "msg", cpu10k)
    off = med(bench_dir, "xmppd", "msg_mamoff", rate)
    off_cpu = med(bench_dir, "xmppd", "msg_mamoff", cpu10k)
    plain = med(bench_dir, "xmppd", "msg_noorigin", rate)
    plain_cpu = med(bench_dir, "xmppd", "msg_noorigin", cpu10k)
    lines = []
    if on and off and on_cpu and off_cpu:
        lines.append(
            "xmppd, MAM on vs off (medians): archiving costs %.0f µs of "
            "server CPU per message (%.0f with MAM on, %.0f with MAM off); "
            "the rate with MAM on is %.0f%% of the rate with it off." %
            ((on_cpu[0] - off_cpu[0]) * 100, on_cpu[0] * 100,
             off_cpu[0] * 100, 100 * on[0] / off[0]))
    if plain and plain_cpu:
        lines.append(
            "xmppd, MAM on, messages without origin-ids: %.0f/s "
            "(%.0f–%.0f), %.0f µs of server CPU per message." %
            (plain[0], plain[1], plain[2], plain_cpu[0] * 100))
    return lines


def target(bench_dir):
    """The message-rate target against Prosody, with the spread of runs."""
    x = med(bench_dir, "xmppd", "msg", rate)
    p = med(bench_dir, "prosody", "msg", rate)
    if not x or not p:
        return "Message-rate target (≥ %.0f× Prosody): not measurable in " \
            "this invocation." % TARGET_VS_PROSODY
    ratio = x[0] / p[0]
    return ("Message-rate target, MAM on: xmppd %.0f/s against Prosody "
            "%.0f/s is %.1f× (%.1f× to %.1f× between the slowest and the "
            "fastest runs), target ≥ %.0f×: %s." %
            (x[0], p[0], ratio, x[1] / p[2], x[2] / p[1], TARGET_VS_PROSODY,
             "met" if ratio >= TARGET_VS_PROSODY else "missed"))


def table(bench_dir):
    head = ("| figure | xmppd | Prosody 0.12 | ejabberd 23.01 "
            "| xmppd vs Prosody | xmppd vs ejabberd |\n"
            "|---|---|---|---|---|---|")
    rows = [figure_row(bench_dir, *f) for f in FIGURES]
    note = ("⏱ the run stopped at its time bound (30 s) before all 20,000 "
            "messages were delivered; the rate is delivered/elapsed. "
            "Messages carry a XEP-0359 origin-id; \"xmppd only\": "
            "`mam-default never`, the peers were not run so.")
    out = [head] + rows + ["", note, "", target(bench_dir)]
    for line in variants(bench_dir):
        out += ["", line]
    return "\n".join(out + ["", max_sessions(bench_dir)])


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
