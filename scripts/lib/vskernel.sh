#!/bin/bash
# shoal benchmark, case "against the kernel": Linux nftables SNAT and
# shoal-engine as the device under test (DUT), in the same namespace
# topology, fed by the same generator with the same pcap.
#
#   shvk-gen (CPU 0)      shvk-dut (CPU 1)                   shvk-sink (CPU 0)
#
#   dpdk-testpmd          10.0.0.1/8       192.0.2.1/24
#   pcap --io--> g0 ----- d0 --[ DUT ]---> d1 ------------- k0 192.0.2.254/24
#                                                           nftables ingress:
#   DUT = Linux forwarding, nftables snat to                count by source,
#         198.51.100.10:1024-65535 (conntrack)              drop
#      or shoal-engine on d0/d1 over AF_PACKET (no addresses in shvk-dut)
#
# Generator: dpdk-testpmd --forward-mode=io replays the pcap forever
# (net_pcap infinite_rx=1, the file held in mbufs, once per queue) into an
# AF_PACKET port on g0, two queues. d0 carries the pcap's destination MAC.
# A packet the generator sends holds its socket's send buffer until the
# DUT's receive path consumes it, so each queue has only ~250 packets in
# flight; two queues are what it takes to keep nftables saturated.
#
# CPU split: CPU 0 runs the generator (its two lcores share CPU 0) and the
# sink's receive (RPS on k0 = CPU 0). CPU 1 runs the DUT: d0's receive
# processing, which is veth's NAPI in a kthread (GRO on, threaded) pinned
# to CPU 1, then the kernel's forwarding and NAT in that same kthread, or
# the engine's worker lcore. Not RPS to CPU 1: softirq preempts the
# engine's busy-polling worker, fills its AF_PACKET ring and drops the
# rest while the worker waits for CPU (receive livelock: softirq took 80%
# of CPU 1 and the engine delivered about half of what it does now); a
# kthread is scheduled fairly against the worker. The engine's AF_PACKET
# rings hold ENG_FRAMES frames for the same reason: the default 512 is
# less than one scheduler slice of the NAPI kthread, so the ring
# overflowed in every slice (a third of the throughput).
#
# Measured over WINDOW seconds after WARMUP (and after at least one pass
# of the pcap, which creates the flows / conntrack entries), per run:
#   delivered  k0's rx_packets; the sink's counters must show the SNAT
#              source on every packet of the window, else the run fails.
#   offered    g0's tx_packets + tx_dropped.
#   DUT CPU    time on CPU (schedstat) of the DUT's tasks: the NAPI
#              kthread, and the engine's threads (its worker on CPU 1, the
#              others on CPU 0). Counting tasks rather than CPU 1's
#              non-idle time keeps another process that lands on CPU 1
#              (the machine is shared) out of the DUT's bill; CPU 1's
#              /proc/stat busy and steal are printed next to it, with a
#              warning when other tasks took more than 10% of CPU 1.
#              Overloaded, the two DUTs drop in different places: nftables'
#              excess stays in veth's ring (dropped on CPU 0), the
#              engine's is received by the NAPI kthread and dropped at its
#              full AF_PACKET ring, so the engine's bill includes the
#              receive of packets it never forwards.
# Each DUT runs RUNS times, the two alternating, in namespaces built
# afresh each run (the conntrack table starts empty); medians are printed.
#
# Usage: scripts/lib/vskernel.sh ENGINE_BINARY PCAP RUNS WINDOW WARMUP   (as root)
# stdout: "nftables PPS CPU_S_PER_MPKT OFFERED_PPS", then the same for
# "engine"; diagnostics on stderr. Memory: the generator holds the pcap
# twice in mbufs (~4.6 KB per packet of the file).
set -Eeuo pipefail

