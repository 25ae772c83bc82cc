#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""What the flows of tests/restart/run.sh saw across one event.

  report.py udp LOG FROM TO
      LOG is the server's udp.log ("SEQ ADDR PORT T_MS SENT_MS" per
      datagram). Prints a JSON object about sequence numbers FROM..TO-1:
      sent, received, lost, runs (the lost numbers as [first, last]
      runs), sources (distinct "ADDR:PORT" they came from, in order of
      first arrival), gap_ms (the longest time, by the sender's clock,
      between sending two consecutive received numbers: across a lost run
      it is the outage; a sender that was itself held up and then caught
      up in a burst does not hide it) and arrival_gap_ms (the same by the
      receiver's clock); open is true when the last run reaches TO-1 (the
      stream had not come back when the window closed).

  report.py iperf JSON START_MS NAME:FROM_MS:TO_MS...
      JSON is iperf3 -J output, START_MS the wall clock (ms) when it was
      started. Prints a JSON object: for each window NAME, the longest run
      of consecutive intervals that carried 0 bytes among those that
      overlap the window, in seconds; "all" for the whole run.
"""
import json
import sys


def udp(log, lo, hi):
    arrival, sent = {}, {}
    sources = []
    with open(log) as f:
        for line in f:
            w = line.split()
            if len(w) != 5 or not w[0].isdigit():
                continue
            seq = int(w[0])
            if not lo <= seq < hi or seq in arrival:
                continue
            arrival[seq] = float(w[3])
            sent[seq] = float(w[4])
            src = f"{w[1]}:{w[2]}"
            if src not in sources:
                sources.append(src)
    runs = []
    for seq in range(lo, hi):
        if seq in arrival:
            continue
        if runs and runs[-1][1] == seq - 1:
            runs[-1][1] = seq
        else:
            runs.append([seq, seq])
    got = sorted(arrival)
    def longest(t):
        return round(max((t[b] - t[a] for a, b in zip(got, got[1:])),
                         default=0.0), 1)

    # From the last datagram in before the first loss to the first in
    # after the last loss, by the sender's clock: what an outage of the
    # engine, however many runs it made, took from the stream.
    span = 0.0
    if runs and runs[0][0] - 1 in sent and runs[-1][1] + 1 in sent:
        span = round(sent[runs[-1][1] + 1] - sent[runs[0][0] - 1], 1)
    return {"sent": hi - lo, "received": len(arrival),
            "lost": hi - lo - len(arrival), "runs": runs, "sources": sources,
            "gap_ms": longest(sent), "arrival_gap_ms": longest(arrival),
            "loss_span_ms": span,
            "open": bool(runs) and runs[-1][1] == hi - 1}


def longest_stall(intervals, lo_s=None, hi_s=None):
    best = run = 0.0
    for iv in intervals:
        s = iv["sum"]
        if lo_s is not None and (s["end"] <= lo_s or s["start"] >= hi_s):
            run = 0.0
            continue
        if s["bytes"] == 0:
            run += s["end"] - s["start"]
            best = max(best, run)
        else:
            run = 0.0
    return round(best, 2)


def iperf(path, start_ms, windows):
    with open(path) as f:
        intervals = json.load(f).get("intervals", [])
    out = {"all": longest_stall(intervals)}
    for w in windows:
        name, lo, hi = w.split(":")
        out[name] = longest_stall(intervals, (float(lo) - start_ms) / 1000,
                                  (float(hi) - start_ms) / 1000)
    return out


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "udp":
        res = udp(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "iperf":
        res = iperf(sys.argv[2], float(sys.argv[3]), sys.argv[4:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
