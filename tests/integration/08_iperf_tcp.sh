#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A 3-second iperf3 TCP run from 10.0.0.3 completes and moves data; the
# server logs the slice address and leased ports for both the control and
# the data connection.
. "$(dirname "$0")/lib.sh"

in_c iperf3 -c "$TOPO_SERVER" -B 10.0.0.3 -t 3 -J --connect-timeout 3000 >"$T/out.json" 2>&1 ||
	{ cat "$T/out.json"; fail "iperf3 TCP failed"; }
read -r bps bytes < <("$PY" -c 'import json,sys
e = json.load(open(sys.argv[1]))["end"]
print(int(e["sum_received"]["bits_per_second"]), e["sum_received"]["bytes"])' "$T/out.json") ||
	fail "cannot parse iperf3 output"
say "TCP: $((bps / 1000000)) Mbit/s, $bytes bytes received"
[ "$bytes" -gt 1000000 ] || fail "only $bytes bytes received"
