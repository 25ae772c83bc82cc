#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Port exhaustion of a small lease, and port reuse across destinations.

A 16-port lease (10000-10015) and 40 concurrent UDP flows from 40
distinct clients:

  run 1, all to ONE destination (203.0.113.7:53): only 16 outside
    5-tuples exist, so exactly 16 flows are translated (onto 16 distinct
    ports, all inside the lease) and the other 24 are dropped as
    ports_exhausted. The lease is no larger than the search budget, so
    the search is exhaustive: no false "exhausted" while a port is free,
    which is why the first 16 flows in arrival order are the ones served.
    A second packet from each of the 16 served flows follows: they keep
    their ports (a full lease does not disturb existing flows).

  run 2, a fresh engine, the same 40 clients to 40 DIFFERENT destinations:
    a port may be reused towards different destinations (RFC 7857 §3), so
    all 40 are translated, ports_exhausted == 0, every port inside the
    lease and every outside 5-tuple distinct.

With N workers (each run is repeated for every count, see lib.main), a
worker owns the lease ports P with P % N == its index and every client
belongs to one worker (lib.owner_client), so the lease is N shares of
16 / N ports: in run 1 each worker serves the first 16 / N of its own
clients (every worker has more clients than that) and the rest are
ports_exhausted; still 16 flows on 16 distinct ports in all. Each
client's frames are in the rx_pcap of queue owner + 1 (mod N), so with
N > 1 every frame lands on a worker that does not own it and is handed
over (handoff_tx == handoff_rx == frames sent), while each worker still
sees its clients in file order (one producer per owner, FIFO rings).
Every packet of client c leaves on TX queue owner(c), from a port with
port % N == owner(c).

Pure pcap ports; no namespace needed.
"""

import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import lib  # noqa: E402
from lib import check, log

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

SLICE_IP = "198.51.100.10"
LEASE_LO, LEASE_HI = 10000, 10015
N_FLOWS = 40


def flows_to(dest_of):
    """40 UDP flows, client i = 10.0.1.(i+10):(20000+i) -> dest_of(i):53."""
    return [(f"10.0.1.{i + 10}", 20000 + i, dest_of(i), 53) for i in range(N_FLOWS)]


def frame(flow, seq):
    cip, cport, dip, dport = flow
    return bytes(Ether(src="02:00:00:00:00:02", dst=lib.INSIDE_MAC)
                 / IP(src=cip, dst=dip, ttl=64, id=seq)
                 / UDP(sport=cport, dport=dport) / f"flow {cip}:{cport} #{seq}".encode())


def owner(flow, workers):
    return lib.owner_client(flow[0], workers)


def run(tmp, name, flows, frames, n_out, workers):
    """Feed @frames (flow index, frame) to a fresh engine, each in the
    rx_pcap of the queue after its client's owner's, wait for the @n_out
    packets that must come out (each worker's last input frame is one of
    them, and a worker takes its frames in order, so every frame has been
    handled when they are all there), let the handoff rings drain, stop
    it. Returns (outside packets as (flow index, TX queue, parsed),
    counters, per-worker lines)."""
    d = tmp / name
    d.mkdir()
    rx = lib.queue_files(d, "in", workers)
    for q, path in enumerate(rx):
        lib.write_pcap(path, [fr for i, fr in frames
                              if (owner(flows[i], workers) + 1) % workers == q])
    lib.write_pcap(d / "empty.pcap", [])
    out_tx = lib.queue_files(d, "out_tx", workers)
    conf = lib.write_config(
        d / "engine.ini",
        inside_device=lib.pcap_device(0, lib.queue_files(d, "in_tx", workers), rx_pcap=rx),
        outside_device=lib.pcap_device(1, out_tx, rx_pcap=[d / "empty.pcap"] * workers),
        slices={SLICE_IP: "10000-12047"},
        # The shared-port mode: run 2 is about reuse across destinations.
        leases={"small": {"kind": "nat", "ip": SLICE_IP,
                          "ports": f"{LEASE_LO}-{LEASE_HI}", "clients": "10.0.0.0/16",
                          "mapping": "address-and-port-dependent",
                          "filtering": "address-and-port-dependent"}},
        nat={"max_flows": 1024}, workers=workers)
    with lib.Engine(conf, d) as eng:
        eng.wait_started()
        lib.wait_records(out_tx, n_out, timeout=20, engine=eng)
        eng.wait_settled({"rx_inside": len(frames)})
        counters = eng.stop()
    out = []
    by_client = {(f[0], f[1]): i for i, f in enumerate(flows)}
    for q, raws in enumerate(lib.read_pcaps(out_tx)):
        for raw in raws:
            p = Ether(raw)
            # The payload names the client: map the packet back to its flow.
            cip, cport = p[UDP].load.decode().split()[1].split(":")
            out.append((by_client[(cip, int(cport))], q, p))
    return out, counters, eng.workers


def check_translated(out, flows, workers):
    """Each emitted packet: slice source, port in the lease, destination
    untouched, checksums valid; one outside port per flow; sent by the
    client's owner from a port it owns."""
    port_of = {}
    for i, q, p in out:
        check(p[IP].src == SLICE_IP, f"flow {i}: source {p[IP].src}")
        port = p[UDP].sport
        check(LEASE_LO <= port <= LEASE_HI, f"flow {i}: port {port} outside the lease")
        w = owner(flows[i], workers)
        check(q == w, f"flow {i}: left on TX queue {q}, its client's owner is worker {w}")
        check(lib.owner_port(port, workers) == w,
              f"flow {i}: port {port} belongs to worker {lib.owner_port(port, workers)}, "
              f"not to the client's owner {w}")
        check((p[IP].dst, p[UDP].dport) == flows[i][2:],
              f"flow {i}: destination rewritten to {p[IP].dst}:{p[UDP].dport}")
        errs = lib.checksum_errors(bytes(p))
        check(not errs, f"flow {i}: {errs}")
        check(port_of.setdefault(i, port) == port,
              f"flow {i} changed port {port_of[i]} -> {port}")
    tuples = {(SLICE_IP, port_of[i], *flows[i][2:]) for i in port_of}
    check(len(tuples) == len(port_of), "two flows share an outside 5-tuple")
    return port_of


