#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# shoal-ctld's Prometheus endpoint ([ctl] metrics, docs/METRICS.md) with a
# real engine and real traffic in the namespace topology of scripts/topo.sh.
# shoal-ctld runs in the engine's namespace, so its 127.0.0.1 port is ours.
#
#   01 off by default: without [ctl] metrics nothing listens on TCP
#   02 a second daemon on a taken ADDR:PORT refuses to start and says why
#   03 /metrics parses with the Prometheus client's parser, twice across
#      traffic: packet and byte counters moved, per-lease series exist
#   04 other paths are 404, other methods 405
#
# Prints one line per check and "N passed, N failed, N skipped"; 77 when
# not root. Removes every namespace, process and file it creates.
set -u
cd "$(dirname "$0")/../.."
. tests/live/lib.sh

TAG=sm$$
topo_names "$TAG"
TMP=$(mktemp -d /tmp/shoal-metrics.XXXXXX)
PREFIX=shoal-metrics-$$
SOCK=$TMP/run/ctl.sock
MPORT=9469
URL=http://127.0.0.1:$MPORT
ENGINE_PID= CTLD_PID=

cleanup() {
	set +e
	[ -n "$ENGINE_PID" ] && kill -INT "$ENGINE_PID" 2>/dev/null && wait "$ENGINE_PID"
	[ -n "$CTLD_PID" ] && kill "$CTLD_PID" 2>/dev/null && wait "$CTLD_PID"
	bash scripts/topo.sh down "$TAG" >/dev/null 2>&1
	rm -rf "$TMP" "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_e() { ip netns exec "$NS_E" "$@"; }
http() { # METHOD PATH -> status code
	local how=(-X "$1")
	[ "$1" = HEAD ] && how=(-I)
	in_e curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${how[@]}" "$URL$2"
}
scrape() { in_e curl -sf --max-time 2 "$URL/metrics" >"$1"; }

stop_ctld() { kill "$CTLD_PID"; wait "$CTLD_PID"; CTLD_PID=; }

bash scripts/topo.sh up "$TAG" >/dev/null || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
topo_engine_conf "$TMP/shoal.conf" "$PREFIX"
sed -i "/^eal = /a ctl_socket = $SOCK" "$TMP/shoal.conf"
cat >>"$TMP/shoal.conf" <<CONF
[ctl]
socket = $SOCK
database = $TMP/leases.db
group = root
CONF
cp "$TMP/shoal.conf" "$TMP/off.conf"
echo "metrics = 127.0.0.1:$MPORT" >>"$TMP/shoal.conf"

# 01
start_ctld "$TMP/off.conf" "$NS_E" || { cat "$TMP/ctld.log"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
listening=$(in_e ss -Hltn | wc -l)
if [ "$listening" -ne 0 ]; then ko 01 "$listening TCP sockets listen without [ctl] metrics"
elif grep -q "metrics on" "$TMP/ctld.log"; then ko 01 "the log says metrics are on"
else ok "01 no [ctl] metrics: no TCP listener"; fi
stop_ctld

# 02
start_ctld "$TMP/shoal.conf" "$NS_E" || { cat "$TMP/ctld.log"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
sed -e "s|^socket = .*|socket = $TMP/run2/ctl.sock|" \
    -e "s|^database = .*|database = $TMP/db2/leases.db|" "$TMP/shoal.conf" >"$TMP/taken.conf"
msg=$(timeout 5 ip netns exec "$NS_E" "$CTLD" -c "$TMP/taken.conf" 2>&1); rc=$?
want="[ctl] metrics 127.0.0.1:$MPORT: cannot listen: Address already in use"
if [ "$rc" -ne 1 ]; then ko 02 "exit $rc, not 1, on a taken port: $msg"
elif [[ "$msg" != *"$want"* ]]; then ko 02 "message: $msg"
else ok "02 taken ADDR:PORT: exit 1, \"$want\""; fi

# 03
ip netns exec "$NS_E" "$ENGINE" -c "$TMP/shoal.conf" >>"$TMP/engine.log" 2>&1 &
ENGINE_PID=$!
up=
for _ in $(seq 100); do
	[ "$(ctl -j status 2>/dev/null | jq -r .engine.connected)" = true ] && up=1 && break
	sleep 0.1
done
if [ -z "$up" ]; then
	ko 03 "the engine did not subscribe: $(tail -3 "$TMP/engine.log")"
else
	sleep 1.2 # one report
	scrape "$TMP/m1"
	# Traffic, bounded: 20 pings and 20 UDP datagrams from the leased client.
	ip netns exec "$NS_C" ping -I 10.0.0.2 -c 20 -i 0.05 -W 1 "$TOPO_SERVER" >/dev/null 2>&1
	for i in $(seq 20); do
		echo "m$i" | ip netns exec "$NS_C" socat -u - "UDP4-SENDTO:$TOPO_SERVER:5353,bind=10.0.0.2:$((40000 + i))"
	done
	sleep 1.2 # the next report
	scrape "$TMP/m2"
	if out=$(/usr/bin/python3 tests/live/metrics_check.py "$TMP/m1" "$TMP/m2" 1 2>&1); then
		ok "03 /metrics parsed across traffic: $out"
	else
		ko 03 "$out"
	fi
fi

# 04
c404=$(http GET /nope) c405=$(http POST /metrics) chead=$(http HEAD /metrics)
if [ "$c404" = 404 ] && [ "$c405" = 405 ] && [ "$chead" = 200 ]; then
	ok "04 GET /nope 404, POST /metrics 405, HEAD /metrics 200"
else
	ko 04 "GET /nope $c404, POST /metrics $c405, HEAD /metrics $chead"
fi

if [ "$failed" -ne 0 ]; then
	echo "---- shoal-ctld log ----"; tail -20 "$TMP/ctld.log"
	echo "---- engine log ----"; tail -20 "$TMP/engine.log"
fi
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
