#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The namespace topology of the demo and the integration tests:
#
#   TAG-client          TAG-engine                    TAG-router              TAG-server
#   c0 10.0.0.2/24 --- l0=f0-e0 [shoal-engine] e1-f1=l1 --- r0 192.0.2.254/24
#      10.0.0.3-.7            shoal-in  shoal-out         r1 203.0.113.1/24 ----- s0 203.0.113.7/24
#   default via               (TAP mirrors the            (MTU 1280)              (MTU 1280)
#   10.0.0.1                  engine creates)             198.51.100.0/24         default via
#                                                         via 192.0.2.1           203.0.113.1
#
# The engine namespace has no addresses: shoal-engine reads and writes
# e0/e1 with AF_PACKET, and an nftables netdev ingress drop hides their
# frames from that namespace's kernel (packet taps run before the ingress
# hook, so AF_PACKET still sees everything). The engine puts 10.0.0.1/24
# and 192.0.2.1/24 on its kernel mirrors itself. No neighbour entry is
# static anywhere: ARP goes through the engine to Linux.
#
# Every peer keeps Linux's default offloads: its TCP/UDP leave with
# partial checksums (and TCP in 64 KB TSO segments). DPDK 22.11's
# net_af_packet does not tell the engine which packets the kernel marked
# checksum-partial, and the engine will not guess (docs/DESIGN.md
# "Checksums from virtual NICs"), so the engine namespace lets its own
# kernel finish them, as it does for any NIC without offloads: a tc
# redirect joins each peer link's end (l0, l1) to a veth f0/f1 with TX
# checksum offload off, whose peer e0/e1 the engine reads. Sending on
# f0/f1, Linux segments and sums exactly the packets a local stack left
# partial; a packet that arrives with a finished sum, right or wrong,
# passes unchanged. Frames from the engine take the same way back.
#
# Usage:  scripts/topo.sh up TAG      (stale TAG-* namespaces are removed first)
#         scripts/topo.sh down TAG    (idempotent)
# Sourced (". scripts/topo.sh"), it only defines the functions and the
# variables below; call topo_names TAG to set NS_C NS_E NS_R NS_S.
#
# IPv6 is off in every namespace.

TOPO_MAC_C0=02:00:00:00:0c:00
TOPO_MAC_E0=02:00:00:00:0e:00
TOPO_MAC_E1=02:00:00:00:0e:01
TOPO_MAC_R0=02:00:00:00:0f:00
TOPO_MAC_R1=02:00:00:00:0f:01
TOPO_MAC_S0=02:00:00:00:05:00

TOPO_CLIENTS=(10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5)
# Two more clients, each with a lease of its own whose mapping and
# filtering differ from the default (endpoint-independent mapping,
# address-dependent filtering) that 10.0.0.0/24 gets.
TOPO_CLIENT_EIF=10.0.0.6  # endpoint-independent filtering
TOPO_CLIENT_APDM=10.0.0.7 # address-and-port-dependent mapping and filtering
TOPO_INSIDE_ADDR=10.0.0.1
TOPO_OUTSIDE_ADDR=192.0.2.1
TOPO_ROUTER_IN=192.0.2.254
TOPO_ROUTER_OUT=203.0.113.1
TOPO_SERVER=203.0.113.7
TOPO_SLICE_IP=198.51.100.10
# Low enough that tests/integration/14_punt_policed.sh can exceed it with
# a scapy burst, far above what the other tests send to Linux.
TOPO_OUTSIDE_PUNT_RATE=1000

topo_names() {
	NS_C=$1-client NS_E=$1-engine NS_R=$1-router NS_S=$1-server
}

# Fail loudly: "topo.sh: <what> failed".
_topo() {
	"$@" || {
		echo "topo.sh: failed: $*" >&2
		return 1
	}
}

_topo_sysctl() { # NS KEY=VALUE...
	local ns=$1
	shift
	_topo ip netns exec "$ns" sysctl -qw "$@" >/dev/null
}

