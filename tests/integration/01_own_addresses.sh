#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Pings to the engine's own addresses are answered by Linux through the
# kernel mirrors: 10.0.0.1 from the client, 192.0.2.1 from the router. The
# engine punts them (to_kernel) and sends the kernel's replies (from_kernel);
# the engine namespace's kernel counts the echo requests it answered.
. "$(dirname "$0")/lib.sh"

need_counters to_kernel from_kernel
snap "$T/before"
icmp_in() { snmp "$NS_E" Icmp InEchos; }
echos0=$(icmp_in)

say "client -> 10.0.0.1"
in_c ping -n -c 3 -i 0.2 -W 2 "$TOPO_INSIDE_ADDR" || fail "no answer from $TOPO_INSIDE_ADDR to the client"
say "router -> 192.0.2.1"
in_r ping -n -c 3 -i 0.2 -W 2 "$TOPO_OUTSIDE_ADDR" || fail "no answer from $TOPO_OUTSIDE_ADDR to the router"

echos=$(($(icmp_in) - echos0))
say "engine-namespace kernel answered $echos echo requests"
[ "$echos" -ge 6 ] || fail "the engine namespace's kernel saw $echos echo requests, expected >= 6"
tk=$(delta "$T/before" to_kernel) fk=$(delta "$T/before" from_kernel)
say "to_kernel +$tk, from_kernel +$fk"
[ "$tk" -ge 6 ] || fail "to_kernel grew by $tk, expected >= 6"
[ "$fk" -ge 6 ] || fail "from_kernel grew by $fk, expected >= 6"
