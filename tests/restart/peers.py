#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The two ends of the long-lived flows tests/restart/run.sh keeps open
across engine restarts and upgrades.

  peers.py server ADDR TCP_PORT UDP_PORT DIR
      TCP: echoes every line back; logs "tcp ADDR PORT" per accepted
      connection to DIR/tcp.log. UDP: echoes every datagram back; logs
      "SEQ ADDR PORT T_MS SENT_MS" per datagram to DIR/udp.log (T_MS:
      arrival, SENT_MS: when the client sent it, both CLOCK_MONOTONIC
      ms), so the test sees the outside port, every loss and when.

  peers.py client --tcp-bind A --udp-bind B --server S --tcp-port P
                  --udp-port U --conns N --interval SEC --duration SEC
      Opens N TCP connections from A and leaves them idle; sends one
      datagram "SEQ" every SEC from B (fixed local port) for at most
      --duration seconds (payload "SEQ SENT_MS"). Prints "ready N" once all N are open (or
      "failed REASON" and exits 1). Then reads commands on stdin, one a
      line, and answers each on stdout with the same ID:
        mark ID    -> "mark ID SEQ": the next sequence number to be sent
        check ID   -> "check ID ok N/N max_ms" when every connection echoed
                      one line within 2 s, else "check ID fail K/N REASON"
        quit       -> closes everything and exits 0
      Every wait is bounded; the client exits by itself after --duration.
"""
import argparse
import asyncio
import sys
import time

ECHO_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 5.0


def now_ms():
    return time.monotonic_ns() / 1e6


# ---- server ----

class UdpEcho(asyncio.DatagramProtocol):
    def __init__(self, log):
        self.log = log
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        w = data.split(b"\n", 1)[0].decode("ascii", "replace").split()
        if len(w) == 2:
            self.log.write(f"{w[0]} {addr[0]} {addr[1]} {now_ms():.3f} {w[1]}\n")
        self.transport.sendto(data, addr)


async def serve(args):
    tcp_log = open(f"{args.dir}/tcp.log", "a", buffering=1)
    udp_log = open(f"{args.dir}/udp.log", "a", buffering=1)

    async def on_conn(reader, writer):
        peer = writer.get_extra_info("peername")
        tcp_log.write(f"tcp {peer[0]} {peer[1]}\n")
        try:
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        writer.close()

    server = await asyncio.start_server(on_conn, args.addr, args.tcp_port,
                                        backlog=256)
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: UdpEcho(udp_log),
                                        local_addr=(args.addr, args.udp_port))
    async with server:
        await server.serve_forever()


# ---- client ----

class UdpStream(asyncio.DatagramProtocol):
    def __init__(self):
        self.echoes = 0

    def datagram_received(self, data, addr):
        self.echoes += 1


async def send_stream(transport, state, interval, deadline):
    """One datagram every @interval on an absolute schedule (a late
    wake-up sends at once rather than drifting), until @deadline."""
    t0 = time.monotonic()
    while time.monotonic() < deadline and not state["quit"]:
        transport.sendto(b"%d %.3f\n" % (state["seq"], now_ms()))
        state["seq"] += 1
        delay = t0 + state["seq"] * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def echo_one(i, reader, writer, tag):
    """Send one line on connection @i and wait (bounded) for its echo;
    returns the round trip in ms, or raises."""
    line = f"{tag} {i}\n".encode()
    t = now_ms()
    writer.write(line)
    await asyncio.wait_for(writer.drain(), ECHO_TIMEOUT_S)
    # An earlier check that timed out may have its echo arrive now: the
    # connection lives, so skip it (within the same bound) and wait for
    # this check's line.
    deadline = time.monotonic() + ECHO_TIMEOUT_S
    while True:
        got = await asyncio.wait_for(reader.readline(),
                                     max(0.0, deadline - time.monotonic()))
        if got == line:
            return now_ms() - t
        if not got or not got.endswith(f" {i}\n".encode()):
            raise ConnectionError(f"conn {i} echoed {got!r}")


async def check(conns, cid):
    res = await asyncio.gather(*(echo_one(i, r, w, cid)
                                 for i, (r, w) in enumerate(conns)),
                               return_exceptions=True)
    bad = [(i, e) for i, e in enumerate(res) if isinstance(e, BaseException)]
    good = len(conns) - len(bad)
    if bad:
        i, e = bad[0]
        return f"check {cid} fail {good}/{len(conns)} conn {i}: {type(e).__name__} {e}"
    return f"check {cid} ok {good}/{len(conns)} {max(res):.1f}"


async def run_client(args):
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + args.duration
    conns = []
    try:
        for _ in range(args.conns):
            conns.append(await asyncio.wait_for(asyncio.open_connection(
                args.server, args.tcp_port, local_addr=(args.tcp_bind, 0)),
                CONNECT_TIMEOUT_S))
    except (OSError, asyncio.TimeoutError) as e:
        print(f"failed connection {len(conns)}: {type(e).__name__} {e}", flush=True)
        return 1
    # A first round trip, so every connection is known to work before the
    # events start.
    first = await check(conns, "initial")
    if " ok " not in first:
        print(f"failed {first}", flush=True)
        return 1
    transport, proto = await loop.create_datagram_endpoint(
        UdpStream, local_addr=(args.udp_bind, 0),
        remote_addr=(args.server, args.udp_port))
    state = {"seq": 0, "quit": False}
    stream = asyncio.create_task(send_stream(transport, state, args.interval,
                                             deadline))
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
        if len(words) != 2:
            print(f"error unknown command {line!r}", flush=True)
        elif words[0] == "mark":
            print(f"mark {words[1]} {state['seq']} echoes {proto.echoes}", flush=True)
        elif words[0] == "check":
            print(await check(conns, words[1]), flush=True)
        else:
            print(f"error unknown command {line!r}", flush=True)
    state["quit"] = True
    await stream
    print(f"end sent {state['seq']} echoes {proto.echoes}", flush=True)
    transport.close()
    for _, w in conns:
        w.close()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("addr")
    s.add_argument("tcp_port", type=int)
    s.add_argument("udp_port", type=int)
    s.add_argument("dir")
    c = sub.add_parser("client")
    c.add_argument("--tcp-bind", required=True)
    c.add_argument("--udp-bind", required=True)
    c.add_argument("--server", required=True)
    c.add_argument("--tcp-port", type=int, required=True)
    c.add_argument("--udp-port", type=int, required=True)
    c.add_argument("--conns", type=int, default=100)
    c.add_argument("--interval", type=float, default=0.005)
    c.add_argument("--duration", type=float, required=True)
    args = ap.parse_args()
    if args.cmd == "server":
        asyncio.run(serve(args))
        return 0
    return asyncio.run(run_client(args))


if __name__ == "__main__":
    sys.exit(main())
