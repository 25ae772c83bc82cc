#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# engine/netlink.c against the real kernel. Needs root: it creates two
# network namespaces (unique names, deleted on exit whatever happens):
#
#   $ns:   sh0 10.200.0.1/24 (watched) -- veth -- sh0p 10.200.0.2/24 in $peer
#          sh1 (watched, down, no address: the engine's requests set it up)
#          sh2 10.203.0.1/24 (not watched)
#
# nl_probe runs in $ns as a coprocess and answers one line per command
# (see nl_probe.c); this script changes the kernel's state with ip(8) in
# between. Checked: (a) the initial dump, (b) route and neighbour events
# within a second, including routes the kernel flushes without an event,
# (c) sh_nl_resolve makes the kernel ARP for the peer by itself, (d) the
# engine's link/address/route requests, (e) an event storm on a tiny
# socket buffer forces a re-dump and the state is still exact. Multipath
# routes: flows from many sources spread over every watched next hop,
# each flow keeping its path.
#
# One line per check, then exactly "N passed, N failed". Exit 1 if any
# check failed, 77 if not root or jq is missing, 2 if nl_probe is missing.
# nl_probe: $NL_PROBE, else build/tests/netlink/nl_probe in the repository.
# Only private and TEST-NET addresses, only inside our namespaces.

set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
probe=${NL_PROBE:-$root/build/tests/netlink/nl_probe}

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (network namespaces)"
	exit 77
fi
if ! command -v jq >/dev/null; then
	echo "SKIP: jq is not installed"
	exit 77
fi
if [ ! -x "$probe" ]; then
	echo "run.sh: $probe: not an executable (build it or set NL_PROBE)" >&2
	exit 2
fi

ns=shnl-$$-$RANDOM
peer=$ns-peer
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shoal-nl.XXXXXX")
probe_pid=""
passed=0 failed=0

cleanup() {
	if [ -n "$probe_pid" ] && kill -0 "$probe_pid" 2>/dev/null; then
		kill -TERM "$probe_pid" 2>/dev/null
		wait "$probe_pid" 2>/dev/null
	fi
	ip netns del "$ns" 2>/dev/null
	ip netns del "$peer" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() {
	echo "ok   $1"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL $1"
	failed=$((failed + 1))
}
summary() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit $?
}

# ask CMD...: one command to nl_probe; its answer in $answer; true on "ok".
answer=""
ask() {
	if [ -z "${PROBE[1]:-}" ]; then
		answer="(nl_probe is not running)"
		return 1
	fi
	echo "$*" >&"${PROBE[1]}"
	if ! IFS= read -r -t 30 answer <&"${PROBE[0]}"; then
		answer="(no answer from nl_probe)"
		return 1
	fi
	[[ $answer == ok* ]]
}
# probe_check NAME CMD...: a check answered by nl_probe.
probe_check() {
	local name=$1
	shift
	if ask "$@"; then pass "$name"; else fail "$name: $* -> $answer"; fi
}
# sh_check NAME CMD...: a check that is a shell command's exit status.
sh_check() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name: $*"; fi
}
E() { ip -n "$ns" "$@"; }
setup() {
	"$@" || {
		fail "setup: $*"
		summary
	}
}

MAC77=02:00:00:00:00:77
MAC88=02:00:00:00:00:88
MAC89=02:00:00:00:00:89

setup ip netns add "$ns"
setup ip netns add "$peer"
setup E link set lo up
setup E link add sh0 type veth peer name sh0p netns "$peer"
setup E link add sh1 type veth peer name sh1x
setup E link add sh2 type veth peer name sh2x
setup E addr add 10.200.0.1/24 dev sh0
setup E link set sh0 up
setup E link set sh1x up
setup E addr add 10.203.0.1/24 dev sh2
setup E link set sh2 up
setup E link set sh2x up
setup ip -n "$peer" link set lo up
setup ip -n "$peer" addr add 10.200.0.2/24 dev sh0p
setup ip -n "$peer" link set sh0p up
peer_mac=$(ip -n "$peer" -j link show dev sh0p | jq -r '.[0].address')

# State that exists before the engine opens netlink.
setup E route add 192.0.2.0/24 via 10.200.0.2 dev sh0 metric 50
setup E route add 203.0.113.0/24 dev sh2
setup E route add 198.51.100.0/24 dev sh0 table 100
setup E route add 10.220.0.0/16 nexthop via 10.203.0.254 dev sh2 nexthop via 10.200.0.2 dev sh0
setup E route add 10.221.0.0/16 nexthop via 10.200.0.2 dev sh0 nexthop via 10.200.0.77 dev sh0
setup E route add 10.230.0.0/16 via 10.200.0.77 dev sh0 metric 100
setup E route add 10.230.0.0/16 dev sh0 metric 20
setup E neigh add 10.200.0.77 lladdr $MAC77 dev sh0 nud permanent
setup E neigh add 10.203.0.9 lladdr 02:00:00:00:00:09 dev sh2 nud permanent

