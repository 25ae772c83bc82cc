#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Config error integration test: shoal-engine must refuse every file in
# cases/ before any EAL initialisation (so no root, no hugepages).
#
# Each cases/NAME.conf holds exactly one mistake and states on its first
# line where the error must point and what it must say:
#     ; expect: LINE: reason substring
# A case passes when `$SHOAL_ENGINE -c FILE` exits non-zero and its stderr
# contains "FILE:LINE: " followed later on the same output by the reason.
#
# SHOAL_ENGINE defaults to build/engine/shoal-engine under the repository.
# Prints one "ok"/"FAIL" line per case, then "N passed, N failed"; exits 1
# if any case failed, 2 if the engine or the cases are missing.

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
engine=${SHOAL_ENGINE:-$root/build/engine/shoal-engine}

if [ ! -x "$engine" ]; then
	echo "run_errors.sh: $engine: not an executable (build it or set SHOAL_ENGINE)" >&2
	exit 2
fi

passed=0
failed=0
for conf in "$here"/cases/*.conf; do
	if [ ! -f "$conf" ]; then
		echo "run_errors.sh: no cases in $here/cases" >&2
		exit 2
	fi
	name=$(basename "$conf" .conf)
	expect=$(sed -n '1s/^; expect: //p' "$conf")
	line=${expect%%:*}
	reason=${expect#*: }
	case $line in
	'' | *[!0-9]*)
		echo "FAIL $name: first line must be '; expect: LINE: reason'"
		failed=$((failed + 1))
		continue
		;;
	esac

	# stderr only; the timeout guards against a file that wrongly passes
	# and lets the engine go on into EAL start-up.
	err=$(timeout 10 "$engine" -c "$conf" 2>&1 >/dev/null)
	status=$?
	if [ "$status" -eq 0 ]; then
		why="exit status 0"
	else
		case $err in
		*"$conf:$line: "*"$reason"*) why= ;;
		*) why="want '$conf:$line: ...$reason'" ;;
		esac
	fi
	if [ -z "$why" ]; then
		echo "ok   $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name: $why; got (status $status): $err"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
