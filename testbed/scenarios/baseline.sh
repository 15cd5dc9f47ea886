#!/usr/bin/env bash
# baseline: no faults. Each client namespace finds the server through SRV
# and runs the ring of messages both ways: IPv4 only (STARTTLS), IPv6 only
# (STARTTLS), dual stack (direct TLS via _xmpps-client). Lost must be 0.
# shellcheck source=testbed/lib/scenario.sh
. "$(dirname "$0")/../lib/scenario.sh"

losscheck c4 c4-starttls "$(servers c4 | only_port 5222)" --duration 8
losscheck c6 c6-starttls "$(servers c6 | only_port 5222)" --duration 8
losscheck c46 c46-direct-tls "$(servers c46 --direct-tls | only_port 5223)" \
    --tls direct --duration 8
