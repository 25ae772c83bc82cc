#!/bin/bash
# shoal demo: real clients reach a real server through shoal-engine.
#
#   ns client (10.0.0.2, .3)  --veth--  ns engine  --veth--  ns server (203.0.113.7)
#                                     shoal-engine
#                         inside e0 (net_pcap)   outside e1 (net_pcap)
#
# The engine translates every client flow into its lease of the slice
# 198.51.100.10:10000-10999. curl fetches a page over TCP, socat sends UDP
# datagrams, ping sends ICMP echo; the server prints the sources it saw
# (slice address and leased ports only), then the engine prints its
# counters. Neighbours are static here: the Linux exception path that
# resolves them is a later milestone. Everything is removed on exit.
#
# Usage: scripts/demo.sh        (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash scripts/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

TAG=sh$$
NS_C=$TAG-client NS_E=$TAG-engine NS_S=$TAG-server
TMP=$(mktemp -d /tmp/shoal-demo.XXXXXX)
ENGINE_PID= SERVER_PID=
cleanup() {
	set +e
	[ -n "$ENGINE_PID" ] && kill -INT "$ENGINE_PID" 2>/dev/null && wait "$ENGINE_PID"
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	for ns in $NS_C $NS_E $NS_S; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# Engine port MACs (net_pcap phy_mac=1 takes them from the veth) and peers.
MAC_E0=02:00:5e:00:01:01 MAC_E1=02:00:5e:00:01:02
MAC_C=02:00:5e:00:00:02 MAC_S=02:00:5e:00:00:fe

for ns in $NS_C $NS_E $NS_S; do ip netns add "$ns"; done
ip link add c0 netns "$NS_C" address $MAC_C type veth peer e0 netns "$NS_E" address $MAC_E0
ip link add s0 netns "$NS_S" address $MAC_S type veth peer e1 netns "$NS_E" address $MAC_E1
for ns in $NS_C $NS_E $NS_S; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip -n "$ns" link set lo up
done
# The engine computes checksums incrementally and verifies what it gets,
# so the peers must put real checksums on the wire (no veth offload).
ip netns exec "$NS_C" ethtool -K c0 tx off >/dev/null
ip netns exec "$NS_S" ethtool -K s0 tx off >/dev/null
ip -n "$NS_E" link set e0 up
ip -n "$NS_E" link set e1 up

ip -n "$NS_C" addr add 10.0.0.2/24 dev c0
ip -n "$NS_C" addr add 10.0.0.3/24 dev c0
ip -n "$NS_C" link set c0 up
ip -n "$NS_C" route add default via 10.0.0.1
ip -n "$NS_C" neigh add 10.0.0.1 lladdr $MAC_E0 dev c0

ip -n "$NS_S" addr add 203.0.113.7/24 dev s0
ip -n "$NS_S" link set s0 up
ip -n "$NS_S" route add 198.51.100.0/24 via 203.0.113.1
ip -n "$NS_S" neigh add 203.0.113.1 lladdr $MAC_E1 dev s0

cat >"$TMP/shoal.conf" <<CONF
[engine]
eal = -l 0-1 --no-huge -m 512 --no-pci --file-prefix $TAG --log-level=*:error
[inside]
device = net_pcap0,rx_iface_in=e0,tx_iface=e0,phy_mac=1
address = 10.0.0.1/24
next_hop_mac = $MAC_C
exception = none
[outside]
device = net_pcap1,rx_iface_in=e1,tx_iface=e1,phy_mac=1
address = 203.0.113.1/24
next_hop_mac = $MAC_S
exception = none
[slices]
198.51.100.10 = 10000-12047
[lease.demo]
kind = nat
ip = 198.51.100.10
ports = 10000-10999
clients = 10.0.0.0/24
CONF

echo "== starting shoal-engine"
ip netns exec "$NS_E" "$ROOT/build/engine/shoal-engine" -c "$TMP/shoal.conf" >"$TMP/engine.log" 2>&1 &
ENGINE_PID=$!
sleep 2
cat "$TMP/engine.log"

echo "== starting servers in $NS_S: HTTP on 203.0.113.7:8080, UDP echo on :5353"
ip netns exec "$NS_S" /usr/bin/python3 "$ROOT/scripts/lib/demo_server.py" 203.0.113.7 8080 5353 \
	>"$TMP/server.log" 2>&1 &
SERVER_PID=$!
sleep 1

echo "== clients in $NS_C"
for src in 10.0.0.2 10.0.0.3; do
	printf '  curl from %s: ' $src
	ip netns exec "$NS_C" curl -s --max-time 5 --interface $src http://203.0.113.7:8080/hello
	printf '  udp  from %s: ' $src
	echo "ping-$src" | ip netns exec "$NS_C" socat -t 2 - UDP:203.0.113.7:5353,bind=$src
done
printf '  ping: '
ip netns exec "$NS_C" ping -c 3 -i 0.2 -W 2 203.0.113.7 | grep -E 'packets transmitted'

echo "== what the server saw (source address:port)"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
sed 's/^/  /' "$TMP/server.log"

echo "== engine counters"
kill -INT "$ENGINE_PID"; wait "$ENGINE_PID" || true; ENGINE_PID=
grep -vE '^\s+(drop|event)\s+\S+\s+0$' "$TMP/engine.log" | sed -n '/final counters/,$p'
