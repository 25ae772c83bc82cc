#!/bin/bash
# shoal benchmark: the engine against a baseline measured in the same run.
# Every case prints the engine's figure, the baseline's and their ratio;
# each is the median of RUNS runs (instruction counts: one run, they do
# not drift). docs/PERFORMANCE.md explains the cases and holds results.
#
#   established flows  a pcap of 64-byte UDP packets over N flows replayed
#                      forever (net_pcap infinite_rx=1) into the inside
#                      port, outside port net_null; after a warm-up (which
#                      creates the N flows) the packets sent on the outside
#                      port are counted over a window through DPDK
#                      telemetry. Baseline: dpdk-testpmd
#                      --forward-mode=5tswap on the same pcap and devices.
#   new flows          every packet a new flow, against a large lease and
#                      against a lease 90% full (flows set up per second).
#   instructions       callgrind's instructions per packet, engine and
#                      testpmd, on the established-flows replay.
#   vs nftables        Linux nftables SNAT and the engine on one veth
#                      topology with one generator (scripts/lib/vskernel.sh).
#   memory             the engine's bytes per flow at the largest N.
#
# Usage: scripts/bench.sh [--quick] [--huge] [--runs R] [--window SECONDS]
#                         [--flows N[,N...]] [--cases C[,C...]]
# Cases: established (with memory), new, icount, kernel; default all.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

USAGE="usage: $0 [--quick] [--huge] [--runs R] [--window S] [--flows N[,N...]] [--cases C[,C...]]"
RUNS=3 WINDOW=5 WARMUP=2 FLOWS=1000,65536,1000000 NEW_FLOWS=1000000
FULL_PORTS=4096 ICOUNT_FLOWS=1000,65536 ICOUNT_SECONDS=4
CASES=established,new,icount,kernel
KERNEL_FLOWS=65536 HUGE=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick)
		RUNS=1 WINDOW=2 WARMUP=1 FLOWS=1000,65536 NEW_FLOWS=200000
		FULL_PORTS=1024 ICOUNT_FLOWS=1000 ICOUNT_SECONDS=2 ;;
	--runs) RUNS=$2; shift ;;
	--window) WINDOW=$2; shift ;;
	--flows) FLOWS=$2; shift ;;
	--huge) HUGE=1 ;;
	--cases) CASES=$2; shift ;;
	*) echo "$USAGE" >&2; exit 2 ;;
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
# div A B DIGITS: A / B rounded, "-" when B is 0 or missing.
div() { $PY -c "import sys; a, b = sys.argv[1:3]; print(f'{float(a) / float(b):.${3}f}' if b and float(b) else '-')" "$1" "$2"; }
row() { printf '%-34s %14s %14s %7s\n' "$1" "$2" "$3" "$(div "$2" "$3" 2)"; }

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

# engine_conf PREFIX PCAP N PORTS: $TMP/engine.conf replaying PCAP (N
# flows) with one nat lease of PORTS on 198.51.100.10 for 10.0.0.0/8.
engine_conf() {
	cat >"$TMP/engine.conf" <<CONF
[engine]
eal = $EAL --file-prefix $1
mbufs = $(($3 + 16384))
[inside]
device = net_pcap0,rx_pcap=$2,infinite_rx=1
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
ports = $4
clients = 10.0.0.0/8
[nat]
max_flows = $(pow2 "$3")
CONF
}

echo "shoal bench: $(uname -r), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "DPDK $(pkg-config --modversion libdpdk), runs=$RUNS window=${WINDOW}s warmup=${WARMUP}s, median reported, $([ "$HUGE" = 1 ] && echo hugepages || echo '4 KiB pages (--no-huge)')"
printf '%-34s %14s %14s %7s\n' case engine baseline ratio

# has CASE: CASE was asked for.
has() { [[ ",$CASES," == *",$1,"* ]]; }

