# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the tests/live and tests/restart scripts, from the repository
# root: root and `ip netns` or exit 77; the three programs (build/ under
# the repository, or BUILD_DIR, or SHOAL_ENGINE / SHOALCTLD / SHOALCTL) or
# fail; then scripts/topo.sh, ok/ko/ctl and start_ctld (ctl talks to
# $SOCK, start_ctld logs to $TMP: the script sets both).
REPO=$PWD
[ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1 || { echo "0 passed, 0 failed, 1 skipped"; exit 77; }
BUILD=${BUILD_DIR:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
ENGINE=${SHOAL_ENGINE:-$BUILD/engine/shoal-engine}
CTLD=${SHOALCTLD:-$BUILD/ctl/ctld/shoal-ctld}
CTL=${SHOALCTL:-$BUILD/ctl/cli/shoalctl}
for b in "$ENGINE" "$CTLD" "$CTL"; do
	[ -x "$b" ] || { echo "missing $b"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
done
. scripts/topo.sh

# One line per check; the counts for the summary line.
passed=0 failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
ko() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
ctl() { "$CTL" -s "$SOCK" "$@"; }

# start_ctld CONF [NETNS]: shoal-ctld on CONF, in NETNS if given, logging
# to $TMP/ctld.log; sets CTLD_PID (the daemon's own: no wrapper function
# in between); true once it answers on $SOCK, within 5 s.
start_ctld() {
	if [ -n "${2:-}" ]; then
		ip netns exec "$2" "$CTLD" -c "$1" >>"$TMP/ctld.log" 2>&1 &
	else
		"$CTLD" -c "$1" >>"$TMP/ctld.log" 2>&1 &
	fi
	CTLD_PID=$!
	for _ in $(seq 50); do [ -S "$SOCK" ] && ctl status >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
