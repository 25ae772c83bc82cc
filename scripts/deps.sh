#!/bin/bash
# Install every Debian 12 package that building, testing, the demo and the
# benchmarks need. Idempotent and quiet when everything is present.
# Usage: scripts/deps.sh        (as root)
set -euo pipefail

PKGS=(
	# build
	build-essential meson ninja-build pkg-config
	libdpdk-dev libnuma-dev libmnl-dev libjemalloc-dev libpcap-dev
	libjansson-dev libsqlite3-dev libmicrohttpd-dev
	# shoal-ctld [fleet]: etcd's JSON gateway over libcurl; etcd and
	# etcdctl for the fleet tests (tests/ctl/test_fleet.py)
	libcurl4-openssl-dev etcd-server etcd-client
	# shoal-ctld's socket ACLs for [ctl] readers and engine_user
	libacl1-dev
	# sd_notify for the service units; the man pages (docs/man/*.scd)
	libsystemd-dev scdoc
	# tests
	libcmocka-dev python3 python3-scapy python3-yaml iproute2 procps jq
	# a real Prometheus text parser for the /metrics test (tests/live)
	python3-prometheus-client
	# the install tests (tests/install): systemd-analyze verify, man -l,
	# unshare/setpriv/nsenter for the units' capability sets
	systemd man-db util-linux
	# the fuzz harnesses (tests/fuzz): clang and its libFuzzer and
	# sanitizer runtimes (libclang_rt.fuzzer is in libclang-rt-14-dev)
	clang libclang-rt-14-dev
	# demo peers and the integration tests (scripts/topo.sh, tests/integration)
	ethtool curl iputils-ping socat nftables tcpdump
	iperf3 dnsmasq-base bind9-dnsutils traceroute iputils-tracepath
	# RFC 5780 NAT behaviour discovery: turnserver and
	# turnutils_natdiscovery (tests/integration/17_stun_behaviour.sh)
	coturn
	# the benchmark: its baseline (dpdk-testpmd, in dpdk-dev) and
	# instruction counts; dpdk-dev also has dpdk-dumpcap and
	# dpdk-proc-info (docs/CAPTURE.md, tests/integration/20_capture.sh)
	dpdk dpdk-dev valgrind
	# the benchmark plot (scripts/plot-bench.py)
	python3-matplotlib
	# hugepages for the demo and the integration tests
	# (scripts/lib/hugepages.sh: mount; flock is util-linux, above)
	mount
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages (${missing[*]}); run as root" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
