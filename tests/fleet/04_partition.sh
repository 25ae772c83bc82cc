#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Partition a host P from etcd (its management link down) while its
# clients send a UDP stream "P SEQ" every 10 ms, and another host O's
# clients theirs. P is the owner of the lowest slice: an engine takes new
# ports from its lowest slice first, so once O holds P's slices, O's new
# flows use that one. From the server's capture and the map's history:
#   - no packet of any host's clients left with a port of a slice at a
#     moment that host did not own it (in etcd);
#   - P's packets stopped using each of its slices before the slice's
#     key vanished from etcd, before O claimed it (a full hold-down
#     later) and before O's packets used it (O sends a burst of new
#     flows once it claimed them).
# Then the link comes back: P claims slices again, after the hold-down,
# and its clients' new connections work. How O's flows fare while P is
# cut off is printed, not asserted.
. "$(dirname "$0")/lib.sh"

SLACK=0.3
P=$(fleet_map | awk 'NR == 1 { print $4 }')
OTHER=
for x in "${FLEET_HOSTS[@]}"; do
	[ "$x" != "$P" ] && fleet_alive $x && OTHER=$x && break
done
[ -n "$P" ] && [ -n "$OTHER" ] || fail "no two live hosts in the map: $(fleet_map | awk '{ printf "%s:%s ", $2, $4 }')"
for x in $P $OTHER; do fleet_alive $x || fail "host $x is not running"; done
say "partitioning host $P (it owns the lowest slice), host $OTHER stays"
H=$(fleet_ns_host $P)
heal() { ip -n "$H" link set m0 up 2>/dev/null; }
trap 'heal; lib_cleanup' EXIT
t0=$(now)

declare -A TCP0 UDP0 # per host: lines of the echo server's logs before
for x in $P $OTHER; do
	TCP0[$x]=$(wc -l <"$FLEET_DIR/srv/echo-$x/tcp.log")
	UDP0[$x]=$(wc -l <"$FLEET_DIR/srv/echo-$x/udp.log")
	flows_start $x 90 || fail "host $x: flows did not start: $(cat "$T/flows-$x.out")"
done
sleep 1
for x in $P $OTHER; do flows_ok $x before || fail "host $x: the flows do not work before the partition"; done
# The outside ports of O's connections and stream, as the server saw them.
ports=$({
	tail -n +$((TCP0[$OTHER] + 1)) "$FLEET_DIR/srv/echo-$OTHER/tcp.log" | awk '{ print $3 }'
	tail -n +$((UDP0[$OTHER] + 1)) "$FLEET_DIR/srv/echo-$OTHER/udp.log" | awk '{ print $3 }' | sort -u
})
keys=$(slices_of $P)
[ -n "$keys" ] || fail "host $P holds no slice"
say "host $P holds: $(echo $keys | sed "s|$FLEET_KEY_PREFIX/slices/||g")"
fenced0=$(fleet_counter $P fleet_fenced)

t_part=$(now)
ip -n "$H" link set m0 down || fail "could not take $P's management link down"
say "  $P cut from etcd (m0 down) at $t_part"

t_gone=0
for k in $keys; do
	until_ok $((FLEET_TTL + 5)) event_seen del "$k" "$t_part" ||
		fail "$k still in etcd $((FLEET_TTL + 5)) s after the partition"
	t=$(event_time del "$k" "$t_part")
	holds "$t > $t_gone" && t_gone=$t
done
say "  $P's keys vanished +$(calc "$t_gone - $t_part") s"
for k in $keys; do
	t_del=$(event_time del "$k" "$t_part")
	until_ok $((FLEET_HOLD_DOWN + 10)) event_seen put "$k" "$t_del" $P ||
		fail "$k not claimed by another host $((FLEET_HOLD_DOWN + 10)) s after it vanished"
done
# Returns of O's flows that the router hashes to the cut-off P still
# reach P, which carries them to O: P stays one of O's peers although it
# owns no slice now (docs/FLEET.md "Daemon and engine"), so O takes them.
ok=1
flows_ok $OTHER during >"$T/during" || ok=0
say "  $(cat "$T/during") while $P is cut off; $OTHER peer_unknown $(fleet_counter $OTHER peer_unknown), $P forwarded_to_owner $(fleet_counter $P forwarded_to_owner)"
[ $ok = 1 ] || fail "host $OTHER: its flows broke while $P was cut off from etcd"
[ "$(fleet_counter $OTHER peer_unknown)" = 0 ] ||
	fail "host $OTHER dropped what the cut-off $P carried to it (peer_unknown $(fleet_counter $OTHER peer_unknown))"
# New flows from O's clients, now that O owns P's slices too: they take
# ports from O's lowest slice, which was P's.
for i in 1 2 3; do
	ans=$(in_ns "$(fleet_ns_cli $OTHER)" $PY "$FLEET_TESTS/flows.py" --tag $OTHER \
		--udp-bind "$(fleet_client $OTHER 1),$(fleet_client $OTHER 2),$(fleet_client $OTHER 3),$(fleet_client $OTHER 4)" \
		--server $FLEET_SERVER --udp-port "$(fleet_echo_udp $OTHER)" --burst 100)
	say "  host $OTHER: new flows after the claim: $ans"
done
ans=$(flows_check $P during)
say "  host $P (cut off) flows: $ans"
fenced=$(fleet_counter $P fleet_fenced)
say "  host $P: fleet_fenced $fenced0 -> $fenced, unknown_owner $(fleet_counter $P unknown_owner)"

