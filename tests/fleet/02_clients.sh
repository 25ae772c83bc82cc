#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Real clients on every host at once: curl (5 connections from 4 client
# addresses), dig (3 queries), an iperf3 TCP run (4 s, paced at 100
# Mbit/s), a reverse one (-R, 3 s: the server sends full-size segments,
# too big for the tunnel on 1500-byte links, so the engines' frag-needed
# must lower the server's path MTU) and an iperf3 UDP run (3 s, 20
# Mbit/s) from each host's clients to the server. Paced: three unpaced TCP runs fill the two cores that
# three engines, three daemons and etcd share, and the rings then drop
# at random (their losses are not the fleet's). All
# succeed although the router spreads the returns over the three hosts by
# its L4 hash: every host forwards returns to their owners
# (forwarded_to_owner > 0) and receives its own from its peers
# (received_from_peer > 0). The server's capture holds only the shared
# address as source (and the engines' own ICMP "fragmentation needed"),
# and every packet's source port lies in a slice that its client's host
# owned at that moment (tagged by the server port per host, the HTTP path
# and the DNS queries' order).
. "$(dirname "$0")/lib.sh"

FWD=forwarded_to_owner RCV=received_from_peer
for x in "${FLEET_HOSTS[@]}"; do
	fleet_alive $x || fail "host $x is not running"
	fleet_counters $x >"$T/before-$x" || fail "host $x: no counters (telemetry)"
	for c in $FWD $RCV rx_outside; do
		grep -q "^$c " "$T/before-$x" || fail "host $x: the engine has no counter $c"
	done
done
t0=$(now)

# One host's curl and iperf3 runs, in the background; results in $T.
host_clients() {
	local x=$1 c i k ok=0
	c=$(fleet_ns_cli $x)
	for i in 1 2 3 4 5; do
		k=$(((i - 1) % 4 + 1))
		in_ns "$c" curl -sS --max-time 5 --interface "$(fleet_client $x $k)" \
			"http://$FLEET_SERVER:8080/host-$x/curl-$i" >"$T/curl-$x-$i" 2>&1 && ok=$((ok + 1))
	done
	echo $ok >"$T/curl-$x.ok"
	in_ns "$c" iperf3 -c $FLEET_SERVER -p "$(fleet_iperf_port $x)" -B "$(fleet_client $x 2)" \
		-b 100M -t 4 -J --connect-timeout 3000 >"$T/tcp-$x.json" 2>&1
	echo $? >"$T/tcp-$x.rc"
	# Reverse: the server sends full-size segments, which a host that
	# gets them without owning their port must carry in 1528 bytes.
	in_ns "$c" iperf3 -c $FLEET_SERVER -p "$(fleet_iperf_port $x)" -B "$(fleet_client $x 4)" \
		-R -b 100M -t 3 -J --connect-timeout 3000 >"$T/rev-$x.json" 2>&1
	echo $? >"$T/rev-$x.rc"
	in_ns "$c" iperf3 -c $FLEET_SERVER -p "$(fleet_iperf_port $x)" -B "$(fleet_client $x 3)" \
		-u -b 20M -l 1200 -t 3 -J --connect-timeout 3000 >"$T/udp-$x.json" 2>&1
	echo $? >"$T/udp-$x.rc"
}
pids=()
for x in "${FLEET_HOSTS[@]}"; do
	host_clients $x &
	pids+=($!)
done
LIB_PIDS+=("${pids[@]}")

