#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Unsolicited inbound traffic from the router to the slice address is
# dropped by the engine and never reaches Linux or the clients:
#   UDP and TCP SYN to 198.51.100.10:12040/12041 (in the slice, no lease)
#     -> counted not_leased
#   UDP and TCP SYN to 198.51.100.10:10500/10501 (nat lease, no flow)
#     -> counted unsolicited
# tcpdump on both kernel mirrors in the engine namespace and on the
# client's interface sees none of it, the engine namespace's kernel counts
# (almost) no IP packets received meanwhile (Ip InReceives < 4, against
# the 8 sent), and the router gets no answer (no RST, no ICMP).
. "$(dirname "$0")/lib.sh"

need_counters not_leased unsolicited
SPORT=40000
capture_start "$NS_E" shoal-out "$T/mirror-out.pcap" port $SPORT || fail "tcpdump on shoal-out"
capture_start "$NS_E" shoal-in "$T/mirror-in.pcap" port $SPORT || fail "tcpdump on shoal-in"
capture_start "$NS_C" c0 "$T/c0.pcap" port $SPORT || fail "tcpdump on c0"
capture_start "$NS_R" r0 "$T/r0.pcap" -Q in host "$TOPO_SLICE_IP" or host "$TOPO_OUTSIDE_ADDR" || fail "tcpdump on r0"
snap "$T/before"
ip0=$(snmp "$NS_E" Ip InReceives)

# send PORT : 3 UDP datagrams and one TCP connection attempt (SYN, 1 s)
# from the router's 192.0.2.254:40000 to the slice address.
send() {
	in_r "$PY" - "$TOPO_ROUTER_IN" "$SPORT" "$TOPO_SLICE_IP" "$1" <<-'PY'
		import socket, sys
		src, sport, dst, dport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
		u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		u.bind((src, sport))
		for i in range(3):
		    u.sendto(b"unsolicited %d" % i, (dst, dport))
		u.close()
		t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		t.bind((src, sport))
		t.settimeout(1.0)
		try:
		    t.connect((dst, dport + 1))
		    print("TCP connection to %s:%d ESTABLISHED" % (dst, dport + 1))
		    sys.exit(1)
		except OSError as e:
		    print("TCP to %s:%d: %s" % (dst, dport + 1, e))
	PY
}
send 12040 || fail "a TCP connection to the unleased port 12041 succeeded"
send 10500 || fail "a TCP connection to the nat port 10501 with no flow succeeded"
sleep 0.3
capture_stop

nl=$(delta "$T/before" not_leased) us=$(delta "$T/before" unsolicited)
say "not_leased +$nl, unsolicited +$us"
[ "$nl" -ge 4 ] || fail "not_leased grew by $nl, expected >= 4 (3 UDP + 1 SYN)"
[ "$us" -ge 4 ] || fail "unsolicited grew by $us, expected >= 4 (3 UDP + 1 SYN)"
for f in mirror-out mirror-in c0; do
	n=$(tcpdump -r "$T/$f.pcap" -n 2>/dev/null | wc -l)
	say "$f: $n packets with port $SPORT"
	[ "$n" = 0 ] || fail "$f saw $n of the unsolicited packets: $(tcpdump -r "$T/$f.pcap" -n 2>/dev/null | head -n 3)"
done
ipd=$(($(snmp "$NS_E" Ip InReceives) - ip0))
say "engine namespace kernel: Ip InReceives +$ipd"
[ "$ipd" -lt 4 ] || fail "the engine namespace's kernel received $ipd IP packets during the test"
n=$(tcpdump -r "$T/r0.pcap" -n 2>/dev/null | wc -l)
[ "$n" = 0 ] || fail "the router got $n answers: $(tcpdump -r "$T/r0.pcap" -n 2>/dev/null | head -n 3)"