t_heal=$(now)
heal
say "  $P's management link up again +$(calc "$t_heal - $t_part") s"
until_ok $((4 * FLEET_HOLD_DOWN + 20)) fleet_wait_map 1 fleet_holds "$FLEET_SLICES" $P ||
	fail "host $P does not hold $FLEET_SLICES slices $((4 * FLEET_HOLD_DOWN + 20)) s after the link came back: $(fleet_map | awk '{ printf "%s:%s ", $2, $4 }')"
t_full=$(now)
t_back=$(awk -v a="$t_heal" -v h="\"host\":\"$P\"" '$1 > a && $2 == "put" && $3 ~ /\/slices\// && index($4, h) { print $1; exit }' "$FLEET_EVENTS")
say "  $P claimed its first slice again +$(calc "$t_back - $t_heal") s after the heal, held $FLEET_SLICES +$(calc "$t_full - $t_heal") s (hold_down $FLEET_HOLD_DOWN s)"
holds "$t_back - $t_heal >= $FLEET_HOLD_DOWN - $SLACK" ||
	fail "$P claimed a slice $(calc "$t_back - $t_heal") s after the heal, sooner than the hold-down"
say "  map now: $(fleet_map | awk '{ printf "%s:%s ", $2, $4 }')"
: >"$T/tags"
for i in 1 2 3; do
	until_ok 5 in_ns "$(fleet_ns_cli $P)" curl -sS --max-time 2 --interface "$(fleet_client $P $i)" \
		"http://$FLEET_SERVER:8080/host-$P/rejoined-$i" || fail "host $P: curl fails after the rejoin"
done
grep -oE "tcp +$FLEET_POOL:[0-9]+ +GET /host-[a-z]+/" "$FLEET_DIR/srv/http.log" |
	sed -E 's/tcp +[0-9.]+:([0-9]+) +GET \/host-([a-z]+)\//tcp \1 \2/' >"$T/tags"
# O's flows must have lived through it all if their ports lie in slices
# O still owns. A slice O gave back takes its connections with it
# (docs/FLEET.md "Giving back"): then they are expected to break.
moved=$(fleet_map | awk -v h=$OTHER -v ps="$(echo $ports)" 'BEGIN { n = split(ps, p, " ") }
	$4 != h { for (i = 1; i <= n; i++) if (p[i] >= $2 && p[i] <= $3) c[$2] = c[$2] + 1 }
	END { for (s in c) printf "%s:%d ", s, c[s] }')
if [ -z "$moved" ]; then
	flows_ok $OTHER after || fail "host $OTHER: its flows broke after $P came back, though $OTHER still owns their slices"
else
	ans=$(flows_check $OTHER after)
	say "  host $OTHER's flows had ports in slices it gave back (slice:flows $moved): $ans"
fi
ans=$(flows_check $P after)
say "  host $P's flows from before the partition, after the rejoin: $ans"
for x in $P $OTHER; do flows_stop $x; done

sleep 0.5
analyze partition --host $P --at "$t_part" >"$T/part.json" || fail "analyze.py partition failed"
analyze owners --from "$t0" --tags "$T/tags" >"$T/owners.json" || fail "analyze.py owners failed"
say "  per slice of $P, seconds after the partition: last packet of $P / key vanished / claimed by / first packet of another host"
bad='' used=0
for lo in $(jq -r '.slices | keys[]' "$T/part.json"); do
	r=$(jq -c --arg lo "$lo" '.slices[$lo]' "$T/part.json")
	last=$(echo "$r" | jq -r '.last_own // "null"') del=$(echo "$r" | jq -r '.vanished // "null"')
	cl=$(echo "$r" | jq -r '.claimed // "null"') by=$(echo "$r" | jq -r '.claimed_by // "-"')
	oth=$(echo "$r" | jq -r '.first_other // "null"')
	rel() { [ "$1" = null ] && echo "-" || calc "$1 - $t_part"; }
	say "  $lo: $(rel "$last") / $(rel "$del") / $(rel "$cl") ($by) / $(rel "$oth") ($(echo "$r" | jq -r '.first_other_host // "-"'))"
	[ "$last" != null ] && holds "$last > $t_part" && used=$((used + 1))
	[ "$del" = null ] && { bad+="; slice $lo never vanished"; continue; }
	[ "$last" != null ] && ! holds "$last < $del" && bad+="; $P's packets used slice $lo $(calc "$last - $del") s after its key vanished"
	[ "$cl" != null ] && ! holds "$cl - $del >= $FLEET_HOLD_DOWN - $SLACK" && bad+="; slice $lo claimed $(calc "$cl - $del") s after it vanished"
	[ "$oth" != null ] && [ "$last" != null ] && ! holds "$last < $oth" && bad+="; another host used slice $lo before $P stopped"
done
[ -z "$bad" ] || fail "${bad#; }"
[ "$used" -gt 0 ] || fail "no packet of $P's clients reached the server after the partition began: the stream did not run"
n_other=$(jq '[.slices[] | select(.first_other != null)] | length' "$T/part.json")
say "  $n_other of $(jq '.slices | length' "$T/part.json") of $P's slices were used by another host's packets after the claim"
[ "$(jq -r .violations "$T/owners.json")" = 0 ] ||
	fail "packets outside their host's slices: $(jq -r '.first_violations | join("; ")' "$T/owners.json")"
say "  capture: $(jq -r '.hosts | to_entries | map("\(.key) \(.value.packets) packets") | join(", ")' "$T/owners.json"), no packet outside its host's slices at its moment"
say "$P stopped using its slices before they vanished; rejoined after the hold-down"