# DNS, one host after the other, so the queries dnsmasq logs meanwhile
# are that host's.
: >"$T/tags"
for x in "${FLEET_HOSTS[@]}"; do
	n0=$(wc -l <"$FLEET_DIR/srv/dns.log")
	for k in 1 2 3; do
		ans=$(in_ns "$(fleet_ns_cli $x)" dig +time=2 +tries=2 +short -b "$(fleet_client $x $k)" \
			@$FLEET_SERVER "$SERVERS_DNS_NAME" A) || fail "host $x: dig from $(fleet_client $x $k) failed"
		[ "$ans" = "$SERVERS_DNS_ADDR" ] || fail "host $x: dig answered '$ans'"
	done
	sleep 0.2
	tail -n +$((n0 + 1)) "$FLEET_DIR/srv/dns.log" |
		grep -oE "[0-9.]+/[0-9]+ query\[A\] $SERVERS_DNS_NAME" |
		awk -v h=$x '{ split($1, a, "/"); print "udp", a[2], h }' >"$T/dns-$x"
	[ "$(wc -l <"$T/dns-$x")" -ge 3 ] || fail "host $x: dnsmasq logged $(wc -l <"$T/dns-$x") queries, not 3"
	cat "$T/dns-$x" >>"$T/tags"
done
say "dig: 3 queries from each host answered"

for p in "${pids[@]}"; do wait "$p"; done
for x in "${FLEET_HOSTS[@]}"; do
	[ "$(cat "$T/curl-$x.ok")" = 5 ] || fail "host $x: $(cat "$T/curl-$x.ok")/5 curl runs succeeded: $(cat "$T"/curl-$x-*)"
	grep -qx "hello $FLEET_POOL:[0-9]*" "$T/curl-$x-1" || fail "host $x: curl got '$(cat "$T/curl-$x-1")'"
	[ "$(cat "$T/tcp-$x.rc")" = 0 ] || fail "host $x: iperf3 TCP failed: $(head -c 400 "$T/tcp-$x.json")"
	[ "$(cat "$T/rev-$x.rc")" = 0 ] || fail "host $x: iperf3 TCP -R failed: $(head -c 400 "$T/rev-$x.json")"
	[ "$(cat "$T/udp-$x.rc")" = 0 ] || fail "host $x: iperf3 UDP failed: $(head -c 400 "$T/udp-$x.json")"
	rev=$(jq -r '"\(.end.sum_received.bits_per_second / 1e6 | floor) Mbit/s, \(.end.sum_sent.retransmits) retransmits"' "$T/rev-$x.json")
	[ "$(jq -r '.end.sum_received.bytes' "$T/rev-$x.json")" -gt 1000000 ] || fail "host $x: iperf3 TCP -R moved less than 1 MB"
	tcp=$(jq -r '"\(.end.sum_received.bits_per_second / 1e6 | floor) Mbit/s, \(.end.sum_sent.retransmits) retransmits"' "$T/tcp-$x.json")
	udp=$(jq -r '"\(.end.sum.lost_packets)/\(.end.sum.packets) lost"' "$T/udp-$x.json")
	lost=$(jq -r '.end.sum.lost_percent' "$T/udp-$x.json")
	[ "$(jq -r '.end.sum_received.bytes' "$T/tcp-$x.json")" -gt 1000000 ] || fail "host $x: iperf3 TCP moved less than 1 MB"
	holds "$lost < 10" || fail "host $x: iperf3 UDP lost $lost %"
	say "  host $x: curl 5/5, dig 3/3, iperf3 TCP (100 Mbit/s paced) $tcp, reverse $rev, UDP 20 Mbit/s $udp"
done
# The HTTP server logged each connection's source and path.
grep -oE "tcp +$FLEET_POOL:[0-9]+ +GET /host-[a-z]+/" "$FLEET_DIR/srv/http.log" |
	sed -E 's/tcp +[0-9.]+:([0-9]+) +GET \/host-([a-z]+)\//tcp \1 \2/' >>"$T/tags"
bad=$(grep -E "^tcp " "$FLEET_DIR/srv/http.log" | grep -v " $FLEET_POOL:" | head -3)
[ -z "$bad" ] || fail "the HTTP server saw a source other than $FLEET_POOL: $bad"

