#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""More workers than a kernel mirror has queues.

A TAP mirror gets at most 4 queue pairs (the most DPDK 22.11's TAP PMD
starts without aborting; virtio-user allows 8). With 5 workers, worker 4
has no queue on the inside mirror: what it punts must reach Linux through
a worker that has one (worker 4 % 4 = 0), and Linux's answers must still
leave.

The engine runs in a namespace of the test's own with an inside TAP
mirror (10.0.0.1/24). The inside net_pcap port has 5 RX queues; only
queue 4's pcap holds packets: 20 ARP requests from 10.0.0.2 for 10.0.0.1.
Worker 4 hands each to worker 0, which sends it to the mirror; Linux
answers each with an ARP reply that leaves on the inside port.

Checks: the engine says the mirror has 4 queues; 20 ARP replies from
10.0.0.1 to the requester in the inside TX pcaps; worker 4 handed 20
packets and sent none to Linux itself; worker 0 received those 20 and
sent 20 to Linux; nothing dropped.

Needs root and `ip netns` (exit 77 otherwise).
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import lib  # noqa: E402
from lib import check, log

from scapy.layers.l2 import ARP, Ether

WORKERS = 5
MIRROR_QUEUES = 4
N_ARP = 20
PEER_MAC = "02:00:00:00:00:02"


def arp_request():
    return bytes(Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff")
                 / ARP(op=1, hwsrc=PEER_MAC, psrc="10.0.0.2", pdst="10.0.0.1"))


def pcap_device(name, rx_files, tx_prefix):
    """One RX and one TX queue per worker; names relative to the engine's
    working directory (the test's) keep the device string short."""
    args = [f"rx_pcap={f}" for f in rx_files]
    args += [f"tx_pcap={tx_prefix}{q}.pcap" for q in range(WORKERS)]
    return f"{name},{','.join(args)}"


def wait_total(files, n, timeout, engine):
    """Poll until @files together hold >= @n records (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(lib.count_records(f) for f in files) >= n:
            return
        check(engine.alive(), f"engine exited\n{engine.output()}")
        time.sleep(0.1)
    raise lib.TestFailure(f"timeout: fewer than {n} packets out\n{engine.output()}")


def worker_counter(out, worker, name):
    m = re.search(rf"^  worker {worker} (?:drop|event) {name} (\d+)$", out, re.M)
    return int(m.group(1)) if m else 0


def test():
    if not lib.netns_available():
        lib.skip("needs root and ip netns")
    home = os.getcwd()
    with lib.TempDir() as d, lib.Netns() as ns:
        os.chdir(d)
        try:
            run(d, ns)
        finally:
            os.chdir(home)


def run(d, ns):
    """The whole test, in the temporary directory @d."""
    lib.write_pcap(d / "empty.pcap", [])
    lib.write_pcap(d / "arp.pcap", [arp_request() for _ in range(N_ARP)])
    conf = lib.write_config(
        d / "engine.conf",
        pcap_device("net_pcap0", ["empty.pcap"] * (WORKERS - 1) + ["arp.pcap"],
                    "in_tx"),
        pcap_device("net_pcap1", ["empty.pcap"] * WORKERS, "out_tx"),
        {"198.51.100.10": "10000-12047"},
        {"a": {"kind": "nat", "ip": "198.51.100.10", "ports": "10000-11999",
               "clients": "10.0.0.0/16"}},
        nat={"max_flows": 1024})
    text = conf.read_text()
    text = text.replace("eal = -l 0-1 --no-huge -m 512",
                        f"eal = --lcores (0-{WORKERS})@(0,1) --no-huge -m 1024")
    text = text.replace("[engine]\n", f"[engine]\nworkers = {WORKERS}\n", 1)
    text = text.replace("exception = none\n", "exception = tap\nmirror = shtq-in\n", 1)
    conf.write_text(text)

    with lib.Engine(conf, d, netns=ns.name) as eng:
        eng.wait_started(timeout=60)
        out = eng.out_path.read_text()
        check(re.search(rf"inside port .*kernel mirror .*, {MIRROR_QUEUES} queue\(s\)",
                        out), f"expected an {MIRROR_QUEUES}-queue inside mirror\n{out}")
        tx = [d / f"in_tx{q}.pcap" for q in range(WORKERS)]
        wait_total(tx, N_ARP, 60, eng)
        counters = eng.stop(timeout=60)
    out = eng.out_path.read_text()

    replies = [p for f in tx for p in map(Ether, lib.read_pcap(f))
               if ARP in p and p[ARP].op == 2]
    check(len(replies) == N_ARP, f"{len(replies)} ARP replies, expected {N_ARP}")
    for p in replies:
        check(p[ARP].psrc == "10.0.0.1" and p[ARP].pdst == "10.0.0.2"
              and p[Ether].dst == PEER_MAC, f"unexpected ARP reply {p.summary()}")
    last = WORKERS - 1
    for worker, name, want in ((last, "handoff_tx", N_ARP), (last, "to_kernel", 0),
                               (0, "handoff_rx", N_ARP), (0, "to_kernel", N_ARP)):
        got = worker_counter(out, worker, name)
        check(got == want, f"worker {worker} {name}: {got}, expected {want}\n{out}")
    drops = {k: int(v) for k, v in re.findall(r"^\s+drop\s+(\S+)\s+(\d+)$", out, re.M)
             if int(v)}
    check(not drops, f"drops: {drops}")
    check(counters["to_kernel"] == N_ARP, f"to_kernel {counters['to_kernel']}")
    log(f"{N_ARP} ARP requests on worker {last} -> worker 0 -> Linux -> "
        f"{len(replies)} replies")


if __name__ == "__main__":
    lib.main(test)
