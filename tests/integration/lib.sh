# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# Helpers for the integration tests. run.sh builds one topology
# (scripts/topo.sh), starts one shoal-engine and the servers, then runs
# every NN_*.sh test as a child process with this environment:
#
#   SHOAL_TAG          topology tag: namespaces $SHOAL_TAG-{client,engine,router,server}
#   SHOAL_PREFIX       the engine's EAL --file-prefix (telemetry socket)
#   SHOAL_ENGINE_PID   the engine's PID
#   SHOAL_WORK         run directory: engine.log, srv/ (server logs),
#                      s0.pcap (everything the server received),
#                      huge.err (why the engine has no hugepages, if so)
#   SHOAL_HUGE_DIR     the engine's hugetlbfs (unset: on 4 KiB pages)
#
# A test prints what it does, exits 0 (pass), 1 (fail) or 77 (skip).
# Every wait is bounded; a test undoes what it changed (trap), even when
# it fails, so later tests see the topology as run.sh built it.

set -u
INTEG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$INTEG_DIR/../.." && pwd)
. "$REPO/scripts/topo.sh"
. "$REPO/scripts/lib/servers.sh"
topo_names "$SHOAL_TAG"
SRV=$SHOAL_WORK/srv
PY=/usr/bin/python3
NAT_LO=10000 NAT_HI=10999
# The leases of TOPO_CLIENT_EIF and TOPO_CLIENT_APDM (scripts/topo.sh).
NAT_MODES_LO=11100 NAT_MODES_HI=11299

# Per-test scratch directory, removed on exit. Tests that set their own
# EXIT trap call lib_cleanup from it.
T=$(mktemp -d "$SHOAL_WORK/t.XXXXXX")
lib_cleanup() {
	capture_stop
	servers_stop
	rm -rf "$T"
}
trap lib_cleanup EXIT
# A test stopped by run.sh (or its timeout) still runs its EXIT trap.
trap 'exit 143' TERM
trap 'exit 130' INT

say() { echo "$*"; }
fail() {
	echo "FAIL: $*"
	exit 1
}
skip() {
	echo "SKIP: $*"
	exit 77
}

in_c() { ip netns exec "$NS_C" "$@"; }
in_e() { ip netns exec "$NS_E" "$@"; }
in_r() { ip netns exec "$NS_R" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }

engine_alive() { kill -0 "$SHOAL_ENGINE_PID" 2>/dev/null; }

# All engine counters as "name value" lines (DPDK telemetry).
counters() {
	"$PY" "$REPO/scripts/lib/telemetry.py" "$SHOAL_PREFIX" /shoal/stats |
		"$PY" -c 'import json,sys
for k, v in json.load(sys.stdin)["/shoal/stats"].items(): print(k, v)'
}
# Value of one counter; "missing" if the engine has no counter by that name.
cnt() {
	local v
	v=$(counters | awk -v n="$1" '$1 == n { print $2 }')
	echo "${v:-missing}"
}
# Snapshot into a file, then delta FILE NAME = now - snapshot.
snap() { counters >"$1"; }
delta() {
	local before now
	before=$(awk -v n="$2" '$1 == n { print $2 }' "$1")
	now=$(cnt "$2")
	[ -n "$before" ] && [ "$now" != missing ] || {
		echo missing
		return
	}
	echo $((now - before))
}
# Fail unless every named counter exists (the engine knows it).
need_counters() {
	local c all
	all=$(counters) || fail "telemetry did not answer"
	for c in "$@"; do
		echo "$all" | awk -v n="$c" '$1 == n { f = 1 } END { exit !f }' ||
			fail "engine has no counter '$c'"
	done
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# until_ok SECONDS CMD... : run CMD every 0.1 s until it succeeds or
# SECONDS pass. Prints the milliseconds from the call to the start of the
# attempt that succeeded; returns 1 if none did.
until_ok() { _until 0 "$@"; }
# until_fail SECONDS CMD... : the same, until CMD fails.
until_fail() { _until 1 "$@"; }
_until() {
	local want=$1 limit=$(($2 * 1000)) t0 ta rc
	shift 2
	t0=$(now_ms)
	while :; do
		ta=$(now_ms)
		"$@" >/dev/null 2>&1
		rc=$?
		if { [ $want = 0 ] && [ $rc = 0 ]; } || { [ $want = 1 ] && [ $rc != 0 ]; }; then
			echo $((ta - t0))
			return 0
		fi
		[ $(($(now_ms) - t0)) -ge $limit ] && return 1
		sleep 0.1
	done
}

# One echo from the client to the server, from client address $1
# (default 10.0.0.2), answer within $2 seconds (default 1).
ping1() {
	in_c ping -n -q -c 1 -W "${2:-1}" -I "${1:-10.0.0.2}" "$TOPO_SERVER" >/dev/null 2>&1
}

# snmp NS GROUP FIELD : one counter of /proc/net/snmp in namespace NS,
# e.g. snmp "$NS_E" Ip InReceives.
snmp() {
	ip netns exec "$1" cat /proc/net/snmp | awk -v g="$2:" -v f="$3" '
		$1 == g && !h { for (i = 2; i <= NF; i++) if ($i == f) c = i; h = 1; next }
		$1 == g && c { print $c }'
}

in_range() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
