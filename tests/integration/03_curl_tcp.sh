#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# HTTP over TCP from every client address: curl gets the page, and the
# server saw the slice address with a port of the nat lease.
. "$(dirname "$0")/lib.sh"

snap "$T/before"
for src in "${TOPO_CLIENTS[@]}"; do
	for i in 1 2; do
		body=$(in_c curl -sS --max-time 5 --interface "$src" "http://$TOPO_SERVER:8080/curl-$src-$i") ||
			fail "curl from $src failed"
		say "$src: $body"
		[[ $body =~ ^hello\ ([0-9.]+):([0-9]+)$ ]] || fail "unexpected body from $src: $body"
		[ "${BASH_REMATCH[1]}" = "$TOPO_SLICE_IP" ] || fail "server saw ${BASH_REMATCH[1]}, not $TOPO_SLICE_IP"
		in_range "${BASH_REMATCH[2]}" $NAT_LO $NAT_HI || fail "server saw port ${BASH_REMATCH[2]}, outside $NAT_LO-$NAT_HI"
	done
done
n=$(delta "$T/before" flows_created)
say "flows_created +$n"
[ "$n" -ge 8 ] || fail "flows_created grew by $n, expected >= 8"