coproc PROBE { exec ip netns exec "$ns" "$probe"; }
probe_pid=$PROBE_PID

# (a) initial dump
probe_check "open watching sh0 and sh1" open sh0 sh1
probe_check "dump: permanent neighbour on a watched link" \
	expect 10.200.0.77 ok sh0 10.200.0.77 $MAC77 0
probe_check "dump: gateway route, gateway not yet resolved" \
	expect 192.0.2.9 no_neigh sh0 10.200.0.2 0
probe_check "dump: route on an unwatched link ignored" expect 203.0.113.5 no_route 0
probe_check "dump: neighbour on an unwatched link ignored" expect 10.203.0.9 no_route 0
probe_check "dump: route in another table ignored" expect 198.51.100.5 no_route 0
probe_check "dump: multipath uses the first next hop on a watched link" \
	expect 10.220.1.1 no_neigh sh0 10.200.0.2 0
# spread_check NAME DST N WANT...: N flows to DST use exactly the next
# hops WANT, each for at least a quarter of the flows, none changing path.
spread_check() {
	local name=$1 dst=$2 n=$3 nh ok=1 seen=0
	shift 3
	if ! ask spread "$dst" "$n" 1000; then
		fail "$name: $answer"
		return
	fi
	for nh in "$@"; do
		[[ " ${answer#ok} " =~ \ $nh=([0-9]+)\  ]] &&
			[ "${BASH_REMATCH[1]}" -ge $((n / 4)) ] || ok=0
	done
	seen=$(($(wc -w <<<"${answer#ok}")))
	[ "$ok" = 1 ] && [ "$seen" = $# ] && pass "$name (${answer#ok })" ||
		fail "$name: $answer"
}
spread_check "dump: multipath flows spread over both watched next hops" \
	10.221.1.1 1000 10.200.0.2 10.200.0.77
probe_check "dump: lower metric wins for one prefix" \
	expect 10.230.1.1 no_neigh sh0 10.230.1.1 0
probe_check "dump: connected route of sh0" \
	expect 10.200.0.9 no_neigh sh0 10.200.0.9 0
ask routes
[ "$answer" = "ok 6" ] && pass "dump: 6 routes kept (connected, 192.0.2/24, 2 multipath, 2 x 10.230/16)" ||
	fail "dump: routes kept: $answer, expected 6"

# (b) events, each reflected within a second
E route add 10.240.0.0/16 via 10.200.0.77 dev sh0
probe_check "event: route added" expect 10.240.1.1 ok sh0 10.200.0.77 $MAC77 1000
E route del 10.240.0.0/16 via 10.200.0.77 dev sh0
probe_check "event: route deleted" expect 10.240.1.1 no_route 1000
E route replace 10.221.0.0/16 via 10.200.0.77 dev sh0
spread_check "event: multipath replaced by one next hop" \
	10.221.1.1 1000 10.200.0.77
E route replace 10.221.0.0/16 nexthop via 10.200.0.2 dev sh0 nexthop via 10.200.0.77 dev sh0
spread_check "event: multipath route back, both next hops used" \
	10.221.1.1 1000 10.200.0.2 10.200.0.77
E route del 10.230.0.0/16 dev sh0 metric 20
probe_check "event: deleting the better metric falls back to the other" \
	expect 10.230.1.1 ok sh0 10.200.0.77 $MAC77 1000
E route replace 192.0.2.0/24 via 10.200.0.77 dev sh0 metric 50
probe_check "event: route replaced" expect 192.0.2.9 ok sh0 10.200.0.77 $MAC77 1000
E route replace 192.0.2.0/24 via 10.200.0.2 dev sh0 metric 50
probe_check "event: route replaced back" expect 192.0.2.9 no_neigh sh0 10.200.0.2 1000
E neigh add 10.200.0.88 lladdr $MAC88 dev sh0
probe_check "event: neighbour added" expect 10.200.0.88 ok sh0 10.200.0.88 $MAC88 1000
E neigh replace 10.200.0.88 lladdr $MAC89 dev sh0
probe_check "event: neighbour MAC changed" expect 10.200.0.88 ok sh0 10.200.0.88 $MAC89 1000
E neigh del 10.200.0.88 dev sh0
probe_check "event: neighbour deleted" expect 10.200.0.88 no_neigh sh0 10.200.0.88 1000

# (c) the kernel resolves the peer on request; this script sends nothing
sh_check "resolve: no entry for the peer before" \
	bash -c "[ -z \"\$(ip -n $ns neigh show 10.200.0.2 dev sh0)\" ]"
probe_check "resolve: request accepted" resolve sh0 10.200.0.2
probe_check "resolve: peer's MAC learned from the kernel's event" \
	expect 192.0.2.9 ok sh0 10.200.0.2 "$peer_mac" 3000
sh_check "resolve: kernel entry is REACHABLE" \
	bash -c "ip -n $ns -j neigh show 10.200.0.2 dev sh0 | jq -e '.[0].state | index(\"REACHABLE\")'"
sh_check "resolve: the peer received our kernel's ARP request" \
	bash -c "ip -n $peer -j neigh show 10.200.0.1 dev sh0p | jq -e 'length == 1'"
probe_check "resolve: multipath route resolved through the same gateway" \
	expect 10.220.1.1 ok sh0 10.200.0.2 "$peer_mac" 1000

# (d) the engine's own requests, on sh1 (down, no address)
probe_check "link_up: request" linkup sh1
sh_check "link_up: sh1 is UP" \
	bash -c "ip -n $ns -j link show dev sh1 | jq -e '.[0].flags | index(\"UP\")'"
probe_check "addr_add: request" addr sh1 10.201.0.1/24
sh_check "addr_add: 10.201.0.1/24 on sh1" \
	bash -c "ip -n $ns -j addr show dev sh1 | jq -e '[.[0].addr_info[] | select(.family == \"inet\" and .local == \"10.201.0.1\" and .prefixlen == 24)] | length == 1'"
probe_check "addr_add: existing address is success" addr sh1 10.201.0.1/24
probe_check "route_add: request" route sh1 10.210.0.0/16 10.201.0.254
probe_check "route_add: replace with another gateway" route sh1 10.210.0.0/16 10.201.0.253
sh_check "route_add: one static route via 10.201.0.253" \
	bash -c "ip -n $ns -j route show exact 10.210.0.0/16 | jq -e 'length == 1 and .[0].gateway == \"10.201.0.253\" and .[0].dev == \"sh1\" and .[0].protocol == \"static\"'"
probe_check "route_add: connected route" route sh1 10.211.0.0/16 0.0.0.0
sh_check "route_add: connected route has scope link, no gateway" \
	bash -c "ip -n $ns -j route show exact 10.211.0.0/16 | jq -e 'length == 1 and .[0].scope == \"link\" and .[0].gateway == null and .[0].dev == \"sh1\"'"
if ask route sh1 10.212.0.1/16 0.0.0.0; then
	fail "route_add: host bits outside the prefix accepted"
else
	[[ $answer == "err Invalid argument" ]] && pass "route_add: host bits outside the prefix refused" ||
		fail "route_add: host bits: $answer"
fi
probe_check "route_add: the engine sees its own route" \
	expect 10.210.1.1 no_neigh sh1 10.201.0.253 1000
E link set sh1 down
probe_check "link down: routes the kernel flushed silently are gone" \
	expect 10.210.1.1 no_route 1000

# (e) event storm: 2000 neighbour adds then 700 deletes while nl_probe is
# not reading, on the smallest socket buffer the kernel allows.
setup E route add 10.202.0.0/16 dev sh0
probe_check "storm: settle before" settle 2000
probe_check "storm: shrink the event socket buffer" rcvbuf 1
for i in $(seq 0 1999); do
	printf 'neigh add 10.202.%d.%d lladdr 02:00:00:02:%02x:%02x dev sh0\n' \
		$((i / 250)) $((i % 250 + 1)) $((i >> 8)) $((i & 255))
done >"$tmp/storm"
for i in $(seq 0 699); do
	printf 'neigh del 10.202.%d.%d dev sh0\n' $((i / 250)) $((i % 250 + 1))
done >>"$tmp/storm"
setup E -batch "$tmp/storm"
if ask settle 5000 && [[ $answer =~ overruns=([0-9]+)\ resyncs=([0-9]+) ]] &&
	[ "${BASH_REMATCH[1]}" -ge 1 ] && [ "${BASH_REMATCH[2]}" -ge 1 ]; then
	pass "storm: overflow detected and state re-dumped ($answer)"
else
	fail "storm: no overflow/re-dump seen: $answer"
fi
kernel_n=$(E -j neigh show dev sh0 | jq '[.[] | select(.dst | startswith("10.202."))] | length')
[ "$kernel_n" = 1300 ] && pass "storm: kernel holds 1300 entries" ||
	fail "storm: kernel holds $kernel_n entries, expected 1300"
ask neigh_count 10.202.0.0/16
[ "$answer" = "ok 1300" ] && pass "storm: snapshot holds exactly 1300 entries" ||
	fail "storm: snapshot: $answer, expected ok 1300"
probe_check "storm: a deleted entry is absent" expect 10.202.0.1 no_neigh sh0 10.202.0.1 0
# i = 1999: 10.202.7.250, MAC 02:00:00:02:07:cf
probe_check "storm: the last added entry is present" \
	expect 10.202.7.250 ok sh0 10.202.7.250 02:00:00:02:07:cf 0
probe_check "storm: earlier state intact" expect 192.0.2.9 ok sh0 10.200.0.2 "$peer_mac" 0

ask quit
wait "$probe_pid" 2>/dev/null
probe_pid=""
summary
