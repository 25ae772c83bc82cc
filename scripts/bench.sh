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
#   workers            the 1K-flow replay split over two queues by client
#                      owner (what RSS on the source address delivers):
#                      the engine with 1 and 2 workers, testpmd with 1 and
#                      2 forwarding cores, the scaling of each; and
#                      callgrind's instructions per packet with 2 workers,
#                      with none handed and for a handed-off packet.
#   vs nftables        Linux nftables SNAT and the engine on one veth
#                      topology with one generator (scripts/lib/vskernel.sh).
#   fleet              returns for a fleet peer's slice (docs/FLEET.md)
#                      replayed into the outside port: each carried to
#                      the peer in GUE; and the same returns in tunnel
#                      packets from the peer to a host that owns them:
#                      decapsulated and translated. Instructions per
#                      packet (callgrind) and packets/s of each, against
#                      the same returns translated as established flows
#                      (out2in) in the same run.
#   memory             the engine's bytes per flow at the largest N.
#   routes             route lookup cost with 10, 10K and 1M routes
#                      (bench/fib_bench.c: an Internet-shaped table,
#                      random destinations): callgrind's instructions per
#                      lookup and cycles per lookup; baseline: the
#                      10-route table in the same run.
#
# Usage: scripts/bench.sh [--quick] [--huge] [--runs R] [--window SECONDS]
#                         [--flows N[,N...]] [--cases C[,C...]] [--json FILE]
# Cases: established (with memory), new, icount, workers, kernel, routes,
# handover, fleet;
# default all. --json FILE also writes the table's rows to FILE as JSON
# (what the run was on, then one {"case", "engine", "baseline", "ratio"}
# per row, numbers or null where the table shows "-"), once every case
# has run; scripts/plot-bench.py draws one or more such files.
set -euo pipefail
CALLER=$PWD
cd "$(dirname "$0")/.."
ROOT=$PWD

USAGE="usage: $0 [--quick] [--huge] [--runs R] [--window S] [--flows N[,N...]] [--cases C[,C...]] [--json FILE]"
RUNS=3 WINDOW=5 WARMUP=2 FLOWS=1000,65536,1000000 NEW_FLOWS=1000000
FULL_PORTS=4096 ICOUNT_FLOWS=1000,65536 ICOUNT_SECONDS=4
WORKER_FLOWS=1000 FLEET_FLOWS=1000
CASES=established,new,icount,workers,kernel,routes,handover,fleet
HANDOVER_FLOWS=65536
ROUTE_COUNTS=10,10000,1048576
KERNEL_FLOWS=65536 HUGE=0 JSON=
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
	--json) [ $# -ge 2 ] || { echo "$USAGE" >&2; exit 2; }
		case $2 in /*) JSON=$2 ;; *) JSON=$CALLER/$2 ;; esac
		shift ;;
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
# The engine's state file ([engine] state) on tmpfs, as /run/shoal is on
# a host: on a disk file system its tables would be written back.
SHM=$(mktemp -d /dev/shm/shoal-bench.XXXXXX 2>/dev/null) || SHM=$TMP
PID=
cleanup() {
	[ -n "${CTL:-}" ] && kill "$CTL" 2>/dev/null
	[ -n "$PID" ] && kill -INT "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$TMP" "$SHM"
}
trap cleanup EXIT

# snap PID: per thread of PID, "TID NAME CPUS RUN_NS": the CPUs it may run
# on (EAL pins each lcore thread to its --lcores set) and the time it has
# run so far (schedstat).
snap() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "${t##*/} $(cat "$t/comm") $(sed -n 's/^Cpus_allowed_list:\t//p' \
			"$t/status") $(cut -d' ' -f1 "$t/schedstat")"
	done 2>/dev/null
}

# where PID SNAP0 SNAP1 SECONDS SHARE: where each lcore ran and, for
# workers, the share of the window it ran (under 100%: another thread
# took its CPU): "lcore 0 (main) cpu 0, lcore 1 cpu 0 ran 97%, lcore 2
# cpu 1 ran 99%". The workers' shares summed go to the file SHARE.
where() {
	awk -v pid="$1" -v dt="$4" -v out="$5" '
		NR == FNR { run[$1] = $4; next }
		$1 == pid { main = "lcore 0 (main) cpu " $3; next }
		$2 ~ /^rte-worker-/ {
			sub(/^rte-worker-/, "", $2)
			r = ($4 - run[$1]) / dt / 1e9
			share += r
			w = w sprintf(", lcore %s cpu %s ran %d%%", $2, $3, r * 100)
		}
		END { print main w; printf "%.3f\n", share > out }' <(echo "$2") <(echo "$3")
}

