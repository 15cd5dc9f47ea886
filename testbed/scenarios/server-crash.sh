#!/usr/bin/env bash
# server-crash: SIGKILL xmppd in the VM mid-traffic; systemd restarts it.
# Sessions are gone (resume fails), clients bind new ones and resend what
# was not acked; what was acked was already committed (DESIGN.md §3.1).
# shellcheck source=testbed/lib/scenario.sh
. "$(dirname "$0")/../lib/scenario.sh"

losscheck c46 server-crash "$(servers c46 | only_port 5222)" --duration 18 \
    --drain 90 "$(fault 6 kill-xmppd)"
