#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""[engine] idle_sleep_us: workers that find nothing to do sleep, and
still translate what comes.

    inside.pcap --rx--> [ inside  net_pcap0 ] --tx--> inside_tx.pcap
    empty.pcap  --rx--> [ outside net_pcap1 ] --tx--> outside_tx.pcap

idle_sleep_us = 2000. The client's 20 UDP packets all leave translated;
then, with nothing left to receive, every worker thread runs under a
quarter of a 2 s window (a polling worker runs all of it: the same
engine with the default 0 is measured as the reference, and must run
more than the sleeper).

Needs the engine binary; no root (pcap files only).
"""

import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import lib  # noqa: E402
from lib import check, log

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

SLICE_IP = "198.51.100.10"
PACKETS = 20
WINDOW = 2.0


def worker_cpu(pid):
    """{thread id: ns on CPU} of the engine's worker lcores."""
    got = {}
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            if t.joinpath("comm").read_text().startswith("rte-worker"):
                got[t.name] = int(t.joinpath("schedstat").read_text().split()[0])
        except OSError:
            pass
    return got


def run(workers, sleep_us):
    with lib.TempDir() as d:
        frames = [Ether(src="02:00:00:00:00:02", dst=lib.INSIDE_MAC) /
                  IP(src=f"10.0.1.{1 + i % 8}", dst="203.0.113.5", id=i + 1) /
                  UDP(sport=2000 + i, dport=53) / b"q" for i in range(PACKETS)]
        lib.write_pcap(d / "inside.pcap", [bytes(f) for f in frames])
        lib.write_pcap(d / "empty.pcap", [])
        # One RX queue reads the pcap; with several workers the others
        # read an empty one (so they idle from the start).
        rx_in = [d / "inside.pcap"] + [d / "empty.pcap"] * (workers - 1)
        conf = lib.write_config(
            d / "shoal.conf",
            inside_device=lib.pcap_device(0, lib.queue_files(d, "inside_tx", workers),
                                          rx_pcap=rx_in),
            outside_device=lib.pcap_device(1, lib.queue_files(d, "outside_tx", workers),
                                           rx_pcap=[d / "empty.pcap"] * workers),
            slices={SLICE_IP: "10000-12047"},
            leases={"c": {"kind": "nat", "ip": SLICE_IP, "ports": "10000-11999",
                          "clients": "10.0.0.0/16"}},
            workers=workers)
        conf.write_text(conf.read_text().replace(
            "[engine]\n", f"[engine]\nidle_sleep_us = {sleep_us}\n"))
        with lib.Engine(conf, d) as eng:
            eng.wait_started()
            lib.wait_records(lib.queue_files(d, "outside_tx", workers), PACKETS,
                             timeout=20, engine=eng, what="translated packets")
            time.sleep(0.5)
            c0, t0 = worker_cpu(eng.proc.pid), time.monotonic()
            time.sleep(WINDOW)
            c1, t1 = worker_cpu(eng.proc.pid), time.monotonic()
            counters = eng.stop()
    check(len(c0) == workers and c0.keys() == c1.keys(),
          f"worker threads {sorted(c0)} then {sorted(c1)}, expected {workers}")
    share = {tid: (c1[tid] - c0[tid]) / 1e9 / (t1 - t0) for tid in c0}
    lib.check_counters(counters, {"rx_inside": PACKETS, "in2out": PACKETS,
                                  "tx_outside": PACKETS, "flows_created": PACKETS})
    return max(share.values())


def test(workers):
    lib.engine_path()
    sleeper = run(workers, 2000)
    poller = run(workers, 0)
    log(f"busiest worker ran {sleeper:.1%} of the idle window with "
        f"idle_sleep_us 2000, {poller:.1%} with 0")
    check(sleeper < 0.25, f"a sleeping worker ran {sleeper:.1%} of an idle window")
    check(poller > sleeper, f"polling workers ran {poller:.1%}, less than sleeping "
          f"ones ({sleeper:.1%})")


if __name__ == "__main__":
    lib.main(test)
