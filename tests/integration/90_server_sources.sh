#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# What the servers saw during all the tests so far: every IPv4 packet the
# server's interface received (tcpdump since start-up) came from the slice
# address 198.51.100.10 with a TCP/UDP source port or ICMP echo identifier
# inside a nat lease: 10000-10999, or 11100-11299 of the two clients whose
# leases have other mapping and filtering modes (an ICMP error must be
# about a packet to one of those), and so do the sources in the HTTP,
# dnsmasq and iperf3 logs.
. "$(dirname "$0")/lib.sh"

pcap=$SHOAL_WORK/s0.pcap
hex=$(printf '0x%02x%02x%02x%02x' ${TOPO_SLICE_IP//./ })
inner_dport="icmp[8 + (icmp[8] & 0xf) * 4 + 2 : 2]"
# in_nat EXPR: a pcap filter, EXPR is a port of a nat lease.
in_nat() {
	echo "(($1 >= $NAT_LO and $1 <= $NAT_HI) or ($1 >= $NAT_MODES_LO and $1 <= $NAT_MODES_HI))"
}
good="src host $TOPO_SLICE_IP and (
	((tcp or udp) and (src portrange $NAT_LO-$NAT_HI or
			   src portrange $NAT_MODES_LO-$NAT_MODES_HI))
	or (icmp and (icmp[0] = 0 or icmp[0] = 8) and $(in_nat 'icmp[4:2]'))
	or (icmp and (icmp[0] = 3 or icmp[0] = 11 or icmp[0] = 12) and icmp[24:4] = $hex
	    and $(in_nat "$inner_dport"))
	or (ip[6:2] & 0x1fff != 0))"
count() { tcpdump -r "$pcap" -n "$1" 2>/dev/null | wc -l; }

for what in tcp udp icmp; do
	say "server received $(count "$what and ($good)") good $what packets"
done
tcpdump -r "$pcap" -n "ip and not ($good)" 2>/dev/null | head -n 20 >"$T/strangers"
if [ -s "$T/strangers" ]; then
	cat "$T/strangers"
	fail "the server received packets not from a nat lease of $TOPO_SLICE_IP (first: $(head -n 1 "$T/strangers"))"
fi
[ "$(count "tcp and ($good)")" -gt 0 ] && [ "$(count "udp and ($good)")" -gt 0 ] &&
	[ "$(count "icmp and ($good)")" -gt 0 ] || fail "the capture lacks TCP, UDP or ICMP packets"

# Sources in the server logs, as ADDR PORT lines.
{
	sed -nE 's/^(tcp|udp)  ([0-9.]+):([0-9]+) .*/\2 \3/p' "$SRV/http.log"
	sed -nE 's/.* ([0-9.]+)\/([0-9]+) query\[.*/\1 \2/p' "$SRV/dns.log"
	sed -nE 's/^Accepted connection from ([0-9.]+), port ([0-9]+).*/\1 \2/p; s/.*connected to ([0-9.]+) port ([0-9]+).*/\1 \2/p' "$SRV/iperf3.log"
} >"$T/sources"
n=$(wc -l <"$T/sources")
say "$n sources in the server logs: $(sort -u "$T/sources" | awk '{ print $1 ":" $2 }' | tr '\n' ' ')"
[ "$n" -ge 10 ] || fail "only $n sources in the server logs"
while read -r addr port; do
	[ "$addr" = "$TOPO_SLICE_IP" ] || fail "a server logged source $addr"
	in_range "$port" $NAT_LO $NAT_HI || in_range "$port" $NAT_MODES_LO $NAT_MODES_HI ||
		fail "a server logged source port $port"
done <"$T/sources"
