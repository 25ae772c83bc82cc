#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# After everything: the engine is alive, it saw no bad checksums and no
# malformed packets (every peer and the kernel mirrors send real
# checksums; a non-zero count means a checksum went wrong on some path).
# (punt_policed is provoked on purpose by 14_punt_policed.sh.) It runs the
# configured number of workers, each client's owner translated both ways
# and the packets handed between workers all arrived (see below).
. "$(dirname "$0")/lib.sh"

engine_alive || fail "the engine is not running"
counters | awk '$2 != 0' | sort >"$T/nonzero"
say "non-zero counters:"
sed 's/^/  /' "$T/nonzero"
for c in ip_bad_checksum l4_bad_checksum ip_malformed l4_malformed l2_malformed; do
	v=$(cnt "$c")
	[ "$v" = 0 ] || fail "$c = $v, expected 0"
done


# Workers (SHOAL_WORKERS, scripts/topo.sh): the engine runs as many, and
# what the kernel's fanout put on a worker that does not own it reached
# its owner. Over the whole suite: the owner of every client address
# (10.0.0.2-5; the Fibonacci hash of docs/DESIGN.md "Several workers")
# translated both ways, as many packets were taken from the handoff rings
# as were put on them (handoff_tx == handoff_rx, read until equal since a
# packet may be on its way), and with several workers some were handed.
# handoff_full is 0 over ordinary traffic this test sends itself (pings,
# HTTP and DNS from every client address); over the whole suite it is only
# shown: 08_iperf_tcp saturates the worker that owns its client, and with
# the workers, iperf3 and the kernel sharing two CPUs a worker may wait for
# the CPU long enough for its rings to fill (a full ring drops and counts
# by design; with one worker the same overload is dropped by the kernel in
# the af_packet ring, out of the engine's counters). 512-entry rings lost
# thousands there; the 4096-entry rings lost none in the runs we made.
# workers FILE: every worker's counters (telemetry /shoal/worker,I) as JSON.
workers() {
	"$PY" - "$REPO/scripts/lib" "$SHOAL_PREFIX" >"$1" <<-'PY'
		import json, sys
		sys.path.insert(0, sys.argv[1])
		import telemetry
		s, size = telemetry.connect(sys.argv[2])
		with s:
		    n = len(telemetry.command(s, size, "/shoal/workers")["/shoal/workers"])
		    print(json.dumps([telemetry.command(s, size, "/shoal/worker,%d" % i)["/shoal/worker"]
		                      for i in range(n)]))
	PY
}
# workers_ok BEFORE AFTER : the checks above, on two workers() readings:
# whole suite up to AFTER, and the ordinary traffic between the two.
workers_ok() {
	workers "$2" || return 1
	"$PY" - "$1" "$2" "${SHOAL_WORKERS:-1}" "${TOPO_CLIENTS[@]}" >"$T/workers.txt" <<-'PY'
		import json, socket, sys
		before, after = (json.load(open(f)) for f in sys.argv[1:3])
		want, clients = int(sys.argv[3]), sys.argv[4:]
		n, bad = len(after), []
		def owner(ip):
		    h = int.from_bytes(socket.inet_aton(ip), "big")
		    return ((h * 2654435761) % 2**32) * n >> 32
		owners = sorted({owner(c) for c in clients})
		if n != want:
		    bad.append("%d workers, expected %d" % (n, want))
		print("client owners: " + ", ".join("%s -> %d" % (c, owner(c)) for c in clients))
		for w, b in zip(after, before):
		    d = {k: w[k] - b[k] for k in ("in2out", "out2in", "handoff_tx", "handoff_rx",
		                                  "handoff_full")}
		    print("worker %d (lcore %d): in2out %d out2in %d handoff tx %d rx %d full %d;"
		          " ordinary traffic: in2out +%d out2in +%d handoff tx +%d rx +%d full +%d"
		          % (w["worker"], w["lcore"], w["in2out"], w["out2in"], w["handoff_tx"],
		             w["handoff_rx"], w["handoff_full"], d["in2out"], d["out2in"],
		             d["handoff_tx"], d["handoff_rx"], d["handoff_full"]))
		    if w["worker"] in owners and not (d["in2out"] and d["out2in"]):
		        bad.append("worker %d owns a client but did not translate its ordinary "
		                   "traffic both ways" % w["worker"])
		    if d["handoff_full"]:
		        bad.append("worker %d: handoff_full +%d over ordinary traffic"
		                   % (w["worker"], d["handoff_full"]))
		tx, rx = (sum(w[k] for w in after) for k in ("handoff_tx", "handoff_rx"))
		print("whole suite: handoff tx %d rx %d full %d"
		      % (tx, rx, sum(w["handoff_full"] for w in after)))
		if tx != rx:
		    bad.append("handoff_tx %d != handoff_rx %d" % (tx, rx))
		if n > 1 and not tx:
		    bad.append("no packet was handed between workers")
		for b in bad:
		    print("bad: " + b)
		sys.exit(1 if bad else 0)
	PY
}
workers "$T/w0.json" || fail "telemetry: no /shoal/worker counters"
for src in "${TOPO_CLIENTS[@]}"; do
	ping1 "$src" 2 || fail "ping from $src failed"
	in_c curl -sS --max-time 5 --interface "$src" "http://$TOPO_SERVER:8080/health-$src" >/dev/null ||
		fail "curl from $src failed"
	in_c dig +time=2 +tries=2 +short -b "$src" "@$TOPO_SERVER" "$SERVERS_DNS_NAME" A >/dev/null ||
		fail "dig from $src failed"
done
until_ok 5 workers_ok "$T/w0.json" "$T/w1.json" >/dev/null
rc=$?
sed 's/^/  /' "$T/workers.txt"
if [ $rc != 0 ]; then
	why=$(grep -m1 '^bad: ' "$T/workers.txt" | sed 's/^bad: //')
	fail "workers: ${why:-$(tail -n 1 "$T/workers.txt")}"
fi
