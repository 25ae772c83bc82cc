#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Routes come from the kernel: deleting the default route in the engine
# namespace stops forwarding to the server within a second (new flows
# counted no_route); adding it back restores forwarding within a second,
# without restarting the engine.
. "$(dirname "$0")/lib.sh"

need_counters no_route
restore() {
	in_e ip route replace default via "$TOPO_ROUTER_IN" dev shoal-out
	lib_cleanup
}
trap restore EXIT
probe() { ping1 10.0.0.2 0.3; }

ping1 10.0.0.2 2 || fail "no forwarding before the change"
in_e ip route del default || fail "cannot delete the default route"
ms=$(until_fail 3 probe) || fail "forwarding still works 3 s after the default route was deleted"
say "forwarding stopped ${ms} ms after the route was deleted"
[ "$ms" -le 1000 ] || fail "forwarding stopped only after $ms ms"
snap "$T/before"
ping1 10.0.0.3 0.5 && fail "a new ping flow got through without a route"
in_c curl -s --max-time 1 --interface 10.0.0.4 "http://$TOPO_SERVER:8080/no-route" && fail "a new TCP flow got through without a route"
nr=$(delta "$T/before" no_route)
say "no_route +$nr"
[ "$nr" -ge 2 ] || fail "no_route grew by $nr, expected >= 2"

in_e ip route add default via "$TOPO_ROUTER_IN" dev shoal-out || fail "cannot add the default route back"
ms=$(until_ok 3 probe) || fail "forwarding did not resume within 3 s of adding the route back"
say "forwarding resumed ${ms} ms after the route was added back"
[ "$ms" -le 1000 ] || fail "forwarding resumed only after $ms ms"