# Packets sent on port SAMPLE_PORT (default 1, the outside) so far. $1 =
# file prefix.
sample() { $PY scripts/lib/telemetry.py "$1" "/ethdev/stats,${SAMPLE_PORT:-1}" |
	$PY -c 'import json,sys; print(json.load(sys.stdin)["/ethdev/stats"]["opackets"])'; }

# Every engine run starts from empty tables: the state file keeps them
# across processes (docs/RESTART.md), and one case must not adopt the
# flows another created.
fresh_state() { rm -f "$SHM"/engine.state "$SHM"/engine.state.discarded; }

# measure PREFIX CMD... : start CMD, warm up, count a window, stop; prints
# pps. Where its lcores ran: $TMP/PREFIX.where and .share (see where()).
measure() {
	local prefix=$1 t0 t1 p0 p1 s0 s1
	shift
	fresh_state
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
	p0=$(sample "$prefix"); t0=$(date +%s.%N); s0=$(snap "$PID")
	sleep "$WINDOW"
	p1=$(sample "$prefix"); t1=$(date +%s.%N); s1=$(snap "$PID")
	where "$PID" "$s0" "$s1" "$($PY -c "print($t1 - $t0)")" "$TMP/$prefix.share" \
		>"$TMP/$prefix.where"
	kill -INT "$PID"; wait "$PID" || true; PID=
	rm -rf "/var/run/dpdk/$prefix"
	$PY -c "print(round(($p1 - $p0) / ($t1 - $t0)))"
}

