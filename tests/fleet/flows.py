#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Long-lived flows of one fleet host's clients, tagged with the host.

  flows.py --tag X --tcp-bind A --udp-bind B --server S --tcp-port P
           --udp-port U --conns N --interval SEC --duration SEC

Against the echo server of tests/restart/peers.py: opens N TCP
connections from A and leaves them idle; sends one datagram "X SEQ" every
SEC from B (one local port) for at most --duration seconds, so a capture
at the server says which host sent each datagram. Prints "ready N
udp_port PORT" once all N connections echoed once (or "failed REASON" and
exits 1). Then reads commands on stdin, one a line:
  check ID -> "check ID ok N/N MAX_MS udp SENT ECHOED AGE_MS" when every
              connection echoed a line within 2 s, else "check ID fail
              K/N REASON udp SENT ECHOED AGE_MS"; AGE_MS: since the last
              echo of the UDP stream arrived (-1: none yet)
  quit     -> closes everything, prints "end sent S echoes E", exits 0
Every wait is bounded; the client exits by itself after --duration.

  flows.py --tag X --udp-bind B[,B...] --server S --udp-port U --burst N

sends N datagrams "X SEQ", each from a new socket (so a new local port
and a new flow through the NAT), round robin over the addresses B, then
prints "burst N echoed E" after waiting up to 2 s for the echoes.
"""
import argparse
import asyncio
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "restart"))
import peers  # noqa: E402  (the echo round trips of the restart suite)


class Stream(asyncio.DatagramProtocol):
    def __init__(self):
        self.echoes = 0
        self.last = None

    def datagram_received(self, data, addr):
        self.echoes += 1
        self.last = time.monotonic()


async def send(transport, tag, state, interval, deadline):
    """One datagram every @interval on an absolute schedule, until
    @deadline or quit."""
    t0 = time.monotonic()
    while time.monotonic() < deadline and not state["quit"]:
        transport.sendto(b"%s %d\n" % (tag, state["seq"]))
        state["seq"] += 1
        delay = t0 + state["seq"] * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


def udp_status(state, proto):
    age = -1 if proto.last is None else int((time.monotonic() - proto.last) * 1000)
    return f"udp {state['seq']} {proto.echoes} {age}"


async def run(args):
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + args.duration
    conns = []
    try:
        for _ in range(args.conns):
            conns.append(await asyncio.wait_for(asyncio.open_connection(
                args.server, args.tcp_port, local_addr=(args.tcp_bind, 0)),
                peers.CONNECT_TIMEOUT_S))
    except (OSError, asyncio.TimeoutError) as e:
        print(f"failed connection {len(conns)}: {type(e).__name__} {e}", flush=True)
        return 1
    first = await peers.check(conns, "initial")
    if " ok " not in first:
        print(f"failed {first}", flush=True)
        return 1
    transport, proto = await loop.create_datagram_endpoint(
        Stream, local_addr=(args.udp_bind, 0),
        remote_addr=(args.server, args.udp_port))
    state = {"seq": 0, "quit": False}
    task = asyncio.create_task(send(transport, args.tag.encode(), state,
                                    args.interval, deadline))
    print(f"ready {len(conns)} udp_port {transport.get_extra_info('sockname')[1]}",
          flush=True)

    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin),
                                 sys.stdin)
    while time.monotonic() < deadline:
        try:
            line = await asyncio.wait_for(stdin.readline(),
                                          max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if not line:
            break
        words = line.decode().split()
        if words[:1] == ["quit"]:
            break
        if len(words) == 2 and words[0] == "check":
            print(await peers.check(conns, words[1]) + " " +
                  udp_status(state, proto), flush=True)
        else:
            print(f"error unknown command {line!r}", flush=True)
    state["quit"] = True
    await task
    print(f"end sent {state['seq']} echoes {proto.echoes}", flush=True)
    transport.close()
    for _, w in conns:
        w.close()
    return 0


def burst(args):
    socks = []
    for i, addr in zip(range(args.burst),
                       (args.udp_bind.split(",") * args.burst)):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addr, 0))
        s.sendto(b"%s %d\n" % (args.tag.encode(), i),
                 (args.server, args.udp_port))
        s.setblocking(False)
        socks.append(s)
    echoed = set()
    deadline = time.monotonic() + 2.0
    while len(echoed) < len(socks) and time.monotonic() < deadline:
        for i, s in enumerate(socks):
            try:
                s.recv(2048)
                echoed.add(i)
            except BlockingIOError:
                pass
        time.sleep(0.01)
    for s in socks:
        s.close()
    print(f"burst {len(socks)} echoed {len(echoed)}", flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tag", required=True)
    ap.add_argument("--tcp-bind")
    ap.add_argument("--udp-bind", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--tcp-port", type=int)
    ap.add_argument("--udp-port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=20)
    ap.add_argument("--interval", type=float, default=0.01)
    ap.add_argument("--duration", type=float)
    ap.add_argument("--burst", type=int, default=0)
    args = ap.parse_args()
    if args.burst:
        return burst(args)
    if args.tcp_bind is None or args.tcp_port is None or args.duration is None:
        ap.error("--tcp-bind, --tcp-port and --duration are required")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
