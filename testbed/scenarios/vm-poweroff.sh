#!/usr/bin/env bash
# vm-poweroff: the VM loses power (QEMU SIGKILLed, no shutdown, nothing
# flushed by the guest) and is switched on again on the same disk. What
# xmppd acked was fsynced: it must all be pushed again from the spool.
# The boot under TCG takes a while: the drain waits up to 5 minutes.
# shellcheck source=testbed/lib/scenario.sh
. "$(dirname "$0")/../lib/scenario.sh"

losscheck c46 vm-poweroff "$(servers c46 | only_port 5222)" --duration 14 \
    --drain 300 "$(fault 6 power-off)" "$(fault 7 power-on)"
