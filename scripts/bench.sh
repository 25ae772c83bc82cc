#!/bin/bash
# shoal benchmark: the engine against a baseline measured in the same run.
#
# Case "established flows": a pcap of 64-byte UDP packets over N flows is
# replayed forever (net_pcap infinite_rx=1) into the inside port; the
# outside port is net_null. After a warm-up (which also creates the N
# flows), the packets sent on the outside port are counted over a fixed
# window through DPDK telemetry. Baseline: dpdk-testpmd --forward-mode=5tswap
# on the same pcap and devices (--stats-period keeps it running without a
# terminal). Each measurement runs RUNS times; the
# median is reported with the ratio engine/baseline.
#
# Case "new flows": see below. Case "memory": the engine's bytes per flow.
#
# Usage: scripts/bench.sh [--quick] [--huge] [--runs R] [--window SECONDS] [--flows N[,N...]]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=3 WINDOW=5 WARMUP=2 FLOWS=1000,65536,1000000 NEW_FLOWS=1000000 HUGE=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick) RUNS=1 WINDOW=2 WARMUP=1 FLOWS=1000,65536 NEW_FLOWS=200000 ;;
	--runs) RUNS=$2; shift ;;
	--window) WINDOW=$2; shift ;;
	--flows) FLOWS=$2; shift ;;
	--huge) HUGE=1 ;;
	*) echo "usage: $0 [--quick] [--huge] [--runs R] [--window S] [--flows N[,N...]]" >&2; exit 2 ;;
	esac
	shift
done

bash scripts/deps.sh
BUILD=build-bench
[ -f $BUILD/build.ninja ] || meson setup $BUILD -Dbuildtype=release -Dtests=false >/dev/null
ninja -C $BUILD >/dev/null
ENGINE=$ROOT/$BUILD/engine/shoal-engine
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/shoal-bench.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill -INT "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# Packets sent on port 1 over the window, per second. $1 = file prefix.
sample() { $PY scripts/lib/telemetry.py "$1" /ethdev/stats,1 |
	$PY -c 'import json,sys; print(json.load(sys.stdin)["/ethdev/stats"]["opackets"])'; }

# measure PREFIX CMD... : start CMD, warm up, count a window, stop; prints pps.
measure() {
	local prefix=$1 t0 t1 p0 p1
	shift
	"$@" >"$TMP/$prefix.log" 2>&1 </dev/null &
	PID=$!
	# Start-up (memory set-up, pcap load) takes seconds and varies with
	# load: wait until packets flow, bounded, then warm up.
	for _ in $(seq 300); do
		[ "$(sample "$prefix" 2>/dev/null || echo 0)" -gt 0 ] && break
		kill -0 "$PID" 2>/dev/null || { cat "$TMP/$prefix.log" >&2; exit 1; }
		sleep 0.1
	done
	sleep "$WARMUP"
	p0=$(sample "$prefix"); t0=$(date +%s.%N)
	sleep "$WINDOW"
	p1=$(sample "$prefix"); t1=$(date +%s.%N)
	kill -INT "$PID"; wait "$PID" || true; PID=
	rm -rf "/var/run/dpdk/$prefix"
	$PY -c "print(round(($p1 - $p0) / ($t1 - $t0)))"
}

# Smallest power of two >= max(N, 65536): the table's natural size.
pow2() { local p=65536; while [ "$p" -lt "$1" ]; do p=$((p * 2)); done; echo $p; }

