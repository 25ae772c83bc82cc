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
#
# A Python test whose test() takes a worker count ("def test(workers)")
# runs once per count in SHOAL_TEST_WORKERS (default "1 2 4"), each run
# its own line named "NAME workers=N", so a failure says which count.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=/usr/bin/python3           # Debian's scapy lives with this Python
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree
per_test_timeout=${SHOAL_TEST_TIMEOUT:-300}
worker_counts=${SHOAL_TEST_WORKERS:-1 2 4}

. "$here/../lib/runner.sh"
logdir=$(mktemp -d "${TMPDIR:-/tmp}/shoal-engine-tests.XXXXXX")
cleanup() {
	runner_stop # a test interrupted with us cleans up in its finally
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

for f in "${tests[@]+"${tests[@]}"}"; do
	name=$(basename "$f")
	case "$f" in
	*.py) cmd=("$python" "$f") ;;
	*) cmd=(bash "$f") ;;
	esac
	if [[ $f == *.py ]] && grep -q '^def test(workers)' "$f"; then
		for n in $worker_counts; do
			SHOAL_TEST_WORKERS=$n run_test "$name workers=$n" \
				"$logdir/$name.$n.log" "$per_test_timeout" "${cmd[@]}"
		done
	else
		run_test "$name" "$logdir/$name.log" "$per_test_timeout" "${cmd[@]}"
	fi
done
runner_summary
