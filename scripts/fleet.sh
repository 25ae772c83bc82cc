#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The fleet simulation (docs/FLEET.md "Simulation"): three shoal hosts
# sharing one pool address, an upstream router that spreads the returns
# over them by an L4 hash, a server, and a single-member etcd. Every name
# starts with the prefix P (SHOAL_FLEET_PREFIX, default sf<PID>):
#
#   P-clia 10.1.1.2-5 ── P-hosta [engine + ctld] ─ 192.0.2.2/30 ──┐
#   P-clib 10.1.2.2-5 ── P-hostb [engine + ctld] ─ 192.0.2.6/30 ──┤ P-rtr ── 203.0.113.1/24
#   P-clic 10.1.3.2-5 ── P-hostc [engine + ctld] ─ 192.0.2.10/30 ─┘   │
#                              │ m0 10.255.0.11-13/24                  P-srv 203.0.113.10/24
#                              └──────── P-etcd br0 10.255.0.1/24 (etcd :2379)
#
# - P-rtr routes 198.51.100.10/32 as ONE multipath route over the three
#   hosts' outside addresses, net.ipv4.fib_multipath_hash_policy=1 (L4):
#   it knows nothing of slices, so about 2 returns in 3 reach a host that
#   does not own their port, which forwards them to the owner (GUE).
# - Each host namespace runs shoal-engine on net_af_packet, its veths
#   hidden from that kernel as in scripts/topo.sh (whose _topo_finisher
#   joins each link to the engine's veth), TAP mirrors, idle_sleep_us so
#   three engines share two cores, no hugepages, the flow tables in a
#   state file on /dev/shm (fleet_state: shoalctl engine upgrade works
#   as on a single host); and its
#   shoal-ctld, which reaches etcd over the management veth m0.
# - P-srv: HTTP :8080 (logs "GET /path" with the source), DNS :53
#   (dnsmasq, shoal.test), iperf3 on 5200+N and a TCP/UDP echo server on
#   7100+10N/7101+10N for host number N (1 a, 2 b, 3 c), so the server's
#   port says which host's client came; tcpdump writes every IPv4 packet
#   to 203.0.113.10 to P's srv/s0.pcap.
# - MTU: 1500 everywhere. SHOAL_FLEET_MTU=M sets the host-router links
#   (and the engines' [outside] mtu) to M, to compare with a fleet whose
#   links carry the tunnel's 28 bytes.
#
# Usage:  bash scripts/fleet.sh up       start (prints the prefix to stop it with)
#         bash scripts/fleet.sh down [P] stop and remove everything of P
#         bash scripts/fleet.sh status [P]
#         bash scripts/fleet.sh demo     up, real clients on every host, the
#                                        fleet map and the counters, down
# P defaults to SHOAL_FLEET_PREFIX; down and status need one of them.
# Sourced, it defines the fleet_* functions and variables below (the
# tests in tests/fleet use them) and runs nothing.
#
# Environment: BUILD_DIR (default build) or SHOAL_ENGINE, SHOALCTLD,
# SHOALCTL; SHOAL_FLEET_TTL (3), SHOAL_FLEET_HOLD_DOWN (6),
# SHOAL_FLEET_SLICES (2 per host), SHOAL_FLEET_IDLE_SLEEP_US (200),
# SHOAL_FLEET_MTU.

FLEET_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$FLEET_REPO/scripts/topo.sh"
. "$FLEET_REPO/scripts/lib/servers.sh"

FLEET_HOSTS=(a b c)
FLEET_POOL=198.51.100.10
FLEET_LO=10000 FLEET_HI=22287
FLEET_SLICE_SIZE=2048
FLEET_SLICES=${SHOAL_FLEET_SLICES:-2}
FLEET_TTL=${SHOAL_FLEET_TTL:-3}
FLEET_HOLD_DOWN=${SHOAL_FLEET_HOLD_DOWN:-6}
FLEET_IDLE_SLEEP_US=${SHOAL_FLEET_IDLE_SLEEP_US:-200}
FLEET_MTU=${SHOAL_FLEET_MTU:-}
FLEET_GUE_PORT=6080
FLEET_KEY_PREFIX=/shoal
FLEET_ETCD_ADDR=10.255.0.1
FLEET_ETCD_URL=http://$FLEET_ETCD_ADDR:2379
FLEET_SERVER=203.0.113.10
FLEET_ROUTER_SRV=203.0.113.1

