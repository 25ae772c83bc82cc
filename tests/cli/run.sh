#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# shoalctl tests against the real shoal-ctld (test_cli.py). One line per
# case on stdout, then exactly
#   N passed, N failed, N skipped
# Exit 1 if any case failed, 77 if not root or shoal-ctld cannot be built.
#
# Binaries: SHOALCTL and SHOALCTLD, else build/ctl/cli/shoalctl and
# build/ctl/ctld/shoal-ctld under the repository root (built with ninja
# first when that build directory exists). Works from any directory.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
python=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1

if [ -z "${SHOALCTL:-}${SHOALCTLD:-}" ] && [ -f "$repo/build/build.ninja" ]; then
	ninja -C "$repo/build" ctl/cli/shoalctl ctl/cli/completion/shoalctl \
		ctl/ctld/shoal-ctld >/dev/null 2>&1 ||
		echo "note: building in $repo/build failed" >&2
fi
export SHOALCTL=${SHOALCTL:-$repo/build/ctl/cli/shoalctl}
export SHOALCTLD=${SHOALCTLD:-$repo/build/ctl/ctld/shoal-ctld}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shoal-cli-run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export SHOAL_CLI_SUMMARY=$tmp/summary

timeout --signal=TERM --kill-after=10 "${SHOAL_TEST_TIMEOUT:-300}" \
	"$python" "$here/test_cli.py"
rc=$?

if [ -s "$tmp/summary" ]; then
	read -r passed failed skipped <"$tmp/summary"
else
	# The runner died before counting: report it as one failure.
	echo "FAIL test_cli.py (exit $rc)"
	passed=0 failed=1 skipped=0
	rc=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ $rc = 77 ] && exit 77
[ "$failed" = 0 ] && [ $rc = 0 ]
