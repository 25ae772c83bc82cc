#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Live lease updates with real traffic: shoal-ctld and a subscribed
# shoal-engine in the namespace topology of scripts/topo.sh.
#
#   01 the engine subscribes and reports (status, stats, per worker)
#   02 a lease added while traffic runs is used by new flows within 1 s
#   03 a released lease drains: its flow goes on, new flows are refused
#      (no_lease) while it is listed as draining
#   04 kill -9 and restart of shoal-ctld during an iperf3 UDP run loses no
#      packet; the engine resubscribes
#   05 restarting the engine brings its dynamic leases back from the daemon
#   06 flows and per-lease usage reach the CLI
#   07 shoalctl reload under an iperf3 TCP stream: a new static lease and
#      a new timeout are taken, a broken file and a file the engine cannot
#      take without a restart are refused with FILE:LINE and change
#      nothing, SIGHUP reloads the engine; the stream never stalls
#   08 shoalctl top on a pseudo-terminal shows non-zero rates, the lease
#      bar filling up and the busiest client while iperf3 runs
#
# Prints one line per check and "N passed, N failed, N skipped"; 77 when
# not root. Removes every namespace, process and file it creates.
set -u
cd "$(dirname "$0")/../.."
. tests/live/lib.sh
. scripts/lib/servers.sh

TAG=sl$$
topo_names "$TAG"
TMP=$(mktemp -d /tmp/shoal-live.XXXXXX)
PREFIX=shoal-live-$$
SOCK=$TMP/run/ctl.sock
ENGINE_PID= CTLD_PID=

