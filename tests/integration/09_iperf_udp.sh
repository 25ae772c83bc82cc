#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A 3-second iperf3 UDP run (50 Mbit/s, 1200-byte datagrams so they fit the
# 1280-byte path MTU unfragmented) from 10.0.0.4: datagrams arrive with
# less than 5 % loss.
. "$(dirname "$0")/lib.sh"

in_c iperf3 -c "$TOPO_SERVER" -B 10.0.0.4 -u -b 50M -l 1200 -t 3 -J --connect-timeout 3000 >"$T/out.json" 2>&1 ||
	{ cat "$T/out.json"; fail "iperf3 UDP failed"; }
read -r pkts lost < <("$PY" -c 'import json,sys
s = json.load(open(sys.argv[1]))["end"]["sum"]
print(s["packets"], s["lost_packets"])' "$T/out.json") || fail "cannot parse iperf3 output"
say "UDP: $pkts datagrams, $lost lost"
[ "$pkts" -gt 1000 ] || fail "only $pkts datagrams sent"
[ $((lost * 100)) -lt $((pkts * 5)) ] || fail "$lost of $pkts datagrams lost (>= 5 %)"
