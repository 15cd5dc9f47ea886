#!/usr/bin/env bash
# resume-families: dual-stack clients start on IPv4; at 5 s IPv4 dies for
# good in their namespace (nft drop of IPv4 only). They reconnect over
# IPv6 and resume the same sessions there. Also checks that every client
# really resumed over IPv6.
# shellcheck source=testbed/lib/scenario.sh
. "$(dirname "$0")/../lib/scenario.sh"

addrs=$(servers c46 | only_port 5222 | sort)	# IPv4 (digits) first
losscheck c46 resume-families "$addrs" --duration 16 --drain 60 \
    "$(fault 5 blackhole c46 v4)"
/usr/bin/python3 - "$TB_OUT/resume-families.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bad = [u for u, c in r["clients"].items()
       if not any(a.startswith("2001:db8") for a in c["resumed_on"])]
if bad:
    sys.exit(f"resume-families: no resume over IPv6 for {bad}")
print("resume-families: every client resumed over IPv6")
PY
