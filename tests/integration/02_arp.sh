#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# ARP works with no static entries anywhere: after flushing the neighbour
# tables, the client learns 10.0.0.1 and the router learns 192.0.2.1 at the
# engine ports' MACs (answered by Linux on the mirrors, which carry those
# MACs, as the engine's start-up lines confirm), as dynamic entries; the engine namespace's kernel learns the
# router (and the client) on the mirrors.
. "$(dirname "$0")/lib.sh"

perm=$(for ns in $NS_C $NS_E $NS_R $NS_S; do ip -n "$ns" neigh show nud permanent; done)
[ -z "$perm" ] || fail "static neighbour entries exist: $perm"

in_c ip neigh flush dev c0
in_r ip neigh flush dev r0
in_c ping -n -q -c 1 -W 2 "$TOPO_SERVER" >/dev/null || fail "client cannot reach the server after the flush"
in_r ping -n -q -c 1 -W 2 "$TOPO_OUTSIDE_ADDR" >/dev/null || fail "router cannot reach $TOPO_OUTSIDE_ADDR after the flush"

# The engine ports' MACs, as the kernel mirrors carry them; with AF_PACKET
# they are the veths' (e0, e1) MACs, and they must be the ones the engine
# reports for its ports.
mac_of() { ip -n "$1" -br link show dev "$2" | awk '{ print $3 }'; }
in_mac=$(mac_of "$NS_E" shoal-in) out_mac=$(mac_of "$NS_E" shoal-out)
say "mirrors: shoal-in $in_mac, shoal-out $out_mac"
log_mac() { sed -nE "s/^shoal-engine: $1 port [0-9]+ mac ([0-9A-Fa-f:]+).*/\1/p" "$SHOAL_WORK/engine.log" | tr A-F a-f; }
for p in inside:$in_mac outside:$out_mac; do
	m=$(log_mac "${p%%:*}")
	[ -z "$m" ] || [ "$m" = "${p#*:}" ] || fail "the ${p%%:*} mirror has MAC ${p#*:}, the engine port $m"
done
if [ "${SHOAL_IO:-af_packet}" = af_packet ]; then
	[ "$in_mac" = "$TOPO_MAC_E0" ] || fail "shoal-in has MAC $in_mac, e0 $TOPO_MAC_E0"
	[ "$out_mac" = "$TOPO_MAC_E1" ] || fail "shoal-out has MAC $out_mac, e1 $TOPO_MAC_E1"
fi

# expect NS ADDR DEV MAC
expect() {
	local line
	line=$(ip -n "$1" neigh show "$2" dev "$3")
	say "$1: $line"
	echo "$line" | grep -q "lladdr $4 " || fail "$1: $2 not resolved to $4 (got: ${line:-nothing})"
	echo "$line" | grep -qE 'PERMANENT|NOARP' && fail "$1: $2 is not a dynamic entry: $line"
	return 0
}
expect "$NS_C" "$TOPO_INSIDE_ADDR" c0 "$in_mac"
expect "$NS_R" "$TOPO_OUTSIDE_ADDR" r0 "$out_mac"
expect "$NS_E" "$TOPO_ROUTER_IN" shoal-out "$TOPO_MAC_R0"
expect "$NS_E" 10.0.0.2 shoal-in "$TOPO_MAC_C0"
