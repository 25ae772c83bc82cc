#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Peers with Linux's default checksum offload (docs/DESIGN.md "Checksums
# from virtual NICs"), and peers that send wrong checksums.
#
# 1. The premise: c0, r0, r1 and s0 keep TX checksum offload on, and the
#    client's TCP SYNs and UDP datagrams leave c0 with partial checksums.
# 2. Real traffic (HTTP, iperf3 TCP both ways, iperf3 UDP, DNS) works; the
#    engine refuses none of it as l4_bad_checksum, and every TCP/UDP
#    packet the server receives from the slice address, and the client
#    from the server, carries a correct checksum (scapy recomputes each).
# 3. Frames whose checksum is wrong, sent raw by scapy (so no kernel
#    marks them partial): a TCP SYN and a UDP datagram with a flipped
#    checksum, and two whose field holds just the pseudo-header sum, as a
#    partial one would. All four are dropped as l4_bad_checksum and never
#    reach the server.
# It runs after 91_engine_health, which requires l4_bad_checksum 0 over
# the rest of the suite: part 3 raises it on purpose.
. "$(dirname "$0")/lib.sh"

need_counters rx_csum_partial l4_bad_checksum in2out out2in

for x in "$NS_C:c0" "$NS_R:r0" "$NS_R:r1" "$NS_S:s0"; do
	ip netns exec "${x%:*}" ethtool -k "${x#*:}" | grep -qx 'tx-checksumming: on' ||
		fail "${x#*:} has TX checksum offload off; the peers must keep the default"
done

# ---- 2. real traffic -------------------------------------------------------
capture_start "$NS_C" c0 "$T/c0-out.pcap" -s 0 -Q out \
	"(tcp[tcpflags] & tcp-syn != 0) or udp" || fail "tcpdump on c0 (out)"
capture_start "$NS_C" c0 "$T/c0-in.pcap" -s 0 -Q in "src $TOPO_SERVER" ||
	fail "tcpdump on c0 (in)"
capture_start "$NS_S" s0 "$T/s0.pcap" -s 0 -Q in "src $TOPO_SLICE_IP" ||
	fail "tcpdump on s0"
snap "$T/before"
in_c curl -sS --max-time 5 "http://$TOPO_SERVER:8080/offload" >/dev/null || fail "curl failed"
in_c dig +time=2 +tries=2 +short "@$TOPO_SERVER" "$SERVERS_DNS_NAME" A >/dev/null || fail "dig failed"
in_c iperf3 -c "$TOPO_SERVER" -n 1M --connect-timeout 3000 >"$T/up.txt" 2>&1 ||
	{ cat "$T/up.txt"; fail "iperf3 TCP upload failed"; }
in_c iperf3 -c "$TOPO_SERVER" -R -n 1M --connect-timeout 3000 >"$T/down.txt" 2>&1 ||
	{ cat "$T/down.txt"; fail "iperf3 TCP download failed"; }
in_c iperf3 -c "$TOPO_SERVER" -u -b 8M -l 1000 -n 200K --connect-timeout 3000 >"$T/udp.txt" 2>&1 ||
	{ cat "$T/udp.txt"; fail "iperf3 UDP failed"; }
sleep 0.3
capture_stop
bad=$(delta "$T/before" l4_bad_checksum)
partial=$(delta "$T/before" rx_csum_partial)
say "real traffic: in2out +$(delta "$T/before" in2out), out2in +$(delta "$T/before" out2in)," \
	"l4_bad_checksum +$bad, rx_csum_partial +$partial"
[ "$bad" = 0 ] || fail "the engine refused $bad packets of real traffic as l4_bad_checksum"

"$PY" - "$T" <<-'PY' || fail "checksums on the wire are not what they must be"
	import sys
	from scapy.all import IP, TCP, UDP, rdpcap
	d = sys.argv[1]

	def ok(p):
	    """Whether the TCP/UDP checksum of IP packet p is right."""
	    l4 = p[TCP] if TCP in p else p[UDP]
	    if UDP in p and l4.chksum == 0:
	        return True
	    q = p.copy()
	    del q[IP].chksum
	    del (q[TCP] if TCP in q else q[UDP]).chksum
	    q = IP(bytes(q[IP]))
	    return (q[TCP] if TCP in q else q[UDP]).chksum == l4.chksum

	def l4(name):
	    return [p for p in rdpcap(f"{d}/{name}") if IP in p and (TCP in p or UDP in p)]

	out = l4("c0-out.pcap")
	partial = sum(not ok(p) for p in out)
	print(f"client sent {len(out)} SYNs/datagrams, {partial} with partial checksums")
	if partial == 0:
	    sys.exit("the client sent no partial checksum: the premise of this test is gone")
	for name, least in (("s0.pcap", 700), ("c0-in.pcap", 700)):
	    pk = l4(name)
	    bad = [p for p in pk if not ok(p)]
	    print(f"{name}: {len(pk)} TCP/UDP packets received, {len(bad)} with a wrong checksum")
	    if len(pk) < least:
	        sys.exit(f"{name}: fewer than {least} packets")
	    if bad:
	        sys.exit(f"{name}: wrong checksum on {bad[0].summary()}")
PY

# ---- 3. wrong checksums from a raw socket ----------------------------------
capture_start "$NS_S" s0 "$T/s0-bad.pcap" -Q in "src $TOPO_SLICE_IP or src net 10.0.0.0/24" ||
	fail "tcpdump on s0"
snap "$T/before"
in_c "$PY" - "$TOPO_INSIDE_ADDR" "$TOPO_SERVER" <<-'PY' || fail "scapy send failed"
	import sys
	from scapy.all import IP, TCP, UDP, Ether, conf, get_if_hwaddr, getmacbyip, raw
	gw, dst = sys.argv[1], sys.argv[2]
	mac = getmacbyip(gw)
	if not mac:
	    sys.exit("no ARP answer for %s" % gw)
	eth = Ether(dst=mac, src=get_if_hwaddr("c0"))
	ip = IP(src="10.0.0.2", dst=dst)
	seg = [ip / TCP(sport=44401, dport=8080, flags="S", seq=1),
	       ip / UDP(sport=44402, dport=53) / b"not a query"]
	frames = []
	for p in seg:
	    p = IP(raw(p))
	    l4 = p[TCP] if TCP in p else p[UDP]
	    # The pseudo-header sum, folded, not complemented: what a sender
	    # with checksum offload leaves in the field.
	    words = [int.from_bytes(raw(p)[i:i + 2], "big") for i in range(12, 20, 2)]
	    s = sum(words) + p.proto + len(l4)
	    while s >> 16:
	        s = (s & 0xffff) + (s >> 16)
	    if s == l4.chksum:
	        sys.exit("pseudo-header sum equals the checksum; pick other ports")
	    for c in (l4.chksum ^ 0x0100, s):
	        q = p.copy()
	        (q[TCP] if TCP in q else q[UDP]).chksum = c
	        frames.append(eth / q)
	s = conf.L2socket(iface="c0")
	for f in frames:
	    s.send(f)
	s.close()
	print(f"sent {len(frames)} frames with wrong checksums")
PY
sleep 0.5
capture_stop
bad=$(delta "$T/before" l4_bad_checksum)
say "wrong checksums: l4_bad_checksum +$bad, rx_csum_partial +$(delta "$T/before" rx_csum_partial)"
[ "$bad" = 4 ] || fail "l4_bad_checksum grew by $bad, expected 4"
n=$(tcpdump -n -r "$T/s0-bad.pcap" 2>/dev/null | grep -c ' > ' || true)
[ "$n" = 0 ] || fail "the server received $n of the frames with wrong checksums"
