#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Engine restarts and upgrades under real, long-lived clients (issue 12;
# docs/RESTART.md): shoal-ctld and a subscribed shoal-engine in the
# namespace topology of scripts/topo.sh, with, for the whole run,
#   - one iperf3 TCP stream from 10.0.0.2 (-i 0.5 -J);
#   - 100 idle TCP connections from 10.0.0.3 to an echo server
#     (tests/restart/peers.py), each echoing one line per check;
#   - a UDP stream from 10.0.0.4, one datagram every 5 ms, whose
#     receiver logs each sequence number and source address:port.
# The events, in order, each followed by the checks:
#   a  shoalctl engine upgrade --binary (a copy of the engine binary)
#   b  kill -9 of the engine, then a plain start that adopts the flows
#   c  shoalctl engine upgrade --binary (a program that fails at once):
#      refused with its reason, the old engine forwards on, no loss
#   d  shoal-engine --takeover started by hand
# Checks after each: all 100 connections echo within 2 s, the iperf3
# stream moves again, the UDP stream comes from the same outside port
# and lost one contiguous run at most (none in c). Per event it prints
# the UDP gap, the engine's gap_ms and the longest iperf3 stall.
#
# Environment: SHOAL_IO=pcap runs the engine on net_pcap over the veths
# instead of net_af_packet (topo_engine_conf); SHOAL_WORKERS=N as in
# scripts/topo.sh; SHOAL_RESTART_SECONDS (default 60) is how long the
# clients run, which must cover every event (a check says when not);
# SHOAL_RESTART_KEEP=1 keeps the run's directory (logs, the server's
# udp.log, iperf3's JSON) when a check failed, and says where.
#
# Prints one line per check and "N passed, N failed, N skipped"; 77 when
# not root. Removes every namespace, process and file it creates.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
. scripts/lib/servers.sh

TAG=sr$$
topo_names "$TAG"
TMP=$(mktemp -d /tmp/shoal-restart.XXXXXX)
PREFIX=shoal-restart-$$
SOCK=$TMP/run/ctl.sock
CONF=$TMP/shoal.conf
SECONDS_RUN=${SHOAL_RESTART_SECONDS:-60}
PEER_TCP=7100 PEER_UDP=7101
IPERF_SRC=10.0.0.2 KEEP_SRC=10.0.0.3 UDP_SRC=10.0.0.4
LEASE_LO=10000 LEASE_HI=10999 # [lease.clients] of topo_engine_conf
ENGINE_PID="" CTLD_PID="" IPERF_PID="" PEERS_PID="" CLIENT_PID=""
ENGINES=() # every engine pid this run has known, to stop them all

