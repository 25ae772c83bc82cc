# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# Real servers for the demo and the integration tests, started in a network
# namespace and stopped by PID. Source this file, then:
#
#   servers_start NS ADDR DIR    start, in namespace NS, listening on ADDR:
#        HTTP   ADDR:8080/tcp  scripts/lib/demo_server.py  -> DIR/http.log
#        echo   ADDR:5353/udp  (same process; UDP echo)    -> DIR/http.log
#        DNS    ADDR:53/udp    dnsmasq, shoal.test A 203.0.113.80,
#                              big.shoal.test TXT: SERVERS_DNS_TXT_N
#                              strings of 250 bytes (an answer of ~2 KB,
#                              fragmented on a 1280-byte link; EDNS
#                              answers up to 4096 bytes),
#                              no upstream, every query logged with its
#                              source address/port         -> DIR/dns.log
#        iperf3 ADDR:5201      iperf3 -s                   -> DIR/iperf3.log
#      and wait (bounded) until all of them listen. Returns 1 on failure.
#   servers_stop                 stop them (SIGTERM, then SIGKILL), by PID
#   capture_start NS IFACE FILE [FILTER...]
#                                tcpdump into FILE; waits until it listens
#   capture_stop                 stop every capture, flushing its file
#
# The logs: http.log lines "tcp  ADDR:PORT  GET /path" and "udp  ADDR:PORT
# TEXT"; dns.log lines "... N ADDR/PORT query[A] shoal.test from ADDR";
# iperf3.log has "Accepted connection from ADDR, port PORT" and
# "connected to ADDR port PORT".

SERVERS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVERS_PIDS=()
CAPTURE_PIDS=()
SERVERS_DNS_NAME=shoal.test
SERVERS_DNS_ADDR=203.0.113.80
SERVERS_DNS_TXT_NAME=big.shoal.test
SERVERS_DNS_TXT_N=8

# Bounded wait: _servers_until SECONDS CMD... (polls every 0.1 s)
_servers_until() {
	local n=$(($1 * 10)) i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

_servers_listening() { # NS PROTO(t|u) PORT
	[ -n "$(ip netns exec "$1" ss -Hn"$2"l "sport = :$3" 2>/dev/null)" ]
}

servers_start() {
	local ns=$1 addr=$2 dir=$3 p i txt=() s250
	mkdir -p "$dir"
	s250=$(printf '%0250d' 0)
	for ((i = 0; i < SERVERS_DNS_TXT_N; i++)); do
		txt+=("--txt-record=$SERVERS_DNS_TXT_NAME,$i${s250:1}")
	done

	ip netns exec "$ns" /usr/bin/python3 "$SERVERS_LIB_DIR/demo_server.py" \
		"$addr" 8080 5353 >"$dir/http.log" 2>&1 &
	SERVERS_PIDS+=($!)

	: >"$dir/dns.log"
	ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--no-resolv --no-hosts --no-poll --bind-interfaces \
		--listen-address="$addr" --port=53 --user=root --pid-file= \
		--host-record="$SERVERS_DNS_NAME,$SERVERS_DNS_ADDR" "${txt[@]}" \
		--edns-packet-max=4096 \
		--log-queries=extra --log-facility="$dir/dns.log" \
		>"$dir/dnsmasq.out" 2>&1 &
	SERVERS_PIDS+=($!)

	ip netns exec "$ns" iperf3 --server --bind "$addr" --port 5201 \
		--forceflush >"$dir/iperf3.log" 2>&1 &
	SERVERS_PIDS+=($!)

	for p in t:8080 u:5353 u:53 t:5201; do
		if ! _servers_until 10 _servers_listening "$ns" "${p%%:*}" "${p#*:}"; then
			echo "servers.sh: nothing listens on $addr ${p#*:}/${p%%:*}" >&2
			cat "$dir"/*.log "$dir/dnsmasq.out" >&2
			return 1
		fi
	done
}

# _stop_pids PID... : SIGTERM, wait up to 3 s, then SIGKILL.
_stop_pids() {
	local pid i
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "$@"; do
		for ((i = 0; i < 30; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	return 0
}

servers_stop() {
	_stop_pids "${SERVERS_PIDS[@]}"
	SERVERS_PIDS=()
}

capture_start() {
	local ns=$1 ifc=$2 file=$3
	shift 3
	: >"$file.err"
	ip netns exec "$ns" tcpdump -Z root -n -U --immediate-mode -s 96 -i "$ifc" -w "$file" "$@" \
		2>"$file.err" &
	CAPTURE_PIDS+=($!)
	_servers_until 10 grep -q "listening on" "$file.err" || {
		echo "servers.sh: tcpdump on $ns/$ifc did not start:" >&2
		cat "$file.err" >&2
		return 1
	}
}

capture_stop() {
	_stop_pids "${CAPTURE_PIDS[@]}"
	CAPTURE_PIDS=()
}
