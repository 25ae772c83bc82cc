#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The install tests: `meson install` of the build into a staging directory
# (DESTDIR, a unique temp dir), then, against what was staged:
#   check_files.sh       every file is where it belongs; programs answer
#                        --version; the example config passes --check; a
#                        reinstall keeps an edited config
#   check_man.sh         the man pages render with man -l, no warnings
#   check_units.sh       systemd-analyze verify of the units, with the
#                        staged tree overlaid on the prefix
#   test_notify_engine   sd_notify protocol and the worker watchdog
#   test_notify_ctld     sd_notify protocol of the daemon
#   test_capabilities    the programs need no more than the units' sets
# One line per test, then "N passed, N failed, N skipped". Exit 1 if any
# test failed, 77 if not root. The build is SHOAL_BUILD (default: build/
# under the repository root), built if needed.

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export PYTHONDONTWRITEBYTECODE=1
[ "$(id -u)" = 0 ] || { echo "tests/install: needs root" >&2; exit 77; }
build=${SHOAL_BUILD:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac

. "$here/../lib/runner.sh"
stage=$(mktemp -d "${TMPDIR:-/tmp}/shoal-install.XXXXXX")
log=$(mktemp "${TMPDIR:-/tmp}/shoal-install-test.XXXXXX")
cleanup() {
	runner_stop
	rm -rf "$stage" "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! meson install -C "$build" --destdir "$stage" >"$log" 2>&1; then
	cat "$log" >&2
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

# The build's install dirs (relative ones are under the prefix), staged.
opt() {
	meson introspect "$build" --buildoptions |
		jq -r --arg n "$1" '.[] | select(.name == $n) | .value'
}
prefix=$(opt prefix)
dir() {
	local d
	d=$(opt "$1")
	[ -n "$d" ] || d=$2
	case $d in /*) echo "$d" ;; *) echo "$prefix/$d" ;; esac
}
export SHOAL_STAGE=$stage SHOAL_PREFIX=$prefix
export SHOAL_STAGED_BINDIR=$stage$(dir bindir)
export SHOAL_STAGED_SBINDIR=$stage$(dir sbindir)
export SHOAL_STAGED_SYSCONFDIR=$stage$(dir sysconfdir)
export SHOAL_STAGED_DATADIR=$stage$(dir datadir)
export SHOAL_STAGED_MANDIR=$stage$(dir mandir)
export SHOAL_STAGED_UNITDIR=$stage$(dir systemdunitdir lib/systemd/system)
export SHOAL_STAGED_SYSUSERSDIR=$stage$(dir sysusersdir lib/sysusers.d)
export SHOAL_STAGED_TMPFILESDIR=$stage$(dir tmpfilesdir lib/tmpfiles.d)
export SHOAL_BUILD=$build

run_test check_files "$log" 120 bash "$here/check_files.sh"
run_test check_man "$log" 60 bash "$here/check_man.sh"
run_test check_units "$log" 60 bash "$here/check_units.sh"
for t in "$here"/test_*.py; do
	run_test "$(basename "$t" .py)" "$log" 200 /usr/bin/python3 "$t"
done
runner_summary
