#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# traceroute -n (UDP probes, then ICMP echo probes with -I) from the
# client: hop 1 is the engine, answering TTL expiry with ICMP time
# exceeded from its own address 10.0.0.1 (icmp_time_exceeded); hop 2 is the
# router, whose time-exceeded error about the translated probe the engine
# translates back through its embedded header (icmp_error_out2in); hop 3
# is the server.
. "$(dirname "$0")/lib.sh"

need_counters icmp_time_exceeded icmp_error_out2in
snap "$T/before"
for mode in "" -I; do
	out=$(in_c traceroute -n $mode -q 1 -w 2 -m 6 "$TOPO_SERVER" 2>&1) || { say "$out"; fail "traceroute $mode failed"; }
	say "traceroute ${mode:-(UDP)}:"
	say "$out"
	hop() { echo "$out" | awk -v h="$1" '$1 == h { print $2 }'; }
	[ "$(hop 1)" = "$TOPO_INSIDE_ADDR" ] || fail "traceroute $mode: hop 1 is '$(hop 1)', expected the engine $TOPO_INSIDE_ADDR"
	[ "$(hop 2)" = "$TOPO_ROUTER_IN" ] || fail "traceroute $mode: hop 2 is '$(hop 2)', expected the router $TOPO_ROUTER_IN"
	[ "$(hop 3)" = "$TOPO_SERVER" ] || fail "traceroute $mode: hop 3 is '$(hop 3)', expected the server $TOPO_SERVER"
done
te=$(delta "$T/before" icmp_time_exceeded) eo=$(delta "$T/before" icmp_error_out2in)
say "icmp_time_exceeded +$te, icmp_error_out2in +$eo"
[ "$te" -ge 2 ] || fail "icmp_time_exceeded grew by $te, expected >= 2"
[ "$eo" -ge 2 ] || fail "icmp_error_out2in grew by $eo, expected >= 2"
