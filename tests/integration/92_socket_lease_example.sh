#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The documented way for a local program to live inside its socket lease
# (examples/socket_lease.py) works through the engine: with the kernel's
# default ephemeral range the lease lies outside it and the example binds
# ports by hand; with net.ipv4.ip_local_port_range covering the lease it
# uses IP_LOCAL_PORT_RANGE. Every connection gets a port of 11000-11099
# and an answer, and the server saw each from the slice address.
. "$(dirname "$0")/lib.sh"

range=$(in_e cat /proc/sys/net/ipv4/ip_local_port_range | tr '\t' ' ')
cleanup() {
	in_e ip addr del "$TOPO_SLICE_IP/32" dev lo 2>/dev/null
	in_e sysctl -qw net.ipv4.ip_local_port_range="$range"
	lib_cleanup
}
trap cleanup EXIT
in_e ip addr add "$TOPO_SLICE_IP/32" dev lo || fail "cannot add $TOPO_SLICE_IP to lo"
for i in 1 2 3 4 5 6; do
	[ "$i" -eq 4 ] && in_e sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
	out=$(in_e "$PY" "$REPO/examples/socket_lease.py" "$TOPO_SLICE_IP" 11000-11099 \
		"$TOPO_SERVER" 8080 "/socket-lease-$i" 2>&1) || fail "example failed: $out"
	say "$out"
	echo "$out" >>"$T/how"
	[[ $out == *" 200 "* || $out == *" 200" ]] || fail "no HTTP 200: $out"
done
grep -q "IP_LOCAL_PORT_RANGE" "$T/how" || fail "the socket option path was not exercised"
grep -q "explicit bind" "$T/how" || fail "the explicit bind path was not exercised"
n=$(grep -cE "^tcp +$TOPO_SLICE_IP:110[0-9][0-9] +GET /socket-lease-" "$SRV/http.log" || true)
say "server saw $n of 6 from $TOPO_SLICE_IP:11000-11099"
[ "$n" -eq 6 ] || fail "the server saw $n of the 6 connections from the socket lease"
