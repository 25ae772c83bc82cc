#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Log every change under an etcd key prefix with the time it was seen.

Usage: watch.py URL PREFIX        (runs until SIGTERM or SIGINT)

Reads the prefix once through etcd's v3 JSON gateway (POST /v3/kv/range),
then watches it from the next revision (POST /v3/watch), so no change is
missed between the two. Prints one line per key and event, flushed:

    T put KEY VALUE      (VALUE: the value, compact JSON)
    T del KEY

T is the wall clock (CLOCK_REALTIME, seconds) when the line was read,
the clock tcpdump stamps packets with; the snapshot's lines carry the
time of the snapshot. A watch that ends (etcd down) prints "T lost" and
exits 1.
"""
import base64
import json
import signal
import sys
import time
import urllib.request


def b64(s):
    return base64.b64encode(s.encode()).decode()


def unb64(s):
    return base64.b64decode(s or "").decode()


def prefix_end(p):
    """The range end that covers every key starting with @p."""
    return p[:-1] + chr(ord(p[-1]) + 1)


def post(url, body, timeout=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=timeout)


def emit(t, kind, kv):
    key = unb64(kv.get("key"))
    if kind == "put":
        try:
            val = json.dumps(json.loads(unb64(kv.get("value"))),
                             separators=(",", ":"))
        except ValueError:
            val = unb64(kv.get("value"))
        print(f"{t:.6f} put {key} {val}", flush=True)
    else:
        print(f"{t:.6f} del {key}", flush=True)


def main():
    url, prefix = sys.argv[1].rstrip("/"), sys.argv[2]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    rng = {"key": b64(prefix), "range_end": b64(prefix_end(prefix))}
    with post(url + "/v3/kv/range", rng, timeout=5) as r:
        snap = json.load(r)
    t = time.time()
    for kv in snap.get("kvs", []):
        emit(t, "put", kv)
    rev = int(snap["header"]["revision"])
    req = {"create_request": dict(rng, start_revision=str(rev + 1))}
    with post(url + "/v3/watch", req) as r:
        for line in r:
            t = time.time()
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            for ev in msg.get("result", {}).get("events", []):
                emit(t, "del" if ev.get("type") == "DELETE" else "put",
                     ev["kv"])
    print(f"{time.time():.6f} lost", flush=True)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
