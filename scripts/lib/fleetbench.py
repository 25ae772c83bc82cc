#!/usr/bin/python3
"""shoal-ctld's side of the engine's control socket, for the bench's fleet
case (scripts/bench.sh): serve one lease set, and optionally learn the
engine's flows and write the return packets for them.

Usage: fleetbench.py SOCK SET.json [--returns OUT.pcap TUNNEL.pcap FLOWS]

Listens on the Unix socket SOCK, answers the engine's engine.subscribe
with the lease set in SET.json and ignores its reports. Without
--returns it serves until SIGINT or SIGTERM.

--returns: once subscribed, ask the engine (engine.flows, one client of
scripts/lib/genpcap.py's FLOWS at a time, each client has one flow) for
the outside tuple of every flow, write OUT.pcap with one 64-byte return
per flow (the remote's UDP answer to the flow's outside address and
port) and TUNNEL.pcap with the same returns as a fleet peer (192.0.2.6)
carries them to this host (192.0.2.1, port 6080: docs/FLEET.md
"Encapsulation"), then exit. Gives up after 60 s.
"""
import json
import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from genpcap import csum, frame  # noqa: E402

PEER, SELF, TUNNEL_PORT = "192.0.2.6", "192.0.2.1", 6080
ETH = bytes.fromhex("020000000001" "0200000000fe") + b"\x08\x00"


def ipv4(src, dst, proto, payload, ident=0, flags=0):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags,
                      64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


def udp_return(flow):
    """The remote's answer to @flow (engine.flows entry) as an IPv4 packet."""
    oip, oport = flow["outside"].rsplit(":", 1)
    rip, rport = flow["remote"].rsplit(":", 1)
    payload = b"shoal-bench-" + bytes(6)
    udp = struct.pack("!HHHH", int(rport), int(oport), 8 + len(payload), 0) + payload
    pseudo = socket.inet_aton(rip) + socket.inet_aton(oip) + \
        struct.pack("!BBH", 0, 17, len(udp))
    udp = udp[:6] + struct.pack("!H", csum(pseudo + udp) or 0xFFFF) + udp[8:]
    return ipv4(rip, oip, 17, udp)


def tunnelled(inner):
    udp = struct.pack("!HHHH", 49152, TUNNEL_PORT, 8 + len(inner), 0) + inner
    return ipv4(PEER, SELF, 17, udp, flags=0x4000)


def write_pcap(path, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, p in enumerate(packets):
            fr = ETH + p
            f.write(struct.pack("<IIII", 0, n, len(fr), len(fr)))
            f.write(fr)


class Link:
    def __init__(self, conn):
        self.conn, self.buf, self.next_id = conn, b"", 100

    def send(self, msg):
        self.conn.sendall((json.dumps(msg) + "\n").encode())

    def recv(self, deadline):
        while b"\n" not in self.buf:
            self.conn.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.conn.recv(1 << 20)
            if not data:
                sys.exit("fleetbench: the engine closed the control socket")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method, params, deadline):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                   "params": params})
        while True:
            msg = self.recv(deadline)
            if msg.get("id") == self.next_id and "method" not in msg:
                return msg.get("result")


def returns(link, flows, deadline):
    """Every flow's outside tuple, one client at a time."""
    got = {}
    while len(got) < flows and time.monotonic() < deadline:
        for i in range(flows):
            if i in got:
                continue
            f = frame(i)
            client = socket.inet_ntoa(f[26:30])
            res = link.request("engine.flows", {"client": client, "limit": 10},
                               deadline)
            if res and res.get("flows"):
                got[i] = res["flows"][0]
        if len(got) < flows:
            time.sleep(0.5)
    if len(got) < flows:
        sys.exit(f"fleetbench: {len(got)} of {flows} flows after 60 s")
    return [got[i] for i in range(flows)]


def main():
    args = sys.argv[1:]
    if len(args) not in (2, 6) or (len(args) == 6 and args[2] != "--returns"):
        sys.exit(__doc__)
    path, lease_set = args[0], json.load(open(args[1]))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(60)
    deadline = time.monotonic() + 60
    try:
        link = Link(srv.accept()[0])
        while True:
            msg = link.recv(deadline if len(args) == 6 else time.monotonic() + 3600)
            if msg.get("method") == "engine.subscribe":
                link.send({"jsonrpc": "2.0", "id": msg["id"], "result": lease_set})
                if len(args) == 6:
                    break
        flows = returns(link, int(args[5]), deadline)
        packets = [udp_return(f) for f in flows]
        write_pcap(args[3], packets)
        write_pcap(args[4], [tunnelled(p) for p in packets])
    except KeyboardInterrupt:
        pass
    finally:
        srv.close()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


if __name__ == "__main__":
    main()
