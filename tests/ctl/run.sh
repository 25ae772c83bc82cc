#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Run the shoal-ctld tests (test_*.py here) against the real daemon. One
# line per test on stdout (PASS / FAIL / SKIP and its time), then exactly
#   N passed, N failed, N skipped
# A failing test's output goes to stderr. Exit 1 if any test failed, 77 if
# not root. The daemon is found at build/ctl/ctld/shoal-ctld under the
# repository root, or wherever SHOAL_CTLD points.

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PYTHONDONTWRITEBYTECODE=1
[ "$(id -u)" = 0 ] || { echo "tests/ctl: needs root" >&2; exit 77; }

log=$(mktemp "${TMPDIR:-/tmp}/shoal-ctl-test.XXXXXX")
current=""
cleanup() {
	if [ -n "$current" ] && kill -0 "$current" 2>/dev/null; then
		kill -TERM "$current" 2>/dev/null
		wait "$current" 2>/dev/null
	fi
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass=0 fail=0 skip=0
for t in "$here"/test_*.py; do
	name=$(basename "$t" .py)
	start=$(date +%s%N)
	timeout -s TERM 200 /usr/bin/python3 "$t" >"$log" 2>&1 &
	current=$!
	wait "$current"
	rc=$?
	current=""
	ms=$((($(date +%s%N) - start) / 1000000))
	secs=$((ms / 1000)).$((ms % 1000 / 100))
	case $rc in
	0) pass=$((pass + 1)); echo "PASS $name (${secs}s)"
	   grep -h '^durability:' "$log" | sed 's/^/     /' ;;
	77) skip=$((skip + 1)); echo "SKIP $name" ;;
	*) fail=$((fail + 1)); echo "FAIL $name (exit $rc, ${secs}s)"
	   cat "$log" >&2 ;;
	esac
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
