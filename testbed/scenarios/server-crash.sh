#!/usr/bin/env bash
# server-crash: SIGKILL xmppd in the VM mid-traffic; systemd restarts it.
# Sessions are gone (resume fails), clients bind new ones and resend what
# was not acked; what was acked was committed, and what a receiver had
# not acked yet is pushed again from the server's spool at its new login,
# with the same stanza-id (with mam-default never as well as always).
# shellcheck source=testbed/lib/scenario.sh
. "$(dirname "$0")/../lib/scenario.sh"

losscheck c46 server-crash "$(servers c46 | only_port 5222)" --duration 18 \
    --drain 90 "$(fault 6 kill-xmppd)"
