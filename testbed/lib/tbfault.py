"""Faults, each one command (`tb fault NAME ...`), so that a scenario
can schedule them with losscheck.py --fault-cmd.

  link off|on                 QMP set_link on the VM's NIC: the cable
  blackhole CLIENT [v4|v6]    nft drop in the client's namespace, both
  unblackhole CLIENT          directions: a half-open connection
  reset CLIENT [SECONDS]      nft reject with tcp reset for SECONDS
                              (default 1): the client gets RST on its next
                              write, the server on its next one
  netem CLIENT SPEC...|off    tc netem on the client's eth0; a kernel
                              without sch_netem gets only the "loss N%"
                              of SPEC, from nft (numgen random), and the
                              result says what was left out
  kill-xmppd                  SIGKILL xmppd in the VM (systemd restarts it;
                              waits up to 15 s for a VM still booting)
  reset-vm                    QMP system_reset: a hard reset
  power-off / power-on        SIGKILL QEMU (the power cut); boot again on
                              the same disk without waiting
"""

import inspect
import time

from tbcommon import (CLIENTS, NIC_ID, XMPP_PORTS, TbError, client_ns, in_ns,
                      log, run)
import tbvm

PORTS = "{ " + ", ".join(str(p) for p in XMPP_PORTS) + " }"


def nft(ns, script):
    run(in_ns(ns, "nft", "-f", "-"), input=script, capture=True)


def nft_delete(ns, table):
    run(in_ns(ns, "nft", "delete", "table", "inet", table), check=False,
        capture=True)


def link(state):
    if state not in ("off", "on"):
        raise TbError("link off|on")
    tbvm.qmp("set_link", name=NIC_ID, up=state == "on")
    return f"VM link {state}"


def blackhole(name, family="all"):
    ns = client_ns(name)
    match = {"all": "", "v4": "meta nfproto ipv4 ", "v6":
             "meta nfproto ipv6 "}.get(family)
    if match is None:
        raise TbError("blackhole CLIENT [v4|v6]")
    nft_delete(ns, "tb_blackhole")
    nft(ns, f"""table inet tb_blackhole {{
  chain in {{ type filter hook input priority 0; {match}iif "eth0" drop; }}
  chain out {{ type filter hook output priority 0; {match}oif "eth0" drop; }}
}}
""")
    return f"{ns}: {family} blackholed"


def unblackhole(name):
    ns = client_ns(name)
    nft_delete(ns, "tb_blackhole")
    return f"{ns}: blackhole lifted"


def reset(name, seconds="1"):
    """TCP resets on the XMPP ports in both directions for a moment: the
    client's next write and the server's next write to it get RST. The
    input rule spares RSTs: the one the output rule makes for the local
    socket passes the input hook too, and must reach the socket."""
    ns = client_ns(name)
    hold = float(seconds)
    nft_delete(ns, "tb_reset")
    nft(ns, f"""table inet tb_reset {{
  chain in {{ type filter hook input priority 0;
    tcp sport {PORTS} tcp flags & rst == 0 reject with tcp reset; }}
  chain out {{ type filter hook output priority 0;
    tcp dport {PORTS} reject with tcp reset; }}
}}
""")
    time.sleep(hold)
    nft_delete(ns, "tb_reset")
    return f"{ns}: connections reset for {hold} s"


def netem_available(ns):
    p = run(in_ns(ns, "tc", "qdisc", "replace", "dev", "lo", "root",
                  "netem", "delay", "0ms"), check=False, capture=True)
    if p.returncode == 0:
        run(in_ns(ns, "tc", "qdisc", "del", "dev", "lo", "root"),
            check=False, capture=True)
    return p.returncode == 0


def netem(name, *spec):
    ns = client_ns(name)
    if spec == ("off",):
        run(in_ns(ns, "tc", "qdisc", "del", "dev", "eth0", "root"),
            check=False, capture=True)
        nft_delete(ns, "tb_netem")
        return f"{ns}: link clean"
    if not spec:
        raise TbError("netem CLIENT SPEC...|off (e.g. loss 5% delay 50ms)")
    if netem_available(ns):
        run(in_ns(ns, "tc", "qdisc", "replace", "dev", "eth0", "root",
                  "netem", *spec), capture=True)
        return f"{ns}: netem {' '.join(spec)}"
    return nft_loss(ns, spec)


