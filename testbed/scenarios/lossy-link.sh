#!/usr/bin/env bash
# lossy-link: the dual-stack client's link loses 5% of its packets (and,
# where the kernel has sch_netem, also delays, reorders and duplicates)
# for 14 s. TCP recovers; the point is that nothing above it is lost and
# slow acks do not make the client resend under new ids.
# shellcheck source=testbed/lib/scenario.sh
. "$(dirname "$0")/../lib/scenario.sh"

losscheck c46 lossy-link "$(servers c46 | only_port 5222)" --duration 20 \
    --drain 90 --dead-after 10 \
    "$(fault 2 netem c46 loss 5% delay 40ms 20ms reorder 10% duplicate 2%)" \
    "$(fault 16 netem c46 off)"