# A process with at least one thread that is not a zombie. The leader of
# a killed engine turns zombie before its lcore threads have exited and
# closed its files (the state file's lock among them), and an upgraded
# engine is the child of its predecessor, so nothing here reaps it once
# that one has exited.
pid_alive() {
	local t st
	for t in /proc/"$1"/task/*/stat; do
		st=$(sed 's/.*) //' "$t" 2>/dev/null | cut -d' ' -f1)
		[ -n "$st" ] && [ "$st" != Z ] && return 0
	done
	return 1
}
# wait_gone PID TENTHS: true once PID is gone, within TENTHS * 0.1 s.
wait_gone() {
	for _ in $(seq "$2"); do pid_alive "$1" || return 0; sleep 0.1; done
	! pid_alive "$1"
}
# reap PID: collect the exit of a child of ours that has ended (never
# blocks on one still running).
reap() { pid_alive "$1" || wait "$1" 2>/dev/null; }
# stop_pid PID: SIGINT, up to 10 s, then SIGKILL; reaps it if it is ours.
stop_pid() {
	kill -INT "$1" 2>/dev/null
	wait_gone "$1" 100 || kill -KILL "$1" 2>/dev/null
	wait_gone "$1" 30
	wait "$1" 2>/dev/null
}

cleanup() {
	set +e
	[ -n "$CLIENT_PID" ] && { echo quit >&7; } 2>/dev/null
	exec 7>&- 2>/dev/null
	for p in $CLIENT_PID $IPERF_PID $PEERS_PID; do stop_pid "$p"; done
	servers_stop >/dev/null 2>&1
	for p in "${ENGINES[@]}"; do stop_pid "$p"; done
	[ -n "$CTLD_PID" ] && kill "$CTLD_PID" 2>/dev/null && wait "$CTLD_PID"
	bash scripts/topo.sh down "$TAG" >/dev/null 2>&1
	if [ "${SHOAL_RESTART_KEEP:-0}" = 1 ] && [ "$failed" -ne 0 ]; then
		rm -f "$TMP/shoal-engine-copy" "$TMP/engine.state"
		echo "kept $TMP"
	else
		rm -rf "$TMP"
	fi
	rm -rf "/var/run/dpdk/$PREFIX" "/var/run/dpdk/$PREFIX-b"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# A write to the client's FIFO after it died must fail, not kill us.
trap '' PIPE

now_ms() { echo $(($(date +%s%N) / 1000000)); }
die() { # setup failed: say why, show the logs, count one failure
	echo "$1"
	tail -n 20 "$TMP"/*.log 2>/dev/null
	echo "$passed passed, $((failed + 1)) failed, 0 skipped"
	exit 1
}

# engine_connected TENTHS [true|false]: the daemon says the engine is (or
# is not) subscribed, within TENTHS * 0.1 s.
engine_connected() {
	for _ in $(seq "$1"); do
		[ "$(ctl -j status 2>/dev/null | jq -r .engine.connected)" = "${2:-true}" ] && return 0
		sleep 0.1
	done
	return 1
}
# start_engine LOG [ARGS...]: a plain start (or with ARGS, e.g.
# --takeover) in the engine namespace; sets STARTED to its pid.
start_engine() {
	local log=$1
	shift
	ip netns exec "$NS_E" "$ENGINE" "$@" -c "$CONF" >>"$log" 2>&1 &
	STARTED=$!
	ENGINES+=("$STARTED")
}
# engine_up TENTHS: mirrors up and subscribed to the daemon.
engine_up() {
	local i
	for ((i = 0; i < $1; i++)); do
		topo_engine_ready "$TAG" && break
		sleep 0.1
	done
	topo_engine_ready "$TAG" && engine_connected 50
}

# The client's commands: ask ID and wait (bounded) for its answer line.
client_ask() { # CMD ID TENTHS -> the answer line
	echo "$1 $2" >&7
	for _ in $(seq "$3"); do
		grep -m1 "^$1 $2 " "$TMP/client.out" && return 0
		sleep 0.1
	done
	return 1
}
mark() { client_ask mark "$1" 20 | awk '{ print $3 }'; }

# iperf_moving: the iperf3 TCP connection's bytes_acked grows within 5 s.
iperf_acked() {
	ip netns exec "$NS_C" ss -Htin state established \
		"( dport = :5201 and src $IPERF_SRC )" 2>/dev/null |
		grep -oE 'bytes_acked:[0-9]+' | cut -d: -f2 | sort -n | tail -1
}
iperf_moving() {
	local a b
	a=$(iperf_acked)
	for _ in $(seq 50); do
		sleep 0.1
		b=$(iperf_acked)
		[ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ] && return 0
	done
	return 1
}

# check_flows CASE FROM_SEQ [lossless|-] [GAP_MS]: the checks after an
# event, one PASS/FAIL line; keeps the UDP report in $TMP/udp.CASE.json.
# With the engine's measured gap GAP_MS, every lost datagram must fall in
# a window no longer than it (one sender interval of slack each side);
# without one, the losses must be one run.
check_flows() {
	local c=$1 from=$2 mode=${3:-} gap=${4:-} to ans udp src runs lost span why=
	ans=$(client_ask check "$c" 100) || ans="no answer in 10 s"
	# Datagrams in flight when the window closes get 0.3 s to arrive.
	to=$(mark "$c-end")
	sleep 0.3
	udp=$(/usr/bin/python3 tests/restart/report.py udp "$TMP/peers/udp.log" "$from" "${to:-$from}")
	src=$(echo "$udp" | jq -r '.sources | join(",")')
	runs=$(echo "$udp" | jq -r '.runs | length')
	lost=$(echo "$udp" | jq -r .lost)
	echo "$udp" >"$TMP/udp.$c.json"
	# Every reason that applies, so one run tells the whole story.
	[[ $ans == "check $c ok 100/100 "* ]] || why+="; keep-alive connections: $ans"
	if ! pid_alive "$IPERF_PID"; then
		why+="; iperf3 is no longer running"
	elif ! iperf_moving; then
		why+="; the iperf3 stream does not move (bytes_acked $(iperf_acked))"
	fi
	if [ -z "$to" ] || [ "$to" -le "$from" ]; then
		why+="; the UDP stream is not sending (seq $from -> $to)"
	else
		[ "$src" = "$UDP_OUTSIDE" ] || why+="; UDP came from $src, not $UDP_OUTSIDE"
		[ "$(echo "$udp" | jq -r .open)" = false ] ||
			why+="; the UDP stream had not come back at the end of the checks ($(echo "$udp" | jq -c .runs[-1]) lost)"
		span=$(echo "$udp" | jq -r .loss_span_ms)
		if [ "$mode" = lossless ] && [ "$lost" != 0 ]; then
			why+="; $lost datagrams lost: $(echo "$udp" | jq -c .runs)"
		elif [ -n "$gap" ] && [ "${gap#-}" = "$gap" ]; then
			awk -v s="$span" -v g="$gap" 'BEGIN { exit !(s <= g + 2 * 5 + 5) }' ||
				why+="; losses over ${span} ms of the stream, longer than the engine's gap of $gap ms: $(echo "$udp" | jq -c .runs)"
		elif [ "$runs" -gt 1 ]; then
			why+="; lost datagrams in $runs runs, not one: $(echo "$udp" | jq -c .runs)"
		fi
	fi
	if [ -n "$why" ]; then
		ko "$c-flows" "${why#; }"
	else
		ok "$c-flows 100/100 connections echo (max ${ans##* } ms), iperf3 moving, UDP from $src lost $lost of $(echo "$udp" | jq -r .sent) (gap $(echo "$udp" | jq -r .gap_ms) ms, $(echo "$udp" | jq -r .arrival_gap_ms) ms at the receiver)"
	fi
}

# ---- setup ----
bash scripts/topo.sh up "$TAG" >/dev/null || die "topo.sh up failed"
topo_engine_conf "$CONF" "$PREFIX" "$TMP/engine.state" || die "topo_engine_conf failed"
sed -i "/^eal = /a ctl_socket = $SOCK" "$CONF"
cat >>"$CONF" <<CONF
[ctl]
socket = $SOCK
database = $TMP/leases.db
group = root
CONF
cp "$ENGINE" "$TMP/shoal-engine-copy"
BROKEN_REASON="broken-$TAG: this engine refuses to start"
cat >"$TMP/broken" <<SH
#!/bin/sh
echo "$BROKEN_REASON" >&2
exit 1
SH
chmod +x "$TMP/broken"

servers_start "$NS_S" "$TOPO_SERVER" "$TMP/srv" || die "servers failed"
mkdir -p "$TMP/peers"
ip netns exec "$NS_S" /usr/bin/python3 tests/restart/peers.py server \
	"$TOPO_SERVER" $PEER_TCP $PEER_UDP "$TMP/peers" >"$TMP/peers.log" 2>&1 &
PEERS_PID=$!
_servers_until 10 _servers_listening "$NS_S" t $PEER_TCP || die "the echo server does not listen"
start_ctld "$CONF" || die "shoal-ctld did not start"
start_engine "$TMP/engine.log"
ENGINE_PID=$STARTED
engine_up 150 || die "the engine did not come up and subscribe"

# Paced at 20 Mbit/s: at full speed iperf3 saturates the engine's RX
# rings on this 2-core topology, and the random drops would hide the one
# outage the UDP stream is there to measure.
IPERF_T0=$(now_ms)
ip netns exec "$NS_C" iperf3 -c "$TOPO_SERVER" -B $IPERF_SRC -b 20M -t "$SECONDS_RUN" -i 0.5 -J \
	--connect-timeout 3000 >"$TMP/iperf.json" 2>"$TMP/iperf.err" &
IPERF_PID=$!
mkfifo "$TMP/client.fifo"
: >"$TMP/client.out"
ip netns exec "$NS_C" /usr/bin/python3 tests/restart/peers.py client \
	--tcp-bind $KEEP_SRC --udp-bind $UDP_SRC --server "$TOPO_SERVER" \
	--tcp-port $PEER_TCP --udp-port $PEER_UDP --conns 100 --interval 0.005 \
	--duration "$SECONDS_RUN" <"$TMP/client.fifo" >"$TMP/client.out" 2>&1 &
CLIENT_PID=$!
exec 7>"$TMP/client.fifo"
_servers_until 15 grep -q "^ready 100 " "$TMP/client.out" || die "client: $(cat "$TMP/client.out")"
sleep 1 # the UDP stream and iperf3 settle

# The flows go through the NAT: the server sees the slice address and
# ports of the lease, never a client address.
bad=$(awk -v ip="$TOPO_SLICE_IP" -v lo=$LEASE_LO -v hi=$LEASE_HI \
	'$2 != ip || $3 < lo || $3 > hi' "$TMP/peers/tcp.log")
UDP_OUTSIDE=$(awk 'NR == 1 { print $2 ":" $3 }' "$TMP/peers/udp.log")
up=${UDP_OUTSIDE##*:}
if [ "$(wc -l <"$TMP/peers/tcp.log")" != 100 ] || [ -n "$bad" ]; then
	ko 0-nat "the server saw $(wc -l <"$TMP/peers/tcp.log") connections, these not from the lease: $bad"
elif [ "${UDP_OUTSIDE%:*}" != "$TOPO_SLICE_IP" ] || [ "$up" -lt $LEASE_LO ] || [ "$up" -gt $LEASE_HI ]; then
	ko 0-nat "the UDP stream arrives from $UDP_OUTSIDE, not the lease"
else
	ok "0-nat 100 connections and the UDP stream ($UDP_OUTSIDE) arrive from $TOPO_SLICE_IP:$LEASE_LO-$LEASE_HI"
fi
from=$(mark 0)
sleep 0.5
check_flows 0 "$from" lossless

WINDOWS=() GAPS=()

# ---- a: upgrade to another file of the same build ----
t0=$(now_ms) from=$(mark a) old=$ENGINE_PID
ctl -j engine upgrade --binary "$TMP/shoal-engine-copy" >"$TMP/a.json" 2>"$TMP/a.err"
rc=$?
new=$(jq -r '.new_pid // empty' "$TMP/a.json" 2>/dev/null)
gap=$(jq -r '.gap_ms // empty' "$TMP/a.json" 2>/dev/null)
[ -n "$new" ] && { ENGINES+=("$new"); ENGINE_PID=$new; }
if [ "$rc" != 0 ]; then
	ko a-upgrade "shoalctl engine upgrade exited $rc: $(cat "$TMP/a.err" "$TMP/a.json")"
elif [ -z "$new" ] || [ "$new" = "$old" ] || ! pid_alive "$new"; then
	ko a-upgrade "new pid '$new' (old $old) is not a running engine: $(cat "$TMP/a.json")"
elif [ "$(jq -r .binary "$TMP/a.json")" != "$TMP/shoal-engine-copy" ]; then
	ko a-upgrade "it ran $(jq -r .binary "$TMP/a.json"), not the copy"
elif ! awk -v g="$gap" 'BEGIN { exit !(g != "" && g + 0 >= 0) }'; then
	ko a-upgrade "gap_ms is '$gap', not >= 0"
elif ! wait_gone "$old" 100; then
	ko a-upgrade "the old engine $old still runs"
elif ! engine_up 100; then
	ko a-upgrade "the new engine $new is not up and subscribed"
else
	ok "a-upgrade pid $old -> $new, gap_ms $gap ($(jq -c 'del(.binary, .old_pid, .new_pid)' "$TMP/a.json"))"
fi
reap "$old"
check_flows a "$from" - "$gap"
WINDOWS+=("a:$t0:$(now_ms)") GAPS+=("a:${gap:--}")

# ---- b: kill -9, then a plain start adopts the flows ----
t0=$(now_ms) from=$(mark b) old=$ENGINE_PID
kill -9 "$old"
wait_gone "$old" 50 || ko b-restart "engine $old survived kill -9"
reap "$old"
engine_connected 50 false || ko b-restart "the daemon still sees the killed engine subscribed"
start_engine "$TMP/engine-b.log"
ENGINE_PID=$STARTED
adopted=
if engine_up 150; then
	adopted=$(grep -m1 -oE 'shoal-engine: adopted [0-9]+ flows \([0-9]+ discarded[^)]*\)' "$TMP/engine-b.log")
	n=$(echo "$adopted" | awk '{ print $3 }')
	if [ -z "$adopted" ]; then
		ko b-restart "no 'adopted N flows' line in the new engine's log"
	elif [ "$n" -lt 101 ]; then
		ko b-restart "$adopted: fewer than the 101 flows (100 connections + UDP) open"
	else
		ok "b-restart kill -9 of $old, plain start $ENGINE_PID: $adopted"
	fi
else
	ko b-restart "the restarted engine did not come up and subscribe: $(tail -5 "$TMP/engine-b.log")"
fi
# The restarted engine logs its gap at its first packet out.
gap=$(grep -m1 -oE 'forwarding again -?[0-9.]+ ms' "$TMP/engine-b.log" | grep -oE -- '-?[0-9.]+')
check_flows b "$from" - "$gap"
WINDOWS+=("b:$t0:$(now_ms)") GAPS+=("b:${gap:--}")

# ---- c: upgrade to a binary that fails: refused, no loss ----
t0=$(now_ms) from=$(mark c) old=$ENGINE_PID
ctl -j engine upgrade --binary "$TMP/broken" >"$TMP/c.json" 2>"$TMP/c.err"
rc=$?
pids=$(ip netns pids "$NS_E" 2>/dev/null | sort | tr '\n' ' ')
if [ "$rc" != 1 ]; then
	ko c-refused "shoalctl exited $rc, not 1: $(cat "$TMP/c.err" "$TMP/c.json")"
elif ! grep -qF "$BROKEN_REASON" "$TMP/c.err"; then
	ko c-refused "stderr lacks the binary's reason: $(cat "$TMP/c.err")"
elif [ "$pids" != "$old " ]; then
	ko c-refused "engine namespace runs '$pids', not only engine $old"
elif ! engine_connected 20; then
	ko c-refused "the engine is no longer subscribed"
else
	ok "c-refused exit 1, engine $old carries on: $(tr '\n' ' ' <"$TMP/c.err")"
fi
check_flows c "$from" lossless
WINDOWS+=("c:$t0:$(now_ms)") GAPS+=("c:-")

# ---- d: takeover started by hand ----
t0=$(now_ms) from=$(mark d) old=$ENGINE_PID
start_engine "$TMP/engine-d.log" --takeover
new=$STARTED
# Bounded by the handover's own timeout (SH_TAKEOVER_TIMEOUT_MS, 30 s);
# a new engine that gives up ends the wait at once.
for _ in $(seq 350); do
	if ! pid_alive "$old" || ! pid_alive "$new"; then break; fi
	sleep 0.1
done
if ! pid_alive "$new"; then
	wait "$new"
	ko d-takeover "the takeover engine exited ($?): $(tail -5 "$TMP/engine-d.log")"
elif pid_alive "$old"; then
	ko d-takeover "the old engine $old still runs after 35 s: $(tail -5 "$TMP/engine-d.log")"
elif ! engine_up 100; then
	ko d-takeover "the takeover engine $new is not up and subscribed"
else
	ENGINE_PID=$new
	ok "d-takeover engine $old -> $new"
fi
reap "$old"
gap=$(grep -m1 -oE 'took over from pid [0-9]+: forwarding gap -?[0-9.]+' "$TMP/engine-d.log" |
	grep -oE -- '-?[0-9.]+$')
check_flows d "$from" - "$gap"
WINDOWS+=("d:$t0:$(now_ms)") GAPS+=("d:${gap:--}")

# ---- the end: the clients finish by themselves, bounded ----
if pid_alive "$IPERF_PID"; then
	ok "z-duration every event done with $(((IPERF_T0 + SECONDS_RUN * 1000 - $(now_ms)) / 1000)) s of the clients' run left"
else
	ko z-duration "the events outlasted the clients' $SECONDS_RUN s run (SHOAL_RESTART_SECONDS)"
fi
client_ask check z 100 >/dev/null
echo quit >&7
exec 7>&-
wait_gone "$CLIENT_PID" 50 || kill -KILL "$CLIENT_PID"
wait "$CLIENT_PID"
crc=$?
CLIENT_PID=""
# iperf3 ends on its own SECONDS_RUN after it started; 15 s more, then it
# is interrupted (it then still writes its JSON, with the error).
left=$(((IPERF_T0 + SECONDS_RUN * 1000 + 15000 - $(now_ms)) / 100))
if ! wait_gone "$IPERF_PID" $((left > 10 ? left : 10)); then
	kill -INT "$IPERF_PID"
	wait_gone "$IPERF_PID" 50 || kill -KILL "$IPERF_PID"
fi
wait "$IPERF_PID"
irc=$?
IPERF_PID=""
zc=$(grep -m1 '^check z ' "$TMP/client.out")
err=$(jq -r '.error // empty' "$TMP/iperf.json" 2>/dev/null)
nint=$(jq '.intervals | length' "$TMP/iperf.json" 2>/dev/null)
if [ "$irc" != 0 ] || [ -n "$err" ] || [ "${nint:-0}" -lt $((SECONDS_RUN * 2 - 2)) ]; then
	ko z-iperf3 "iperf3 exit $irc, error '$err', ${nint:-no} intervals: $(head -c 300 "$TMP/iperf.err")"
else
	ok "z-iperf3 finished: $nint intervals, $(jq '.end.sum_received.bytes / 1e6 | floor' "$TMP/iperf.json") MB received"
fi
if [ "$crc" != 0 ] || [[ $zc != "check z ok 100/100 "* ]]; then
	ko z-client "the keep-alive client: exit $crc, last check '$zc'"
else
	ok "z-client 100 connections alive to the end, $(grep -m1 '^end ' "$TMP/client.out")"
fi

stalls=$(/usr/bin/python3 tests/restart/report.py iperf "$TMP/iperf.json" "$IPERF_T0" "${WINDOWS[@]}" 2>/dev/null)
echo "gaps (${SHOAL_IO:-af_packet}, ${SHOAL_WORKERS:-1} worker(s)), ms unless said:"
echo "  case  UDP gap (sender clock / receiver clock, datagrams lost)  engine gap_ms  longest iperf3 stall s"
for g in "${GAPS[@]}"; do
	c=${g%%:*}
	echo "  $c  $(jq -r '"\(.gap_ms) / \(.arrival_gap_ms), \(.lost) lost"' "$TMP/udp.$c.json" 2>/dev/null || echo -)  ${g#*:}  $(echo "$stalls" | jq -r ".$c // \"-\"" 2>/dev/null)"
done

if [ "$failed" -ne 0 ]; then
	echo "---- shoal-ctld log ----"; tail -20 "$TMP/ctld.log"
	for f in "$TMP"/engine*.log; do
		echo "---- ${f##*/} ----"; grep -vE '\s0$' "$f" | tail -20
	done
fi
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
