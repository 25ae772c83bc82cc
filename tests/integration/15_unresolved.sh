#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A next hop that never answers ARP: the engine holds the packets while
# the kernel tries to resolve it, then counts them no_neighbour (after at
# most 1 s). The route is the kernel's own: 198.18.0.0/15 via 192.0.2.99,
# an address nobody owns on the outside segment.
. "$(dirname "$0")/lib.sh"

need_counters no_neighbour
restore() {
	in_e ip route del 198.18.0.0/15 2>/dev/null
	lib_cleanup
}
trap restore EXIT
in_e ip route add 198.18.0.0/15 via 192.0.2.99 dev shoal-out || fail "cannot add the route"
snap "$T/before"
for i in 1 2 3; do
	in_c ping -c 1 -W 1 -I 10.0.0.5 198.18.0.$i >/dev/null && fail "a ping through an unresolvable next hop was answered"
done
sleep 1.5
nn=$(delta "$T/before" no_neighbour)
say "no_neighbour +$nn"
[ "$nn" -ge 3 ] || fail "no_neighbour grew by $nn, expected >= 3"
state=$(in_e ip -4 neigh show 192.0.2.99 dev shoal-out)
say "kernel neighbour entry: ${state:-none}"
[ -n "$state" ] || fail "the kernel was never asked to resolve 192.0.2.99"
