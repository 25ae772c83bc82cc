#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Kill one host: kill -9 of host c's engine and daemon, then its nexthop
# withdrawn from the router's multipath route, as a BGP session or a
# health check would do when the host dies. Before the kill, hosts a and
# b start an iperf3 TCP run (20 Mbit/s), a UDP stream (every 10 ms) and
# 20 idle TCP connections each; all of them keep working throughout.
# c's slice keys vanish from etcd about ttl after the kill and are claimed
# by the survivors no sooner than hold_down after that, each by exactly
# one of them.
. "$(dirname "$0")/lib.sh"

V=c SURV=(a b) SLACK=0.3
declare -A IPERF UDP0 # per survivor: its iperf3's PID, udp.log's lines before
for x in "${FLEET_HOSTS[@]}"; do fleet_alive $x || fail "host $x is not running"; done
t0=$(now)

for x in "${SURV[@]}"; do
	flows_start $x 60 || fail "host $x: flows did not start: $(cat "$T/flows-$x.out")"
	ip netns exec "$(fleet_ns_cli $x)" iperf3 -c $FLEET_SERVER -p "$(fleet_iperf_port $x)" -B "$(fleet_client $x 3)" \
		-b 20M -t 25 -i 0.5 -J --connect-timeout 3000 >"$T/iperf-$x.json" 2>"$T/iperf-$x.err" &
	IPERF[$x]=$!
	LIB_PIDS+=($!)
done
sleep 2
for x in "${SURV[@]}"; do flows_ok $x before || fail "host $x: the flows do not work before the kill"; done
keys=$(slices_of $V)
[ -n "$keys" ] || fail "host $V holds no slice"
say "host $V holds: $(echo $keys | sed "s|$FLEET_KEY_PREFIX/slices/||g")"
for x in "${SURV[@]}"; do
	UDP0[$x]=$(wc -l <"$FLEET_DIR/srv/echo-$x/udp.log")
done

t_kill=$(now)
kill -KILL "$(fleet_pid $V/engine.pid)" "$(fleet_pid $V/ctld.pid)"
fleet_route_set "${SURV[@]}" || fail "could not withdraw host $V's nexthop"
t_wd=$(now)
for p in "$(fleet_pid $V/engine.pid)" "$(fleet_pid $V/ctld.pid)"; do
	for _ in $(seq 50); do pid_alive "$p" || break; sleep 0.1; done
	pid_alive "$p" && fail "process $p of host $V survived kill -9"
done
say "  killed host $V (engine and daemon, kill -9); its nexthop withdrawn $(calc "($t_wd - $t_kill) * 1000") ms later"
sleep 1
for x in "${SURV[@]}"; do flows_ok $x after-kill || fail "host $x: the flows broke after the kill"; done

# The keys vanish when the lease expires (etcd's own expiry: up to ttl
# after the last renewal, which came before the kill).
t_gone=0
for k in $keys; do
	until_ok $((FLEET_TTL + 5)) event_seen del "$k" "$t_kill" ||
		fail "$k still in etcd $((FLEET_TTL + 5)) s after the kill"
	t=$(event_time del "$k" "$t_kill")
	holds "$t > $t_gone" && t_gone=$t
done
say "  c's keys vanished $(calc "$t_gone - $t_kill") s after the kill (ttl $FLEET_TTL s)"
holds "$t_gone - $t_kill <= $FLEET_TTL + 1.5" || fail "the keys vanished $(calc "$t_gone - $t_kill") s after the kill, more than ttl + 1.5 s"
until_ok $((FLEET_TTL + 5)) key_gone "$FLEET_KEY_PREFIX/hosts/$V" ||
	fail "$FLEET_KEY_PREFIX/hosts/$V is still in etcd"
for x in "${SURV[@]}"; do flows_ok $x after-vanish || fail "host $x: the flows broke after c's keys vanished"; done

