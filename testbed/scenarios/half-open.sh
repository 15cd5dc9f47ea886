#!/usr/bin/env bash
# half-open: every packet of the IPv4-only namespace is dropped for 6 s
# (nft drop, both directions). Neither side gets an error: the server
# holds a half-open connection, the client detects a dead link by its
# unanswered <r/>, reconnects once the path is back and resumes; the
# server must hand the session over and close the stale socket.
# shellcheck source=testbed/lib/scenario.sh
. "$(dirname "$0")/../lib/scenario.sh"

losscheck c4 half-open "$(servers c4 | only_port 5222)" --duration 18 \
    --drain 60 "$(fault 5 blackhole c4)" "$(fault 11 unblackhole c4)"