if [ $# -ne 5 ]; then
	echo "usage: $0 ENGINE_BINARY PCAP RUNS WINDOW WARMUP" >&2
	exit 2
fi
# Relative to the caller's directory, before moving to the repository's.
ENGINE=$(realpath "$1") PCAP=$(realpath "$2") RUNS=$3 WINDOW=$4 WARMUP=$5
cd "$(dirname "$0")/../.."
for v in "$RUNS" "$WINDOW" "$WARMUP"; do
	[[ $v =~ ^[0-9]+$ ]] || { echo "vskernel: not a number: $v" >&2; exit 2; }
done
if [ "$RUNS" -lt 1 ] || [ "$WINDOW" -lt 1 ]; then
	echo "vskernel: RUNS and WINDOW must be >= 1" >&2
	exit 2
fi
[ -x "$ENGINE" ] || { echo "vskernel: not executable: $ENGINE" >&2; exit 2; }
[ -r "$PCAP" ] || { echo "vskernel: cannot read $PCAP" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "vskernel: run as root" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "vskernel: needs CPUs 0 and 1" >&2; exit 1; }
for c in dpdk-testpmd nft ethtool tcpdump taskset pgrep; do
	command -v $c >/dev/null || { echo "vskernel: $c not found (scripts/deps.sh)" >&2; exit 1; }
done

PY=/usr/bin/python3
NS_G=shvk-gen NS_D=shvk-dut NS_S=shvk-sink
GEN_PREFIX=shvk-gen ENG_PREFIX=shvk-eng
MAC_D1=02:00:00:00:01:01 MAC_K0=02:00:00:00:01:fe
SLICE_IP=198.51.100.10
GEN_QUEUES=2       # generator AF_PACKET queues (see above)
ENG_FRAMES=16384   # frames per engine AF_PACKET ring (see above)
READY_TIMEOUT=60   # s: start-up (pcap load) until packets arrive; one pcap pass
STOP_TIMEOUT=10    # s: SIGINT until exit, then SIGKILL
HZ=$(getconf CLK_TCK)

TMP=$(mktemp -d /tmp/shoal-vsk.XXXXXX)
PIDS=()      # processes started by this run, stopped by PID
NAPI_PIDS=() # d0's NAPI kthread(s)

log() { echo "vskernel: [${SECONDS}s] $*" >&2; }
die() {
	log "$*"
	exit 1
}

# alive PID: running (an exited child stays a zombie until waited for).
alive() {
	local s
	s=$(cat /proc/"$1"/stat 2>/dev/null) || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}

# stop PID: SIGINT, wait (bounded), SIGKILL.
stop() {
	local pid=$1 i
	kill -INT "$pid" 2>/dev/null || return 0
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

stop_all() {
	local pid
	for pid in "${PIDS[@]}"; do stop "$pid"; done
	PIDS=()
}

topo_down() {
	local ns pid
	for ns in $NS_G $NS_D $NS_S; do
		[ -e "/run/netns/$ns" ] || continue
		# Whatever still runs in a namespace of ours was started by us
		# (a stale run's generator or engine): stop it by PID.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do stop "$pid"; done
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "/var/run/dpdk/$GEN_PREFIX" "/var/run/dpdk/$ENG_PREFIX"
	NAPI_PIDS=()
}

cleanup() {
	set +e
	trap - ERR
	stop_all
	topo_down
	rm -rf "$TMP"
}
trap cleanup EXIT
# (the first line of the command: a here-document would follow it)
on_err() { log "failed (line $1): ${BASH_COMMAND%%$'\n'*}"; }
trap 'on_err $LINENO' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# The pcap's packet count and its first frame's destination and source
# MACs (d0 must carry the destination, or the kernel drops the frames as
# addressed to another host).
read -r NPKTS MAC_D0 MAC_G0 < <($PY - "$PCAP" <<-'PY'
	import struct, sys
	with open(sys.argv[1], "rb") as f:
	    end = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
	           b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}.get(f.read(24)[:4])
	    if end is None:
	        sys.exit("vskernel: not a pcap file")
	    n, macs = 0, None
	    while len(h := f.read(16)) == 16:
	        data = f.read(struct.unpack(end + "IIII", h)[2])
	        if macs is None and len(data) >= 12:
	            macs = [":".join(f"{b:02x}" for b in data[i:i + 6]) for i in (0, 6)]
	        n += 1
	if macs is None:
	    sys.exit("vskernel: no Ethernet frame in the pcap")
	print(n, *macs)
	PY
) || die "cannot use $PCAP"
[ "$MAC_D0" != "$MAC_G0" ] || die "pcap: destination MAC equals source MAC"

# Smallest power of two >= max(2 N, 65536): the engine's flow table.
pow2() {
	local p=65536
	while [ "$p" -lt $((2 * $1)) ]; do p=$((p * 2)); done
	echo $p
}

nsx() { # NS CMD...
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# topo_up MODE: the three namespaces, the DUT's wired for MODE
# (nftables|engine); sets NAPI_PIDS.
topo_up() {
	local mode=$1 ns before after pid
	topo_down
	for ns in $NS_G $NS_D $NS_S; do
		ip netns add "$ns"
		# Before any interface exists, so none of them gets IPv6.
		nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 \
			net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
		ip -n "$ns" link set lo up
	done
	ip link add g0 netns $NS_G address "$MAC_G0" type veth \
		peer d0 netns $NS_D address "$MAC_D0"
	ip link add d1 netns $NS_D address $MAC_D1 type veth \
		peer k0 netns $NS_S address $MAC_K0
	# Not for the checksums (the generator's frames come whole from the
	# pcap through a packet socket; Linux never marks them partial) but
	# for the CPU split below: TX checksum offload on makes g0 TSO-capable,
	# and veth then passes its packets to d0 by netif_rx on the sender's
	# CPU instead of d0's NAPI kthread (with it on, the nftables DUT's
	# kthread got no CPU time in `bench.sh --quick` and its CPU figure
	# was lost).
	nsx $NS_G ethtool -K g0 tx off >/dev/null
	nsx $NS_S ethtool -K k0 tx off >/dev/null

	# Sink: count packets with and without the SNAT source, drop both
	# (no socket, no ICMP); its receive runs on CPU 0.
	ip -n $NS_S addr add 192.0.2.254/24 dev k0
	nsx $NS_S nft -f - <<-NFT
		table netdev sink {
			chain k0 {
				type filter hook ingress device "k0" priority 0;
				ip saddr $SLICE_IP counter drop
				counter drop
			}
		}
	NFT
	# shellcheck disable=SC2016 # expanded by the inner shell
	nsx $NS_S sh -c 'for q in /sys/class/net/k0/queues/rx-*; do echo 1 >$q/rps_cpus; done'

	# d0's receive on CPU 1: GRO makes veth use its own NAPI (UDP is not
	# aggregated: rx-udp-gro-forwarding stays off), "threaded" runs it in
	# a new kthread napi/d0-ID (created now, so the one that was not
	# there before is ours), pinned to CPU 1.
	nsx $NS_D ethtool -K d0 gro on >/dev/null
	before=$(pgrep -x 'napi/d0-[0-9]+' | sort || true)
	ip -n $NS_D link set d0 up
	nsx $NS_D sh -c 'echo 1 >/sys/class/net/d0/threaded'
	after=$(comm -13 <(echo "$before") <(pgrep -x 'napi/d0-[0-9]+' | sort || true))
	[ -n "$after" ] || die "no NAPI kthread for d0"
	mapfile -t NAPI_PIDS <<<"$after"
	for pid in "${NAPI_PIDS[@]}"; do taskset -p -c 1 "$pid" >/dev/null; done

	if [ "$mode" = nftables ]; then
		ip -n $NS_D addr add 10.0.0.1/8 dev d0
		ip -n $NS_D addr add 192.0.2.1/24 dev d1
		nsx $NS_D sysctl -qw net.ipv4.ip_forward=1 \
			net.ipv4.conf.d0.rp_filter=0 net.ipv4.conf.d1.rp_filter=0
		ip -n $NS_D link set d1 up
		ip -n $NS_D route add 203.0.113.0/24 via 192.0.2.254
		ip -n $NS_D neigh replace 192.0.2.254 lladdr $MAC_K0 dev d1 nud permanent
		# A port range needs a transport protocol; other protocols get
		# the address alone (none in the pcap).
		nsx $NS_D nft -f - <<-NFT
			table ip nat {
				chain post {
					type nat hook postrouting priority srcnat;
					oifname "d1" meta l4proto { tcp, udp } snat to $SLICE_IP:1024-65535
					oifname "d1" snat to $SLICE_IP
				}
			}
		NFT
	else
		# The engine reads d0/d1 with AF_PACKET; the namespace's own
		# kernel must not see their frames (packet taps run before the
		# ingress hook).
		nsx $NS_D nft -f - <<-'NFT'
			table netdev hide {
				chain d0 { type filter hook ingress device "d0" priority 0; policy drop; }
				chain d1 { type filter hook ingress device "d1" priority 0; policy drop; }
			}
		NFT
	fi
	ip -n $NS_D link set d1 up
	ip -n $NS_G link set g0 up
	ip -n $NS_S link set k0 up
}

engine_start() {
	cat >"$TMP/engine.conf" <<-CONF
		[engine]
		eal = -l 0-1 --no-huge -m $((1024 + NPKTS * 4 / 1000)) --no-pci --file-prefix $ENG_PREFIX --log-level=*:error
		state = $TMP/engine.state
		[inside]
		device = net_af_packet0,iface=d0,framecnt=$ENG_FRAMES
		exception = none
		next_hop_mac = $MAC_G0
		[outside]
		device = net_af_packet1,iface=d1,framecnt=$ENG_FRAMES
		exception = none
		next_hop_mac = $MAC_K0
		[slices]
		$SLICE_IP = 1024-65535
		[lease.bench]
		kind = nat
		ip = $SLICE_IP
		ports = 1024-65535
		clients = 10.0.0.0/8
		[nat]
		max_flows = $(pow2 "$NPKTS")
	CONF
	# Every run from empty tables: a run must not adopt the last one's.
	rm -f "$TMP/engine.state"
	# Not through a function: $! must be the engine itself.
	ip netns exec $NS_D "$ENGINE" -c "$TMP/engine.conf" >"$TMP/engine.log" 2>&1 </dev/null &
	PIDS+=($!)
}

# The generator: taskset and --lcores keep every thread on CPU 0 (the
# main lcore sleeps in the --stats-period loop). Each net_pcap queue
# replays the whole file.
gen_start() {
	local rx="" i
	for ((i = 0; i < GEN_QUEUES; i++)); do rx="$rx,rx_pcap=$PCAP"; done
	ip netns exec $NS_G taskset -c 0 dpdk-testpmd --lcores 0@0,1@0 --no-huge \
		-m $((1024 + GEN_QUEUES * NPKTS * 4 / 1000)) --no-pci \
		--file-prefix $GEN_PREFIX --log-level='*:error' \
		--vdev "net_pcap0$rx,infinite_rx=1" \
		--vdev "net_af_packet0,iface=g0,qdisc_bypass=1,qpairs=$GEN_QUEUES" \
		-- --forward-mode=io --nb-cores=1 --rxq=$GEN_QUEUES --txq=$GEN_QUEUES \
		--no-lsc-interrupt --stats-period=3600 \
		--total-num-mbufs=$((GEN_QUEUES * NPKTS + 16384)) \
		>"$TMP/gen.log" 2>&1 </dev/null &
	PIDS+=($!)
}

delivered() { nsx $NS_S cat /sys/class/net/k0/statistics/rx_packets; }
offered() {
	nsx $NS_G cat /sys/class/net/g0/statistics/tx_packets /sys/class/net/g0/statistics/tx_dropped |
		awk '{s += $1} END {print s}'
}

# dut_ns [EPID]: "NAPI WORKER OTHER", nanoseconds on CPU so far
# (schedstat) of d0's NAPI kthread, the engine's worker lcore and the
# engine's other threads.
dut_ns() {
	local t r n=0 w=0 o=0
	for t in "${NAPI_PIDS[@]}"; do
		read -r r _ </proc/"$t"/schedstat
		n=$((n + r))
	done
	if [ -n "${1:-}" ]; then
		for t in /proc/"$1"/task/*; do
			read -r r _ 2>/dev/null <"$t/schedstat" || continue
			case $(cat "$t/comm" 2>/dev/null) in
			*worker*) w=$((w + r)) ;;
			*) o=$((o + r)) ;;
			esac
		done
	fi
	echo "$n $w $o"
}

# sample [EPID]: one line of cumulative counts: time, offered, delivered,
# delivered with the SNAT source, without it, CPU 1 busy and steal
# (/proc/stat ticks), dut_ns.
sample() {
	local o d m x c
	o=$(offered)
	read -r d m x < <(nsx $NS_S sh -c 'cat /sys/class/net/k0/statistics/rx_packets; nft list chain netdev sink k0' |
		awk 'NR == 1 {d = $1}
			/counter packets/ {
				for (i = 1; i < NF; i++) if ($i == "packets") v = $(i + 1)
				if (/saddr/) m = v; else x = v
			}
			END {print d, m, x}')
	c=$(awk '$1 == "cpu1" {print $2 + $3 + $4 + $7 + $8, $9}' /proc/stat)
	echo "$(date +%s.%N) $o $d $m $x $c $(dut_ns "${1:-}")"
}

# flows [EPID]: the engine's flows_created, or the DUT's conntrack entries.
flows() {
	if [ -n "${1:-}" ]; then
		$PY scripts/lib/telemetry.py $ENG_PREFIX /shoal/stats |
			$PY -c 'import json, sys; print(json.load(sys.stdin)["/shoal/stats"]["flows_created"])'
	else
		nsx $NS_D cat /proc/sys/net/netfilter/nf_conntrack_count
	fi
}

# cpus PID...: "THREAD=CPUS ...", the CPUs each thread may run on.
cpus() {
	local p t
	for p in "$@"; do
		for t in /proc/"$p"/task/*; do
			echo "$(cat "$t/comm")=$(awk '/^Cpus_allowed_list/ {print $2}' "$t/status")"
		done
	done 2>/dev/null | sort -u | paste -sd' '
}

# Packets processed per CPU (/proc/net/softnet_stat, hex).
softnet() {
	$PY -c 'print(" ".join(str(int(l.split()[0], 16)) for l in open("/proc/net/softnet_stat")))'
}

# measure MODE RUN: one run of MODE (nftables|engine); appends
# "pps cpu_s_per_mpkt offered_pps" to $TMP/MODE.
measure() {
	local mode=$1 run=$2 epid="" i p a b s0 s1 f0
	topo_up "$mode"
	if [ "$mode" = engine ]; then
		engine_start
		epid=${PIDS[-1]}
	fi
	gen_start
	# Start-up (memory, pcap load) takes seconds and varies with load.
	for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
		[ "$(delivered)" -gt 0 ] && break
		for p in "${PIDS[@]}"; do
			alive "$p" || {
				cat "$TMP/gen.log" "$TMP/engine.log" >&2 2>/dev/null
				die "$mode: a process exited during start-up"
			}
		done
		sleep 0.1
	done
	[ "$(delivered)" -gt 0 ] || die "$mode: nothing delivered after ${READY_TIMEOUT}s"
	# Warm-up: WARMUP seconds, and every queue through the whole pcap.
	sleep "$WARMUP"
	for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
		[ "$(offered)" -ge $((GEN_QUEUES * NPKTS)) ] && break
		sleep 0.1
	done
	if [ "$run" = 1 ]; then
		log "$mode: allowed CPUs: generator $(cpus "${PIDS[-1]}"), d0 NAPI kthread $(cpus "${NAPI_PIDS[@]}")$(
			[ -n "$epid" ] && echo ", engine $(cpus "$epid")")"
		log "$mode: delivered packets look like: $(nsx $NS_S timeout 5 tcpdump -i k0 -nn -q -c 2 udp 2>/dev/null |
			cut -d' ' -f2- | paste -sd';')"
	fi
	f0=$(flows "$epid")
	a=$(sample "$epid") s0=$(softnet)
	sleep "$WINDOW"
	b=$(sample "$epid") s1=$(softnet)
	log "$mode: $([ -n "$epid" ] && echo "engine flows" || echo "conntrack entries"):" \
		"$f0 at the window's start, $(flows "$epid") at its end"
	$PY - "$mode" "$run" "$HZ" "$SLICE_IP" "$a" "$b" "$s0" "$s1" >>"$TMP/$mode" <<-'PY'
		import sys
		mode, run, hz, slice_ip = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
		a, b = ([float(x) for x in s.split()] for s in sys.argv[5:7])
		s0, s1 = ([int(x) for x in s.split()] for s in sys.argv[7:9])
		dt, off, dlv, nat, other, busy, steal, napi, worker, rest = (y - x for x, y in zip(a, b))
		busy, steal = busy / hz, steal / hz
		napi, worker, rest = napi / 1e9, worker / 1e9, rest / 1e9
		cpu = napi + worker + rest
		err = sys.stderr
		tag = f"vskernel: {mode} run {run}:"
		if dlv <= 0 or nat <= 0 or other != 0:
		    print(f"{tag} FAILED check: of the packets the sink counted in the window,"
		          f" {nat:.0f} have source {slice_ip}, {other:.0f} another", file=err)
		    sys.exit(1)
		print(f"{tag} check: all {nat:.0f} packets the sink counted in the window"
		      f" have source {slice_ip}", file=err)
		print(f"{tag} offered {off / dt:.0f} pps, delivered {dlv / dt:.0f} pps;"
		      f" DUT CPU {cpu:.2f} s in {dt:.2f} s: NAPI kthread {napi / dt:.0%}"
		      + (f", worker {worker / dt:.0%} (CPU 1), other threads {rest:.2f} s (CPU 0)"
		         if mode == "engine" else "")
		      + f"; CPU 1 busy {busy / dt:.0%}, steal {steal / dt:.0%};"
		      f" softnet processed per CPU {[y - x for x, y in zip(s0, s1)]}", file=err)
		if busy - napi - worker > 0.1 * dt:
		    print(f"{tag} WARNING: other tasks took {(busy - napi - worker) / dt:.0%}"
		          f" of CPU 1: the machine is busy, the numbers are off", file=err)
		print(f"{dlv / dt:.0f} {cpu / (dlv / 1e6):.3f} {off / dt:.0f}")
	PY
	stop_all
	topo_down
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

log "$NPKTS packets in $PCAP; runs=$RUNS window=${WINDOW}s warmup=${WARMUP}s"
for ((r = 1; r <= RUNS; r++)); do
	measure nftables "$r"
	measure engine "$r"
done
for mode in nftables engine; do
	line=$mode
	for f in 1 2 3; do
		mapfile -t col < <(cut -d' ' -f$f "$TMP/$mode")
		line="$line $(median "${col[@]}")"
	done
	echo "$line"
done