# topo_ns_stop NS: stop what runs in namespace NS, then delete it.
# Whatever still runs in a namespace of ours was started by us (the
# engine, servers, a test's helper): stop it by PID (TERM, then KILL
# after 3 s), or the namespace and the engine's TAP interfaces would
# outlive us.
topo_ns_stop() {
	local ns=$1 pid pids
	[ -e "/run/netns/$ns" ] || return 0
	pids=$(ip netns pids "$ns" 2>/dev/null)
	if [ -n "$pids" ]; then
		for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
		for _ in $(seq 1 30); do
			pids=$(ip netns pids "$ns" 2>/dev/null)
			[ -z "$pids" ] && break
			sleep 0.1
		done
		for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
		for _ in $(seq 1 30); do
			[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
			sleep 0.1
		done
	fi
	ip netns del "$ns" 2>/dev/null
	return 0
}

topo_down() {
	local ns
	topo_names "$1"
	for ns in $NS_C $NS_E $NS_R $NS_S; do topo_ns_stop "$ns"; done
	return 0
}

# _topo_finisher NS LINK F E MAC : in NS, the veth pair F-E (E with MAC,
# the end the engine reads) and tc redirects LINK <-> F both ways. F has
# TX checksum offload (so TSO too) off: Linux finishes partial checksums
# and segments TSO packets on their way into F, and touches nothing else.
_topo_finisher() {
	local ns=$1 link=$2 f=$3 e=$4 mac=$5 d
	_topo ip link add "$f" netns "$ns" type veth peer "$e" netns "$ns" \
		address "$mac" || return 1
	_topo ip netns exec "$ns" ethtool -K "$f" tx off >/dev/null || return 1
	for d in "$link:$f" "$f:$link"; do
		_topo tc -n "$ns" qdisc add dev "${d%:*}" clsact || return 1
		# u32 matching everything: kernels without cls_matchall have it.
		_topo tc -n "$ns" filter add dev "${d%:*}" ingress protocol all \
			u32 match u32 0 0 \
			action mirred egress redirect dev "${d#*:}" || return 1
	done
	_topo ip -n "$ns" link set "$link" up || return 1
	_topo ip -n "$ns" link set "$f" up || return 1
}

topo_up() {
	local tag=$1 ns a
	topo_names "$tag"
	topo_down "$tag"

	for ns in $NS_C $NS_E $NS_R $NS_S; do
		_topo ip netns add "$ns" || return 1
		# Before any interface exists, so none of them gets IPv6.
		_topo_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 \
			net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 ||
			return 1
		_topo ip -n "$ns" link set lo up || return 1
	done

	_topo ip link add c0 netns "$NS_C" address $TOPO_MAC_C0 type veth \
		peer l0 netns "$NS_E" || return 1
	_topo ip link add r0 netns "$NS_R" address $TOPO_MAC_R0 type veth \
		peer l1 netns "$NS_E" || return 1
	_topo ip link add r1 netns "$NS_R" address $TOPO_MAC_R1 mtu 1280 type veth \
		peer s0 netns "$NS_S" address $TOPO_MAC_S0 mtu 1280 || return 1
	_topo_finisher "$NS_E" l0 f0 e0 $TOPO_MAC_E0 || return 1
	_topo_finisher "$NS_E" l1 f1 e1 $TOPO_MAC_E1 || return 1

	# client
	for a in "${TOPO_CLIENTS[@]}" $TOPO_CLIENT_EIF $TOPO_CLIENT_APDM; do
		_topo ip -n "$NS_C" addr add "$a/24" dev c0 || return 1
	done
	_topo ip -n "$NS_C" link set c0 up || return 1
	_topo ip -n "$NS_C" route add default via $TOPO_INSIDE_ADDR || return 1

	# engine: no addresses, no forwarding, e0/e1 hidden from this kernel.
	_topo_sysctl "$NS_E" net.ipv4.ip_forward=0 || return 1
	_topo ip netns exec "$NS_E" nft -f - <<-'NFT' || return 1
		table netdev shoal_hide {
			chain e0 { type filter hook ingress device "e0" priority 0; policy drop; }
			chain e1 { type filter hook ingress device "e1" priority 0; policy drop; }
		}
	NFT
	_topo ip -n "$NS_E" link set e0 up || return 1
	_topo ip -n "$NS_E" link set e1 up || return 1

	# router
	_topo_sysctl "$NS_R" net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0 || return 1
	_topo ip -n "$NS_R" addr add $TOPO_ROUTER_IN/24 dev r0 || return 1
	_topo ip -n "$NS_R" addr add $TOPO_ROUTER_OUT/24 dev r1 || return 1
	_topo ip -n "$NS_R" link set r0 up || return 1
	_topo ip -n "$NS_R" link set r1 up || return 1
	_topo ip -n "$NS_R" route add 198.51.100.0/24 via $TOPO_OUTSIDE_ADDR || return 1

	# server
	_topo_sysctl "$NS_S" net.ipv4.icmp_ratelimit=0 || return 1
	_topo ip -n "$NS_S" addr add $TOPO_SERVER/24 dev s0 || return 1
	_topo ip -n "$NS_S" link set s0 up || return 1
	_topo ip -n "$NS_S" route add default via $TOPO_ROUTER_OUT || return 1
}

# topo_engine_conf FILE PREFIX [STATE] : the shoal-engine configuration for
# this topology (EAL --file-prefix PREFIX), keeping its flow tables in the
# state file STATE (default: engine.state next to FILE, so that every run
# has its own and none touches the default /run/shoal/engine.state). SHOAL_HUGE_DIR=DIR runs the engine
# on the hugepages of the hugetlbfs mounted at DIR (scripts/lib/hugepages.sh;
# topo_huge_pages says how many it needs), which dpdk-dumpcap and
# dpdk-proc-info need to attach; without it, on 4 KiB pages. SHOAL_IO=pcap uses net_pcap on the
# veths instead of net_af_packet. SHOAL_WORKERS=N (default 1) runs N
# workers: as many queue pairs on each af_packet port (the kernel's fanout
# spreads packets over them by its own hash, so the engine hands what
# lands on another worker to its owner) and N worker lcores floating over
# CPUs 0 and 1. net_pcap on a veth takes one worker only (N queues
# capturing one interface would each get a copy of every frame).
topo_engine_conf() {
	local file=$1 prefix=$2 workers=${SHOAL_WORKERS:-1} dev0 dev1
	local state=${3:-$(dirname "$file")/engine.state}
	local qp='' lcores='-l 0-1' w='' mem='--no-huge -m 1024'
	case $workers in
	[1-9] | [1-5][0-9] | 6[0-4]) ;;
	*)
		echo "topo.sh: SHOAL_WORKERS=$workers: expected 1 to 64" >&2
		return 1
		;;
	esac
	if [ "$workers" != 1 ]; then
		qp=",qpairs=$workers" lcores="--lcores (0-$workers)@(0,1)"
		w="workers = $workers"$'\n'
	fi
	[ -n "${SHOAL_HUGE_DIR:-}" ] && mem="--huge-dir $SHOAL_HUGE_DIR"
	if [ "${SHOAL_IO:-af_packet}" = pcap ]; then
		if [ "$workers" != 1 ]; then
			echo "topo.sh: SHOAL_IO=pcap runs one worker only, not $workers" >&2
			return 1
		fi
		dev0="net_pcap0,rx_iface_in=e0,tx_iface=e0,phy_mac=1"
		dev1="net_pcap1,rx_iface_in=e1,tx_iface=e1,phy_mac=1"
	else
		# 8 KiB frames: the kernel reassembles fragments before the
		# engine reads them (net_af_packet's fanout asks it to), and a
		# datagram up to 8 KiB must arrive whole; the engine sizes its
		# buffers from framesz and fragments again what it sends.
		dev0="net_af_packet0,iface=e0$qp,framesz=8192,blocksz=8192"
		dev1="net_af_packet1,iface=e1$qp,framesz=8192,blocksz=8192"
	fi
	cat >"$file" <<-CONF
		[engine]
		${w}eal = $lcores $mem --no-pci --file-prefix $prefix --log-level=*:error --log-level=shoal.*:info
		state = $state
		[inside]
		device = $dev0
		address = $TOPO_INSIDE_ADDR/24
		exception = tap
		mirror = shoal-in
		[outside]
		device = $dev1
		address = $TOPO_OUTSIDE_ADDR/24
		gateway = $TOPO_ROUTER_IN
		exception = tap
		mirror = shoal-out
		punt_rate = $TOPO_OUTSIDE_PUNT_RATE
		[slices]
		$TOPO_SLICE_IP = 10000-12047
		[lease.clients]
		kind = nat
		ip = $TOPO_SLICE_IP
		ports = 10000-10999
		clients = 10.0.0.0/24
		[lease.local]
		kind = socket
		ip = $TOPO_SLICE_IP
		ports = 11000-11099
		[lease.open]
		kind = nat
		ip = $TOPO_SLICE_IP
		ports = 11100-11199
		clients = $TOPO_CLIENT_EIF/32
		filtering = endpoint-independent
		[lease.strict]
		kind = nat
		ip = $TOPO_SLICE_IP
		ports = 11200-11299
		clients = $TOPO_CLIENT_APDM/32
		mapping = address-and-port-dependent
		filtering = address-and-port-dependent
	CONF
}

