#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# ICMP echo from two client addresses reaches the server and comes back
# (echo identifiers translated like ports), no loss.
. "$(dirname "$0")/lib.sh"

for src in 10.0.0.2 10.0.0.5; do
	out=$(in_c ping -n -c 5 -i 0.2 -W 2 -I "$src" "$TOPO_SERVER") || { say "$out"; fail "ping from $src failed"; }
	say "$src: $(echo "$out" | grep 'packets transmitted')"
	echo "$out" | grep -q " 0% packet loss" || fail "ping from $src lost packets"
done
