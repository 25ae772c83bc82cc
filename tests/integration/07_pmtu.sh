#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Path MTU discovery through the engine: the router's link to the server
# has MTU 1280, so a 1428-byte DF packet draws "fragmentation needed,
# mtu 1280" from the router; the engine translates it back to the client
# (ICMP echo: ping -M do; UDP: tracepath), whose kernel then knows the
# path MTU. tracepath must report "pmtu 1280" and reach the server.
. "$(dirname "$0")/lib.sh"

in_c ip route flush cache
snap "$T/before"
out=$(in_c ping -n -M "do" -s 1400 -c 3 -i 0.3 -W 1 "$TOPO_SERVER" 2>&1)
say "$out"
echo "$out" | grep -qE "mtu ?= ?1280" || fail "ping -M do -s 1400: no 'mtu 1280' error reached the client"
in_c ip route get "$TOPO_SERVER" | grep -q "mtu 1280" || fail "the client's kernel did not learn path MTU 1280"

in_c ip route flush cache
out=$(in_c timeout 20 tracepath -n -m 6 "$TOPO_SERVER" 2>&1)
say "$out"
echo "$out" | grep -q "pmtu 1280" || fail "tracepath did not report pmtu 1280"
echo "$out" | grep -qE "$TOPO_SERVER .*reached" || fail "tracepath did not reach $TOPO_SERVER"
eo=$(delta "$T/before" icmp_error_out2in)
say "icmp_error_out2in +$eo"
[ "$eo" -ge 2 ] || fail "icmp_error_out2in grew by $eo, expected >= 2"
