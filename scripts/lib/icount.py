#!/usr/bin/python3
"""Instructions per packet of a DPDK forwarding program, counted by callgrind.

Usage: icount.py FILE_PREFIX SECONDS -- COMMAND...

COMMAND (shoal-engine or dpdk-testpmd, inside port net_pcap with
infinite_rx=1) runs under `valgrind --tool=callgrind` with instrumentation
off, so start-up and warm-up run at JIT speed and are not counted. Once
port 1 sends packets, instrumentation is switched on for SECONDS, the
counters are dumped and the program is stopped with SIGINT.

The figure is the instructions of the busiest thread (the forwarding
lcore) divided by the packets it received in that window. The packets are
counted by callgrind too, not by the clock: net_pcap's infinite_rx
receive function is the only code of that driver that runs, and it
returns a full burst of 32 on every call (it copies from the pcap ring
into freshly allocated mbufs; net_null's transmit frees them, so the pool
never runs dry). Instruction counts do not depend on the machine's load,
so two runs of the same binary agree to well under 1% (the remainder is
the expiry sweep, which is paced by time).
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from telemetry import query  # noqa: E402

BURST = 32
RX_DRIVER = "librte_net_pcap"


def sent(prefix):
    try:
        return query(prefix, "/ethdev/stats,1", 1.0)["/ethdev/stats"]["opackets"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def parse(path):
    """(total Ir, calls into the RX driver from other objects) of one
    callgrind dump written with --compress-strings=no."""
    total = calls = 0
    ob = cob = ""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("ob="):
                ob = cob = line[3:].strip()
            elif line.startswith("cob="):
                cob = line[4:].strip()
            elif line.startswith("calls="):
                if RX_DRIVER in cob and RX_DRIVER not in ob:
                    calls += int(line.split()[0][6:])
                # A "cob=" names the callee's object for one call only.
                cob = ob
            elif line.startswith("totals:"):
                total = int(line.split()[1])
    return total, calls


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    prefix, seconds, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[4:]
    with tempfile.TemporaryDirectory(prefix="shoal-icount.") as tmp:
        out = os.path.join(tmp, "cg")
        log = open(os.path.join(tmp, "log"), "w+")
        vg = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             "--separate-threads=yes", "--compress-strings=no",
             "--compress-pos=no", f"--callgrind-out-file={out}"] + cmd,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while sent(prefix) == 0:
                if vg.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    sys.exit("icount: no packets flowed\n" + log.read()[-2000:])
                time.sleep(0.2)
            quiet = {"check": True, "stdout": subprocess.DEVNULL,
                     "stderr": subprocess.DEVNULL}
            ctl = ["callgrind_control"]
            subprocess.run(ctl + ["-i", "on", str(vg.pid)], **quiet)
            time.sleep(seconds)
            subprocess.run(ctl + ["-d", str(vg.pid)], **quiet)
            subprocess.run(ctl + ["-i", "off", str(vg.pid)], **quiet)
        finally:
            if vg.poll() is None:
                vg.send_signal(signal.SIGINT)
                try:
                    vg.wait(60)
                except subprocess.TimeoutExpired:
                    vg.kill()
                    vg.wait()
        # The dump asked for is part 1: one file per thread, cg.1-NN.
        best = (0, 0)
        for name in os.listdir(tmp):
            if name.startswith("cg.1-"):
                best = max(best, parse(os.path.join(tmp, name)))
        total, calls = best
        if calls == 0:
            sys.exit("icount: the busiest thread received nothing")
        print(f"{total / (calls * BURST):.1f}")


if __name__ == "__main__":
    main()
