#!/bin/bash
# shoal demo: real clients reach real servers through shoal-engine, with
# Linux as the control plane (no static neighbours, no static routes in the
# engine).
#
#   client ns            engine ns                router ns               server ns
#   c0 10.0.0.2-.5 --- e0 [shoal-engine] e1 --- r0 192.0.2.254
#                      shoal-in  shoal-out       r1 203.0.113.1 -- MTU 1280 -- s0 203.0.113.7
#                      10.0.0.1  192.0.2.1       (route 198.51.100.0/24 via 192.0.2.1)
#
# The engine reads e0/e1 with AF_PACKET and creates a kernel mirror (TAP)
# per port carrying the port's MAC and address: Linux answers ARP and pings
# to 10.0.0.1 / 192.0.2.1, the engine learns routes and neighbours from it.
# Client flows leave as 198.51.100.10 with ports of the nat lease
# 10000-10999. Clients: curl (HTTP), dig (DNS, dnsmasq), ping, traceroute
# (hop 1 is the engine), ping with DF past the 1280-byte link (the PMTU
# error reaches the client), iperf3 (while shoalctl top shows the rates
# and the lease filling). dpdk-dumpcap captures the translated
# traffic from the running engine and dpdk-proc-info reads its ports (the
# engine runs on hugepages the demo reserves and gives back, so DPDK's
# secondary processes can attach). Then: what the servers saw; the
# control plane (shoal-ctld, which the engine subscribes to) grants a new
# lease with shoalctl and the next flow uses it at once; shoalctl engine
# upgrade replaces the running engine by a new process while an iperf3
# TCP connection runs through it, and the connection carries on (its flow
# table is handed over: docs/RESTART.md); the engine's counters.
# Everything is removed on exit, even on error.
#
# Usage: scripts/demo.sh        (as root; BUILD_DIR=DIR builds there, default build/;
#                                SHOAL_WORKERS=N runs the engine with N workers)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD_DIR:-build}

bash scripts/deps.sh
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" >/dev/null

