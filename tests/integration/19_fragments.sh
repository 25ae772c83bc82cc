#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# RFC 4787 REQ-14: fragments are translated (virtual reassembly, see
# engine/nat/frag.h), both ways.
#   * ping -s 3000: the client's request leaves in fragments, and the
#     server's reply comes back in fragments of its 1280-byte link;
#   * a DNS answer of ~2 KB over UDP (dig +bufsize=4096, +ignore: no retry
#     over TCP): dnsmasq's TXT answer is fragmented at the server and
#     must reach the client whole, not truncated.
# With SHOAL_IO=pcap the engine sees the fragments and its "fragments"
# counter grows by what went through. With net_af_packet (the default)
# the kernel reassembles them first (DPDK 22.11 joins a fanout group with
# PACKET_FANOUT_FLAG_DEFRAG, always; topo.sh gives it 8 KiB frames), so
# the engine translates whole datagrams and fragments them again for the
# 1500-byte links: "tx_fragmented" grows instead.
. "$(dirname "$0")/lib.sh"

if [ "${SHOAL_IO:-af_packet}" = pcap ]; then
	counter=fragments ping_min=18 dig_min=2
else
	# each request on the outside, each reply on the inside
	counter=tx_fragmented ping_min=6 dig_min=1
fi

snap "$T/before"
out=$(in_c ping -n -s 3000 -c 3 -i 0.3 -W 2 "$TOPO_SERVER" 2>&1) || { say "$out"; fail "ping -s 3000 failed"; }
say "$(echo "$out" | grep 'packets transmitted')"
echo "$out" | grep -q " 0% packet loss" || { say "$out"; fail "ping -s 3000 lost packets"; }
echo "$out" | grep -q "3008 bytes from $TOPO_SERVER" || { say "$out"; fail "no 3008-byte replies"; }
fr=$(delta "$T/before" $counter)
say "$counter +$fr after ping"
# pcap: 3 requests of 3 fragments (1500-byte client link) and 3 replies
# of 3 fragments (1280-byte server link) at least
[ "$fr" -ge $ping_min ] || fail "$counter grew by $fr, expected >= $ping_min"

snap "$T/before"
out=$(in_c dig +bufsize=4096 +notcp +ignore +time=2 +tries=2 -b 10.0.0.3 \
	"@$TOPO_SERVER" "$SERVERS_DNS_TXT_NAME" TXT 2>&1) || { say "$out"; fail "dig failed"; }
say "$(echo "$out" | grep -E 'flags:|MSG SIZE')"
echo "$out" | grep -qE "flags: [a-z ]*\btc\b" && fail "the answer came truncated"
n=$(echo "$out" | grep -cE "^$SERVERS_DNS_TXT_NAME\.\s.*TXT")
[ "$n" -eq "$SERVERS_DNS_TXT_N" ] || { say "$out"; fail "$n TXT strings, expected $SERVERS_DNS_TXT_N"; }
size=$(echo "$out" | sed -nE 's/.*MSG SIZE +rcvd: ([0-9]+).*/\1/p')
[ "${size:-0}" -gt 1280 ] || fail "answer of ${size:-?} bytes: not larger than the link MTU"
echo "$out" | grep -qE "SERVER: .*\(UDP\)" || fail "dig did not say the answer came over UDP"
fr=$(delta "$T/before" $counter)
say "$counter +$fr after dig"
[ "$fr" -ge $dig_min ] || fail "$counter grew by $fr, expected >= $dig_min"
