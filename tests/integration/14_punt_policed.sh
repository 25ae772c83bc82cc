#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Punted traffic is rate-limited per port: the outside port's punt_rate is
# 1000 packets/s (burst 100) in this topology. A burst of 600 UDP datagrams
# from the router to the engine's own outside address, sent as fast as
# scapy can, exceeds it: some reach Linux (to_kernel), the rest are counted
# punt_policed, and none is lost uncounted. Pings to the engine still
# work right after (the bucket refills).
. "$(dirname "$0")/lib.sh"

need_counters punt_policed to_kernel
N=600
snap "$T/before"
in_r "$PY" - "$TOPO_OUTSIDE_ADDR" "$N" <<-'PY' || fail "scapy burst failed"
	import sys
	from scapy.all import Ether, IP, UDP, conf, get_if_hwaddr, getmacbyip, sendp
	dst, n = sys.argv[1], int(sys.argv[2])
	mac = getmacbyip(dst)
	if not mac:
	    sys.exit("no ARP answer for %s" % dst)
	frames = [Ether(dst=mac, src=get_if_hwaddr("r0")) /
	          IP(src="192.0.2.254", dst=dst) / UDP(sport=45000, dport=9) / b"flood"
	          for _ in range(n)]
	s = conf.L2socket(iface="r0")
	for f in frames:
	    s.send(f)
	s.close()
PY
sleep 0.5
pol=$(delta "$T/before" punt_policed)
tk=$(delta "$T/before" to_kernel)
say "burst of $N: punt_policed +$pol, to_kernel +$tk"
[ "$pol" -ge 1 ] || fail "no packet of the burst was policed"
[ "$tk" -ge 100 ] || fail "only $tk packets reached Linux; the burst allowance is 100"
[ $((pol + tk)) -ge "$N" ] || fail "policed + punted = $((pol + tk)) < $N sent"
sleep 0.2
in_r ping -c 1 -W 1 "$TOPO_OUTSIDE_ADDR" >/dev/null || fail "Linux unreachable after the burst"