# baseline PCAP N: testpmd 5tswap packets/s on the same pcap and devices
# (--stats-period keeps it running without a terminal).
baseline() {
	measure sh-bench-tpmd dpdk-testpmd $EAL --file-prefix sh-bench-tpmd \
		--vdev "net_pcap0,rx_pcap=$1,infinite_rx=1" --vdev net_null0,no-rx=1 \
		-- --forward-mode=5tswap --nb-cores=1 --no-lsc-interrupt --stats-period=3600 \
		--total-num-mbufs=$(($2 + 16384))
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# EAL memory for N flows: the replayed pcap lives in mbufs (~2.3 KB each)
# and the flow table in DPDK memory too.
# --huge: hugepages, which must be mounted and reserved beforehand
# (docs/PERFORMANCE.md); both programs then allocate from them on demand.
eal_for() {
	if [ "$HUGE" = 1 ]; then
		echo "-l 0-1 --no-pci --log-level=*:error"
	else
		echo "-l 0-1 --no-huge -m $((1024 + $1 * 4 / 1000)) --no-pci --log-level=*:error"
	fi
}
echo "shoal bench: $(uname -r), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "DPDK $(pkg-config --modversion libdpdk), runs=$RUNS window=${WINDOW}s warmup=${WARMUP}s, median reported, $([ "$HUGE" = 1 ] && echo hugepages || echo '4 KiB pages (--no-huge)')"
printf '%-28s %14s %14s %7s\n' case engine baseline ratio

largest=0
for n in ${FLOWS//,/ }; do
	pcap=$TMP/flows-$n.pcap
	$PY scripts/lib/genpcap.py "$pcap" "$n"
	EAL=$(eal_for "$n")
	cat >"$TMP/engine.conf" <<CONF
[engine]
eal = $EAL --file-prefix sh-bench-eng
mbufs = $((n + 16384))
[inside]
device = net_pcap0,rx_pcap=$pcap,infinite_rx=1
next_hop_mac = 02:00:00:00:00:02
exception = none
[outside]
device = net_null0,no-rx=1
next_hop_mac = 02:00:00:00:00:fe
exception = none
[slices]
198.51.100.10 = 1024-65535
[lease.bench]
kind = nat
ip = 198.51.100.10
ports = 1024-65535
clients = 10.0.0.0/8
[nat]
max_flows = $(pow2 "$n")
CONF
	eng=() base=()
	for _ in $(seq "$RUNS"); do
		base+=("$(baseline "$pcap" "$n")")
		eng+=("$(measure sh-bench-eng "$ENGINE" -c "$TMP/engine.conf")")
	done
	e=$(median "${eng[@]}") b=$(median "${base[@]}")
	printf '%-28s %14s %14s %7s\n' "established, $n flows (pps)" "$e" "$b" \
		"$($PY -c "print(f'{$e / $b:.2f}')")"
	if [ "$n" -gt "$largest" ]; then
		largest=$n
		mem=$(sed -nE 's/.* ([0-9.]+) bytes per flow/\1/p' "$TMP/sh-bench-eng.log")
	fi
done
# New flows: a pcap of NEW_FLOWS flows never seen before, against the
# whole slice as one lease; the engine's flows_created rate over the
# middle 80% of the first pass, next to testpmd's packet rate on the same
# pcap (testpmd keeps no state: every packet costs it the same).
nf=$NEW_FLOWS
pcap=$TMP/new-$nf.pcap
$PY scripts/lib/genpcap.py "$pcap" "$nf"
EAL=$(eal_for "$nf")
sed -i -e "s|^eal = .*|eal = $EAL --file-prefix sh-bench-new|" \
	-e "s|^mbufs = .*|mbufs = $((nf + 16384))|" \
	-e "s|^device = net_pcap0.*|device = net_pcap0,rx_pcap=$pcap,infinite_rx=1|" \
	-e "s|^max_flows = .*|max_flows = $(pow2 "$nf")|" "$TMP/engine.conf"
eng=() base=()
for _ in $(seq "$RUNS"); do
	base+=("$(baseline "$pcap" "$nf")")
	"$ENGINE" -c "$TMP/engine.conf" >"$TMP/sh-bench-new.log" 2>&1 </dev/null &
	PID=$!
	eng+=("$($PY scripts/lib/newflows.py sh-bench-new "$nf" 120 || echo 0)")
	kill -INT "$PID"; wait "$PID" || true; PID=
	rm -rf /var/run/dpdk/sh-bench-new
done
e=$(median "${eng[@]}") b=$(median "${base[@]}")
printf '%-28s %14s %14s %7s\n' "new flows, $nf (flows/s)" "$e" "$b" \
	"$($PY -c "print(f'{$e / $b:.2f}')")"

# The engine states its table's cost at start-up (nat_table_bytes()).
printf '%-28s %14s %14s %7s\n' "memory, $largest flows (B/flow)" "$mem" "128 (target)" \
	"$($PY -c "print(f'{$mem / 128:.2f}')")"
