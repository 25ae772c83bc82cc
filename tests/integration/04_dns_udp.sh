#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# DNS over UDP: dig @203.0.113.7 shoal.test from several client addresses
# gets the A record from dnsmasq, which logged every query's source as the
# slice address with a port of the nat lease.
. "$(dirname "$0")/lib.sh"

for src in 10.0.0.2 10.0.0.3 10.0.0.4; do
	ans=$(in_c dig +time=2 +tries=2 +short -b "$src" "@$TOPO_SERVER" "$SERVERS_DNS_NAME" A) ||
		fail "dig from $src failed"
	say "$src: $SERVERS_DNS_NAME -> $ans"
	[ "$ans" = "$SERVERS_DNS_ADDR" ] || fail "dig from $src answered '$ans', expected $SERVERS_DNS_ADDR"
done
srcs=$(grep -oE "[0-9.]+/[0-9]+ query\[A\] $SERVERS_DNS_NAME" "$SRV/dns.log" | awk '{ print $1 }')
say "dnsmasq saw queries from: $(echo $srcs)"
[ "$(echo "$srcs" | grep -c .)" -ge 3 ] || fail "dnsmasq logged fewer than 3 queries"
for s in $srcs; do
	[ "${s%/*}" = "$TOPO_SLICE_IP" ] || fail "dnsmasq saw a query from ${s%/*}"
	in_range "${s#*/}" $NAT_LO $NAT_HI || fail "dnsmasq saw source port ${s#*/}"
done
