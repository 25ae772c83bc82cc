#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Run every engine packet test in this directory: test_*.py and any other
# *.py / *.sh script except this runner and lib.py. One line per test on
# stdout (PASS / FAIL / SKIP, with the time taken), then exactly
#   N passed, N failed, N skipped
# A failing test's output goes to stderr. Exit status 1 if any test failed.
#
# Tests find the engine at build/engine/shoal-engine under the repository
# root, or wherever SHOAL_ENGINE points. Exit code 77 from a test = skip.
# Works from any directory.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=/usr/bin/python3           # Debian's scapy lives with this Python
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree
per_test_timeout=${SHOAL_TEST_TIMEOUT:-300}

logdir=$(mktemp -d "${TMPDIR:-/tmp}/shoal-engine-tests.XXXXXX")
current=""
cleanup() {
	# A test interrupted with us gets SIGTERM (it cleans up in finally).
	if [ -n "$current" ] && kill -0 "$current" 2>/dev/null; then
		kill -TERM "$current" 2>/dev/null
		wait "$current" 2>/dev/null
	fi
	rm -rf "$logdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tests=()
for f in "$here"/test_*.py "$here"/*.py "$here"/*.sh; do
	[ -f "$f" ] || continue
	case "$(basename "$f")" in
	run.sh | lib.py) continue ;;
	esac
	# Listed once even when several globs match.
	seen=0
	for t in "${tests[@]+"${tests[@]}"}"; do
		[ "$t" = "$f" ] && seen=1
	done
	[ $seen = 1 ] || tests+=("$f")
done

passed=0 failed=0 skipped=0
for f in "${tests[@]+"${tests[@]}"}"; do
	name=$(basename "$f")
	case "$f" in
	*.py) cmd=("$python" "$f") ;;
	*) cmd=(bash "$f") ;;
	esac
	log="$logdir/$name.log"
	start=$(date +%s%N)
	timeout --signal=TERM --kill-after=30 "$per_test_timeout" "${cmd[@]}" >"$log" 2>&1 &
	current=$!
	wait "$current"
	rc=$?
	current=""
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
		[ $rc = 124 ] && why="timeout after ${per_test_timeout} s" || why="exit $rc"
		echo "FAIL $name ($why, ${secs} s)"
		{
			echo "---- $name output ----"
			tail -n 60 "$log"
			echo "---- end of $name ----"
		} >&2
		failed=$((failed + 1))
		;;
	esac
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
