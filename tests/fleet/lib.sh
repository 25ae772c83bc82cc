# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# Helpers for the fleet checks. run.sh brings one simulation up
# (scripts/fleet.sh) and starts tests/fleet/watch.py on its etcd, then
# runs every NN_*.sh check as a child process with this environment:
#
#   SHOAL_FLEET_PREFIX  the simulation's prefix (fleet_names sets the rest)
#   FLEET_EVENTS        watch.py's log: every change under /shoal/ with
#                       the wall-clock time it was seen
#
# The server's capture is $FLEET_DIR/srv/s0.pcap. A check prints what it
# measures, exits 0 (pass), 1 (fail) or 77 (skip); every wait is bounded
# and a check stops what it started (trap), even when it fails. Checks
# run in order and later ones see what earlier ones did (03 kills host c).

set -u
FLEET_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$FLEET_TESTS/../../scripts/fleet.sh"
fleet_names "$SHOAL_FLEET_PREFIX"
PY=/usr/bin/python3
T=$(mktemp -d "$FLEET_DIR/t.XXXXXX")
LIB_PIDS=() # background processes of this check, stopped on exit

# pid_tree PID: PID and all its descendants (by parent PID, from ps).
pid_tree() {
	local c
	echo "$1"
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do pid_tree "$c"; done
}
lib_cleanup() {
	local p all=()
	# A background subshell's children (an iperf3 run) go with it.
	for p in "${LIB_PIDS[@]}"; do mapfile -t -O "${#all[@]}" all < <(pid_tree "$p"); done
	LIB_PIDS=("${all[@]}")
	for p in "${LIB_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${LIB_PIDS[@]}"; do
		for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ "${SHOAL_FLEET_KEEP:-0}" = 1 ] || rm -rf "$T"
}
trap lib_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
# A write to a client's FIFO after it died must fail, not kill us.
trap '' PIPE

say() { echo "$*"; }
fail() {
	echo "FAIL: $*"
	exit 1
}
skip() {
	echo "SKIP: $*"
	exit 77
}

now() { date +%s.%N | cut -c1-17; } # wall clock, seconds (tcpdump's clock)
# Arithmetic on seconds: calc EXPR (awk), e.g. calc "$b - $a".
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
# true when the awk condition holds, e.g. holds "$x >= 6 - 0.5".
holds() { awk "BEGIN { exit !($1) }"; }

# until_ok SECONDS CMD...: CMD every 0.1 s until it succeeds; false after
# SECONDS.
until_ok() {
	local n=$(($1 * 10)) i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# pid_alive PID: a process with a thread that is not a zombie (the
# daemons are run.sh's children: a killed one stays a zombie until the
# end of the suite).
pid_alive() {
	local t st
	for t in /proc/"$1"/task/*/stat; do
		st=$(sed 's/.*) //' "$t" 2>/dev/null | cut -d' ' -f1)
		[ -n "$st" ] && [ "$st" != Z ] && return 0
	done
	return 1
}
fleet_alive() { # X: host X's engine and daemon both run
	local e d
	e=$(fleet_pid "$1/engine.pid") d=$(fleet_pid "$1/ctld.pid")
	[ -n "$e" ] && [ -n "$d" ] && pid_alive "$e" && pid_alive "$d"
}

# analyze SUBCOMMAND ARGS...: tests/fleet/analyze.py on the server's
# capture and the map's history, tagging packets by the per-host server
# ports of scripts/fleet.sh.
analyze() {
	local cmd=$1 x ph='' pp=
	shift
	for x in "${FLEET_HOSTS[@]}"; do
		ph+="$(fleet_iperf_port $x)=$x,$(fleet_echo_tcp $x)=$x,$(fleet_echo_udp $x)=$x,"
		pp+="$(fleet_echo_udp $x),"
	done
	$PY "$FLEET_TESTS/analyze.py" "$cmd" --pcap "$FLEET_DIR/srv/s0.pcap" --events "$FLEET_EVENTS" \
		--pool $FLEET_POOL --lo $FLEET_LO --size $FLEET_SLICE_SIZE \
		--n-slices $(((FLEET_HI - FLEET_LO + 1) / FLEET_SLICE_SIZE)) --port-host "${ph%,}" --payload-ports "${pp%,}" "$@"
}

# Times of the map's changes, from the watch log: keys of host X's slices
# (now), the time a key was last deleted / put by a host other than X.
slices_of() { fleet_map | awk -v h="$1" '$4 == h { print "/shoal/slices/" $1 "/" $2 }'; }
# event_time del|put KEY AFTER [NOT_HOST]: the first such event after AFTER.
event_time() {
	awk -v k="$2" -v a="$3" -v kind="$1" -v not="${4:-}" '
		$2 == kind && $3 == k && $1 > a {
			if (kind == "put" && not != "" && index($4, "\"host\":\"" not "\"")) next
			print $1; exit
		}' "$FLEET_EVENTS"
}

# event_seen: event_time found one (for until_ok, which must run the
# lookup at every try).
event_seen() { [ -n "$(event_time "$@")" ]; }
key_gone() { [ -z "$(fleet_etcdctl get "$1" --print-value-only 2>&1)" ]; }

# flows_start X DURATION: host X's long-lived flows (tests/fleet/flows.py:
# 20 idle TCP connections and a UDP stream "X SEQ" every 10 ms) against
# the server's echo ports for X, driven through FD 7+num(X); true once
# ready (15 s).
flows_start() {
	local x=$1 n fd
	n=$(fleet_num "$x") fd=$((6 + n))
	mkfifo "$T/flows-$x.in"
	: >"$T/flows-$x.out"
	ip netns exec "$(fleet_ns_cli "$x")" $PY "$FLEET_TESTS/flows.py" --tag "$x" \
		--tcp-bind "$(fleet_client "$x" 1)" --udp-bind "$(fleet_client "$x" 2)" \
		--server $FLEET_SERVER --tcp-port "$(fleet_echo_tcp "$x")" \
		--udp-port "$(fleet_echo_udp "$x")" --conns 20 --interval 0.01 \
		--duration "$2" <"$T/flows-$x.in" >"$T/flows-$x.out" 2>&1 &
	LIB_PIDS+=($!)
	eval "exec $fd>\"$T/flows-$x.in\""
	until_ok 15 grep -q '^\(ready\|failed\)' "$T/flows-$x.out"
	grep -q '^ready 20 ' "$T/flows-$x.out"
}
# flows_check X ID: ask host X's flows for a check; prints its answer
# ("check ID ok 20/20 MAX udp SENT ECHOED AGE" or a failure), within 10 s.
flows_check() {
	local x=$1 fd
	fd=$((6 + $(fleet_num "$x")))
	echo "check $2" >&"$fd" || { echo "check $2 fail: the client is gone"; return 1; }
	for _ in $(seq 100); do
		grep -m1 "^check $2 " "$T/flows-$x.out" && return 0
		sleep 0.1
	done
	echo "check $2 fail: no answer in 10 s"
	return 1
}
# flows_ok X ID: the check passed and the UDP stream's last echo came
# within the last second.
flows_ok() {
	local ans age
	ans=$(flows_check "$1" "$2")
	echo "host $1 $ans"
	age=$(echo "$ans" | awk '{ print $NF }')
	[[ $ans == "check $2 ok 20/20 "* ]] && [ "$age" -ge 0 ] && [ "$age" -lt 1000 ]
}
flows_stop() { # X: quit host X's flows client
	local fd
	fd=$((6 + $(fleet_num "$1")))
	{ echo quit >&"$fd"; } 2>/dev/null
	eval "exec $fd>&-"
}