largest=0
has established || FLOWS=
for n in ${FLOWS//,/ }; do
	pcap=$TMP/flows-$n.pcap
	$PY scripts/lib/genpcap.py "$pcap" "$n"
	EAL=$(eal_for "$n")
	engine_conf sh-bench-eng "$pcap" "$n" 1024-65535
	eng=() base=()
	for _ in $(seq "$RUNS"); do
		base+=("$(baseline "$pcap" "$n")")
		eng+=("$(measure sh-bench-eng "$ENGINE" -c "$TMP/engine.conf")")
	done
	row "established, $n flows (pps)" "$(median "${eng[@]}")" "$(median "${base[@]}")"
	if [ "$n" -gt "$largest" ]; then
		largest=$n
		mem=$(sed -nE 's/.* ([0-9.]+) bytes per flow/\1/p' "$TMP/sh-bench-eng.log")
	fi
done

# new_flows LABEL FLOWS FIRST PORTS: a pcap of FLOWS never-seen flows
# (clients and ports distinct, 250 destinations) against one lease of
# PORTS; the engine's flows_created rate while it creates flows FIRST.. of
# the first pass (newflows.py: the middle 80% of the FLOWS - FIRST that
# follow), next to testpmd's packet rate on the same pcap (testpmd keeps
# no state: the ratio says what a flow set-up costs in packets).
new_flows() {
	local label=$1 nf=$2 first=$3 ports=$4 pcap eng=() base=()
	pcap=$TMP/new-$nf.pcap
	$PY scripts/lib/genpcap.py "$pcap" "$nf"
	EAL=$(eal_for "$nf")
	engine_conf sh-bench-new "$pcap" "$nf" "$ports"
	for _ in $(seq "$RUNS"); do
		base+=("$(baseline "$pcap" "$nf")")
		"$ENGINE" -c "$TMP/engine.conf" >"$TMP/sh-bench-new.log" 2>&1 </dev/null &
		PID=$!
		eng+=("$($PY scripts/lib/newflows.py sh-bench-new "$first" $((nf - first)) 120 || echo 0)")
		kill -INT "$PID"; wait "$PID" || true; PID=
		rm -rf /var/run/dpdk/sh-bench-new
	done
	rm -f "$pcap"
	row "$label (flows/s)" "$(median "${eng[@]}")" "$(median "${base[@]}")"
}
if has new; then
	new_flows "new flows, $NEW_FLOWS" "$NEW_FLOWS" 0 1024-65535
	# The lease 90% full: FULL_PORTS ports towards the pcap's 250
	# destinations hold FULL_PORTS * 250 flows (RFC 7857 port overlap: a port
	# is reused across destinations). The first 90% of that is created, then
	# the rate is measured over the next 5%: each set-up searches a lease
	# whose ports are 90-95% taken for that destination.
	cap=$((FULL_PORTS * 250))
	new_flows "new flows, lease 90% full" $((cap * 95 / 100)) $((cap * 90 / 100)) \
		1024-$((1023 + FULL_PORTS))
fi

# Instructions per packet (callgrind, see scripts/lib/icount.py): the
# busiest thread's instructions over the packets it received, for the
# engine and for testpmd on the same pcap. Lower is better: the ratio is
# engine / testpmd. Independent of the machine's load, so a regression
# shows even where the packet rates above drift.
has icount || ICOUNT_FLOWS=
for n in ${ICOUNT_FLOWS//,/ }; do
	pcap=$TMP/flows-$n.pcap
	[ -f "$pcap" ] || $PY scripts/lib/genpcap.py "$pcap" "$n"
	EAL=$(eal_for "$n")
	engine_conf sh-bench-ic "$pcap" "$n" 1024-65535
	e=$($PY scripts/lib/icount.py sh-bench-ic "$ICOUNT_SECONDS" -- \
		"$ENGINE" -c "$TMP/engine.conf")
	rm -rf /var/run/dpdk/sh-bench-ic
	b=$($PY scripts/lib/icount.py sh-bench-ictp "$ICOUNT_SECONDS" -- \
		dpdk-testpmd $EAL --file-prefix sh-bench-ictp \
		--vdev "net_pcap0,rx_pcap=$pcap,infinite_rx=1" --vdev net_null0,no-rx=1 \
		-- --forward-mode=5tswap --nb-cores=1 --no-lsc-interrupt \
		--stats-period=3600 --total-num-mbufs=$((n + 16384)))
	rm -rf /var/run/dpdk/sh-bench-ictp
	row "instructions/packet, $n flows" "$e" "$b"
done

# Against the kernel: nftables SNAT and the engine on the same veth
# topology with the same generator (scripts/lib/vskernel.sh).
if has kernel; then
	pcap=$TMP/flows-$KERNEL_FLOWS.pcap
	[ -f "$pcap" ] || $PY scripts/lib/genpcap.py "$pcap" "$KERNEL_FLOWS"
	# Its per-run evidence (CPU split, SNAT source check) is shown only
	# when it fails: run it alone to see it.
	bash scripts/lib/vskernel.sh "$ENGINE" "$pcap" "$RUNS" "$WINDOW" "$WARMUP" \
		>"$TMP/vskernel.out" 2>"$TMP/vskernel.log" ||
		{ cat "$TMP/vskernel.log" >&2; exit 1; }
	read -r _ k_pps k_cpu k_off < <(grep '^nftables ' "$TMP/vskernel.out")
	read -r _ e_pps e_cpu e_off < <(grep '^engine ' "$TMP/vskernel.out")
	row "vs nftables, delivered (pps)" "$e_pps" "$k_pps"
	row "vs nftables, CPU s/Mpkt" "$e_cpu" "$k_cpu"
	row "vs nftables, pkts/CPU-s" "$(div 1000000 "$e_cpu" 0)" \
		"$(div 1000000 "$k_cpu" 0)"
	echo "  (generator offered $e_off pps to the engine, $k_off pps to nftables;" \
		"$KERNEL_FLOWS flows)"
fi

# The engine states its table's cost at start-up (nat_table_bytes()).
if [ "$largest" -gt 0 ]; then
	row "memory, $largest flows (B/flow)" "$mem" 128
	echo "(memory: the baseline column is the target; ratio <= 1 meets it)"
fi
