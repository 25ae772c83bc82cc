# SPDX-License-Identifier: BSD-3-Clause
#
# The loop body every suite runner shares (tests/engine, tests/integration,
# tests/ctl): sourced, it defines
#
#   run_test NAME LOG TIMEOUT CMD...
#       runs CMD under `timeout` (SIGTERM, then SIGKILL 30 s later) with
#       its output in LOG, prints one line on stdout:
#         PASS NAME (T s)
#         SKIP NAME: <the test's first "SKIP:" line>         (exit 77)
#         FAIL NAME (exit N | timeout after T s, T s)[: <its first "FAIL:" line>]
#       puts a failed test's last 60 lines of output on stderr, and counts
#       into $passed, $failed, $skipped. Returns the test's exit status.
#   runner_stop
#       SIGTERM the test still running, if any (for the caller's EXIT
#       trap: the test cleans up in its own handlers).
#   runner_summary
#       prints "N passed, N failed, N skipped"; false if anything failed.

passed=0 failed=0 skipped=0
runner_current=

runner_stop() {
	if [ -n "$runner_current" ] && kill -0 "$runner_current" 2>/dev/null; then
		kill -TERM "$runner_current" 2>/dev/null
		wait "$runner_current" 2>/dev/null
	fi
	runner_current=
}

run_test() {
	local name=$1 log=$2 limit=$3 start rc ms secs why first
	shift 3
	start=$(date +%s%N)
	timeout --signal=TERM --kill-after=30 "$limit" "$@" >"$log" 2>&1 &
	runner_current=$!
	wait "$runner_current"
	rc=$?
	runner_current=
	ms=$((($(date +%s%N) - start) / 1000000))
	secs="$((ms / 1000)).$((ms % 1000 / 100))"
	case $rc in
	0)
		echo "PASS $name (${secs} s)"
		passed=$((passed + 1))
		;;
	77)
		echo "SKIP $name: $(grep -m1 '^SKIP' "$log" | sed 's/^SKIP: *//')"
		skipped=$((skipped + 1))
		;;
	*)
		[ $rc = 124 ] && why="timeout after $limit s" || why="exit $rc"
		first=$(grep -m1 '^FAIL' "$log" | sed 's/^FAIL: *//')
		echo "FAIL $name ($why, ${secs} s)${first:+: $first}"
		{
			echo "---- $name output ----"
			tail -n 60 "$log"
			echo "---- end of $name ----"
		} >&2
		failed=$((failed + 1))
		;;
	esac
	return $rc
}

runner_summary() {
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
}
