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


def run(tmp, name, flows, frames, n_out):
    """Feed @frames to a fresh engine, wait for the @n_out packets that must
    come out (the last input frame is always one of them, so every frame
    has been handled when they are all there), stop it. Returns (outside
    packets as (flow index, parsed), counters)."""
    d = tmp / name
    d.mkdir()
    lib.write_pcap(d / "in.pcap", frames)
    lib.write_pcap(d / "empty.pcap", [])
    conf = lib.write_config(
        d / "engine.ini",
        inside_device=f"net_pcap0,rx_pcap={d}/in.pcap,tx_pcap={d}/in_tx.pcap",
        outside_device=f"net_pcap1,rx_pcap={d}/empty.pcap,tx_pcap={d}/out_tx.pcap",
        slices={SLICE_IP: "10000-12047"},
        leases={"small": {"kind": "nat", "ip": SLICE_IP,
                          "ports": f"{LEASE_LO}-{LEASE_HI}", "clients": "10.0.0.0/16"}},
        nat={"max_flows": 1024})
    with lib.Engine(conf, d) as eng:
        eng.wait_started()
        lib.wait_records(d / "out_tx.pcap", n_out, timeout=20, engine=eng)
        counters = eng.stop()
    out = []
    by_client = {(f[0], f[1]): i for i, f in enumerate(flows)}
    for raw in lib.read_pcap(d / "out_tx.pcap"):
        p = Ether(raw)
        # The payload names the client: map the packet back to its flow.
        cip, cport = p[UDP].load.decode().split()[1].split(":")
        out.append((by_client[(cip, int(cport))], p))
    return out, counters


def check_translated(out, flows):
    """Each emitted packet: slice source, port in the lease, destination
    untouched, checksums valid; one outside port per flow."""
    port_of = {}
    for i, p in out:
        check(p[IP].src == SLICE_IP, f"flow {i}: source {p[IP].src}")
        port = p[UDP].sport
        check(LEASE_LO <= port <= LEASE_HI, f"flow {i}: port {port} outside the lease")
        check((p[IP].dst, p[UDP].dport) == flows[i][2:],
              f"flow {i}: destination rewritten to {p[IP].dst}:{p[UDP].dport}")
        errs = lib.checksum_errors(bytes(p))
        check(not errs, f"flow {i}: {errs}")
        check(port_of.setdefault(i, port) == port,
              f"flow {i} changed port {port_of[i]} -> {port}")
    tuples = {(SLICE_IP, port_of[i], *flows[i][2:]) for i in port_of}
    check(len(tuples) == len(port_of), "two flows share an outside 5-tuple")
    return port_of


def test():
    with lib.TempDir() as tmp:
        # Run 1: one destination, 16 ports, 40 flows, then a second packet
        # from each of the first 16 (the flows that got a port).
        flows = flows_to(lambda i: "203.0.113.7")
        frames = [frame(f, i) for i, f in enumerate(flows)]
        frames += [frame(f, N_FLOWS + i) for i, f in enumerate(flows[:16])]
        out, c = run(tmp, "one-dest", flows, frames, n_out=32)
        port_of = check_translated(out, flows)
        check(sorted(port_of) == list(range(16)),
              f"translated flows {sorted(port_of)}, expected the first 16")
        check(sorted(port_of.values()) == list(range(LEASE_LO, LEASE_HI + 1)),
              f"ports {sorted(port_of.values())}: expected each lease port once")
        check(len(out) == 32, f"{len(out)} packets out, expected 16 flows x 2")
        lib.check_counters(c, {
            "rx_inside": 56, "in2out": 32, "tx_outside": 32,
            "flows_created": 16, "ports_exhausted": 24,
        })
        log("one destination: 16 flows translated (and kept their ports), "
            "24 ports_exhausted")

        # Run 2: the same clients to 40 destinations: ports are reused.
        flows = flows_to(lambda i: f"203.0.113.{i + 100}")
        frames = [frame(f, i) for i, f in enumerate(flows)]
        out, c = run(tmp, "spread", flows, frames, n_out=N_FLOWS)
        port_of = check_translated(out, flows)
        check(len(port_of) == N_FLOWS, f"{len(port_of)} of {N_FLOWS} flows translated")
        lib.check_counters(c, {
            "rx_inside": 40, "in2out": 40, "tx_outside": 40,
            "flows_created": 40, "ports_exhausted": 0,
        })
        log(f"40 destinations: 40 flows on {len(set(port_of.values()))} "
            "distinct ports, ports_exhausted 0")


if __name__ == "__main__":
    lib.main(test)
