#!/usr/bin/python3
"""Measure a running engine's flow set-up rate through DPDK telemetry.

Usage: newflows.py FILE_PREFIX FIRST N [TIMEOUT_S]

Polls /shoal/stats (one telemetry connection, about every half
millisecond) while a replay creates never-seen flows, and prints the rate
(flows/s) at which flows FIRST+N/10 .. FIRST+9N/10 were created: the
steady part of the N flows that follow the first FIRST ones, without
their ramp or tail. Exits 1 if that span was not crossed in time.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from telemetry import command, connect  # noqa: E402


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    prefix, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    timeout = float(sys.argv[4]) if len(sys.argv) == 5 else 60.0
    deadline = time.monotonic() + timeout
    try:
        s, size = connect(prefix, timeout)
    except OSError as e:
        sys.exit(f"no telemetry socket for {prefix}: {e}")
    lo, hi = first + n // 10, first + n * 9 // 10
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
        time.sleep(0.0005)
    sys.exit("the flows were not created in time")


if __name__ == "__main__":
    main()
