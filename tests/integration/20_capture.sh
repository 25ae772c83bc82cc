#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Capture and inspection with DPDK's own tools, attached to the running
# engine as secondary processes in its network namespace (net_pcap opens
# the interfaces again there; docs/CAPTURE.md): dpdk-dumpcap lists the
# engine's ports and captures DNS on the outside port while clients query,
# and the capture holds the translated packets (the slice address and a
# port of the nat lease, both ways; no client address); dpdk-proc-info
# reads the outside port's counters, which count the queries sent. The
# engine keeps forwarding after the capture ends.
#
# Needs the engine on hugepages (run.sh reserves them): without, this test
# fails and says why; it does not skip.
. "$(dirname "$0")/lib.sh"

CAPTURE_N=10 # packets: 5 queries and their answers (or one burst more)
if grep -q '^shoal-engine: no hugepages' "$SHOAL_WORK/engine.log"; then
	fail "the engine runs on 4 KiB pages, so no DPDK secondary process can attach:" \
		"$(cat "$SHOAL_WORK/huge.err" 2>/dev/null)"
fi
until_ok 10 grep -q '^shoal-engine: outside port' "$SHOAL_WORK/engine.log" >/dev/null
port=$(sed -nE 's/^shoal-engine: outside port ([0-9]+) .*/\1/p' "$SHOAL_WORK/engine.log")
[ -n "$port" ] || fail "the engine log names no outside port"

# 1. The engine's ports, as a secondary process sees them.
list=$(timeout 20 ip netns exec "$NS_E" dpdk-dumpcap --file-prefix="$SHOAL_PREFIX" -D 2>"$T/list.err") ||
	fail "dpdk-dumpcap -D: $(cat "$T/list.err")"
say "dpdk-dumpcap -D:"
echo "$list" | sed 's/^/  /'
echo "$list" | grep -qE "^$port\. " || fail "dpdk-dumpcap does not list the outside port $port"

# 2. A bounded capture: CAPTURE_N packets (dumpcap writes whole bursts:
# a few more) or 30 s. dumpcap says "Capturing on" (on stdout:
# line-buffered here) once attached, a moment before the engine copies
# packets to it, so the client queries until dumpcap has them all.
timeout 30 ip netns exec "$NS_E" stdbuf -oL dpdk-dumpcap --file-prefix="$SHOAL_PREFIX" -i "$port" -f 'udp port 53' \
	-c $CAPTURE_N -w "$T/out.pcapng" >"$T/dumpcap.log" 2>&1 &
dumpcap=$!
until_ok 15 grep -q "^Capturing on" "$T/dumpcap.log" >/dev/null || {
	kill "$dumpcap" 2>/dev/null
	wait "$dumpcap"
	fail "dpdk-dumpcap did not start capturing: $(cat "$T/dumpcap.log")"
}
tx0=$(timeout 20 ip netns exec "$NS_E" dpdk-proc-info --file-prefix="$SHOAL_PREFIX" --no-pci -- --stats 2>/dev/null |
	awk -v p="$port" '/NIC statistics for port/ { on = ($(NF-1) == p) }
		on && /TX-packets:/ { print $2; exit }')
queries=0
for ((i = 0; i < 40; i++)); do
	kill -0 "$dumpcap" 2>/dev/null || break
	in_c dig +time=1 +tries=1 +short -b 10.0.0.2 "@$TOPO_SERVER" "$SERVERS_DNS_NAME" A >/dev/null &&
		queries=$((queries + 1))
done
wait "$dumpcap"
rc=$?
say "dpdk-dumpcap (status $rc) after $queries queries:"
sed 's/\r/\n/g' "$T/dumpcap.log" | grep -v '^Packets captured: [0-9 ]*$' | sed 's/^/  /'
[ $rc = 0 ] || fail "dpdk-dumpcap exited with status $rc"
[ -s "$T/out.pcapng" ] || fail "dpdk-dumpcap wrote no file"

tcpdump -nn -r "$T/out.pcapng" 2>/dev/null >"$T/out.txt" || fail "tcpdump cannot read the capture"
say "tcpdump -r:"
sed 's/^/  /' "$T/out.txt"
n=$(grep -c . "$T/out.txt")
[ "$n" -ge $CAPTURE_N ] || fail "captured $n packets, expected $CAPTURE_N"
# Queries leave translated; answers arrive for the translated address.
out_ports=$(sed -nE "s/.* IP $TOPO_SLICE_IP\.([0-9]+) > $TOPO_SERVER\.53: .*/\1/p" "$T/out.txt")
in_ports=$(sed -nE "s/.* IP $TOPO_SERVER\.53 > $TOPO_SLICE_IP\.([0-9]+): .*/\1/p" "$T/out.txt")
[ -n "$out_ports" ] || fail "no query from $TOPO_SLICE_IP in the capture"
[ -n "$in_ports" ] || fail "no answer to $TOPO_SLICE_IP in the capture"
for p in $out_ports $in_ports; do
	in_range "$p" $NAT_LO $NAT_HI || fail "captured slice port $p, outside the nat lease"
done
! grep -q ' 10\.0\.0\.' "$T/out.txt" || fail "a client address appears on the outside port"

# 3. dpdk-proc-info: the outside port's counters, read from the engine.
timeout 20 ip netns exec "$NS_E" dpdk-proc-info --file-prefix="$SHOAL_PREFIX" --no-pci -- --stats \
	>"$T/proc-info.txt" 2>"$T/proc-info.err"
rc=$?
# With SHOAL_IO=pcap, DPDK 22.11's net_pcap crashes (SIGSEGV) removing its
# ports in the secondary's rte_eal_cleanup, after the stats are printed;
# the engine is not affected. The output is checked all the same.
if [ "${SHOAL_IO:-}" = pcap ] && [ $rc = 139 ]; then
	say "dpdk-proc-info crashed at exit (net_pcap in DPDK 22.11)"
elif [ $rc != 0 ]; then
	fail "dpdk-proc-info --stats (status $rc): $(cat "$T/proc-info.err")"
fi
tx1=$(awk -v p="$port" '/NIC statistics for port/ { on = ($(NF-1) == p) }
	on && /TX-packets:/ { print $2; exit }' "$T/proc-info.txt")
say "dpdk-proc-info: outside port $port TX-packets ${tx0:-?} before the queries, ${tx1:-?} after"
[ -n "$tx0" ] && [ -n "$tx1" ] || fail "dpdk-proc-info shows no TX-packets for port $port"
[ $((tx1 - tx0)) -ge "$queries" ] ||
	fail "outside port sent $((tx1 - tx0)) packets during $queries queries"

# 4. Capture over, the engine forwards as before.
engine_alive || fail "the engine died"
ping1 10.0.0.2 2 || fail "no echo through the engine after the capture"