# The counters: every host forwarded and received.
sum_f=0 sum_r=0 sum_rx=0
for x in "${FLEET_HOSTS[@]}"; do
	fleet_counters $x >"$T/after-$x"
	d() { echo $(($(awk -v n=$1 '$1 == n { print $2 }' "$T/after-$x") - $(awk -v n=$1 '$1 == n { print $2 }' "$T/before-$x"))); }
	f=$(d $FWD) r=$(d $RCV) rx=$(d rx_outside)
	say "  host $x: $FWD +$f, $RCV +$r, rx_outside +$rx, fleet_too_big +$(d fleet_too_big)"
	[ "$f" -gt 0 ] || fail "host $x forwarded nothing to an owner"
	[ "$r" -gt 0 ] || fail "host $x received nothing from a peer"
	sum_f=$((sum_f + f)) sum_r=$((sum_r + r)) sum_rx=$((sum_rx + rx))
done
# Packets that reached a host from the router: rx_outside less what came
# from peers; the share of them that had to go on to their owner.
# Big flows dominate a packet count, so this share follows where the
# iperf3 runs' returns happen to hash, not the 2 in 3 of many flows.
say "  misdirected return packets: $sum_f of $((sum_rx - sum_r)) from the router ($(calc "100 * $sum_f / ($sum_rx - $sum_r)") %)"

sleep 0.5 # the capture flushes per packet (-U)
analyze owners --from "$t0" --tags "$T/tags" >"$T/owners.json" || fail "analyze.py failed"
say "  capture: $(jq -r --arg p $FLEET_POOL '"\(.packets) packets, \(.from_pool) from \($p), \(.untagged) untagged, \(.violations) outside the slices of their host"' "$T/owners.json")"
for x in "${FLEET_HOSTS[@]}"; do
	say "  capture host $x: $(jq -r --arg x $x '.hosts[$x] | "\(.packets) packets, \(.flows) flows, ports \(.min_port)-\(.max_port), slices \(.slices | join(" "))"' "$T/owners.json")"
	[ "$(jq -r --arg x $x '.hosts[$x].flows // 0' "$T/owners.json")" -gt 5 ] ||
		fail "the capture has almost no flows from host $x's clients"
done
others=$(jq -r '.other_sources | to_entries[] | "\(.key) \(.value)"' "$T/owners.json")
[ -z "$others" ] || say "  other sources: $(echo "$others" | tr '\n' ';')"
# An engine answers a too-big DF packet for the tunnel itself, from its
# own address (docs/FLEET.md "MTU"): the only other source allowed.
engines=$(for x in "${FLEET_HOSTS[@]}"; do fleet_outside $x; done | sed 's/\./\\./g' | paste -sd'|')
bad=$(jq -r '.other_sources | keys[]' "$T/owners.json" | grep -vE "^($engines) icmp 3/4$")
[ -z "$bad" ] || fail "the server received packets from other sources than $FLEET_POOL: $(echo $bad)"
[ "$(jq -r .untagged "$T/owners.json")" = 0 ] || fail "$(jq -r .untagged "$T/owners.json") packets from the pool could not be tied to a host"
[ "$(jq -r .violations "$T/owners.json")" = 0 ] ||
	fail "packets outside their host's slices: $(jq -r '.first_violations | join("; ")' "$T/owners.json")"
# Which host the router sends each flow's returns to: its own L4 hash,
# asked with ip route get for the return's 5-tuple.
n=0 mis=0
while read -r h proto sport dport; do
	dev=$(ip -n "$NS_RTR" route get $FLEET_POOL from $FLEET_SERVER iif rs ipproto "$proto" \
		sport "$dport" dport "$sport" | grep -oE 'dev r[a-z]+' | cut -c6-)
	n=$((n + 1))
	[ "$dev" != "$h" ] && mis=$((mis + 1))
done < <(jq -r '.flow_list[] | join(" ")' "$T/owners.json")
say "  misdirected flows: the router sends the returns of $mis of $n flows to a host that does not own their port"
[ "$mis" -gt 0 ] || fail "the router sent every flow's returns to its owner: nothing was misdirected"
say "every packet at the server came from $FLEET_POOL with a port of its own host's slices"
