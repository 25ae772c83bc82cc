#!/usr/bin/python3
"""Instructions per packet of a DPDK forwarding program, counted by callgrind.

Usage: icount.py [--stats] [--exclude FUNCTION] [--port N] [--per-call FUNCTION]
                 FILE_PREFIX SECONDS -- COMMAND...

COMMAND (shoal-engine or dpdk-testpmd, inside port net_pcap with
infinite_rx=1) runs under `valgrind --tool=callgrind` with instrumentation
off, so start-up and warm-up run at JIT speed and are not counted. Once
port 1 sends packets, instrumentation is switched on for SECONDS, the
counters are dumped and the program is stopped with SIGINT.

The figure is the instructions of the forwarding threads (those that
received packets: one per forwarding lcore) divided by the packets they
received in that window. The packets are counted by callgrind too, not by
the clock: net_pcap's infinite_rx receive function is the only code of
that driver that runs, and it returns a full burst of 32 on every call (it
copies from the pcap ring into freshly allocated mbufs; net_null's
transmit frees them, so the pool never runs dry). Instruction counts do
not depend on the machine's load, so two runs of the same binary agree to
well under 1% (the remainder is the expiry sweep, which is paced by time).

Valgrind runs one thread at a time; --fair-sched=yes makes the forwarding
lcores take turns (without it one lcore can hold the lock for seconds).
A turn is about 100000 blocks, some 4000 packets, so a packet handed to
another worker waits for that worker's turn, and the handoff ring must
hold a turn's worth (--stats shows what did not fit).

--stats: also print the engine's /shoal/stats deltas over the window
(rx_inside, handoff_tx, handoff_full), to check what was handed and that
nothing was dropped: "FIGURE rx_inside=R handoff_tx=H handoff_full=F".
--exclude FUNCTION: leave out what calls to FUNCTION cost (inclusive),
e.g. nat_expire, the expiry sweep: it is paced by time, so its share per
packet grows as valgrind runs slower, which two workers do (they take
turns): about 3 instructions per packet with one worker, 12 with two.
--port N: wait for packets sent on port N (default 1, the outside port;
0 for a replay into the outside port translated to the inside).
--per-call FUNCTION: count packets as the calls to FUNCTION, one per
packet, instead of as receive bursts: for a replay whose packets leave
by the port that receives them (net_pcap's transmit is then called too,
and the driver's stripped functions cannot be told apart).
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
STATS = ("rx_inside", "handoff_tx", "handoff_full")


def sent(prefix, port):
    try:
        return query(prefix, f"/ethdev/stats,{port}", 1.0)["/ethdev/stats"]["opackets"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def counters(prefix):
    """The STATS counters of /shoal/stats (waits up to 30 s: a reply
    waits for the telemetry thread's turn under valgrind)."""
    stats = query(prefix, "/shoal/stats", 30.0)["/shoal/stats"]
    return [stats[k] for k in STATS]


def parse(path, exclude=None, per_call=None):
    """(total Ir less the inclusive Ir of calls to @exclude, calls into
    the RX driver from other objects, or with @per_call calls to that
    function) of one callgrind dump written with --compress-strings=no."""
    total = calls = excluded = 0
    ob = cob = cfn = ""
    call_cost = False  # the line after "calls=" is that call's inclusive cost
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if call_cost:
                if cfn == exclude:
                    excluded += int(line.split()[1])
                call_cost = False
            elif line.startswith("ob="):
                ob = cob = line[3:].strip()
            elif line.startswith("cob="):
                cob = line[4:].strip()
            elif line.startswith("cfn="):
                cfn = line[4:].strip()
            elif line.startswith("calls="):
                if (cfn == per_call if per_call else
                        RX_DRIVER in cob and RX_DRIVER not in ob):
                    calls += int(line.split()[0][6:])
                # A "cob=" names the callee's object for one call only.
                cob = ob
                call_cost = True
            elif line.startswith("totals:"):
                total = int(line.split()[1])
    return total - excluded, calls


def main():
    args = sys.argv[1:]
    want_stats, exclude, port, per_call = False, None, 1, None
    while args[:1] in (["--stats"], ["--exclude"], ["--port"], ["--per-call"]):
        if args[0] == "--stats":
            want_stats, args = True, args[1:]
        elif len(args) < 2:
            sys.exit(__doc__)
        elif args[0] == "--exclude":
            exclude, args = args[1], args[2:]
        elif args[0] == "--port":
            port, args = int(args[1]), args[2:]
        else:
            per_call, args = args[1], args[2:]
    if len(args) < 4 or args[2] != "--":
        sys.exit(__doc__)
    prefix, seconds, cmd = args[0], float(args[1]), args[3:]
    with tempfile.TemporaryDirectory(prefix="shoal-icount.") as tmp:
        out = os.path.join(tmp, "cg")
        log = open(os.path.join(tmp, "log"), "w+")
        vg = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             "--separate-threads=yes", "--fair-sched=yes", "--compress-strings=no",
             "--compress-pos=no", f"--callgrind-out-file={out}"] + cmd,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while sent(prefix, port) == 0:
                if vg.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    sys.exit("icount: no packets flowed\n" + log.read()[-2000:])
                time.sleep(0.2)
            quiet = {"check": True, "stdout": subprocess.DEVNULL,
                     "stderr": subprocess.DEVNULL}
            ctl = ["callgrind_control"]
            subprocess.run(ctl + ["-i", "on", str(vg.pid)], **quiet)
            before = counters(prefix) if want_stats else None
            time.sleep(seconds)
            subprocess.run(ctl + ["-d", str(vg.pid)], **quiet)
            after = counters(prefix) if want_stats else None
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
        total = calls = 0
        for name in os.listdir(tmp):
            if name.startswith("cg.1-"):
                t, c = parse(os.path.join(tmp, name), exclude, per_call)
                if c:
                    total, calls = total + t, calls + c
        if calls == 0:
            sys.exit("icount: no thread received anything")
        line = f"{total / (calls * (1 if per_call else BURST)):.1f}"
        if want_stats:
            line += "".join(f" {k}={a - b}" for k, a, b in zip(STATS, after, before))
        print(line)


if __name__ == "__main__":
    main()