# rx_pcaps A,B,...: net_pcap's arguments for one receive queue per pcap.
rx_pcaps() { local p out=; for p in ${1//,/ }; do out="$out${out:+,}rx_pcap=$p"; done; echo "$out"; }

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
# row CASE ENGINE BASELINE: a table line, and a line of $TMP/rows for --json.
row() {
	local ratio
	ratio=$(div "$2" "$3" 2)
	printf '%-34s %14s %14s %7s\n' "$1" "$2" "$3" "$ratio"
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$ratio" >>"$TMP/rows"
}

# eal_for N [LCORES]: EAL arguments for N flows on LCORES (default
# "-l 0-1": the main lcore on CPU 0, one worker lcore on CPU 1). The
# replayed pcap lives in mbufs (~2.3 KB each) and the flow table in DPDK
# memory too.
# --huge: hugepages, which must be mounted and reserved beforehand
# (docs/PERFORMANCE.md); both programs then allocate from them on demand.
eal_for() {
	local lcores=${2:-"-l 0-1"}
	if [ "$HUGE" = 1 ]; then
		echo "$lcores --no-pci --log-level=*:error"
	else
		echo "$lcores --no-huge -m $((1024 + $1 * 4 / 1000)) --no-pci --log-level=*:error"
	fi
}

# engine_conf PREFIX PCAPS N PORTS [WORKERS]: $TMP/engine.conf replaying
# PCAPS (N flows; several, comma-separated: one per queue and worker) with
# one nat lease of PORTS on 198.51.100.10 for 10.0.0.0/8.
# The lease is in the shared-port mode (address-and-port-dependent mapping
# and filtering), which these figures have always measured and which is
# what VPP's nat44-ed (endpoint-dependent) does. The default mode
# (endpoint-independent mapping, address-dependent filtering) costs the
# same per established packet, but a client endpoint's first flow also
# takes a binding and a permission entry (docs/DESIGN.md), so max_flows
# here would hold a third of the flows.
engine_conf() {
	cat >"$TMP/engine.conf" <<CONF
[engine]
eal = $EAL --file-prefix $1
state = $SHM/engine.state
mbufs = $(($3 + 16384))
workers = ${5:-1}
[inside]
device = net_pcap0,$(rx_pcaps "$2"),infinite_rx=1
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
mapping = address-and-port-dependent
filtering = address-and-port-dependent
[nat]
max_flows = $(pow2 "$3")
CONF
}

HOST="$(uname -r), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
SETUP="DPDK $(pkg-config --modversion libdpdk), runs=$RUNS window=${WINDOW}s warmup=${WARMUP}s, median reported, $([ "$HUGE" = 1 ] && echo hugepages || echo '4 KiB pages (--no-huge)')"
echo "shoal bench: $HOST"
echo "$SETUP"
: >"$TMP/rows"
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
		fresh_state
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
	fresh_state
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

# Workers: the WORKER_FLOWS replay split over two queues by client owner
# (scripts/lib/splitpcap.py; net_pcap has no RSS, so the split is what
# RSS on the source address would deliver: each queue holds only its
# worker's clients and nothing is handed off). The engine with one worker
# on the whole pcap and with two on the two queues; testpmd 5tswap with
# one and two forwarding cores on the two queues. On this 2-CPU VM one
# worker (or core) runs alone on CPU 1 beside the main lcore on CPU 0;
# with two, the main lcore shares CPU 0 with the first (it sleeps in
# poll() between netlink and control messages).
LCORES=([1]="--lcores 0@0,1@1" [2]="--lcores 0@0,1@0,2@1")

# tpmd_queues PREFIX PCAPS CORES: testpmd 5tswap packets/s with one
# receive queue per pcap and CORES forwarding lcores placed as the
# engine's workers (with two queues and two cores, each core polls one).
tpmd_queues() {
	measure "$1" dpdk-testpmd $(eal_for "$WORKER_FLOWS" "${LCORES[$3]}") \
		--file-prefix "$1" --vdev "net_pcap0,$(rx_pcaps "$2"),infinite_rx=1" \
		--vdev net_null0,no-rx=1 -- --forward-mode=5tswap --nb-cores="$3" \
		--rxq=2 --txq=2 --no-lsc-interrupt --stats-period=3600 \
		--total-num-mbufs=$((WORKER_FLOWS + 16384))
}

# icount_engine PREFIX CONF: "FIGURE rx_inside=R handoff_tx=H
# handoff_full=F", the workers' instructions per packet without the
# expiry sweep (icount.py --exclude: with two workers valgrind runs
# slower, and the time-paced sweep's share per packet with it).
icount_engine() {
	local ret=0
	fresh_state
	$PY scripts/lib/icount.py --stats --exclude nat_expire "$1" "$ICOUNT_SECONDS" -- \
		"$ENGINE" -c "$2" || ret=$?
	rm -rf "/var/run/dpdk/$1"
	return $ret
}

if has workers; then
	n=$WORKER_FLOWS
	pcap=$TMP/flows-$n.pcap
	[ -f "$pcap" ] || $PY scripts/lib/genpcap.py "$pcap" "$n"
	queues=$TMP/owned-0.pcap,$TMP/owned-1.pcap
	$PY scripts/lib/splitpcap.py "$pcap" 2 0 ${queues//,/ } >/dev/null
	# The same packets, each on the queue of the worker that does not own
	# it: every packet is handed to its owner (eh), what a NIC that cannot
	# steer by client gives about half the packets.
	handed=$TMP/handed-0.pcap,$TMP/handed-1.pcap
	$PY scripts/lib/splitpcap.py "$pcap" 2 1 ${handed//,/ } >/dev/null
	# NAME WORKERS PCAPS: $TMP/NAME.conf
	while read -r name w pcaps; do
		EAL=$(eal_for "$n" "${LCORES[w]}")
		engine_conf "sh-bench-$name" "$pcaps" "$n" 1024-65535 "$w"
		mv "$TMP/engine.conf" "$TMP/$name.conf"
	done <<-CONFS
		e1 1 $pcap
		e2 2 $queues
		eh 2 $handed
	CONFS
	# Per program and lcore count (t1 t2 e1 e2 eh): packets/s, and packets
	# per second of CPU its forwarding lcores got (others on these 2 CPUs
	# take some: where() measures it).
	declare -A pps=() eff=()
	for _ in $(seq "$RUNS"); do
		for c in t1 e1 t2 e2 eh; do
			if [ "${c:0:1}" = t ]; then
				r=$(tpmd_queues sh-bench-$c "$queues" "${c:1}")
			else
				r=$(measure sh-bench-$c "$ENGINE" -c "$TMP/$c.conf")
			fi
			pps[$c]+=" $r"
			eff[$c]+=" $(div "$r" "$(cat "$TMP/sh-bench-$c.share")" 0)"
		done
	done
	for c in t1 e1 t2 e2 eh; do
		pps[$c]=$(median ${pps[$c]}) eff[$c]=$(median ${eff[$c]})
	done
	row "1 worker, $n flows (pps)" "${pps[e1]}" "${pps[t1]}"
	row "2 workers, $n flows (pps)" "${pps[e2]}" "${pps[t2]}"
	row "scaling, 2 workers / 1" "$(div "${pps[e2]}" "${pps[e1]}" 2)" \
		"$(div "${pps[t2]}" "${pps[t1]}" 2)"
	row "1 worker, pkts per CPU-second" "${eff[e1]}" "${eff[t1]}"
	row "2 workers, pkts per CPU-second" "${eff[e2]}" "${eff[t2]}"
	row "2 workers, every packet handed (pps)" "${pps[eh]}" "${pps[e2]}"
	echo "  (baseline: testpmd, 1 and 2 forwarding cores; target: engine scaling >= 1.6;"
	echo "   per CPU-second: packets over the CPU time the forwarding lcores got;"
	echo "   handed: baseline the engine's 2 workers with nothing handed)"
	echo "  (last run: engine, 1 worker:  $(cat "$TMP/sh-bench-e1.where"))"
	echo "  (          engine, 2 workers: $(cat "$TMP/sh-bench-e2.where"))"
	echo "  (          testpmd, 1 core:   $(cat "$TMP/sh-bench-t1.where"))"
	echo "  (          testpmd, 2 cores:  $(cat "$TMP/sh-bench-t2.where"))"

	# Instructions per packet for a handed-off packet: each queue holds
	# only the other worker's clients, so every packet is handed to its
	# owner and both workers hand and translate alike (an idle worker
	# would count its empty polls). Valid if every packet was handed bar
	# at most 1% dropped for a full ring (valgrind runs one worker at a
	# time, some 4000 packets per turn, against rings of 4096).
	r1=$(icount_engine sh-bench-e1 "$TMP/e1.conf")
	r2=$(icount_engine sh-bench-e2 "$TMP/e2.conf")
	rh=$(icount_engine sh-bench-eh "$TMP/eh.conf")
	read -r x1 _ <<<"$r1"
	read -r x2 _ <<<"$r2"
	read -r xh rx ho full <<<"$rh"
	rx=${rx#*=} ho=${ho#*=} full=${full#*=}
	if [ "$ho" -ge $((rx * 99 / 100)) ]; then
		dx=$($PY -c "print(round($xh - $x2, 1))")
	else
		xh=- dx=-
	fi
	row "instructions/packet, 2 workers" "$x2" "$x1"
	row "instructions/packet, handed off" "$xh" "$x1"
	echo "  (baseline: 1 worker; without the expiry sweep. A handed packet costs $dx"
	echo "   more than one its worker keeps; $ho of $rx handed, $full dropped: ring full)"
fi

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

# Route lookups against the table's size (bench/fib_bench.c). The
# instruction count is exact (callgrind instruments only the lookups; the
# build runs natively); cycles are the fastest of 5 rounds on random
# destinations, each a cache miss on the 32 MiB tbl24 whatever the size.
# The baseline column is the first (smallest) table.
if has routes; then
	fibb=$ROOT/$BUILD/engine/fib-bench
	declare -A fib_ir
	for n in ${ROUTE_COUNTS//,/ }; do
		valgrind --tool=callgrind --instr-atstart=no --toggle-collect=lookups \
			--callgrind-out-file="$TMP/fib-$n.cg" "$fibb" --icount "$n" \
			>"$TMP/fib-$n.out" 2>"$TMP/fib-$n.log" ||
			{ cat "$TMP/fib-$n.log" >&2; exit 1; }
		k=$(sed -nE 's/^routes [0-9]+ lookups ([0-9]+).*/\1/p' "$TMP/fib-$n.out")
		fib_ir[$n]=$(div "$(sed -nE 's/^totals: ([0-9]+)/\1/p' "$TMP/fib-$n.cg")" "$k" 1)
	done
	"$fibb" "$ROUTE_COUNTS" >"$TMP/fib-cycles.out"
	fib_field() { sed -nE "s/^routes $1 (.* )?$2 ([0-9.]+).*/\2/p" "$TMP/fib-cycles.out"; }
	b=${ROUTE_COUNTS%%,*}
	for n in ${ROUTE_COUNTS//,/ }; do
		row "routes, $n: instr/lookup" "${fib_ir[$n]}" "${fib_ir[$b]}"
	done
	for n in ${ROUTE_COUNTS//,/ }; do
		row "routes, $n: cycles/lookup" "$(fib_field "$n" lookup_cycles)" \
			"$(fib_field "$b" lookup_cycles)"
	done
	for n in ${ROUTE_COUNTS//,/ }; do
		echo "  ($n routes: built in $(fib_field "$n" build_s) s," \
			"$(fib_field "$n" eal_mib) MiB of EAL memory)"
	done
	echo "  (baseline: the $b-route table; flat means every ratio near 1)"
fi

# Handover and restart (docs/RESTART.md) on the replay of HANDOVER_FLOWS
# established flows at full speed: the forwarding gap the engine itself
# measures, from the old process's last packet out to the new one's
# first, for shoal-engine --takeover and for kill -9 followed by a plain
# start. Milliseconds, lower is better; no baseline (testpmd keeps no
# state to hand over). The parts of the takeover's gap are shown below.
# wait_line FILE REGEX SECONDS: the first match of REGEX in FILE, bounded.
wait_line() {
	local i m
	for i in $(seq $(($3 * 10))); do
		m=$(grep -m1 -oE "$2" "$1" 2>/dev/null) && { echo "$m"; return 0; }
		sleep 0.1
	done
	return 1
}
if has handover; then
	n=$HANDOVER_FLOWS pcap=$TMP/flows-$HANDOVER_FLOWS.pcap
	[ -f "$pcap" ] || $PY scripts/lib/genpcap.py "$pcap" "$n"
	EAL=$(eal_for "$n")
	engine_conf sh-bench-ho "$pcap" "$n" 1024-65535
	tk=() rs=()
	for _ in $(seq "$RUNS"); do
		fresh_state
		"$ENGINE" -c "$TMP/engine.conf" >"$TMP/ho-old.log" 2>&1 </dev/null &
		PID=$!
		for _ in $(seq 300); do
			[ "$(sample sh-bench-ho 2>/dev/null || echo 0)" -gt 0 ] && break
			sleep 0.1
		done
		sleep "$WARMUP"
		"$ENGINE" --takeover -c "$TMP/engine.conf" >"$TMP/ho-new.log" 2>&1 </dev/null &
		new=$!
		line=$(wait_line "$TMP/ho-new.log" 'took over from pid [0-9]+: forwarding gap [-0-9.]+ ms.*' 40) ||
			{ cat "$TMP/ho-new.log" >&2; exit 1; }
		wait "$PID" || true
		PID=$new
		tk+=("$(echo "$line" | sed -nE 's/.*forwarding gap ([-0-9.]+) ms.*/\1/p')")
		parts=${line#*ms (}
		sleep "$WARMUP"
		kill -9 "$PID"; wait "$PID" 2>/dev/null || true
		"$ENGINE" -c "$TMP/engine.conf" >"$TMP/ho-rs.log" 2>&1 </dev/null &
		PID=$!
		line=$(wait_line "$TMP/ho-rs.log" 'forwarding again [-0-9.]+ ms' 60) ||
			{ cat "$TMP/ho-rs.log" >&2; exit 1; }
		rs+=("$(echo "$line" | grep -oE -- '[-0-9.]+')")
		kill -INT "$PID"; wait "$PID" || true; PID=
		rm -rf /var/run/dpdk/sh-bench-ho /var/run/dpdk/sh-bench-ho-b
	done
	row "handover gap, $n flows (ms)" "$(median "${tk[@]}")" ""
	row "kill -9 restart gap (ms)" "$(median "${rs[@]}")" ""
	echo "  (last takeover: ${parts%)})"
fi

# Fleet (docs/FLEET.md "Return traffic to the owner"): what a return
# costs that reaches a host which does not own its slice, carried to the
# owner in GUE, and what the owner pays to take it out of the tunnel;
# against the same returns translated as established flows (out2in).
#   1. flows: the FLEET_FLOWS in2out replay with its lease from our
#      control socket (scripts/lib/fleetbench.py), which asks the engine
#      for every flow's outside tuple and writes the returns, bare and in
#      tunnel packets from peer 192.0.2.6; the engine's tables are kept
#      (state file) for the runs that translate them;
#   2. out2in: the returns replayed into the outside port of an engine
#      holding those flows (baseline);
#   3. forward: an engine of a fleet whose map gives every slice to the
#      peer: each return is carried there (packets: calls to
#      nat_fleet_pkt_owner, once per packet; the outside port both
#      receives and sends);
#   4. decap: an engine of a fleet whose map gives it every slice,
#      holding the flows, fed the tunnel packets.
# fleet_conf NAME INSIDE OUTSIDE [FLEET_OWNER]: $TMP/NAME.conf, its
# control socket $TMP/NAME.sock; with FLEET_OWNER ("a" itself or "b" the
# peer), a [fleet] of pool 198.51.100.10, ports 1024-65535, else the
# [slices] of the other cases. $TMP/NAME.json is the lease set served.
fleet_conf() {
	local name=$1 owner=${4:-}
	cat >"$TMP/$name.conf" <<CONF
[engine]
eal = $EAL --file-prefix sh-bench-$name
state = $SHM/engine.state
mbufs = $((FLEET_FLOWS + 16384))
ctl_socket = $TMP/$name.sock
[inside]
device = $2
next_hop_mac = 02:00:00:00:00:02
exception = none
[outside]
device = $3
address = 192.0.2.1/24
next_hop_mac = 02:00:00:00:00:fe
exception = none
[nat]
max_flows = $(pow2 "$FLEET_FLOWS")
CONF
	if [ -z "$owner" ]; then
		printf '[slices]\n198.51.100.10 = 1024-65535\n' >>"$TMP/$name.conf"
		cat >"$TMP/$name.json" <<JSON
{"generation": 1, "leases": [{"id": 1, "holder": "bench", "kind": "nat",
 "ip": "198.51.100.10", "lo": 1024, "hi": 65535, "state": "active",
 "clients": ["10.0.0.0/8"], "mapping": "address-and-port-dependent",
 "filtering": "address-and-port-dependent"}]}
JSON
		return
	fi
	cat >>"$TMP/$name.conf" <<CONF
[fleet]
etcd = http://127.0.0.1:2379
host = a
address = 192.0.2.1
pool = 198.51.100.10, 198.51.100.11
ports = 1024-65535
slice_size = 2016
slices = 1
CONF
	# 198.51.100.10's slices to OWNER, 198.51.100.11's to the peer (so
	# that the map names it even when this host owns the first address).
	$PY - "$owner" >"$TMP/$name.json" <<'PYEOF'
import json, sys
hosts = {"a": "192.0.2.1", "b": "192.0.2.6"}
slices = [{"ip": ip, "lo": lo, "hi": lo + 2015, "host": host,
           "address": hosts[host]}
          for ip, host in (("198.51.100.10", sys.argv[1]), ("198.51.100.11", "b"))
          for lo in range(1024, 65536, 2016)]
print(json.dumps({"generation": 1, "leases": [],
                  "fleet": {"host": "a", "valid_ms": 3600000,
                            "slices": slices}}))
PYEOF
}

# serve NAME: our control socket for NAME's engine, until that engine
# goes (fleetbench.py serves one connection); its pid in CTL.
CTL=
serve() {
	$PY scripts/lib/fleetbench.py "$TMP/$1.sock" "$TMP/$1.json" &
	CTL=$!
}
unserve() { kill "$CTL" 2>/dev/null || true; wait "$CTL" 2>/dev/null || true; CTL=; }

if has fleet; then
	n=$FLEET_FLOWS pcap=$TMP/flows-$FLEET_FLOWS.pcap
	[ -f "$pcap" ] || $PY scripts/lib/genpcap.py "$pcap" "$n"
	EAL=$(eal_for "$n")
	rets=$TMP/returns.pcap tuns=$TMP/tunnelled.pcap flows=$TMP/fleet-flows.state
	fleet_conf fl-flows "net_pcap0,rx_pcap=$pcap,infinite_rx=1" net_null0,no-rx=1
	fleet_conf fl-out2in net_null0,no-rx=1 "net_pcap0,rx_pcap=$rets,infinite_rx=1"
	fleet_conf fl-fwd net_null0,no-rx=1 "net_pcap0,rx_pcap=$rets,infinite_rx=1" b
	fleet_conf fl-decap net_null0,no-rx=1 "net_pcap0,rx_pcap=$tuns,infinite_rx=1" a
	# The command that starts an engine on the flows of step 1 (measure
	# and icount start from empty tables; exec keeps the pid).
	adopt=(bash -c 'cp "$0" "$1" && exec "$2" -c "$3"' "$flows" "$SHM/engine.state"
	       "$ENGINE")

	fresh_state
	$PY scripts/lib/fleetbench.py "$TMP/fl-flows.sock" "$TMP/fl-flows.json" \
		--returns "$rets" "$tuns" "$n" &
	CTL=$!
	"$ENGINE" -c "$TMP/fl-flows.conf" >"$TMP/fl-flows.log" 2>&1 </dev/null &
	PID=$!
	wait "$CTL" || { cat "$TMP/fl-flows.log" >&2; exit 1; }
	CTL=
	kill -INT "$PID"; wait "$PID" || true; PID=
	rm -rf /var/run/dpdk/sh-bench-fl-flows
	cp "$SHM/engine.state" "$flows"

	declare -A fpps=() fic=()
	for _ in $(seq "$RUNS"); do
		serve fl-out2in
		fpps[out2in]+=" $(SAMPLE_PORT=0 measure sh-bench-fl-out2in "${adopt[@]}" \
			"$TMP/fl-out2in.conf")"
		unserve
		serve fl-fwd
		fpps[fwd]+=" $(measure sh-bench-fl-fwd "$ENGINE" -c "$TMP/fl-fwd.conf")"
		unserve
		serve fl-decap
		fpps[decap]+=" $(SAMPLE_PORT=0 measure sh-bench-fl-decap "${adopt[@]}" \
			"$TMP/fl-decap.conf")"
		unserve
	done
	# NAME ARGS...: instructions per packet of NAME's engine.
	fleet_icount() {
		local name=$1
		shift
		serve "$name"
		$PY scripts/lib/icount.py "$@" "sh-bench-$name" "$ICOUNT_SECONDS" -- \
			"$ENGINE" -c "$TMP/$name.conf"
		unserve
		rm -rf "/var/run/dpdk/sh-bench-$name"
	}
	cp "$flows" "$SHM/engine.state"
	fic[out2in]=$(fleet_icount fl-out2in --port 0)
	fresh_state
	fic[fwd]=$(fleet_icount fl-fwd --per-call nat_fleet_pkt_owner)
	cp "$flows" "$SHM/engine.state"
	fic[decap]=$(fleet_icount fl-decap --port 0)
	for c in out2in fwd decap; do fpps[$c]=$(median ${fpps[$c]}); done
	row "fleet: carried to owner (pps)" "${fpps[fwd]}" "${fpps[out2in]}"
	row "fleet: decap + out2in (pps)" "${fpps[decap]}" "${fpps[out2in]}"
	row "fleet: carried, instr/packet" "${fic[fwd]}" "${fic[out2in]}"
	row "fleet: decap + out2in, instr/pkt" "${fic[decap]}" "${fic[out2in]}"
	echo "  (baseline: the same $n returns translated as established flows, out2in;"
	echo "   taking a packet out of the tunnel costs" \
		"$($PY -c "print(round(${fic[decap]} - ${fic[out2in]}, 1))") instructions)"
fi

# The engine states its table's cost at start-up (nat_table_bytes()).
if [ "$largest" -gt 0 ]; then
	row "memory, $largest flows (B/flow)" "$mem" 128
	echo "(memory: the baseline column is the target; ratio <= 1 meets it)"
fi

# --json: the rows above, and what they were measured on.
if [ -n "$JSON" ]; then
	$PY - "$TMP/rows" "$JSON" "$HOST" "$SETUP" "$CASES" \
		"$(git describe --always --dirty 2>/dev/null || echo unknown)" <<'PYEOF'
import datetime, json, sys
rows_path, out, host, setup, cases, commit = sys.argv[1:7]

def num(v):
    try:
        return float(v) if "." in v else int(v)
    except ValueError:
        return None

rows = []
for line in open(rows_path):
    case, engine, baseline, ratio = line.rstrip("\n").split("\t")
    rows.append({"case": case, "engine": num(engine),
                 "baseline": num(baseline), "ratio": num(ratio)})
doc = {"date": datetime.datetime.now(datetime.timezone.utc)
       .strftime("%Y-%m-%dT%H:%M:%SZ"),
       "commit": commit, "host": host, "setup": setup,
       "cases": cases.split(","), "rows": rows}
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
PYEOF
	echo "(rows written to $JSON)"
fi
