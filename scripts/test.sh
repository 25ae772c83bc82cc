#!/bin/bash
# Run every test: install dependencies, build, then
#   1. unit tests (cmocka; parallel, EAL ones alone) tests/unit
#   2. config error tests (engine start-up)         tests/config
#   3. netlink tests (routes, neighbours; netns)    tests/netlink
#   4. engine tests (real shoal-engine, net_pcap;   tests/engine
#      1, 2 and 4 workers)
#   5. integration (real clients through the engine in namespaces),
#      with one worker, then again with two (integration-2w)
#                                                   tests/integration
#   6. control daemon (protocol, kill -9 durability, permissions)
#                                                   tests/ctl
#   7. CLI round trips against the daemon           tests/cli
#   8. live lease updates with real traffic         tests/live
#      and the /metrics endpoint across traffic      tests/live/metrics.sh
#   9. engine restarts and upgrades (upgrade,       tests/restart
#      kill -9 + restart, a failed upgrade,
#      --takeover) under iperf3, 100 idle TCP
#      connections and a UDP stream, on
#      net_af_packet
#  10. the TRex profiles load (syntax, call shape)  scripts/trex/check.py
#  11. fuzz harnesses, 30 s each (clang, libFuzzer) tests/fuzz
#  12. meson install: files, man pages, units       tests/install
#      (systemd-analyze verify), sd_notify and the
#      watchdog, the units' capability sets
# and print one summary line: "total: N passed, N failed, N skipped".
# Usage (as root, from anywhere): scripts/test.sh
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD_DIR:-build}
case $BUILD in /*) BUILD_ABS=$BUILD ;; *) BUILD_ABS=$ROOT/$BUILD ;; esac

bash scripts/deps.sh || exit 1
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" >/dev/null || exit 1
fi
ninja -C "$BUILD" >/dev/null || { ninja -C "$BUILD"; exit 1; }
export SHOAL_ENGINE=$BUILD_ABS/engine/shoal-engine

passed=0 failed=0 skipped=0

# Add the counts from a suite's final "N passed, N failed[, N skipped]"
# line; a suite that crashed before printing one counts as one failure,
# one that exited 77 (a prerequisite truly absent) as skipped.
tally() {
	local name=$1 line=$2 rc=$3
	[ "$rc" -eq 77 ] && rc=0
	if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)? ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[2]))
		skipped=$((skipped + ${BASH_REMATCH[4]:-0}))
		if [ "$rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ]; then
			failed=$((failed + 1))
		fi
	else
		echo "$name: no summary line (exit $rc)"
		failed=$((failed + 1))
	fi
}

echo "== unit tests"
meson test -C "$BUILD" --suite unit --print-errorlogs --num-processes 2 \
	>"$BUILD/unit.log" 2>&1
rc=$?
grep -E "^ *[0-9]+/[0-9]+ " "$BUILD/unit.log"
# cmocka prints "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)" per binary.
up=$(grep -hoE '\[  PASSED  \] [0-9]+' "$BUILD/meson-logs/testlog.txt" | awk '{s+=$NF} END {print s+0}')
uf=$(grep -hoE '\[  FAILED  \] [0-9]+' "$BUILD/meson-logs/testlog.txt" | awk '{s+=$NF} END {print s+0}')
[ $rc -ne 0 ] && [ "$uf" -eq 0 ] && { cat "$BUILD/unit.log"; uf=1; }
echo "unit: $up passed, $uf failed"
tally unit "$up passed, $uf failed" 0

echo "== config error tests"
out=$(bash tests/config/run_errors.sh 2>&1)
rc=$?
echo "$out" | grep -v '^ok' || true
tally config "$(echo "$out" | tail -n 1)" $rc

suite() {
	local name=$1 script=$2 out rc
	echo "== $name tests"
	out=$(bash "$script" 2>&1)
	rc=$?
	echo "$out" | grep -vE '^(ok|PASS) ' || true
	tally "$name" "$(echo "$out" | tail -n 1)" $rc
}
export NL_PROBE=$BUILD_ABS/tests/netlink/nl_probe
suite netlink tests/netlink/run.sh
suite engine tests/engine/run.sh
suite integration tests/integration/run.sh
SHOAL_WORKERS=2 suite integration-2w tests/integration/run.sh
export SHOALCTLD=$BUILD_ABS/ctl/ctld/shoal-ctld SHOALCTL=$BUILD_ABS/ctl/cli/shoalctl
suite ctl tests/ctl/run.sh
suite cli tests/cli/run.sh
suite live tests/live/run.sh
suite metrics tests/live/metrics.sh
suite restart tests/restart/run.sh
suite fleet tests/fleet/run.sh
# Not SHOAL_IO=pcap here: on net_pcap, about one run in five of the
# kill -9 case loses a second run of datagrams after forwarding resumed,
# not yet understood (issue 12's note); run it by hand with SHOAL_IO=pcap.
echo "== trex profile check"
out=$(/usr/bin/python3 scripts/trex/check.py 2>&1)
rc=$?
echo "$out" | grep -v '^ok ' || true
tally trex "$(echo "$out" | tail -n 1)" $rc
suite fuzz tests/fuzz/run.sh
SHOAL_BUILD=$BUILD_ABS suite install tests/install/run.sh

echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