# topo_huge_pages : how many 2 MiB hugepages to reserve for the engine of
# topo_engine_conf with SHOAL_WORKERS workers. EAL takes pages as it needs
# them; over the integration suite it held 120 with one worker and 219
# with two (each worker's flow table and queues), and dpdk-dumpcap's
# buffers took 17 more; the rest is room for the FIB to grow.
topo_huge_pages() {
	echo $((64 + 112 * ${SHOAL_WORKERS:-1}))
}

# topo_engine_ready TAG : true once the engine's mirrors are up with their
# addresses and the default route via the gateway is in place.
topo_engine_ready() {
	local e=$1-engine
	ip -n "$e" -4 addr show dev shoal-in up 2>/dev/null | grep -q "inet $TOPO_INSIDE_ADDR/" &&
		ip -n "$e" -4 addr show dev shoal-out up 2>/dev/null | grep -q "inet $TOPO_OUTSIDE_ADDR/" &&
		ip -n "$e" -4 route show default 2>/dev/null | grep -q "via $TOPO_ROUTER_IN dev shoal-out"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case "${1:-} ${2:-}" in
	"up "?*) topo_up "$2" || {
		topo_down "$2"
		exit 1
	} ;;
	"down "?*) topo_down "$2" ;;
	*)
		echo "usage: $0 up|down TAG" >&2
		exit 2
		;;
	esac
fi
