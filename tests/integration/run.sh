#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Integration tests: the real shoal-engine between real Linux peers.
#
# One topology (scripts/topo.sh: client, engine, router and server
# namespaces), one engine (AF_PACKET on the veths, TAP kernel mirrors,
# routes and neighbours from the kernel; on hugepages the run reserves and
# gives back, scripts/lib/hugepages.sh, so that dpdk-dumpcap can attach)
# and one set of servers (HTTP, dnsmasq, iperf3; scripts/lib/servers.sh)
# serve every test; the tests run in file-name order (NN_name.sh), the
# ones that disturb routes and neighbours last, each restoring what it
# changed. Then the engine is stopped with SIGINT, which must end it
# cleanly ("engine_exit").
#
# Output: one line per test (PASS / FAIL / SKIP, with the time taken), then
# exactly "N passed, N failed, N skipped". A failing test's output, the
# engine's log and its non-zero counters go to stderr. Exit 1 if anything
# failed; 77 if a prerequisite is absent (not root, no `ip netns`).
#
# Environment: SHOAL_ENGINE (engine binary; default build/engine/shoal-engine
# under the repository root), SHOAL_IO=pcap (net_pcap instead of
# net_af_packet), SHOAL_WORKERS=N (N engine workers, default 1; see
# scripts/topo.sh), SHOAL_KEEP=1 (keep the run directory), SHOAL_TEST_TIMEOUT
# (per test, seconds; default 90), SHOAL_TESTS=REGEX (only the tests whose
# file name matches, e.g. '^1[78]_'). Works from any directory.

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$here/../.." && pwd)
. "$REPO/scripts/topo.sh"
. "$REPO/scripts/lib/servers.sh"
. "$REPO/scripts/lib/hugepages.sh"
. "$here/../lib/runner.sh"
per_test_timeout=${SHOAL_TEST_TIMEOUT:-90}

tests=()
for f in "$here"/[0-9][0-9]_*.sh; do
	[ -f "$f" ] || continue
	[[ $(basename "$f") =~ ${SHOAL_TESTS:-.} ]] && tests+=("$f")
done

skip_all() {
	local t
	for t in "${tests[@]}"; do echo "SKIP $(basename "$t" .sh): $1"; done
	echo "0 passed, 0 failed, ${#tests[@]} skipped"
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip_all "not root"
ip netns list >/dev/null 2>&1 || skip_all "no 'ip netns'"

engine=${SHOAL_ENGINE:-$REPO/build/engine/shoal-engine}
if [ ! -x "$engine" ]; then
	echo "FAIL setup: no engine binary at $engine (build first: scripts/test.sh)"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

export SHOAL_TAG=si$$
export SHOAL_PREFIX=shoal-integ-$$
export SHOAL_WORK
SHOAL_WORK=$(mktemp -d "${TMPDIR:-/tmp}/shoal-integ.XXXXXX")
export PYTHONDONTWRITEBYTECODE=1
ENGINE_PID='' engine_rc=''
topo_names "$SHOAL_TAG"

stop_engine() {
	local i
	[ -n "$ENGINE_PID" ] || return 0
	kill -INT "$ENGINE_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$ENGINE_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$ENGINE_PID" 2>/dev/null; then
		echo "engine did not stop within 10 s of SIGINT; killed" >>"$SHOAL_WORK/engine.log"
		kill -KILL "$ENGINE_PID" 2>/dev/null
	fi
	wait "$ENGINE_PID"
	engine_rc=$?
	ENGINE_PID=
}

cleanup() {
	runner_stop
	stop_engine
	# Quietly: nothing may follow the summary line.
	{
		huge_down
		capture_stop
		servers_stop
		topo_down "$SHOAL_TAG"
	} >/dev/null 2>&1
	rm -rf "/var/run/dpdk/$SHOAL_PREFIX"
	if [ "${SHOAL_KEEP:-0}" = 1 ]; then
		echo "run directory kept: $SHOAL_WORK" >&2
	else
		rm -rf "$SHOAL_WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup_failed() {
	local t
	echo "FAIL setup: $1"
	{
		echo "---- engine log ----"
		tail -n 40 "$SHOAL_WORK/engine.log" 2>/dev/null
		echo "---- end of engine log ----"
	} >&2
	for t in "${tests[@]}"; do echo "FAIL $(basename "$t" .sh): not run (setup failed)"; done
	echo "0 passed, $((${#tests[@]} + 1)) failed, 0 skipped"
	exit 1
}

topo_up "$SHOAL_TAG" 2>"$SHOAL_WORK/topo.err" || setup_failed "topology: $(cat "$SHOAL_WORK/topo.err")"
# Without hugepages every test but 20_capture still runs; that one fails
# and quotes huge.err.
if huge_up "$SHOAL_WORK/huge" "$(topo_huge_pages)" 2>"$SHOAL_WORK/huge.err"; then
	export SHOAL_HUGE_DIR=$SHOAL_WORK/huge
fi
topo_engine_conf "$SHOAL_WORK/shoal.conf" "$SHOAL_PREFIX" 2>"$SHOAL_WORK/conf.err" ||
	setup_failed "engine configuration: $(cat "$SHOAL_WORK/conf.err")"
# ip netns exec runs the engine in place: $! is the engine's PID.
ip netns exec "$NS_E" "$engine" -c "$SHOAL_WORK/shoal.conf" >"$SHOAL_WORK/engine.log" 2>&1 &
ENGINE_PID=$!
export SHOAL_ENGINE_PID=$ENGINE_PID
ready=0
for ((i = 0; i < 200; i++)); do
	kill -0 "$ENGINE_PID" 2>/dev/null || break
	topo_engine_ready "$SHOAL_TAG" && ready=1 && break
	sleep 0.1
done
[ $ready = 1 ] || setup_failed "engine did not bring up its mirrors, addresses and default route within 20 s"

capture_start "$NS_S" s0 "$SHOAL_WORK/s0.pcap" -Q in ip 2>"$SHOAL_WORK/cap.err" ||
	setup_failed "tcpdump on the server: $(cat "$SHOAL_WORK/cap.err")"
servers_start "$NS_S" "$TOPO_SERVER" "$SHOAL_WORK/srv" 2>"$SHOAL_WORK/srv.err" ||
	setup_failed "servers: $(cat "$SHOAL_WORK/srv.err")"

for f in "${tests[@]}"; do
	name=$(basename "$f" .sh)
	run_test "$name" "$SHOAL_WORK/$name.log" "$per_test_timeout" bash "$f"
done

# The engine must have survived everything and stop cleanly on SIGINT.
if kill -0 "$ENGINE_PID" 2>/dev/null; then
	stop_engine
	if [ "$engine_rc" = 0 ]; then
		echo "PASS engine_exit (clean exit on SIGINT)"
		passed=$((passed + 1))
	else
		echo "FAIL engine_exit (exit status $engine_rc after SIGINT)"
		failed=$((failed + 1))
	fi
else
	stop_engine
	echo "FAIL engine_exit (engine died during the tests, status $engine_rc)"
	failed=$((failed + 1))
fi
if [ $failed -gt 0 ]; then
	{
		echo "---- engine log (non-zero counters) ----"
		grep -vE '^\s+(drop|event)\s+\S+\s+0$' "$SHOAL_WORK/engine.log" | tail -n 60
		echo "---- end of engine log ----"
	} >&2
fi

runner_summary
