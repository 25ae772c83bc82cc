#!/usr/bin/python3
"""Measure a running engine's flow set-up rate through DPDK telemetry.

Usage: newflows.py FILE_PREFIX N [TIMEOUT_S]

Polls /shoal/stats (one telemetry connection, every ~2 ms) while a replay
of N never-seen flows is creating them, and prints the rate (flows/s)
between 10% and 90% of N: the steady part of the first pass, without the
start-up ramp or the tail. Exits 1 if N/10..9N/10 was not crossed in time.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from telemetry import command, connect  # noqa: E402


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    prefix, n = sys.argv[1], int(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) == 4 else 60.0
    deadline = time.monotonic() + timeout
    try:
        s, size = connect(prefix, timeout)
    except OSError as e:
        sys.exit(f"no telemetry socket for {prefix}: {e}")
    lo, hi = n // 10, n * 9 // 10
    t_lo = c_lo = None
    while time.monotonic() < deadline:
        stats = command(s, size, "/shoal/stats").get("/shoal/stats")
        now = time.monotonic()
        if not stats:  # the engine registers its commands after EAL init
            time.sleep(0.01)
            continue
        created = stats["flows_created"]
        if t_lo is None and created >= lo:
            t_lo, c_lo = now, created
        if t_lo is not None and created >= hi:
            print(round((created - c_lo) / (now - t_lo)))
            return
        time.sleep(0.002)
    sys.exit("the flows were not created in time")


if __name__ == "__main__":
    main()
