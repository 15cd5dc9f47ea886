#!/usr/bin/env bash
# reset-storm: every 2 s, TCP resets on the XMPP ports of the dual-stack
# namespace for 0.3 s (nft reject with tcp reset, both directions).
# shellcheck source=testbed/lib/scenario.sh
. "$(dirname "$0")/../lib/scenario.sh"

faults=()
for t in 3 5 7 9 11 13 15 17; do faults+=("$(fault "$t" reset c46 0.3)"); done
losscheck c46 reset-storm "$(servers c46 | only_port 5222)" --duration 20 \
    --drain 60 "${faults[@]}"
