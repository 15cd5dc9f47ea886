#!/usr/bin/env bash
# link-cut: the VM's cable is pulled (QMP set_link off) twice while the
# dual-stack clients talk; nothing reaches either side until it is back.
# Clients declare the link dead, reconnect and resume (XEP-0198).
# shellcheck source=testbed/lib/scenario.sh
. "$(dirname "$0")/../lib/scenario.sh"

losscheck c46 link-cut "$(servers c46 | only_port 5222)" --duration 24 \
    --drain 60 "$(fault 5 link off)" "$(fault 10 link on)" \
    "$(fault 14 link off)" "$(fault 18 link on)"
