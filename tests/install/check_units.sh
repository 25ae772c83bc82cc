#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# systemd-analyze verify of the staged units. verify checks that the
# ExecStart= programs exist and runs man for Documentation=, so in a
# private mount namespace the staged prefix is overlaid (overlayfs, read
# only) on the real one, where the units will be: systemd 252's --root
# would look for /bin/kill and the standard targets inside the stage too.
# verify must print nothing (it reports a bad value as a warning and
# still exits 0). A unit spoiled on purpose must fail the same check, so
# the check is shown to be able to fail. Last, systemd-analyze security's
# exposure score of each unit, which must not get worse than today's.
set -euo pipefail
S=$SHOAL_STAGE P=$SHOAL_PREFIX
fail() { echo "FAIL: $*"; exit 1; }
units=$(cd "$SHOAL_STAGED_UNITDIR" && ls shoal-*.service)
unitdir=${SHOAL_STAGED_UNITDIR#"$S"}
[ -d "$P" ] || fail "prefix $P does not exist here: cannot overlay it"

bad=$(mktemp -d "${TMPDIR:-/tmp}/shoal-install-units.XXXXXX")
trap 'rm -rf "$bad"' EXIT
# One directory each: verify also loads the units a unit names (Wants=)
# from the directory it is in.
mkdir "$bad/engine" "$bad/ctld"
sed 's|^ExecStart=.*|ExecStart=/nonexistent/shoal-engine|' \
	"$SHOAL_STAGED_UNITDIR/shoal-engine.service" >"$bad/engine/shoal-engine.service"
sed 's|^WatchdogSec=.*|WatchdogSec=ten|' \
	"$SHOAL_STAGED_UNITDIR/shoal-ctld.service" >"$bad/ctld/shoal-ctld.service"

verify() {
	unshare -m /bin/sh -c 'mount -t overlay overlay -o "lowerdir=$1$2:$2" "$2" &&
		shift 2 && exec systemd-analyze verify "$@"' sh "$S" "$P" "$@" 2>&1
}
for u in $units; do
	out=$(verify "$unitdir/$u") || fail "$u: systemd-analyze verify: $out"
	[ -z "$out" ] || fail "$u: systemd-analyze verify: $out"
	echo "ok: systemd-analyze verify $unitdir/$u: clean"
done
for u in $bad/engine/shoal-engine.service $bad/ctld/shoal-ctld.service; do
	out=$(verify "$u") && [ -z "$out" ] && fail "spoiled $u passes verify"
	echo "ok: a spoiled $(basename "$u") fails verify: $(echo "$out" | head -1)"
done

# Exposure (0 best, 10 worst): the engine needs raw devices and network
# administration, so it stays well above the daemon, whose host network
# (AF_INET, no PrivateNetwork) is for [ctl] metrics.
for u in shoal-engine.service:5.0 shoal-ctld.service:2.5; do
	score=$(systemd-analyze security --offline=true --no-pager \
		"$SHOAL_STAGED_UNITDIR/${u%%:*}" 2>/dev/null |
		sed -nE 's/.*Overall exposure level for [^:]+: ([0-9.]+).*/\1/p')
	[ -n "$score" ] || fail "${u%%:*}: no exposure score"
	awk -v s="$score" -v m="${u##*:}" 'BEGIN { exit !(s <= m) }' ||
		fail "${u%%:*}: exposure $score, above ${u##*:}"
	echo "ok: ${u%%:*}: exposure $score (at most ${u##*:})"
done