_fleet_build=${BUILD_DIR:-build}
case $_fleet_build in /*) ;; *) _fleet_build=$FLEET_REPO/$_fleet_build ;; esac
FLEET_ENGINE=${SHOAL_ENGINE:-$_fleet_build/engine/shoal-engine}
FLEET_CTLD=${SHOALCTLD:-$_fleet_build/ctl/ctld/shoal-ctld}
FLEET_CTL=${SHOALCTL:-$_fleet_build/ctl/cli/shoalctl}

# Per host: its number N (1, 2, 3) and the addresses that follow from it.
fleet_num() { case $1 in a) echo 1 ;; b) echo 2 ;; c) echo 3 ;; *) return 1 ;; esac; }
fleet_outside() { echo "192.0.2.$((4 * ($(fleet_num "$1") - 1) + 2))"; } # the host's
fleet_gateway() { echo "192.0.2.$((4 * ($(fleet_num "$1") - 1) + 1))"; }  # the router's
fleet_mgmt() { echo "10.255.0.$((10 + $(fleet_num "$1")))"; }
fleet_inside() { echo "10.1.$(fleet_num "$1").1"; }
fleet_client() { echo "10.1.$(fleet_num "$1").$((1 + ${2:-1}))"; } # X K: client K (1-4)
fleet_iperf_port() { echo $((5200 + $(fleet_num "$1"))); }
fleet_echo_tcp() { echo $((7100 + 10 * $(fleet_num "$1"))); }
fleet_echo_udp() { echo $((7101 + 10 * $(fleet_num "$1"))); }
fleet_host_of_port() { # server port -> host letter, or nothing
	local x
	for x in "${FLEET_HOSTS[@]}"; do
		case $1 in "$(fleet_iperf_port $x)" | "$(fleet_echo_tcp $x)" | "$(fleet_echo_udp $x)")
			echo "$x"
			return 0
			;;
		esac
	done
	return 1
}

# fleet_names P: the names of simulation P. FLEET_DIR holds its files:
# etcd/ (data, log), X/ (engine.conf, engine.log, ctld.log, ctl.sock,
# leases.db, *.pid), srv/ (server logs, s0.pcap).
fleet_names() {
	FLEET_P=$1
	FLEET_DIR=/tmp/shoal-fleet-$1
	NS_ETCD=$1-etcd NS_RTR=$1-rtr NS_SRV=$1-srv
}
fleet_ns_host() { echo "$FLEET_P-host$1"; }
fleet_ns_cli() { echo "$FLEET_P-cli$1"; }
fleet_eal_prefix() { echo "$FLEET_P-$1"; }
fleet_sock() { echo "$FLEET_DIR/$1/ctl.sock"; }
# The engine's state file: tmpfs, as docs/RESTART.md asks.
fleet_state() { echo "/dev/shm/shoal-fleet-$FLEET_P-$1.state"; }
fleet_pid() { cat "$FLEET_DIR/$1" 2>/dev/null; } # fleet_pid X/engine.pid

fleet_namespaces() {
	local x
	echo "$NS_ETCD $NS_RTR $NS_SRV"
	for x in "${FLEET_HOSTS[@]}"; do echo "$(fleet_ns_host $x) $(fleet_ns_cli $x)"; done
}

in_ns() { # NS CMD...
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}
fleet_etcdctl() { in_ns "$NS_ETCD" etcdctl --endpoints="$FLEET_ETCD_URL" --command-timeout=3s "$@"; }
fleet_ctl() { # X ARGS...: shoalctl against host X's daemon
	local x=$1
	shift
	"$FLEET_CTL" -s "$(fleet_sock "$x")" "$@"
}

# fleet_kv PREFIX: every key under PREFIX in etcd, "KEY LEASE VALUE" a
# line (LEASE decimal, 0 for none). Python reads the JSON: jq would round
# the 64-bit lease ids.
fleet_kv() {
	fleet_etcdctl get --prefix "$1" -w json | /usr/bin/python3 -c '
import base64, json, sys
for kv in json.load(sys.stdin).get("kvs", []):
    print(base64.b64decode(kv["key"]).decode(), kv.get("lease", 0),
          base64.b64decode(kv.get("value", "")).decode())'
}

# fleet_map: the slice map in etcd, one line per owned slice:
# "POOLIP LO HI HOST ADDRESS" (sorted); false if etcd did not answer.
fleet_map() {
	local out
	out=$(fleet_etcdctl get --prefix "$FLEET_KEY_PREFIX/slices/" -w json) || return 1
	echo "$out" | jq -r '.kvs // [] | .[] | .value | @base64d | fromjson |
		"\(.lo) \(.hi) \(.host) \(.address)"' | while read -r lo hi h a; do
		echo "$FLEET_POOL $lo $hi $h $a"
	done | sort -k2n
}

# fleet_wait_map TENTHS CMD...: poll fleet_map every 0.1 s until CMD,
# fed the map on stdin, succeeds; false after TENTHS tries.
fleet_wait_map() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		fleet_map 2>/dev/null | "$@" && return 0
		sleep 0.1
	done
	return 1
}
# Every host of the arguments holds exactly N slices: fleet_holds N X...
fleet_holds() {
	local want=$1 map x
	shift
	map=$(cat)
	for x in "$@"; do
		[ "$(echo "$map" | awk -v h="$x" '$4 == h' | wc -l)" = "$want" ] || return 1
	done
}

_fleet() {
	"$@" || {
		echo "fleet.sh: failed: $*" >&2
		return 1
	}
}

# fleet_down P: stop every process in P's namespaces (TERM, then KILL),
# delete the namespaces, P's files and the engines' DPDK run directories.
# Idempotent.
fleet_down() {
	local ns x
	fleet_names "$1"
	for ns in $(fleet_namespaces); do topo_ns_stop "$ns"; done
	for x in "${FLEET_HOSTS[@]}"; do
		rm -rf "/var/run/dpdk/$(fleet_eal_prefix $x)" "/var/run/dpdk/$(fleet_eal_prefix $x)-b"
		rm -f "$(fleet_state $x)" "$(fleet_state $x).sock" "$(fleet_state $x).discarded"
	done
	case $FLEET_DIR in /tmp/shoal-fleet-?*) rm -rf "$FLEET_DIR" ;; esac
	return 0
}

# _fleet_link NS_A A NS_B B [MTU]: a veth pair A (in NS_A) - B (in NS_B).
_fleet_link() {
	local mtu=()
	[ -n "${5:-}" ] && mtu=(mtu "$5")
	_fleet ip link add "$2" netns "$1" "${mtu[@]}" type veth peer "$4" netns "$3" "${mtu[@]}"
}

# fleet_net_up: namespaces, links, addresses, routes; no process yet.
fleet_net_up() {
	local ns x n h c out gw k mac nh=()
	for ns in $(fleet_namespaces); do
		_fleet ip netns add "$ns" || return 1
		# Before any interface exists, so none of them gets IPv6.
		_topo_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 \
			net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
		_fleet ip -n "$ns" link set lo up || return 1
	done

	# etcd: one bridge for the management veths.
	_fleet ip -n "$NS_ETCD" link add br0 type bridge || return 1
	_fleet ip -n "$NS_ETCD" addr add $FLEET_ETCD_ADDR/24 dev br0 || return 1
	_fleet ip -n "$NS_ETCD" link set br0 up || return 1

	# router and server
	_topo_sysctl "$NS_RTR" net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0 \
		net.ipv4.fib_multipath_hash_policy=1 || return 1
	_topo_sysctl "$NS_SRV" net.ipv4.icmp_ratelimit=0 || return 1
	_fleet_link "$NS_RTR" rs "$NS_SRV" s0 || return 1
	_fleet ip -n "$NS_RTR" addr add $FLEET_ROUTER_SRV/24 dev rs || return 1
	_fleet ip -n "$NS_RTR" link set rs up || return 1
	_fleet ip -n "$NS_SRV" addr add $FLEET_SERVER/24 dev s0 || return 1
	_fleet ip -n "$NS_SRV" link set s0 up || return 1
	_fleet ip -n "$NS_SRV" route add default via $FLEET_ROUTER_SRV || return 1

	for x in "${FLEET_HOSTS[@]}"; do
		n=$(fleet_num $x) h=$(fleet_ns_host $x) c=$(fleet_ns_cli $x)
		out=$(fleet_outside $x) gw=$(fleet_gateway $x)
		mac=02:00:00:0$n:0e
		# client - engine inside; router - engine outside; etcd - m0.
		_fleet_link "$c" c0 "$h" l0 || return 1
		_fleet_link "$NS_RTR" "r$x" "$h" l1 "$FLEET_MTU" || return 1
		_fleet_link "$NS_ETCD" "mg$x" "$h" m0 || return 1
		_topo_finisher "$h" l0 f0 e0 "$mac:00" || return 1
		_topo_finisher "$h" l1 f1 e1 "$mac:01" || return 1
		[ -n "$FLEET_MTU" ] && {
			_fleet ip -n "$h" link set f1 mtu "$FLEET_MTU" || return 1
			_fleet ip -n "$h" link set e1 mtu "$FLEET_MTU" || return 1
		}
		# The engine's namespace: no forwarding, e0/e1 hidden from its
		# kernel (scripts/topo.sh says why); m0 is the daemon's.
		_topo_sysctl "$h" net.ipv4.ip_forward=0 || return 1
		_fleet ip netns exec "$h" nft -f - <<-'NFT' || return 1
			table netdev shoal_hide {
				chain e0 { type filter hook ingress device "e0" priority 0; policy drop; }
				chain e1 { type filter hook ingress device "e1" priority 0; policy drop; }
			}
		NFT
		_fleet ip -n "$h" link set e0 up || return 1
		_fleet ip -n "$h" link set e1 up || return 1
		_fleet ip -n "$h" addr add "$(fleet_mgmt $x)/24" dev m0 || return 1
		_fleet ip -n "$h" link set m0 up || return 1
		_fleet ip -n "$NS_ETCD" link set "mg$x" master br0 up || return 1

		for k in 1 2 3 4; do
			_fleet ip -n "$c" addr add "$(fleet_client $x $k)/24" dev c0 || return 1
		done
		_fleet ip -n "$c" link set c0 up || return 1
		_fleet ip -n "$c" route add default via "$(fleet_inside $x)" || return 1

		_fleet ip -n "$NS_RTR" addr add "$gw/30" dev "r$x" || return 1
		_fleet ip -n "$NS_RTR" link set "r$x" up || return 1
		nh+=(nexthop via "$out" dev "r$x")
	done
	_fleet ip -n "$NS_RTR" route add $FLEET_POOL/32 "${nh[@]}"
}

# fleet_route_set X...: the router's multipath route over hosts X... only
# (a BGP session or a health check withdrawing a dead host's nexthop).
fleet_route_set() {
	local x nh=()
	for x in "$@"; do nh+=(nexthop via "$(fleet_outside $x)" dev "r$x"); done
	ip -n "$NS_RTR" route replace $FLEET_POOL/32 "${nh[@]}"
}

# fleet_etcd_up: the single-member etcd, its data in FLEET_DIR/etcd; true
# once it answers, within 15 s.
fleet_etcd_up() {
	mkdir -p "$FLEET_DIR/etcd" || return 1
	ip netns exec "$NS_ETCD" etcd --name sim --data-dir "$FLEET_DIR/etcd/data" \
		--listen-client-urls "$FLEET_ETCD_URL" --advertise-client-urls "$FLEET_ETCD_URL" \
		--listen-peer-urls http://127.0.0.1:2380 \
		--initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster sim=http://127.0.0.1:2380 \
		--log-outputs "$FLEET_DIR/etcd/etcd.log" --logger zap \
		</dev/null >>"$FLEET_DIR/etcd/etcd.out" 2>&1 &
	echo $! >"$FLEET_DIR/etcd/etcd.pid"
	_servers_until 15 fleet_etcdctl endpoint health >/dev/null 2>&1 || {
		echo "fleet.sh: etcd did not answer on $FLEET_ETCD_URL" >&2
		tail -5 "$FLEET_DIR/etcd/etcd.out" "$FLEET_DIR/etcd/etcd.log" >&2 2>/dev/null
		return 1
	}
}

# fleet_servers_up: the servers and the capture in P-srv.
fleet_servers_up() {
	local d=$FLEET_DIR/srv x
	servers_start "$NS_SRV" "$FLEET_SERVER" "$d" || return 1
	for x in "${FLEET_HOSTS[@]}"; do
		if [ "$(fleet_iperf_port $x)" != 5201 ]; then
			ip netns exec "$NS_SRV" iperf3 --server --bind "$FLEET_SERVER" --port "$(fleet_iperf_port $x)" \
				--forceflush </dev/null >"$d/iperf3-$x.log" 2>&1 &
		fi
		mkdir -p "$d/echo-$x"
		ip netns exec "$NS_SRV" /usr/bin/python3 "$FLEET_REPO/tests/restart/peers.py" server \
			"$FLEET_SERVER" "$(fleet_echo_tcp $x)" "$(fleet_echo_udp $x)" "$d/echo-$x" \
			</dev/null >"$d/echo-$x.log" 2>&1 &
	done
	for x in "${FLEET_HOSTS[@]}"; do
		_servers_until 10 _servers_listening "$NS_SRV" t "$(fleet_iperf_port $x)" &&
			_servers_until 10 _servers_listening "$NS_SRV" t "$(fleet_echo_tcp $x)" || {
			echo "fleet.sh: the servers for host $x do not listen" >&2
			return 1
		}
	done
	# tcpdump must not hold the caller's stdout (up | tail would wait on it).
	capture_start "$NS_SRV" s0 "$d/s0.pcap" ip and dst host $FLEET_SERVER >/dev/null
}

# fleet_conf X FILE: host X's configuration (engine and daemon).
fleet_conf() {
	local x=$1 n mtu_line=''
	n=$(fleet_num "$x")
	[ -n "$FLEET_MTU" ] && mtu_line="mtu = $FLEET_MTU"
	cat >"$2" <<-CONF
		; fleet simulation $FLEET_P, host $x (scripts/fleet.sh)
		[engine]
		eal = --lcores (0-1)@(0,1) --no-huge -m 256 --no-pci --file-prefix $(fleet_eal_prefix "$x") --log-level=*:error --log-level=shoal.*:info
		state = $(fleet_state "$x")
		ctl_socket = $(fleet_sock "$x")
		idle_sleep_us = $FLEET_IDLE_SLEEP_US
		[inside]
		device = net_af_packet0,iface=e0,framesz=8192,blocksz=8192
		address = $(fleet_inside "$x")/24
		exception = tap
		mirror = shoal-in
		[outside]
		device = net_af_packet1,iface=e1,framesz=8192,blocksz=8192
		address = $(fleet_outside "$x")/30
		gateway = $(fleet_gateway "$x")
		exception = tap
		mirror = shoal-out
		$mtu_line
		[nat]
		; 64 Ki flows fit the engine in its 256 MB (the default 1 Mi does not)
		max_flows = 65536
		[fleet]
		etcd = $FLEET_ETCD_URL
		host = $x
		address = $(fleet_outside "$x")
		pool = $FLEET_POOL
		ports = $FLEET_LO-$FLEET_HI
		slice_size = $FLEET_SLICE_SIZE
		slices = $FLEET_SLICES
		clients = 10.1.$n.0/24
		ttl = $FLEET_TTL
		hold_down = $FLEET_HOLD_DOWN
		port = $FLEET_GUE_PORT
		prefix = $FLEET_KEY_PREFIX
		[ctl]
		socket = $(fleet_sock "$x")
		database = $FLEET_DIR/$x/leases.db
		group = root
	CONF
}

# fleet_ctld_start X: host X's shoal-ctld, in its namespace; true once
# it answers on its socket, within 5 s. Started by ip netns exec itself
# (not in_ns, a function: a subshell between) so that the pid file holds
# the daemon's own PID, the one a test kills; the same for the engine.
fleet_ctld_start() {
	local x=$1 d=$FLEET_DIR/$1
	ip netns exec "$(fleet_ns_host "$x")" "$FLEET_CTLD" -c "$d/shoal.conf" </dev/null >>"$d/ctld.log" 2>&1 &
	echo $! >"$d/ctld.pid"
	disown $! # a test kills it: no "Killed" job notice from the shell
	_servers_until 5 fleet_ctl "$x" status >/dev/null 2>&1 || {
		echo "fleet.sh: shoal-ctld of host $x does not answer: $(tail -3 "$d/ctld.log")" >&2
		return 1
	}
}
# fleet_engine_start X: host X's shoal-engine, in its namespace.
fleet_engine_start() {
	local x=$1 d=$FLEET_DIR/$1
	ip netns exec "$(fleet_ns_host "$x")" "$FLEET_ENGINE" -c "$d/shoal.conf" </dev/null >>"$d/engine.log" 2>&1 &
	echo $! >"$d/engine.pid"
	disown $!
}
# fleet_engine_ready X: its mirrors carry their addresses, the default
# route goes via the router, and the daemon has it subscribed.
fleet_engine_ready() {
	local x=$1 h
	h=$(fleet_ns_host "$x")
	ip -n "$h" -4 addr show dev shoal-in up 2>/dev/null | grep -q "inet $(fleet_inside "$x")/" &&
		ip -n "$h" -4 addr show dev shoal-out up 2>/dev/null | grep -q "inet $(fleet_outside "$x")/" &&
		ip -n "$h" -4 route show default 2>/dev/null | grep -q "via $(fleet_gateway "$x") dev shoal-out" &&
		[ "$(fleet_ctl "$x" -j status 2>/dev/null | jq -r .engine.connected)" = true ]
}

# fleet_host_up X: configuration, daemon, engine; true once the engine
# is ready (30 s).
fleet_host_up() {
	local x=$1
	# shoal-ctld refuses a socket directory others may enter.
	mkdir -p "$FLEET_DIR/$x" && chmod 0750 "$FLEET_DIR/$x" || return 1
	fleet_conf "$x" "$FLEET_DIR/$x/shoal.conf" || return 1
	fleet_ctld_start "$x" || return 1
	fleet_engine_start "$x"
	_servers_until 30 fleet_engine_ready "$x" || {
		echo "fleet.sh: the engine of host $x is not ready: $(tail -3 "$FLEET_DIR/$x/engine.log")" >&2
		return 1
	}
}

# fleet_up P: the whole simulation; true once every host holds its
# slices in etcd (a first claim waits one hold-down: docs/FLEET.md).
fleet_up() {
	local x
	fleet_down "$1"
	fleet_names "$1"
	for x in "$FLEET_ENGINE" "$FLEET_CTLD" "$FLEET_CTL"; do
		[ -x "$x" ] || {
			echo "fleet.sh: $x is missing (build first: meson setup build && ninja -C build)" >&2
			return 1
		}
	done
	mkdir -p "$FLEET_DIR" || return 1
	fleet_net_up || return 1
	fleet_etcd_up || return 1
	fleet_servers_up || return 1
	for x in "${FLEET_HOSTS[@]}"; do fleet_host_up "$x" || return 1; done
	fleet_wait_map $(((FLEET_HOLD_DOWN + 20) * 10)) fleet_holds "$FLEET_SLICES" "${FLEET_HOSTS[@]}" || {
		echo "fleet.sh: the hosts do not hold $FLEET_SLICES slices each in etcd; the map:" >&2
		fleet_map >&2
		return 1
	}
}

# fleet_counters X: host X's engine counters, "name value" lines (DPDK
# telemetry /shoal/stats).
fleet_counters() {
	/usr/bin/python3 "$FLEET_REPO/scripts/lib/telemetry.py" "$(fleet_eal_prefix "$1")" /shoal/stats |
		jq -r '."/shoal/stats" | to_entries[] | "\(.key) \(.value)"'
}
fleet_counter() { # X NAME
	fleet_counters "$1" 2>/dev/null | awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print "missing" }'
}

fleet_status() {
	local x pid what
	fleet_names "$1"
	[ -d "$FLEET_DIR" ] || {
		echo "fleet.sh: no simulation $1 ($FLEET_DIR)" >&2
		return 1
	}
	echo "fleet $FLEET_P ($FLEET_DIR), etcd $FLEET_ETCD_URL in $NS_ETCD"
	for x in "${FLEET_HOSTS[@]}"; do
		for what in engine ctld; do
			pid=$(fleet_pid "$x/$what.pid")
			if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
				echo "host $x: $what pid $pid"
			else
				echo "host $x: $what not running"
			fi
		done
	done
	echo "-- etcd $FLEET_KEY_PREFIX/slices/ (pool ip, lo, hi, host, address):"
	fleet_map
	echo "-- router: $(ip -n "$NS_RTR" route show $FLEET_POOL/32 | tr -s ' \n\t' ' ')"
	for x in "${FLEET_HOSTS[@]}"; do
		echo "-- host $x: shoalctl slice list"
		fleet_ctl "$x" slice list 2>&1
		echo "-- host $x: forwarding counters"
		fleet_counters "$x" 2>/dev/null | grep -E '^(forwarded_to_owner|received_from_peer|unknown_owner|not_owner|peer_|fleet_)' |
			tr '\n' ' '
		echo
	done
}

# fleet_demo: up, curl/dig/iperf3 from every host's clients, the map and
# the counters, down (also when interrupted).
fleet_demo() {
	local x c rc=0 i
	fleet_names "${SHOAL_FLEET_PREFIX:-sf$$}"
	trap 'fleet_down "$FLEET_P"' EXIT
	trap 'exit 1' INT TERM
	echo "== bringing up fleet $FLEET_P (first claims wait one hold-down, ${FLEET_HOLD_DOWN} s)"
	fleet_up "$FLEET_P" || return 1
	for x in "${FLEET_HOSTS[@]}"; do
		c=$(fleet_ns_cli "$x")
		echo "== host $x: clients 10.1.$(fleet_num "$x").0/24, slices $(fleet_map | awk -v h="$x" '$4 == h { printf "%s-%s ", $2, $3 }')"
		for i in 1 2 3; do
			printf 'curl from %s: ' "$(fleet_client "$x" "$i")"
			in_ns "$c" curl -sS --max-time 5 --interface "$(fleet_client "$x" "$i")" \
				"http://$FLEET_SERVER:8080/host-$x/curl-$i" || rc=1
		done
		printf 'dig %s: ' "$SERVERS_DNS_NAME"
		in_ns "$c" dig +short +time=2 +tries=2 -b "$(fleet_client "$x" 1)" @"$FLEET_SERVER" \
			"$SERVERS_DNS_NAME" A || rc=1
		echo "iperf3 TCP, 3 s:"
		in_ns "$c" iperf3 -c "$FLEET_SERVER" -p "$(fleet_iperf_port "$x")" -B "$(fleet_client "$x" 2)" \
			-t 3 --connect-timeout 3000 | grep -E 'sender|receiver' || rc=1
		echo "iperf3 UDP, 10 Mbit/s, 3 s:"
		in_ns "$c" iperf3 -u -b 10M -c "$FLEET_SERVER" -p "$(fleet_iperf_port "$x")" \
			-B "$(fleet_client "$x" 3)" -t 3 --connect-timeout 3000 | grep -E 'receiver' || rc=1
	done
	fleet_status "$FLEET_P"
	return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cmd=${1:-}
	p=${2:-${SHOAL_FLEET_PREFIX:-}}
	case $cmd in
	up)
		p=${p:-sf$$}
		if fleet_up "$p"; then
			echo "fleet $p is up; see: bash scripts/fleet.sh status $p; stop: bash scripts/fleet.sh down $p"
		else
			fleet_down "$p"
			exit 1
		fi
		;;
	down | status)
		[ -n "$p" ] || {
			echo "usage: $0 $cmd PREFIX   (or SHOAL_FLEET_PREFIX=PREFIX)" >&2
			exit 2
		}
		"fleet_$cmd" "$p"
		;;
	demo) fleet_demo ;;
	*)
		echo "usage: $0 up|down [PREFIX]|status [PREFIX]|demo" >&2
		exit 2
		;;
	esac
fi
