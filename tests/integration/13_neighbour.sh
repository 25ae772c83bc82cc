#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Neighbours come from the kernel:
#  1. deleting the router's entry on shoal-out: forwarding resumes within
#     2 s without a restart (the engine has the kernel re-resolve it), and
#     the kernel's entry is back with the router's MAC;
#  2. replacing it with a wrong MAC (permanent): the router stops getting
#     the traffic within a second, and the frames go to the wrong MAC;
#  3. putting the right MAC back: forwarding resumes within a second.
. "$(dirname "$0")/lib.sh"

WRONG=02:00:00:00:de:ad
restore() {
	in_e ip neigh replace "$TOPO_ROUTER_IN" lladdr "$TOPO_MAC_R0" dev shoal-out nud reachable 2>/dev/null
	lib_cleanup
}
trap restore EXIT
probe() { ping1 10.0.0.2 0.3; }

ping1 10.0.0.2 2 || fail "no forwarding before the change"

say "1. ip neigh del $TOPO_ROUTER_IN dev shoal-out"
in_e ip neigh del "$TOPO_ROUTER_IN" dev shoal-out || fail "cannot delete the neighbour"
ms=$(until_ok 4 probe) || fail "forwarding did not resume within 4 s of deleting the neighbour"
say "   forwarding resumed after ${ms} ms"
[ "$ms" -le 2000 ] || fail "forwarding resumed only after $ms ms (limit 2000)"
line=$(ip -n "$NS_E" neigh show "$TOPO_ROUTER_IN" dev shoal-out)
say "   kernel: $line"
echo "$line" | grep -q "lladdr $TOPO_MAC_R0 " || fail "the kernel did not re-resolve $TOPO_ROUTER_IN: '$line'"

say "2. ip neigh replace $TOPO_ROUTER_IN lladdr $WRONG nud permanent"
capture_start "$NS_R" r0 "$T/r0.pcap" ether dst "$WRONG" || fail "tcpdump on r0"
in_e ip neigh replace "$TOPO_ROUTER_IN" lladdr "$WRONG" dev shoal-out nud permanent || fail "cannot replace the neighbour"
ms=$(until_fail 3 probe) || fail "the router still gets the traffic 3 s after the neighbour changed"
say "   forwarding stopped after ${ms} ms"
[ "$ms" -le 1000 ] || fail "forwarding stopped only after $ms ms (limit 1000)"
ping1 10.0.0.2 0.5 && fail "a ping got through with the wrong neighbour MAC"
sleep 0.2
capture_stop
n=$(tcpdump -r "$T/r0.pcap" -n 2>/dev/null | wc -l)
say "   frames to $WRONG seen on r0: $n"
[ "$n" -ge 1 ] || fail "no frames to $WRONG reached r0: the engine did not use the kernel's entry"

say "3. ip neigh replace $TOPO_ROUTER_IN lladdr $TOPO_MAC_R0 nud reachable"
in_e ip neigh replace "$TOPO_ROUTER_IN" lladdr "$TOPO_MAC_R0" dev shoal-out nud reachable || fail "cannot restore the neighbour"
ms=$(until_ok 3 probe) || fail "forwarding did not resume within 3 s of restoring the neighbour"
say "   forwarding resumed after ${ms} ms"
[ "$ms" -le 1000 ] || fail "forwarding resumed only after $ms ms (limit 1000)"
