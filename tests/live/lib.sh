# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the tests/live scripts, from the repository root: root and
# `ip netns` or exit 77; the three programs (build/ under the repository,
# or BUILD_DIR, or SHOAL_ENGINE / SHOALCTLD / SHOALCTL) or fail; then
# scripts/topo.sh, and ok/ko/ctl (ctl talks to $SOCK, which the script
# sets).
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
