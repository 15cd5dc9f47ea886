#!/usr/bin/python3
"""The chaos scenario's fault plan: a seeded random mix of the testbed's
faults, the same for the same seed and duration.

  chaos.py --seed N --duration SECONDS

prints one fault per line, "SECOND ARGS" for `tb fault ARGS` at that
second of the run, in time order, after "#" lines with the seed and the
count of each kind. Kinds:

  link-cut     link off, link on 2-8 s later          (the VM's cable)
  kill-xmppd   SIGKILL xmppd; systemd restarts it     (a server crash)
  power-cut    power-off, power-on 1-4 s later         (same disk)
  blackhole    one client namespace (c46: all, v4 or v6 only) dropped
               for 3-12 s, then lifted                 (half-open links)
  reset        TCP RST on the XMPP ports of one client namespace for
               0.2-1 s

Faults on the VM (link-cut, kill-xmppd, power-cut) never overlap; each
client namespace has one fault at a time, overlapping the others and the
VM's. A power cut comes about every 150 s (at least one), away from the
ends; after it no kill-xmppd for POWER_GUARD s (the VM boots meanwhile;
kill-xmppd itself waits up to 15 s more), no link-cut for 3 s. Every
other kind comes at least once when the duration allows. Everything is
over 10 s before the end, so that a fault command delayed by a slow one
before it still runs before the loss checker stops its schedule.
Standard library only.
"""

import argparse
import random
import sys

CLIENTS = ("c4", "c6", "c46")
# Relative frequency of each kind once every kind had its turn.
WEIGHTS = {"link-cut": 3, "kill-xmppd": 3, "blackhole": 4, "reset": 4}
POWER_EVERY = 150       # seconds of run per power cut
POWER_GUARD = 45        # seconds after power-on without kill-xmppd
START = 3.0             # first fault, seconds into the run
END_MARGIN = 10.0       # last fault this long before the end
GAP = (3.0, 8.0)        # seconds between the starts of two faults
MIN_DURATION = 60
MAX_DURATION = 3600


class Lane:
    """Busy intervals of one thing that takes one fault at a time."""

    def __init__(self):
        self.busy = []

    def free(self, a, b):
        return all(b <= x or a >= y for x, y in self.busy)

    def take(self, a, b):
        self.busy.append((a, b))


def r1(x):
    return round(x, 1)


def plan(seed, duration):
    """[(second, 'tb fault' arguments)], sorted; and kind counts."""
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise ValueError(f"duration must be in [{MIN_DURATION}, "
                         f"{MAX_DURATION}] s")
    rng = random.Random(seed)
    last = duration - END_MARGIN
    vm, kill = Lane(), Lane()           # all VM faults; kill-xmppd only
    lanes = {c: Lane() for c in CLIENTS}
    events, counts = [], {k: 0 for k in ("power-cut", *WEIGHTS)}

    # Power cuts first: spread evenly, jittered, away from both ends.
    n = max(1, int(duration // POWER_EVERY))
    slot = duration / n
    for i in range(n):
        off = (i + 0.5) * slot + rng.uniform(-0.15, 0.15) * slot
        off = r1(min(max(off, 10.0), last - 20.0))
        on = r1(off + rng.uniform(1.0, 4.0))
        events += [(off, "power-off"), (on, "power-on")]
        vm.take(off - 2.0, on + 3.0)
        kill.take(off - 2.0, on + POWER_GUARD)
        counts["power-cut"] += 1

    def episode(kind, t, lane=None):
        """The events of kind starting at t, or None if it does not fit."""
        if kind == "link-cut":
            back = r1(t + rng.uniform(2.0, 8.0))
            if back > last or not vm.free(t, back + 3.0):
                return None
            vm.take(t, back + 3.0)
            return [(t, "link off"), (back, "link on")]
        if kind == "kill-xmppd":
            if t > last or not vm.free(t, t + 8.0) or \
                    not kill.free(t, t + 8.0):
                return None
            vm.take(t, t + 8.0)
            return [(t, "kill-xmppd")]
        if kind == "blackhole":
            fam = rng.choice(("", " v4", " v6")) if lane == "c46" else ""
            lift = r1(t + rng.uniform(3.0, 12.0))
            if lift > last or not lanes[lane].free(t, lift + 2.0):
                return None
            lanes[lane].take(t, lift + 2.0)
            return [(t, f"blackhole {lane}{fam}"),
                    (lift, f"unblackhole {lane}")]
        hold = r1(rng.uniform(0.2, 1.0))
        if t + hold > last or not lanes[lane].free(t, t + hold + 2.0):
            return None
        lanes[lane].take(t, t + hold + 2.0)
        return [(t, f"reset {lane} {hold:g}")]

    pending = list(WEIGHTS)             # every kind at least once
    rng.shuffle(pending)
    t = START
    for _ in range(10000):              # bounded; ends when t passes last
        if t > last:
            break
        t = r1(t)
        kinds = pending + rng.choices(list(WEIGHTS),
                                      weights=list(WEIGHTS.values()), k=4)
        for kind in kinds:
            lane = rng.choice(CLIENTS) if kind in ("blackhole", "reset") \
                else None
            evs = episode(kind, t, lane)
            if evs:
                events += evs
                counts[kind] += 1
                if kind in pending:
                    pending.remove(kind)
                break
        t += rng.uniform(*GAP)
    events.sort(key=lambda e: e[0])
    return events, counts


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--duration", type=float, required=True,
                   help=f"seconds of traffic ({MIN_DURATION} to "
                   f"{MAX_DURATION})")
    a = p.parse_args(argv)
    try:
        events, counts = plan(a.seed, a.duration)
    except ValueError as e:
        print(f"chaos: {e}", file=sys.stderr)
        return 2
    print(f"# chaos plan: seed {a.seed}, {a.duration:g} s, "
          f"{len(events)} fault commands")
    print("# " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for at, args in events:
        print(f"{at:g} {args}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
