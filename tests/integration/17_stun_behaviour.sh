#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# RFC 4787 REQ-1 and REQ-8 as a real RFC 5780 behaviour-discovery client
# sees them: coturn's turnserver on two server addresses (RFC 5780 mode:
# OTHER-ADDRESS, CHANGE-REQUEST) and turnutils_natdiscovery behind the
# engine, from three clients whose leases differ:
#   10.0.0.2  default lease:  endpoint-independent mapping,
#                             address-dependent filtering
#   10.0.0.6  lease "open":   endpoint-independent mapping and filtering
#   10.0.0.7  lease "strict": address-and-port-dependent mapping and
#                             filtering (the shared-port mode)
# The mapped addresses the server reports are the slice address with a
# port inside the client's own lease.
. "$(dirname "$0")/lib.sh"

ALT=203.0.113.8
TURN_PID=''
cleanup() {
	[ -n "$TURN_PID" ] && kill "$TURN_PID" 2>/dev/null && wait "$TURN_PID" 2>/dev/null
	in_s ip addr del "$ALT/24" dev s0 2>/dev/null
	lib_cleanup
}
trap cleanup EXIT

command -v turnserver >/dev/null && command -v turnutils_natdiscovery >/dev/null ||
	fail "coturn is not installed (scripts/deps.sh installs it)"
in_s ip addr add "$ALT/24" dev s0 || fail "cannot add $ALT to the server"
need_counters flows_inbound unsolicited

# Two listening addresses put turnserver in RFC 5780 mode.
in_s turnserver -n --no-auth --stun-only --no-tcp --no-tls --no-dtls --no-cli \
	--listening-ip "$TOPO_SERVER" --listening-ip "$ALT" \
	--listening-port 3478 --alt-listening-port 3479 \
	--log-file "$T/turn.log" --simple-log --no-stdout-log \
	--pidfile "$T/turn.pid" >"$T/turn.out" 2>&1 &
TURN_PID=$!
until_ok 10 _servers_listening "$NS_S" u 3478 >/dev/null || {
	cat "$T/turn.out"
	fail "turnserver did not listen"
}

# discover CLIENT LOCALPORT -m|-f : the client's report.
discover() {
	in_c timeout 30 turnutils_natdiscovery "$3" -L "$1" -l "$2" "$TOPO_SERVER" 2>&1
}

# check CLIENT PORT_BASE LEASE_LO LEASE_HI MAPPING FILTERING
check() {
	local c=$1 lp=$2 lo=$3 hi=$4 m=$5 f=$6 out port try
	# Shared-port (address-and-port-dependent) mappings overlap ports
	# across destinations (RFC 7857 §3): each destination's port search
	# starts at its own RFC 6056 offset, so the two destinations'
	# mappings are distinct but, once in a few dozen engine runs, land on
	# the same port number, which a STUN client cannot tell from
	# endpoint-independent. Any two of the three destinations the client
	# asks may collide, so new flows move their offsets by different
	# amounts (three datagrams to the first, six to the second, none to
	# the third): every pair's offsets then move apart by at least 3, past
	# the parity pair both draws fell in, and the next try (from a new
	# client port) draws again. An endpoint-independent NAT fails all
	# three tries.
	for try in 1 2 3; do
		out=$(discover "$c" "$lp" -m)
		echo "$out" >"$T/m-$c.txt"
		echo "$out" | grep -q "NAT with $m Mapping!" && break
		[ "$m" = "Address and Port Dependent" ] && [ "$try" -lt 3 ] || {
			echo "$out"
			fail "$c: mapping is not reported as $m"
		}
		say "$c: try $try drew one port for both destinations; again"
		in_c "$PY" -c 'import socket, sys
for dst, n in ((sys.argv[2], 3), (sys.argv[3], 6)):
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((sys.argv[1], 0))
        s.sendto(b"shift", (dst, 3478))
        s.close()' "$c" "$TOPO_SERVER" "$ALT"
		lp=$((lp + 10))
	done
	# Every mapped address is the slice address, port in the lease.
	for port in $(echo "$out" | grep -oE "$TOPO_SLICE_IP:[0-9]+" | cut -d: -f2); do
		in_range "$port" "$lo" "$hi" || fail "$c: mapped port $port outside $lo-$hi"
	done
	echo "$out" | grep -qE "$TOPO_SLICE_IP:[0-9]+" || {
		echo "$out"
		fail "$c: no mapped address reported"
	}
	out=$(discover "$c" $((lp + 1)) -f)
	echo "$out" >"$T/f-$c.txt"
	echo "$out" | grep -q "NAT with $f Filtering!" || {
		echo "$out"
		fail "$c: filtering is not reported as $f"
	}
	say "$c: $m mapping, $f filtering (ports $lo-$hi)"
}

snap "$T/before"
check 10.0.0.2 40000 10000 10999 "Endpoint Independent" "Address Dependent"
check "$TOPO_CLIENT_EIF" 40000 11100 11199 "Endpoint Independent" "Endpoint Independent"
check "$TOPO_CLIENT_APDM" 40000 11200 11299 "Address and Port Dependent" \
	"Address and Port Dependent"
# The endpoint-independent filter admitted the server's other address and
# port as new flows; the others refused them.
[ "$(delta "$T/before" flows_inbound)" -ge 1 ] || fail "no flow opened from outside"
[ "$(delta "$T/before" unsolicited)" -ge 2 ] || fail "filtered responses not counted unsolicited"
