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
# `$SHOAL_ENGINE --check -c FILE` must refuse it the same way, and pass
# the shipped conf/shoal.conf (exit 0, "FILE: ok"); so must shoal-ctld's
# --check (SHOALCTLD, when it is built). Every program answers --version.
#
# SHOAL_ENGINE defaults to build/engine/shoal-engine under the repository.
# Prints one "ok"/"FAIL" line per case, then "N passed, N failed"; exits 1
# if any case failed, 2 if the engine or the cases are missing.

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
engine=${SHOAL_ENGINE:-$root/build/engine/shoal-engine}
ctld=${SHOALCTLD:-$(dirname "$engine")/../ctl/ctld/shoal-ctld}
cli=${SHOALCTL:-$(dirname "$engine")/../ctl/cli/shoalctl}

if [ ! -x "$engine" ]; then
	echo "run_errors.sh: $engine: not an executable (build it or set SHOAL_ENGINE)" >&2
	exit 2
fi

passed=0
failed=0
# result NAME WHY GOT: ok when WHY is empty, else FAIL with WHY and GOT.
result() {
	if [ -z "$2" ]; then
		echo "ok   $1"
		passed=$((passed + 1))
	else
		echo "FAIL $1: $2; got $3"
		failed=$((failed + 1))
	fi
}
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

	for mode in start check; do
		# stderr only; the timeout guards against a file that wrongly
		# passes and lets the engine go on into EAL start-up.
		if [ $mode = start ]; then
			err=$(timeout 10 "$engine" -c "$conf" 2>&1 >/dev/null)
		else
			err=$(timeout 10 "$engine" --check -c "$conf" 2>&1 >/dev/null)
		fi
		status=$?
		if [ "$status" -eq 0 ]; then
			why="exit status 0"
		else
			case $err in
			*"$conf:$line: "*"$reason"*) why= ;;
			*) why="want '$conf:$line: ...$reason'" ;;
			esac
		fi
		result "$name ($mode)" "$why" "(status $status): $err"
	done
done

# The shipped configuration passes both programs' --check.
good=$root/conf/shoal.conf
out=$(timeout 10 "$engine" --check -c "$good" 2>&1)
status=$?
[ "$status" -eq 0 ] && [ "$out" = "$good: ok" ] && why= || why="not accepted"
result "engine --check conf/shoal.conf" "$why" "(status $status): $out"
if [ -x "$ctld" ]; then
	out=$(timeout 10 "$ctld" --check -c "$good" 2>&1)
	status=$?
	[ "$status" -eq 0 ] && [ "$out" = "$good: ok" ] && why= || why="not accepted"
	result "ctld --check conf/shoal.conf" "$why" "(status $status): $out"
	bad=$here/cases/$(ls "$here/cases" | head -n 1)
	out=$(timeout 10 "$ctld" --check -c "$bad" 2>&1)
	status=$?
	case $status:$out in
	0:*) why="exit status 0" ;;
	*"$bad:"[0-9]*": "*) why= ;;
	*) why="no '$bad:LINE: reason'" ;;
	esac
	result "ctld --check refuses a bad file" "$why" "(status $status): $out"
fi

# --version: the software version from meson.build, exit 0.
want=$(sed -nE "s/^  version : '([^']+)',/\1/p" "$root/meson.build")
for prog in "$engine" "$ctld" "$cli"; do
	[ -x "$prog" ] || continue
	out=$("$prog" --version 2>&1)
	status=$?
	case $out in
	"$(basename "$prog") $want "*) why= ;;
	*) why="want '$(basename "$prog") $want ...'" ;;
	esac
	[ "$status" -eq 0 ] || why="exit status $status"
	result "$(basename "$prog") --version" "$why" "(status $status): $out"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
