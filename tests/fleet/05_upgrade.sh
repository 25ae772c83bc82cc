#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# shoalctl engine upgrade on a fleet host while its client sends a UDP
# stream (docs/RESTART.md, docs/FLEET.md): the new engine adopts the
# flows and has the daemon's lease set, with the fleet's map, before its
# workers start (its log says so; without it, the first few hundred ms
# of returns were dropped as unknown_owner), and the stream loses only
# what the forwarding gap holds.
. "$(dirname "$0")/lib.sh"

x=
for h in "${FLEET_HOSTS[@]}"; do
	fleet_alive "$h" && { x=$h; break; }
done
[ -n "$x" ] || fail "no host is alive"
c=$(fleet_ns_cli "$x")
in_ns "$c" iperf3 -u -b 5M -l 1200 -c "$FLEET_SERVER" -p "$(fleet_iperf_port "$x")" \
	-B "$(fleet_client "$x" 2)" -t 5 --connect-timeout 3000 -J >"$T/iperf.json" 2>&1 &
IPERF=$!
sleep 1.5
fleet_ctl "$x" engine upgrade >"$T/upgrade.out" 2>&1 || {
	cat "$T/upgrade.out"
	fail "host $x: shoalctl engine upgrade failed"
}
wait "$IPERF" || { cat "$T/iperf.json"; fail "host $x: iperf3 UDP failed across the upgrade"; }
sed 's/^/  /' "$T/upgrade.out"
# The new engine is the old one's child: keep fleet_alive's pid current.
new=$(sed -nE 's/^upgraded: engine pid [0-9]+ -> ([0-9]+).*/\1/p' "$T/upgrade.out")
[ -n "$new" ] && echo "$new" >"$FLEET_DIR/$x/engine.pid"
gap=$(sed -nE 's/^forwarding gap ([0-9.]+) ms.*/\1/p' "$T/upgrade.out")
[ -n "$gap" ] || fail "host $x: the upgrade reported no forwarding gap"
read -r lost total < <(jq -r '.end.sum | "\(.lost_packets) \(.packets)"' "$T/iperf.json")
# What the gap holds at the stream's rate, and 50 ms more for the
# measurement's grain (the worker turn and the old engine's last turn).
allowed=$(awk -v g="$gap" -v n="$total" 'BEGIN { printf "%d", (g + 50) / 1000 * n / 5 + 1 }')
say "  host $x: gap $gap ms, UDP lost $lost of $total (the gap holds $allowed)"
[ "$lost" -le "$allowed" ] || fail "host $x: $lost datagrams lost, more than the $gap ms gap holds ($allowed)"
grep -q "lease set from shoal-ctld in .* before the workers started" "$FLEET_DIR/$x/engine.log" ||
	fail "host $x: the new engine started its workers without the daemon's lease set"
# The new engine's own counters (they start at zero), from its report:
# shown, not asserted. Its in2out fence counts here too, and after 03
# and 04 this host's clients still retransmit on flows whose slices
# moved away (their FINs, for one), which it must not translate.
sleep 1.5
uo=$(fleet_ctl "$x" -j stats | jq -r '.counters.unknown_owner // 0')
say "  host $x: the new engine's unknown_owner $uo"