cleanup() {
	set +e
	servers_stop >/dev/null 2>&1
	[ -n "$ENGINE_PID" ] && kill -INT "$ENGINE_PID" 2>/dev/null && wait "$ENGINE_PID"
	[ -n "$CTLD_PID" ] && kill "$CTLD_PID" 2>/dev/null && wait "$CTLD_PID"
	bash scripts/topo.sh down "$TAG" >/dev/null 2>&1
	rm -rf "$TMP" "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

jq_ctl() { local f=$1; shift; ctl -j "$@" | jq -r "$f"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
curl_from() { # SRC PATH -> prints "hello ADDR:PORT", fails if no answer in 1 s
	ip netns exec "$NS_C" curl -s --max-time 1 --interface "$1" "http://$TOPO_SERVER:8080/$2"
}
port_of() { sed -nE 's/.*:([0-9]+)$/\1/p'; }

start_engine() {
	ip netns exec "$NS_E" "$ENGINE" -c "$TMP/shoal.conf" >>"$TMP/engine.log" 2>&1 &
	ENGINE_PID=$!
	for _ in $(seq 100); do topo_engine_ready "$TAG" && return 0; sleep 0.1; done
	return 1
}
engine_connected() { # within $1 tenths of a second
	for _ in $(seq "$1"); do
		[ "$(jq_ctl .engine.connected status 2>/dev/null)" = true ] && return 0
		sleep 0.1
	done
	return 1
}

bash scripts/topo.sh up "$TAG" >/dev/null || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
topo_engine_conf "$TMP/shoal.conf" "$PREFIX"
# Static: only 10.0.0.2 has a lease; the others get theirs at run time.
sed -i "s|^clients = 10.0.0.0/24|clients = 10.0.0.2/32|" "$TMP/shoal.conf"
sed -i "/^eal = /a ctl_socket = $SOCK" "$TMP/shoal.conf"
cat >>"$TMP/shoal.conf" <<CONF
[nat]
icmp_timeout = 30
[ctl]
socket = $SOCK
database = $TMP/leases.db
group = root
CONF
servers_start "$NS_S" "$TOPO_SERVER" "$TMP/srv" || { echo "servers failed"; exit 1; }
start_ctld "$TMP/shoal.conf" || { cat "$TMP/ctld.log"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
start_engine || { cat "$TMP/engine.log"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

# 01
if engine_connected 50; then
	sleep 1.2 # one report
	# The sums, and one per_worker entry per worker whose counters add up
	# to no more than them (the engine reads the workers' counters just
	# before the sums, while packets may still arrive).
	if [ "$(ctl -j stats | jq -r '(.counters | has("in2out")) and
		(.per_worker | length) == .workers and
		([.per_worker[].counters.rx_inside // 0] | add) <= .counters.rx_inside')" = true ]
	then ok "01 engine subscribed and reporting, per worker too"
	else ko 01 "stats lacks engine counters or per-worker ones: $(ctl -j stats)"; fi
else
	ko 01 "the engine did not subscribe within 5 s: $(ctl -j status)"
fi

# 02
curl_from 10.0.0.2 static >/dev/null || ko 02 "the static lease does not work"
if curl_from 10.0.0.3 before >/dev/null; then
	ko 02 "10.0.0.3 got through without a lease"
else
	id=$(jq_ctl .lease.id lease add --holder live3 --clients 10.0.0.3/32 --ports 11500-11599)
	t0=$(now_ms) got=
	while [ $(($(now_ms) - t0)) -lt 3000 ]; do
		got=$(curl_from 10.0.0.3 after) && break
		got=
	done
	dt=$(($(now_ms) - t0)) port=$(echo "$got" | port_of)
	if [ -z "$got" ]; then ko 02 "lease $id not used within 3 s"
	elif [ "$port" -lt 11500 ] || [ "$port" -gt 11599 ]; then ko 02 "port $port outside the new lease"
	elif [ "$dt" -gt 1000 ]; then ko 02 "the new lease took $dt ms to reach traffic"
	else ok "02 lease $id used by a new flow after $dt ms (port $port)"; fi
fi

# 03
id3=$(jq_ctl '.leases[] | select(.holder == "live3") | .id' lease list)
ip netns exec "$NS_C" ping -I 10.0.0.3 -c 30 -i 0.1 -W 1 "$TOPO_SERVER" >"$TMP/ping3" 2>&1 &
PING=$!
sleep 0.5
before=$(jq_ctl '.counters.no_lease // 0' stats)
ctl lease release "$id3" >/dev/null
sleep 1.2
state=$(jq_ctl .lease.state lease show "$id3")
newflow=$(curl_from 10.0.0.3 released)
wait $PING
loss=$(sed -nE 's/.* ([0-9.]+)% packet loss.*/\1/p' "$TMP/ping3")
after=$(jq_ctl '.counters.no_lease // 0' stats)
if [ "$state" != draining ]; then ko 03 "released lease is '$state', not draining"
elif [ -n "$newflow" ]; then ko 03 "a new flow got through a released lease: $newflow"
elif [ "$loss" != 0 ]; then ko 03 "the draining lease's flow lost $loss% of its pings"
elif [ "$after" -le "$before" ]; then ko 03 "no_lease did not count the refused flow"
else ok "03 released lease drains: ping flow 0% loss, new flow refused (no_lease +$((after - before)))"; fi

# 04
ctl lease add --holder live4 --clients 10.0.0.4/32 --ports 11300-11399 >/dev/null
sleep 0.5
ip netns exec "$NS_C" iperf3 -c "$TOPO_SERVER" -B 10.0.0.4 -u -b 20M -l 1000 -t 4 -J >"$TMP/iperf.json" 2>&1 &
IPERF=$!
sleep 1
kill -9 "$CTLD_PID"; wait "$CTLD_PID" 2>/dev/null; CTLD_PID=
sleep 0.5
start_ctld "$TMP/shoal.conf" || ko 04 "shoal-ctld did not restart"
wait $IPERF
lost=$(jq -r '.end.sum.lost_packets // "none"' "$TMP/iperf.json" 2>/dev/null)
total=$(jq -r '.end.sum.packets // 0' "$TMP/iperf.json" 2>/dev/null)
if ! engine_connected 80; then ko 04 "the engine did not resubscribe within 8 s"
elif [ "$lost" != 0 ]; then ko 04 "iperf3 UDP lost $lost of $total packets across the restart"
else ok "04 shoal-ctld kill -9 + restart under iperf3 UDP: 0 of $total packets lost, engine resubscribed"; fi

# 05
ctl lease add --holder live5 --clients 10.0.0.5/32 --ports 11400-11499 >/dev/null
kill -INT "$ENGINE_PID"; wait "$ENGINE_PID"; ENGINE_PID=
rm -rf "/var/run/dpdk/$PREFIX"
if ! start_engine; then
	ko 05 "the engine did not restart"
else
	t0=$(now_ms) got=
	while [ $(($(now_ms) - t0)) -lt 5000 ]; do
		got=$(curl_from 10.0.0.5 restarted) && break
		got=
	done
	port=$(echo "$got" | port_of)
	if [ -z "$got" ]; then ko 05 "the dynamic lease did not come back within 5 s"
	elif [ "$port" -lt 11400 ] || [ "$port" -gt 11499 ]; then ko 05 "port $port outside the dynamic lease"
	else ok "05 restarted engine got lease live5 back from the daemon ($(($(now_ms) - t0)) ms, port $port)"; fi
fi

# 06
ip netns exec "$NS_C" ping -I 10.0.0.5 -c 3 -i 0.2 "$TOPO_SERVER" >/dev/null 2>&1
sleep 1.2
nf=$(jq_ctl '.flows | length' flows --client 10.0.0.5)
lf=$(jq_ctl '.leases[] | select(.holder == "live5") | .flows' lease list)
if [ "${nf:-0}" -ge 1 ] && [ "${lf:-0}" != null ] && [ "${lf:-0}" -ge 1 ]; then
	ok "06 flows listed ($nf for 10.0.0.5) and lease usage reported ($lf flows)"
else
	ko 06 "flows=$nf lease flows=$lf"
fi

# 07
conf=$TMP/shoal.conf
cp "$conf" "$TMP/shoal.conf.orig"
ip netns exec "$NS_C" iperf3 -c "$TOPO_SERVER" -B 10.0.0.2 -t 8 -i 0.5 -J \
	--connect-timeout 3000 >"$TMP/iperf07.json" 2>&1 &
IPERF=$!
sleep 1
gen0=$(jq_ctl .generation status)
cat >>"$conf" <<CONF
[lease.reload7]
kind = nat
ip = $TOPO_SLICE_IP
ports = 11600-11699
clients = 10.0.0.3/32
CONF
sed -i 's/^icmp_timeout = 30$/icmp_timeout = 31/' "$conf"
r07=$(ctl -j reload 2>&1)
t0=$(now_ms) got=
while [ $(($(now_ms) - t0)) -lt 3000 ]; do
	got=$(curl_from 10.0.0.3 reloaded) && break
	got=
done
port=$(echo "$got" | port_of)
gen1=$(jq_ctl .generation status)
# a broken file: refused with its line, nothing changes
cp "$conf" "$TMP/shoal.conf.good"
echo "this line is not key = value" >>"$conf"
bad_line=$(wc -l <"$conf")
ctl reload >"$TMP/reload.out" 2>&1; bad_rc=$?
gen2=$(jq_ctl .generation status)
# a key only an engine restart can change: the engine refuses, so does
# the daemon
cp "$TMP/shoal.conf.good" "$conf"
sed -i '/^\[outside\]$/a mtu = 1400' "$conf"
ctl reload >"$TMP/reload2.out" 2>&1; mtu_rc=$?
gen3=$(jq_ctl .generation status)
# SIGHUP to the engine: it reloads (the good file) and keeps running
cp "$TMP/shoal.conf.good" "$conf"
kill -HUP "$ENGINE_PID"
sleep 0.5
wait $IPERF; iperf_rc=$?
stalls=$(jq '[.intervals[].sum.bytes | select(. == 0)] | length' "$TMP/iperf07.json" 2>/dev/null)
bytes=$(jq '.end.sum_received.bytes // 0' "$TMP/iperf07.json" 2>/dev/null)
if [ "$(echo "$r07" | jq -r '.reloaded and .engine == "reloaded"' 2>/dev/null)" != true ]; then
	ko 07 "reload not applied by both: $r07"
elif [ -z "$got" ] || [ "$port" -lt 11600 ] || [ "$port" -gt 11699 ]; then
	ko 07 "the reloaded static lease was not used (got '$got')"
elif [ "$gen1" -le "$gen0" ]; then
	ko 07 "the generation did not move on reload ($gen0 -> $gen1)"
elif [ "$bad_rc" != 1 ] || ! grep -q "$conf:$bad_line: " "$TMP/reload.out"; then
	ko 07 "a broken file was not refused with $conf:$bad_line (rc $bad_rc): $(cat "$TMP/reload.out")"
elif [ "$mtu_rc" != 1 ] || ! grep -q "shoal-engine: $conf:[0-9]*: \[outside\] mtu" "$TMP/reload2.out"; then
	ko 07 "an mtu change was not refused by the engine (rc $mtu_rc): $(cat "$TMP/reload2.out")"
elif [ "$gen2" != "$gen1" ] || [ "$gen3" != "$gen1" ]; then
	ko 07 "a refused reload changed the generation ($gen1 -> $gen2 -> $gen3)"
elif ! kill -0 "$ENGINE_PID" 2>/dev/null || ! grep -q "config: reloaded $conf" "$TMP/engine.log"; then
	ko 07 "the engine did not survive or log its SIGHUP reload"
elif [ "$iperf_rc" != 0 ] || [ "${stalls:-1}" != 0 ] || [ "${bytes:-0}" -lt 1000000 ]; then
	ko 07 "the iperf3 stream suffered: rc $iperf_rc, $stalls empty intervals, $bytes bytes"
else
	ok "07 reload under iperf3 TCP: new static lease used (port $port), broken file refused at line $bad_line, mtu change refused by the engine, SIGHUP reloaded the engine, $((bytes / 1000000)) MB with no empty 0.5 s interval"
fi
cp "$TMP/shoal.conf.orig" "$conf"
ctl reload >/dev/null || ko 07 "reloading the original file failed"
# 08: ten UDP streams from 10.0.0.3 take ten of its lease's 20 ports
# (endpoint-independent mapping: a binding per client port).
id7=$(jq_ctl .lease.id lease add --holder top7 --clients 10.0.0.3/32 --ports 11600-11619)
ip netns exec "$NS_C" iperf3 -c "$TOPO_SERVER" -B 10.0.0.3 -u -P 10 -b 1M -l 500 -t 6 \
	--connect-timeout 3000 >"$TMP/iperf7" 2>&1 &
IPERF=$!
sleep 1.5
/usr/bin/python3 tests/lib/pty_run.py --cols 120 --rows 40 --timeout 15 -- \
	"$CTL" -s "$SOCK" top -n 3 >"$TMP/top7.json"
wait $IPERF
# The last frame, escapes removed.
frame=$(jq -r .output "$TMP/top7.json" | awk 'BEGIN { RS = "\033\\[H" } { f = $0 } END { print f }' |
	sed -E 's/\x1b\[[0-9;?]*[A-Za-z]//g')
rx=$(echo "$frame" | awk '$1 == "all" { print $2 }')
bar=$(echo "$frame" | grep -E "^$id7 +top7 " | grep -oE '[0-9]+% \[#+\.*\]')
pct=${bar%%%*}
client=$(echo "$frame" | grep -cE '^10\.0\.0\.3 +[0-9]+ +198\.51\.100\.10')
if [ "$(jq -r '.rc == 0 and .restored' "$TMP/top7.json")" != true ]; then
	ko 08 "top did not exit 0 with the terminal restored: $(head -c 600 "$TMP/top7.json")"
elif [ -z "$rx" ] || [ "$rx" = 0 ] || [ "$rx" = - ]; then
	ko 08 "no inside rate in the frame: $frame"
elif [ -z "$bar" ] || [ "$pct" -lt 40 ]; then
	ko 08 "lease $id7 has no bar about half full: $frame"
elif [ "$client" != 1 ]; then
	ko 08 "10.0.0.3 is not among the busiest clients: $frame"
else
	ok "08 top on a pty under iperf3: inside $rx pkt/s, lease $id7 $bar, 10.0.0.3 busiest"
fi

if [ "$failed" -ne 0 ]; then
	echo "---- shoal-ctld log ----"; tail -20 "$TMP/ctld.log"
	echo "---- engine log ----"; grep -vE '\s0$' "$TMP/engine.log" | tail -30
fi
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