def handed(n_frames, workers):
    """Every frame is on a non-owner's queue when there are several."""
    n = n_frames if workers > 1 else 0
    return {"handoff_tx": n, "handoff_rx": n}


def test(workers):
    lease = range(LEASE_LO, LEASE_HI + 1)
    share = {w: [p for p in lease if lib.owner_port(p, workers) == w]
             for w in range(workers)}
    with lib.TempDir() as tmp:
        # Run 1: one destination, 16 ports, 40 flows, then a second packet
        # from each of the 16 that got a port: per worker, the first of
        # its clients, as many as it owns ports.
        flows = flows_to(lambda i: "203.0.113.7")
        clients = {w: [i for i in range(N_FLOWS) if owner(flows[i], workers) == w]
                   for w in range(workers)}
        check(all(len(clients[w]) >= len(share[w]) for w in clients),
              f"every worker needs more clients than ports: {clients} {share}")
        served = sorted(i for w in clients for i in clients[w][:len(share[w])])
        frames = [(i, frame(f, i)) for i, f in enumerate(flows)]
        frames += [(i, frame(flows[i], N_FLOWS + k)) for k, i in enumerate(served)]
        out, c, per_worker = run(tmp, "one-dest", flows, frames, n_out=32,
                                 workers=workers)
        port_of = check_translated(out, flows, workers)
        check(sorted(port_of) == served,
              f"translated flows {sorted(port_of)}, expected {served} (each "
              "worker's first clients, as many as it has ports)")
        check(sorted(port_of.values()) == list(lease),
              f"ports {sorted(port_of.values())}: expected each lease port once")
        check(len(out) == 32, f"{len(out)} packets out, expected 16 flows x 2")
        lib.check_counters(c, {
            "rx_inside": 56, "in2out": 32, "tx_outside": 32,
            "flows_created": 16, "ports_exhausted": 24, **handed(56, workers),
        })
        lib.check_workers(per_worker, workers, busy=("in2out", "ports_exhausted",
                                                     "handoff_tx", "handoff_rx"))
        log("one destination: 16 flows translated (and kept their ports), "
            f"24 ports_exhausted; {workers} worker(s) with "
            f"{len(share[0])} ports each")

        # Run 2: the same clients to 40 destinations: ports are reused.
        flows = flows_to(lambda i: f"203.0.113.{i + 100}")
        frames = [(i, frame(f, i)) for i, f in enumerate(flows)]
        out, c, per_worker = run(tmp, "spread", flows, frames, n_out=N_FLOWS,
                                 workers=workers)
        port_of = check_translated(out, flows, workers)
        check(len(port_of) == N_FLOWS, f"{len(port_of)} of {N_FLOWS} flows translated")
        lib.check_counters(c, {
            "rx_inside": 40, "in2out": 40, "tx_outside": 40,
            "flows_created": 40, "ports_exhausted": 0, **handed(40, workers),
        })
        lib.check_workers(per_worker, workers, busy=("in2out", "handoff_tx",
                                                     "handoff_rx"))
        log(f"40 destinations: 40 flows on {len(set(port_of.values()))} "
            "distinct ports, ports_exhausted 0")


if __name__ == "__main__":
    lib.main(test)
