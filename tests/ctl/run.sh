#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Run the shoal-ctld tests (test_*.py here) against the real daemon. One
# line per test on stdout (PASS / FAIL / SKIP and its time; under a
# passing test, its measurements: "durability:" and "fleet:" lines),
# then exactly
#   N passed, N failed, N skipped
# A failing test's output goes to stderr. Exit 1 if any test failed, 77 if
# not root. The daemon is found at build/ctl/ctld/shoal-ctld under the
# repository root, or wherever SHOAL_CTLD points.

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PYTHONDONTWRITEBYTECODE=1
[ "$(id -u)" = 0 ] || { echo "tests/ctl: needs root" >&2; exit 77; }

. "$here/../lib/runner.sh"
log=$(mktemp "${TMPDIR:-/tmp}/shoal-ctl-test.XXXXXX")
cleanup() {
	runner_stop
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for t in "$here"/test_*.py; do
	run_test "$(basename "$t" .py)" "$log" 200 /usr/bin/python3 "$t" &&
		grep -h '^\(durability\|fleet\):' "$log" | sed 's/^/     /'
done
runner_summary
