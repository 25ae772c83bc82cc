#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The fleet end to end (issue 13, docs/FLEET.md "Simulation"): brings up
# scripts/fleet.sh (3 shoal hosts sharing 198.51.100.10, an ECMP router
# with an L4 hash, a server, a single-member etcd), logs every change of
# the etcd map with tests/fleet/watch.py, then runs the checks in order:
#
#   01_map        every host claims its slices; etcd holds the map;
#                 shoalctl slice list (text and -j) on every host shows it
#   02_clients    curl, dig, iperf3 TCP and UDP from every host's clients;
#                 counters forwarded_to_owner / received_from_peer > 0;
#                 the server sees only the shared address, each packet's
#                 port in a slice its client's host owned at that moment
#   03_kill       kill -9 of host c (engine and daemon), its nexthop
#                 withdrawn: the survivors' iperf3, UDP streams and idle
#                 TCP connections go on; c's slices vanish after ~ttl and
#                 are claimed no sooner than a hold-down later
#   04_partition  host b cut from etcd: its packets stop using its slices
#                 before its keys vanish and before anyone else claims or
#                 uses them (from the server's capture); healed, it claims
#                 slices again after the hold-down
#   05_upgrade    shoalctl engine upgrade on a host under a UDP stream:
#                 the new engine has the daemon's set before its workers
#                 start, losses within the gap
#
# Each check is bounded in time (tests/lib/runner.sh prints PASS/FAIL/SKIP
# lines and the summary). Exit 77 when not root. SHOAL_FLEET_KEEP=1 keeps
# the run's files (/tmp/shoal-fleet-PREFIX: logs, capture, event log)
# when a check failed. The other SHOAL_FLEET_* of scripts/fleet.sh apply.
set -u
cd "$(dirname "$0")/../.." || exit 1
if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "SKIP: needs root and ip netns"
	echo "0 passed, 0 failed, 1 skipped"
	exit 77
fi
. scripts/fleet.sh
. tests/lib/runner.sh
for b in etcd etcdctl iperf3 dnsmasq tcpdump curl dig; do
	command -v $b >/dev/null || {
		echo "FAIL setup: $b is not installed (scripts/deps.sh)"
		echo "0 passed, 1 failed, 0 skipped"
		exit 1
	}
done

export SHOAL_FLEET_PREFIX=${SHOAL_FLEET_PREFIX:-sf$$}
fleet_names "$SHOAL_FLEET_PREFIX"
LOGS=$(mktemp -d /tmp/shoal-fleet-logs.XXXXXX)
export FLEET_EVENTS=$LOGS/events.log
WATCH_PID=

cleanup() {
	runner_stop
	[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null && wait "$WATCH_PID" 2>/dev/null
	if [ "${SHOAL_FLEET_KEEP:-0}" = 1 ] && [ "$failed" -ne 0 ]; then
		cp -a "$FLEET_DIR" "$LOGS/run" 2>/dev/null
		rm -rf "$LOGS/run/etcd/data"
		echo "kept $LOGS"
	else
		rm -rf "$LOGS"
	fi
	fleet_down "$SHOAL_FLEET_PREFIX"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

start=$(date +%s)
if ! fleet_up "$SHOAL_FLEET_PREFIX" >"$LOGS/up.log" 2>&1; then
	echo "FAIL setup: scripts/fleet.sh up: $(tail -n 5 "$LOGS/up.log" | tr '\n' ' ')"
	for f in "$FLEET_DIR"/*/ctld.log "$FLEET_DIR"/*/engine.log; do
		[ -f "$f" ] && { echo "---- $f"; tail -n 15 "$f"; }
	done
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
echo "setup: fleet $SHOAL_FLEET_PREFIX up in $(($(date +%s) - start)) s (ttl $FLEET_TTL s, hold_down $FLEET_HOLD_DOWN s)"
ip netns exec "$NS_ETCD" /usr/bin/python3 tests/fleet/watch.py "$FLEET_ETCD_URL" "$FLEET_KEY_PREFIX/" \
	>"$FLEET_EVENTS" 2>"$LOGS/watch.err" &
WATCH_PID=$!
for _ in $(seq 50); do [ -s "$FLEET_EVENTS" ] && break; sleep 0.1; done

for t in tests/fleet/[0-9][0-9]_*.sh; do
	name=$(basename "$t" .sh)
	case $name in
	03_*) limit=120 ;;
	04_*) limit=150 ;;
	*) limit=90 ;;
	esac
	run_test "$name" "$LOGS/$name.log" $limit bash "$t"
	# Every check's numbers, indented under its line.
	grep -E '^  ' "$LOGS/$name.log"
done
echo "suite time $(($(date +%s) - start)) s"
runner_summary