# Claimed by the survivors, each after a full hold-down.
for k in $keys; do
	t_del=$(event_time del "$k" "$t_kill")
	until_ok $((FLEET_HOLD_DOWN + 10)) event_seen put "$k" "$t_del" ||
		fail "$k not claimed $((FLEET_HOLD_DOWN + 10)) s after it vanished"
	t_put=$(event_time put "$k" "$t_del")
	by=$(awk -v k="$k" -v t="$t_put" '$1 == t && $3 == k' "$FLEET_EVENTS" | grep -oE '"host":"[^"]*"' | cut -d'"' -f4)
	say "  ${k#"$FLEET_KEY_PREFIX/slices/"}: vanished +$(calc "$t_del - $t_kill") s, claimed by $by +$(calc "$t_put - $t_kill") s, $(calc "$t_put - $t_del") s after it vanished (hold_down $FLEET_HOLD_DOWN s)"
	[[ " ${SURV[*]} " == *" $by "* ]] || fail "$k claimed by '$by', not a survivor"
	holds "$t_put - $t_del >= $FLEET_HOLD_DOWN - $SLACK" ||
		fail "$k claimed $(calc "$t_put - $t_del") s after it vanished, before the hold-down of $FLEET_HOLD_DOWN s"
done
sleep 1
# Each key was put once since: no slice changed hands twice.
for k in $keys; do
	n=$(awk -v k="$k" -v a="$t_kill" '$1 > a && $3 == k && $2 == "put"' "$FLEET_EVENTS" | wc -l)
	[ "$n" = 1 ] || fail "$k was claimed $n times after the kill"
done
say "  map now: $(fleet_map | awk '{ printf "%s:%s ", $2, $4 }')"
for x in "${SURV[@]}"; do flows_ok $x after-claim || fail "host $x: the flows broke after the claims"; done

# The long runs end by themselves; every one of them survived.
for x in "${SURV[@]}"; do
	p=${IPERF[$x]}
	for _ in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	wait "$p"
	rc=$?
	err=$(jq -r '.error // empty' "$T/iperf-$x.json" 2>/dev/null)
	[ "$rc" = 0 ] && [ -z "$err" ] || fail "host $x: iperf3 exit $rc, error '$err' $(head -c 200 "$T/iperf-$x.err")"
	# The longest run of half-second intervals that moved nothing.
	stall=$(jq '[.intervals[].sum.bytes] | reduce .[] as $b ({c: 0, m: 0};
		if $b == 0 then .c += 1 | .m = ([.m, .c] | max) else .c = 0 end) | .m * 0.5' "$T/iperf-$x.json")
	ans=$(flows_check $x end)
	ports=$(tail -n +$((UDP0[$x] + 1)) "$FLEET_DIR/srv/echo-$x/udp.log" | awk '{ print $3 }' | sort -u | paste -sd,)
	say "  host $x: iperf3 $(jq -r '"\(.end.sum_received.bits_per_second / 1e6 | floor) Mbit/s, \(.end.sum_sent.retransmits) retransmits"' "$T/iperf-$x.json"), longest stall ${stall} s; 20 idle TCP: ${ans#check end }; UDP stream from port $ports"
	[[ $ans == "check end ok 20/20 "* ]] || fail "host $x: the idle connections broke: $ans"
	[ "$(echo "$ports" | tr ',' '\n' | wc -l)" = 1 ] || fail "host $x: the UDP stream changed source port: $ports"
	flows_stop $x
done

sleep 0.5
analyze owners --from "$t0" >"$T/owners.json" || fail "analyze.py failed"
[ "$(jq -r .violations "$T/owners.json")" = 0 ] ||
	fail "packets outside their host's slices: $(jq -r '.first_violations | join("; ")' "$T/owners.json")"
for x in "${SURV[@]}"; do
	say "  capture host $x: $(jq -r --arg x $x '.hosts[$x] | "\(.packets) packets in slices \(.slices | join(" "))"' "$T/owners.json")"
	say "  host $x counters: $(fleet_counters $x | grep -E '^(forwarded_to_owner|received_from_peer|unknown_owner) ' | tr '\n' ' ')"
done
say "the survivors' connections lived through the death of host $V; its slices moved after the hold-down"
