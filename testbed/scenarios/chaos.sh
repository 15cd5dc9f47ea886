#!/usr/bin/env bash
# chaos: a seeded random mix of link cuts, TCP resets, blackholes, xmppd
# SIGKILLs and power cuts (testbed/lib/chaos.py makes the plan) while three
# loss checkers talk at once: IPv4 only (c4, STARTTLS), IPv6 only (c6,
# direct TLS) and dual stack (c46, STARTTLS, both families), three users
# each. The c46 checker runs the fault commands (one after the other);
# the others' clients just live through them. TB_CHAOS_SECONDS of traffic
# (default 120); TB_SEED replays a run: the seed is the first line.
# shellcheck source=testbed/lib/scenario.sh
. "$(dirname "$0")/../lib/scenario.sh"

seed=${TB_SEED:-$(((RANDOM << 15) | RANDOM))}
secs=${TB_CHAOS_SECONDS:-120}
echo "chaos: seed $seed, $secs s (replay: TB_SEED=$seed" \
    "TB_CHAOS_SECONDS=$secs testbed/tb scenario $TB_SCENARIO)"
echo "$seed" >"$TB_OUT/seed"

/usr/bin/python3 "$TB_TOP/testbed/lib/chaos.py" --seed "$seed" \
    --duration "$secs" >"$TB_OUT/plan.txt"
faults=()
while read -r at what; do
	[[ $at == \#* ]] && continue
	# shellcheck disable=SC2086 # the fault's arguments are words
	faults+=("$(fault "$at" $what)")
done <"$TB_OUT/plan.txt"
sed -n 's/^# //p' "$TB_OUT/plan.txt"

# A power cut needs a boot before the drain can finish: up to 5 minutes.
common=(--duration "$secs" --rate 3 --drain 300 --seed "$seed")
mapfile -t u4 < <(users c4)
mapfile -t u6 < <(users c6)
mapfile -t u46 < <(users c46)
a4=$(servers c4 | only_port 5222)
a6=$(servers c6 --direct-tls | only_port 5223)
a46=$(servers c46 | only_port 5222)

pids=()
losscheck c4 chaos-c4 "$a4" "${u4[@]}" "${common[@]}" \
    >"$TB_OUT/chaos-c4.log" 2>&1 &
pids+=($!)
losscheck c6 chaos-c6 "$a6" "${u6[@]}" --tls direct "${common[@]}" \
    >"$TB_OUT/chaos-c6.log" 2>&1 &
pids+=($!)
losscheck c46 chaos-c46 "$a46" "${u46[@]}" "${common[@]}" "${faults[@]}" \
    >"$TB_OUT/chaos-c46.log" 2>&1 &
pids+=($!)

rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
for n in c4 c6 c46; do
	echo "chaos $n: $(grep -h '^losscheck: ' "$TB_OUT/chaos-$n.log" ||
	    tail -n 3 "$TB_OUT/chaos-$n.log")"
done
echo "chaos: seed $seed"
exit "$rc"
