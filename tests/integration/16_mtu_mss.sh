#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The engine's own MTU path, with the client's link wider than the
# engine's outside port (the client's path, c0 to e0, gets MTU 1900 for this test and
# 1500 back in the trap; the engine keeps its configured mtu 1500 and the
# default tcp_mss_clamp = auto, 1460):
#   (a) TCP: the client announces MSS 1860, the server's SYN shows at most
#       1460 (tcp_mss_clamped rises), and curl downloads a 2 MB file
#       whole;
#   (b) ping -M do -s 1600 (1628 bytes, DF): the engine drops it
#       (mtu_exceeded) and answers fragmentation needed, mtu 1500, from
#       10.0.0.1: ping says so and the client's kernel learns mtu 1500;
#   (c) ping -M dont -s 1600: the engine sends it in fragments
#       (tx_fragmented) which the server reassembles into an echo request
#       it accepts (its ICMP checksum covers the whole payload).
# tcp_mss_clamp = off and N, and the reply's exact content, are covered by
# tests/engine/test_mtu.py (this suite runs one engine configuration).
. "$(dirname "$0")/lib.sh"

HTTP_PORT=8099
http_pid=''
restore() {
	[ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null
	in_c ip link set c0 mtu 1500
	for l in l0 f0 e0; do in_e ip link set "$l" mtu 1500; done
	in_c ip route flush cache
	lib_cleanup
}
trap restore EXIT

need_counters tcp_mss_clamped mtu_exceeded icmp_frag_needed tx_fragmented
# The client's path to the engine: c0, then l0 and f0 in the engine's
# namespace (scripts/topo.sh), then e0.
for l in l0 f0 e0; do
	in_e ip link set "$l" mtu 1900 || fail "cannot set $l mtu 1900"
done
in_c ip link set c0 mtu 1900 || fail "cannot set c0 mtu 1900"
in_c ip route flush cache

# (a) TCP with clamping
head -c $((2 * 1024 * 1024)) /dev/urandom >"$T/big.bin"
want=$(sha256sum <"$T/big.bin" | cut -d' ' -f1)
# socketserver, not http.server's HTTPServer: that one resolves its own
# name at start-up, a DNS query the server's namespace cannot send.
in_s "$PY" -c 'import functools, http.server, socketserver, sys
socketserver.TCPServer.allow_reuse_address = True
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[3])
socketserver.TCPServer((sys.argv[1], int(sys.argv[2])), h).serve_forever()' \
	"$TOPO_SERVER" "$HTTP_PORT" "$T" >"$T/http.log" 2>&1 &
http_pid=$!
until_ok 10 in_c curl -s -o /dev/null --max-time 2 "http://$TOPO_SERVER:$HTTP_PORT/" >/dev/null ||
	fail "http.server on the server did not answer"
snap "$T/before"
got=$(in_c curl -sS --max-time 30 "http://$TOPO_SERVER:$HTTP_PORT/big.bin" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "2 MB download through the engine differs (sha256 $got, want $want)"
say "curl: 2 MB downloaded whole"
c=$(delta "$T/before" tcp_mss_clamped)
say "tcp_mss_clamped +$c"
[ "$c" -ge 1 ] || fail "tcp_mss_clamped grew by $c, expected >= 1"
# The SYNs the server received on that port: MSS at most 1460.
syns=$(tcpdump -nn -v -r "$SHOAL_WORK/s0.pcap" \
	"tcp dst port $HTTP_PORT and tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0" 2>/dev/null |
	grep -o 'mss [0-9]*' | awk '{ print $2 }')
say "server saw SYN MSS: $(echo $syns)"
[ -n "$syns" ] || fail "no SYN to port $HTTP_PORT in the server's capture"
for m in $syns; do
	[ "$m" -le 1460 ] || fail "the server saw MSS $m > 1460: not clamped"
done

# (b) DF over the outside MTU: fragmentation needed from the engine
snap "$T/before"
out=$(in_c ping -n -M do -s 1600 -c 2 -i 0.3 -W 1 "$TOPO_SERVER" 2>&1)
say "$out"
echo "$out" | grep -qE "From $TOPO_INSIDE_ADDR .*(Frag needed|mtu ?= ?1500)" ||
	fail "ping -M do -s 1600: no fragmentation needed from $TOPO_INSIDE_ADDR"
in_c ip route get "$TOPO_SERVER" | grep -q "mtu 1500" ||
	fail "the client's kernel did not learn mtu 1500"
e=$(delta "$T/before" mtu_exceeded)
f=$(delta "$T/before" icmp_frag_needed)
say "mtu_exceeded +$e, icmp_frag_needed +$f"
[ "$e" -ge 1 ] && [ "$f" -ge 1 ] || fail "mtu_exceeded +$e, icmp_frag_needed +$f, expected >= 1 each"

# (c) no DF: fragments the server reassembles
in_c ip route flush cache
snap "$T/before"
reasm0=$(snmp "$NS_S" Ip ReasmOKs)
echos0=$(snmp "$NS_S" Icmp InEchos)
in_c ping -n -M dont -s 1600 -c 1 -W 2 "$TOPO_SERVER" >/dev/null 2>&1
until_ok 5 test "$(snmp "$NS_S" Icmp InEchos)" -gt "$echos0" >/dev/null ||
	fail "the server accepted no echo request"
reasm=$(($(snmp "$NS_S" Ip ReasmOKs) - reasm0))
t=$(delta "$T/before" tx_fragmented)
say "server ReasmOKs +$reasm, tx_fragmented +$t"
[ "$reasm" -ge 1 ] || fail "the server reassembled nothing"
[ "$t" -ge 1 ] || fail "tx_fragmented grew by $t, expected >= 1"