def nft_loss(ns, spec):
    """Without sch_netem: the "loss N%" of spec by nft, both directions
    (numgen random per packet, in per mille so 0.5% works). The rest of
    spec cannot be done and is named in the result, which the loss
    checker's report keeps."""
    if "loss" not in spec or spec.index("loss") + 1 >= len(spec):
        raise TbError(f"this kernel has no sch_netem: only 'loss N%' can "
                      f"be emulated, not {' '.join(spec)!r}")
    i = spec.index("loss")
    val = spec[i + 1]
    try:
        pct = float(val.rstrip("%"))
    except ValueError:
        pct = -1.0
    if not val.endswith("%") or not 0 <= pct <= 100:
        raise TbError(f"loss {val}: give 0..100%")
    per = int(round(pct * 10))
    nft_delete(ns, "tb_netem")
    nft(ns, f"""table inet tb_netem {{
  chain in {{ type filter hook input priority 0;
    iif "eth0" numgen random mod 1000 < {per} drop; }}
  chain out {{ type filter hook output priority 0;
    oif "eth0" numgen random mod 1000 < {per} drop; }}
}}
""")
    rest = " ".join(spec[:i] + spec[i + 2:])
    skipped = f"; not applied (needs sch_netem): {rest}" if rest else ""
    return f"{ns}: loss {pct}% by nft, this kernel has no sch_netem{skipped}"


# How long kill-xmppd waits for a VM that is still booting (after a
# power-on): a loss checker gives a fault command 30 s in all.
BOOT_WAIT = 15


def kill_xmppd():
    # The unit's MainPID exactly; Restart=on-failure brings it back. A VM
    # still booting after a power-on has no xmppd to kill yet: wait for
    # its readiness line first (bounded), and say so if it never came.
    t0 = time.monotonic()
    if not tbvm.booted(BOOT_WAIT):
        raise TbError(f"kill-xmppd: the VM was still booting after "
                      f"{BOOT_WAIT} s, nothing killed")
    waited = time.monotonic() - t0
    out = tbvm.ssh("pid=$(systemctl show -p MainPID --value xmppd.service)"
                   " && [ \"$pid\" -gt 0 ] && kill -KILL \"$pid\" && "
                   "echo \"$pid\"", tries=3).stdout.strip()
    note = f" (after waiting {waited:.0f} s for the boot)" if waited > 1 \
        else ""
    return f"xmppd pid {out} SIGKILLed{note}"


def reset_vm():
    tbvm.qmp("system_reset")
    return "VM hard reset"


def power_off():
    tbvm.stop(hard=True)
    return "VM powered off (QEMU SIGKILLed)"


def power_on():
    tbvm.start(keep_disk=True)
    return "VM powered on (same disk)"


def clear_clients():
    """Lift every client-side fault (blackhole, reset, netem) in every
    client namespace: the network outlives a scenario, and a scenario may
    end with a fault still on (resume-families keeps IPv4 blackholed)."""
    for name in CLIENTS:
        ns = client_ns(name)
        for table in ("tb_blackhole", "tb_reset", "tb_netem"):
            nft_delete(ns, table)
        run(in_ns(ns, "tc", "qdisc", "del", "dev", "eth0", "root"),
            check=False, capture=True)


FAULTS = {
    "link": link, "blackhole": blackhole, "unblackhole": unblackhole,
    "reset": reset, "netem": netem, "kill-xmppd": kill_xmppd,
    "reset-vm": reset_vm, "power-off": power_off, "power-on": power_on,
}


def fault(name, args):
    fn = FAULTS.get(name)
    if fn is None:
        raise TbError(f"no fault {name!r}; one of {', '.join(FAULTS)}")
    try:
        inspect.signature(fn).bind(*args)
    except TypeError:
        raise TbError(f"fault {name}: wrong arguments {args!r}\n{__doc__}")
    result = fn(*args)
    log(result)
    return result