. scripts/topo.sh
. scripts/lib/servers.sh
. scripts/lib/hugepages.sh
TAG=sd$$ PREFIX=shoal-demo-$$
topo_names $TAG
TMP=$(mktemp -d /tmp/shoal-demo.XXXXXX)
# The engine's state file on tmpfs, as /run/shoal is on a host.
SHM=$(mktemp -d /dev/shm/shoal-demo.XXXXXX 2>/dev/null) || SHM=$TMP
ENGINE_PID= CTLD_PID= DUMPCAP_PID=
# After an upgrade the engine is no child of ours: stop it by PID and
# poll until it is gone (bounded), then reap it if it is ours.
stop_engine() {
	kill -INT "$1" 2>/dev/null || return 0
	for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	wait "$1" 2>/dev/null || true
}
cleanup() {
	set +e
	[ -n "$ENGINE_PID" ] && stop_engine "$ENGINE_PID"
	[ -n "$CTLD_PID" ] && kill "$CTLD_PID" 2>/dev/null && wait "$CTLD_PID" 2>/dev/null
	[ -n "$DUMPCAP_PID" ] && kill "$DUMPCAP_PID" 2>/dev/null && wait "$DUMPCAP_PID" 2>/dev/null
	servers_stop
	topo_down $TAG
	huge_down
	rm -rf "$TMP" "$SHM" "/var/run/dpdk/$PREFIX" "/var/run/dpdk/$PREFIX-b"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

C() { ip netns exec "$NS_C" "$@"; }
CTL() { "$BUILD/ctl/cli/shoalctl" -s "$TMP/run/ctl.sock" "$@"; }
step() { printf '\n== %s\n' "$*"; }
indent() { sed 's/^/   /'; }

step "topology: namespaces $NS_C, $NS_E, $NS_R, $NS_S"
topo_up $TAG

step "starting shoal-ctld (the lease daemon) and shoal-engine in $NS_E"
if huge_up "$TMP/huge" "$(topo_huge_pages)" 2>"$TMP/huge.err"; then
	export SHOAL_HUGE_DIR=$TMP/huge
	echo "   on $(topo_huge_pages) reserved 2 MiB hugepages (hugetlbfs at $SHOAL_HUGE_DIR)"
else
	echo "   on 4 KiB pages, so no capture below: $(cat "$TMP/huge.err")"
fi
topo_engine_conf "$TMP/shoal.conf" "$PREFIX" "$SHM/engine.state"
sed -i "/^eal = /a ctl_socket = $TMP/run/ctl.sock" "$TMP/shoal.conf"
printf '[ctl]\nsocket = %s\ndatabase = %s\ngroup = root\n' \
	"$TMP/run/ctl.sock" "$TMP/leases.db" >>"$TMP/shoal.conf"
"$BUILD/ctl/ctld/shoal-ctld" -c "$TMP/shoal.conf" >"$TMP/ctld.log" 2>&1 &
CTLD_PID=$!
for i in $(seq 1 50); do CTL status >/dev/null 2>&1 && break; sleep 0.1; done
ip netns exec "$NS_E" "$BUILD/engine/shoal-engine" -c "$TMP/shoal.conf" >"$TMP/engine.log" 2>&1 &
ENGINE_PID=$!
# Ready: the mirrors are up and the workers run (their line is the last
# the engine prints at start).
for i in $(seq 1 100); do
	topo_engine_ready $TAG && grep -q '^shoal-engine: .* worker(s)' "$TMP/engine.log" && break
	kill -0 $ENGINE_PID 2>/dev/null || break
	sleep 0.1
done
grep '^shoal-engine' "$TMP/engine.log" | indent
if ! topo_engine_ready $TAG; then
	echo "the engine did not bring up its kernel mirrors:" >&2
	cat "$TMP/engine.log" >&2
	exit 1
fi
echo "   kernel mirrors in $NS_E (Linux owns the addresses and the default route):"
ip -n "$NS_E" -br addr show | grep shoal | indent
ip -n "$NS_E" route show default | indent

step "starting servers on $TOPO_SERVER: HTTP :8080, DNS :53 (dnsmasq), iperf3 :5201"
servers_start "$NS_S" "$TOPO_SERVER" "$TMP/srv"

step "curl http://$TOPO_SERVER:8080/ from each client address"
for src in "${TOPO_CLIENTS[@]}"; do
	printf '   from %-9s -> %s\n' "$src" \
		"$(C curl -sS --max-time 5 --interface "$src" "http://$TOPO_SERVER:8080/demo")"
done

step "dpdk-dumpcap: HTTP on the outside port, captured from the running engine"
OUT_PORT=$(sed -nE 's/^shoal-engine: outside port ([0-9]+) .*/\1/p' "$TMP/engine.log")
if [ -n "${SHOAL_HUGE_DIR:-}" ]; then
	# Bounded: 12 packets (give or take the last burst) or 15 s. It says
	# "Capturing on" once attached, a moment before the engine copies
	# packets to it: the clients fetch until it has them (at most 10 times).
	timeout 15 ip netns exec "$NS_E" stdbuf -oL dpdk-dumpcap --file-prefix="$PREFIX" -i "$OUT_PORT" \
		-f 'tcp port 8080' -c 12 -w "$TMP/outside.pcapng" >"$TMP/dumpcap.log" 2>&1 &
	DUMPCAP_PID=$!
	for i in $(seq 1 100); do
		grep -qs '^Capturing on' "$TMP/dumpcap.log" && break
		kill -0 $DUMPCAP_PID 2>/dev/null || break
		sleep 0.1
	done
	echo "   in $NS_E: dpdk-dumpcap --file-prefix=$PREFIX -i $OUT_PORT -f 'tcp port 8080' -c 12 -w outside.pcapng"
	for i in $(seq 1 10); do
		kill -0 $DUMPCAP_PID 2>/dev/null || break
		C curl -sS --max-time 5 --interface "10.0.0.$((2 + i % 2))" -o /dev/null \
			"http://$TOPO_SERVER:8080/captured" || true
	done
	wait $DUMPCAP_PID || sed 's/\r/\n/g' "$TMP/dumpcap.log" | indent
	DUMPCAP_PID=
	echo "   tcpdump -nn -r outside.pcapng (the clients' flows leave as $TOPO_SLICE_IP):"
	tcpdump -nn -r "$TMP/outside.pcapng" 2>/dev/null | cut -c 17- |
		sed -E 's/, options \[[^]]*\]//' | indent
	echo "   in $NS_E: dpdk-proc-info --file-prefix=$PREFIX -- --stats (the engine's ports):"
	timeout 15 ip netns exec "$NS_E" dpdk-proc-info --file-prefix="$PREFIX" --no-pci -- --stats 2>/dev/null |
		sed -nE 's/.*NIC statistics for (port [0-9]+).*/\1/p; s/^ +(RX|TX)-packets: +([0-9]+) .*/\1 \2/p' |
		paste -d ' ' - - - | awk '{ printf "   %s %s: rx %s, tx %s packets\n", $1, $2, $4, $6 }' ||
		echo "   dpdk-proc-info failed"
else
	echo "   skipped: the engine runs on 4 KiB pages (see above)"
fi

step "dig @$TOPO_SERVER $SERVERS_DNS_NAME"
for src in 10.0.0.2 10.0.0.3; do
	printf '   from %-9s -> %s\n' "$src" \
		"$(C dig +short +time=2 +tries=2 -b "$src" "@$TOPO_SERVER" "$SERVERS_DNS_NAME")"
done

step "ping $TOPO_SERVER, and ping $TOPO_INSIDE_ADDR (the engine's address: Linux answers)"
for dst in "$TOPO_SERVER" "$TOPO_INSIDE_ADDR"; do
	C ping -n -c 3 -i 0.2 -W 2 "$dst" | grep -E 'transmitted' | indent || true
done

step "traceroute -n $TOPO_SERVER (hop 1: the engine's ICMP time exceeded)"
C traceroute -n -q 1 -w 2 -m 6 "$TOPO_SERVER" | indent || true

step "ping -M do -s 1400 $TOPO_SERVER (the router's link is MTU 1280)"
C ping -n -M "do" -s 1400 -c 2 -i 0.3 -W 1 "$TOPO_SERVER" 2>&1 | grep -iE 'mtu|transmitted' | indent || true
C ip route get "$TOPO_SERVER" | grep -o 'mtu [0-9]*' | sed 's/^/   the client learned path /' ||
	echo "   the client learned no path MTU"

step "iperf3 TCP, 3 s, from 10.0.0.3, watched by shoalctl top (two refreshes)"
C iperf3 -c "$TOPO_SERVER" -B 10.0.0.3 -t 3 --connect-timeout 3000 >"$TMP/iperf3.out" 2>&1 &
IPERF=$!
sleep 0.5
CTL top -n 2 | indent
wait $IPERF || true
grep -E 'sender|receiver' "$TMP/iperf3.out" | indent || true

step "what the servers saw (source address:port)"
sed -nE 's/^(tcp|udp)  ([0-9.:]+) .*/   http    \2/p' "$TMP/srv/http.log"
sed -nE 's/.* ([0-9.]+)\/([0-9]+) query\[A\].*/   dns     \1:\2/p' "$TMP/srv/dns.log"
sed -nE 's/^Accepted connection from ([0-9.]+), port ([0-9]+).*/   iperf3  \1:\2 (control)/p;
	s/.*connected to ([0-9.]+) port ([0-9]+).*/   iperf3  \1:\2 (data)/p' "$TMP/srv/iperf3.log"
echo "   (all from $TOPO_SLICE_IP, ports of the nat lease 10000-10999)"

step "control plane: shoalctl grants 10.0.0.5 a lease of its own, live"
CTL lease list | indent
CTL lease add --holder demo --clients 10.0.0.5/32 --size 100 | indent
printf '   curl from 10.0.0.5 -> %s\n' \
	"$(C curl -sS --max-time 5 --interface 10.0.0.5 "http://$TOPO_SERVER:8080/after-lease-add")"
sleep 1.1 # one engine report, for the FLOWS column
CTL lease list | indent

step "shoalctl engine upgrade while iperf3 TCP runs from 10.0.0.3: the connection carries on"
C iperf3 -c "$TOPO_SERVER" -B 10.0.0.3 -t 4 -i 1 --connect-timeout 3000 >"$TMP/iperf3-up.out" 2>&1 &
IPERF=$!
sleep 1.5
CTL engine upgrade | tee "$TMP/upgrade.out" | indent
NEW=$(sed -nE 's/^upgraded: engine pid [0-9]+ -> ([0-9]+).*/\1/p' "$TMP/upgrade.out")
if [ -n "$NEW" ]; then
	# The old engine exits; the new one is its child, not ours.
	for _ in $(seq 100); do kill -0 "$ENGINE_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$ENGINE_PID" 2>/dev/null || true
	ENGINE_PID=$NEW
fi
wait $IPERF || true
grep -E 'sec .*(bits/sec|sender|receiver)' "$TMP/iperf3-up.out" | indent || true
grep -q 'iperf3: error' "$TMP/iperf3-up.out" && echo "   the connection broke" ||
	echo "   one TCP connection, every second moving data, across the upgrade"

step "engine counters (non-zero; live: shoalctl stats)"
stop_engine "$ENGINE_PID"
ENGINE_PID=
# The last engine's (the one before the upgrade printed its own).
tac "$TMP/engine.log" | sed '/final counters/q' | tac |
	grep -vE '^\s+(drop|event)\s+\S+\s+0$' | tail -n +2

step "a fleet: three hosts share one address, slices in etcd, returns carried to their owner (docs/FLEET.md)"
bash scripts/fleet.sh demo 2>&1 | indent || { echo "the fleet demo failed" >&2; exit 1; }
