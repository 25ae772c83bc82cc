#!/usr/bin/python3
"""Minimal DPDK telemetry client: print the JSON reply to one command.

Usage: telemetry.py FILE_PREFIX COMMAND      e.g.  telemetry.py shoal /ethdev/stats,1
Talks to /var/run/dpdk/FILE_PREFIX/dpdk_telemetry.v2 (SOCK_SEQPACKET), the
socket every DPDK 22.11 process opens; waits up to 10 s for it to appear.
"""
import json
import os
import socket
import sys
import time


def connect(prefix, timeout=10.0):
    """A connected telemetry socket and the largest reply it may send;
    waits (bounded) for the process to create the socket."""
    path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(path)
            break
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    info = json.loads(s.recv(4096).decode())
    return s, info.get("max_output_len", 16384)


def command(s, size, cmd):
    """One command on a connected socket; its JSON reply."""
    s.send(cmd.encode())
    return json.loads(s.recv(size).decode())


def query(prefix, cmd, timeout=10.0):
    s, size = connect(prefix, timeout)
    with s:
        return command(s, size, cmd)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(json.dumps(query(sys.argv[1], sys.argv[2])))
