#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Kernel traffic from the slice address (198.51.100.10 on lo in the engine
# namespace) leaves only from ports of the socket lease 11000-11099:
#   UDP from :12345 and a TCP connect from :12346-12360 -> dropped,
#       counted kernel_port_violation; the router sees nothing of them;
#   UDP from :11050 -> reaches the router, whose echo comes back through
#       the engine to the kernel socket (inbound socket-lease traffic);
#   TCP (curl) from :11051-11060 to an HTTP server on the router -> works.
. "$(dirname "$0")/lib.sh"

need_counters kernel_port_violation
RPID=
cleanup() {
	in_e ip addr del "$TOPO_SLICE_IP/32" dev lo 2>/dev/null
	[ -n "$RPID" ] && _stop_pids "$RPID"
	lib_cleanup
}
trap cleanup EXIT

in_e ip addr add "$TOPO_SLICE_IP/32" dev lo || fail "cannot add $TOPO_SLICE_IP to lo"
ip netns exec "$NS_R" "$PY" "$REPO/scripts/lib/demo_server.py" "$TOPO_ROUTER_IN" 8081 9999 >"$T/router.log" 2>&1 &
RPID=$!
_servers_until 10 _servers_listening "$NS_R" u 9999 || fail "UDP echo on the router did not start"
_servers_until 10 _servers_listening "$NS_R" t 8081 || fail "HTTP on the router did not start"
capture_start "$NS_R" r0 "$T/r0.pcap" -Q in src host "$TOPO_SLICE_IP" || fail "tcpdump on r0"
snap "$T/before"

# udp SPORT : one datagram from the slice address, print the echo (1 s).
udp() {
	in_e "$PY" - "$TOPO_SLICE_IP" "$1" "$TOPO_ROUTER_IN" 9999 <<-'PY'
		import socket, sys
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		s.bind((sys.argv[1], int(sys.argv[2])))
		s.settimeout(1.0)
		s.sendto(b"from-port-" + sys.argv[2].encode(), (sys.argv[3], int(sys.argv[4])))
		try:
		    print(s.recvfrom(2048)[0].decode())
		except socket.timeout:
		    sys.exit(1)
	PY
}

say "UDP from $TOPO_SLICE_IP:12345 (outside the socket lease)"
out=$(udp 12345) && fail "the echo to port 12345 came back: $out"
say "TCP from $TOPO_SLICE_IP:12346-12360 (outside the socket lease)"
in_e curl -sS --max-time 2 --interface "$TOPO_SLICE_IP" --local-port 12346-12360 "http://$TOPO_ROUTER_IN:8081/bad" &&
	fail "curl from port 12346 got through"
say "UDP from $TOPO_SLICE_IP:11050 (socket lease)"
out=$(udp 11050) || fail "no echo for UDP from $TOPO_SLICE_IP:11050"
say "  echo: $out"
say "TCP from $TOPO_SLICE_IP:11051-11060 (socket lease)"
out=$(in_e curl -sS --max-time 3 --interface "$TOPO_SLICE_IP" --local-port 11051-11060 "http://$TOPO_ROUTER_IN:8081/good") ||
	fail "curl from $TOPO_SLICE_IP:11051-11060 failed"
say "  $out"
[[ $out =~ ^hello\ $TOPO_SLICE_IP:110(5[1-9]|60)$ ]] || fail "the router saw '$out'"
sleep 0.2
capture_stop

kv=$(delta "$T/before" kernel_port_violation)
say "kernel_port_violation +$kv"
[ "$kv" -ge 2 ] || fail "kernel_port_violation grew by $kv, expected >= 2"
tcpdump -r "$T/r0.pcap" -n 2>/dev/null >"$T/r0.txt"
say "the router received from $TOPO_SLICE_IP:"
cat "$T/r0.txt"
grep -qE "\.(12345|123[45][0-9]|12360) >" "$T/r0.txt" && fail "the router received a packet from a port outside the socket lease"
grep -q "$TOPO_SLICE_IP.11050 >" "$T/r0.txt" || fail "the router capture lacks the datagram from 11050"
exit 0
