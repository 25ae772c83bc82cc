#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The fleet's data path end to end (docs/FLEET.md "Return traffic to the
owner"), on live interfaces, with the test playing shoal-ctld.

    veth-ib ~~ veth-ia --rx_iface_in--> [inside ] --tx--> inside_tx.pcap
    veth-ob ~~ veth-oa --rx_iface_in--> [outside] --tx--> outside_tx.pcap
    ctl.sock <-- engine.subscribe -- [ shoal-engine, [fleet] host a ]

The engine is host "a" (192.0.2.1) of a fleet sharing 198.51.100.10,
ports 10000-16143 in 2048-port slices. The test's control socket answers
engine.subscribe with a lease set whose fleet map gives a 10000-12047 (and
a nat lease over it for 10.0.0.0/16), host "b" (192.0.2.6) 12048-14095,
and nobody 14096-16143; then it pushes leases.update and fleet.valid.
The outside port's MTU is 1400.

Phase 1 (proof good for a minute):
  * a client's UDP flow leaves from a port of a's slice;
  * a return for b's slice is carried to b: outer IPv4 192.0.2.1 ->
    192.0.2.6, TTL 64, DF, id 0, UDP 49152+ -> 6080, checksum 0, checked
    byte by byte, the inner packet unchanged; so is an ICMP error
    quoting a mapping of b's slice;
  * the client flow's return, carried by b in a tunnel packet, is
    decapsulated and translated to the client;
  * one drop each: a return for the unowned slice (unknown_owner), a
    tunnel packet from b for b's own port (not_owner), from an address
    not in the map (peer_unknown), carrying IPv6 (peer_malformed), and a
    1390-byte return for b's slice, which does not fit 1400 with the
    28-byte tunnel: with DF, answered with fragmentation needed, MTU
    1372, quoting it; without, dropped (fleet_too_big twice);
  * engine.report carries "fleet": {"fenced": false, "valid_ms" > 0};
  * hairpins across hosts: a client's packet to a mapping of b's slice
    is translated and carried to b; b's client's packet to our client's
    mapping, carried here, is taken as a hairpin (flows_inbound);
  * fragments by their datagram's port: both of one datagram carried to
    b; of another, the first carried to b and the second, which b sends
    back in a tunnel, dropped not_owner (a peer's packet is never
    carried on: no loop while two maps disagree).
Phase 2 (fencing): a set with valid_ms 3000, renewed by fleet.valid
every 0.5 s for 4 s: the flow still translates past the first deadline.
Renewals stop: the engine fences on its own (report fenced, counter
fleet_fenced 1) and the flow stops translating both ways
(unknown_owner).

With N workers every packet enters on queue 0 and reaches its owner by
hand-off. Needs root and `ip netns` (exit 77 otherwise).
"""

import json
import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import lib  # noqa: E402
from lib import check, log

from scapy.layers.inet import IP, ICMP, UDP, IPerror, UDPerror, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

POOL = "198.51.100.10"
SELF, PEER_B, STRANGER = "192.0.2.1", "192.0.2.6", "192.0.2.99"
PEER_C = "192.0.2.10"  # live, owns no slice: listed in "peers" only
TUNNEL_PORT = 6080
CLIENT, SERVER, ROUTER = "10.0.1.1", "203.0.113.5", "203.0.113.1"
INSIDE_PEER, OUTSIDE_PEER = "02:00:00:00:00:02", "02:00:00:00:00:fe"
MTU = 1400
B_PORT, NOBODY_PORT = 12100, 14200


def fleet_map(valid_ms):
    return {"host": "a", "valid_ms": valid_ms, "slices": [
        {"ip": POOL, "lo": 10000, "hi": 12047, "host": "a", "address": SELF},
        {"ip": POOL, "lo": 12048, "hi": 14095, "host": "b", "address": PEER_B},
    ], "peers": [PEER_B, PEER_C]}


def lease_set(gen, valid_ms):
    return {"generation": gen, "fleet": fleet_map(valid_ms), "leases": [
        {"id": 1, "holder": "a", "kind": "nat", "ip": POOL, "lo": 10000,
         "hi": 12047, "state": "active", "clients": ["10.0.0.0/16"]}]}


class Daemon:
    """shoal-ctld's side of the engine's control socket, scripted: answers
    engine.subscribe with the set it holds, pushes notifications, keeps
    the engine's reports. One engine connection at a time."""

    def __init__(self, path, first_set):
        self.path = str(path)
        self.set = first_set
        self.reports = []
        self.conn = None
        self.lock = threading.Lock()
        self.stop = False
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(1)
        self.srv.settimeout(0.2)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def send(self, msg):
        with self.lock:
            check(self.conn is not None, "the engine is not connected")
            self.conn.sendall((json.dumps(msg) + "\n").encode())

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def run(self):
        buf = b""
        while not self.stop:
            if self.conn is None:
                try:
                    conn, _ = self.srv.accept()
                except socket.timeout:
                    continue
                conn.settimeout(0.2)
                with self.lock:
                    self.conn = conn
                buf = b""
            try:
                data = self.conn.recv(65536)
            except socket.timeout:
                continue
            if not data:
                with self.lock:
                    self.conn.close()
                    self.conn = None
                continue
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.handle(json.loads(line))

    def handle(self, msg):
        if msg.get("method") == "engine.subscribe":
            self.send({"jsonrpc": "2.0", "id": msg["id"], "result": self.set})
        elif msg.get("method") == "engine.report":
            self.reports.append(msg["params"])

    def wait_report(self, pred, what, timeout=10):
        deadline = time.monotonic() + timeout
        seen = len(self.reports)
        while time.monotonic() < deadline:
            for r in self.reports[seen:]:
                if pred(r):
                    return r
            time.sleep(0.05)
        last = self.reports[-1] if self.reports else None
        raise lib.TestFailure(f"no engine.report with {what} within {timeout} s; "
                              f"last: {json.dumps(last)[:600] if last else None}")

    def close(self):
        self.stop = True
        self.thread.join(timeout=5)
        with self.lock:
            if self.conn:
                self.conn.close()
        self.srv.close()


def write_config(path, d, inside, outside, workers, ctl):
    prefix = f"fe{os.getpid()}_{workers}"
    lines = [
        "[engine]", f"workers = {workers}",
        f"eal = {lib.eal_lcores(workers)} --no-huge -m 512 --no-pci "
        f"--file-prefix {prefix} --log-level=*:notice",
        f"state = {d / 'engine.state'}", f"ctl_socket = {ctl}",
        "[inside]", f"device = {inside}", "address = 10.0.0.1/24",
        f"next_hop_mac = {INSIDE_PEER}", "exception = none",
        "[outside]", f"device = {outside}", f"address = {SELF}/24",
        f"next_hop_mac = {OUTSIDE_PEER}", "exception = none", f"mtu = {MTU}",
        "[fleet]", "etcd = http://127.0.0.1:2379", "host = a",
        f"address = {SELF}", f"pool = {POOL}", "ports = 10000-16143",
        "slice_size = 2048", "slices = 1", f"port = {TUNNEL_PORT}",
        "[nat]", "max_flows = 1024",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def tunnel(src, inner):
    """A tunnel packet from @src to this host carrying IPv4 (or other)
    packet @inner."""
    return IP(src=src, dst=SELF, flags="DF", ttl=64) / \
        UDP(sport=50001, dport=TUNNEL_PORT, chksum=0) / Raw(bytes(inner))


def check_carried(frame, inner, what):
    """@frame is @inner (an IP packet as sent to the engine) carried to b,
    byte by byte (FLEET.md "Encapsulation")."""
    raw = bytes(frame)
    inner = bytes(inner)
    e = Ether(raw)
    check(e.dst == OUTSIDE_PEER and e.src == lib.OUTSIDE_MAC and e.type == 0x0800,
          f"{what}: Ethernet {e.dst} <- {e.src} type {e.type:#x}")
    o = raw[14:42]
    want = bytes([0x45, 0]) + (len(inner) + 28).to_bytes(2, "big") + \
        bytes([0, 0, 0x40, 0, 64, 17]) + o[10:12] + \
        socket.inet_aton(SELF) + socket.inet_aton(PEER_B)
    check(o[:20] == want, f"{what}: outer IPv4 {o[:20].hex()}, expected "
          f"{want.hex()} (checksum aside)")
    check(lib.inet_checksum(o[:20]) == 0, f"{what}: outer IPv4 checksum")
    sport = int.from_bytes(o[20:22], "big")
    check(sport >= 49152, f"{what}: tunnel source port {sport}")
    check(o[22:28] == TUNNEL_PORT.to_bytes(2, "big") +
          (len(inner) + 8).to_bytes(2, "big") + b"\0\0",
          f"{what}: outer UDP {o[20:28].hex()}")
    check(raw[42:] == inner, f"{what}: inner packet changed")


def test(workers):
    if not lib.netns_available():
        lib.skip("needs root and `ip netns`")
    lib.engine_path()
    in_pairs, out_pairs = lib.veth_names("i", workers), lib.veth_names("o", workers)
    with lib.TempDir(prefix="shoaltest-fe-") as d, \
            lib.Netns(tuple(in_pairs + out_pairs)) as ns:
        out_tx = lib.queue_files(d, "outside_tx", workers)
        in_tx = lib.queue_files(d, "inside_tx", workers)
        ctl = Daemon(d / "ctl.sock", lease_set(1, 60000))
        conf = write_config(
            d / "engine.ini", d,
            lib.pcap_device(0, in_tx, rx_iface_in=[a for a, _ in in_pairs]),
            lib.pcap_device(1, out_tx, rx_iface_in=[a for a, _ in out_pairs]),
            workers, d / "ctl.sock")
        try:
            with lib.Engine(conf, d, netns=ns.name) as eng:
                eng.wait_started()
                inside = ns.packet_socket(in_pairs[0][1])
                outside = ns.packet_socket(out_pairs[0][1])
                try:
                    counters = run(eng, ctl, inside, outside, in_tx, out_tx)
                finally:
                    inside.close()
                    outside.close()
        finally:
            ctl.close()
    lib.check_counters(counters, {
        "rx_inside": 4, "rx_outside": 16, "in2out": 3, "flows_created": 3,
        "tx_outside": 9, "tx_inside": 3, "out2in": 3, "hairpinned": 1,
        "flows_inbound": 1,
        "forwarded_to_owner": 6, "received_from_peer": 4,
        "unknown_owner": 3, "not_owner": 2, "peer_unknown": 1,
        "peer_malformed": 1, "fleet_too_big": 2, "icmp_frag_needed": 1,
        "fleet_fenced": 1,
    })
    lib.check_workers(eng.workers, workers)


def run(eng, ctl, inside, outside, in_tx, out_tx):
    def client(pkt):
        inside.send(bytes(Ether(src=INSIDE_PEER, dst=lib.INSIDE_MAC) / pkt))

    def remote(pkt):
        outside.send(bytes(Ether(src=OUTSIDE_PEER, dst=lib.OUTSIDE_MAC) / pkt))

    def sent_out(what, pred):
        """The one frame the engine sent outside that @pred accepts (with
        several workers, TX queues do not keep the order of sending)."""
        got = [f for f in (Ether(r) for q in lib.read_pcaps(out_tx) for r in q)
               if pred(f)]
        check(len(got) == 1, f"{len(got)} frames out for {what}, expected 1")
        return got[0]

    def carried(ip_id):
        """The frame that carried the packet with IP id @ip_id to b."""
        return sent_out(f"id {ip_id} carried to b",
                        lambda f: f[IP].dst == PEER_B and
                        IP(bytes(f[IP])[28:]).id == ip_id)

    ctl.wait_report(lambda r: r.get("generation") == 1, "generation 1 applied")
    r = ctl.wait_report(lambda r: "fleet" in r, "a fleet member")
    check(r["fleet"]["fenced"] is False and r["fleet"]["valid_ms"] > 50000,
          f"report fleet {r['fleet']}, expected not fenced, a minute valid")

    # The client's flow, from a's slice.
    client(IP(src=CLIENT, dst=SERVER, id=1) / UDP(sport=1001, dport=53) / b"query")
    lib.wait_records(out_tx, 1, timeout=10, engine=eng, what="the client's query")
    q = sent_out("the query", lambda f: f[IP].id == 1)
    port = q[UDP].sport
    check(q[IP].src == POOL and 10000 <= port <= 12047,
          f"the query left from {q[IP].src}:{port}, expected {POOL} in a's slice")

    # A return for b's slice, and an ICMP error about a mapping of b's.
    ret_b = IP(src=SERVER, dst=POOL, id=2, flags="DF") / \
        UDP(sport=53, dport=B_PORT) / b"for b"
    remote(ret_b)
    lib.wait_records(out_tx, 2, timeout=10, engine=eng, what="the return carried to b")
    check_carried(carried(2), ret_b, "return for b's slice")
    err_b = IP(src=ROUTER, dst=POOL, id=3) / ICMP(type=3, code=1) / \
        bytes(IP(src=POOL, dst=SERVER, id=77) / UDP(sport=B_PORT, dport=53))
    remote(err_b)
    lib.wait_records(out_tx, 3, timeout=10, engine=eng, what="the error carried to b")
    check_carried(carried(3), err_b, "ICMP error about b's mapping")

    # b carries the client flow's return here.
    ret_a = IP(src=SERVER, dst=POOL, id=4) / UDP(sport=53, dport=port) / b"answer"
    remote(tunnel(PEER_B, ret_a))
    lib.wait_records(in_tx, 1, timeout=10, engine=eng, what="the return b carried")
    back = [Ether(r) for q in lib.read_pcaps(in_tx) for r in q]
    a = back[0]
    check(a[IP].dst == CLIENT and a[UDP].dport == 1001 and a[IP].src == SERVER and
          bytes(a[UDP].payload) == b"answer" and a[IP].ttl == 63,
          f"the carried return reached the inside as {a.summary()} ttl {a[IP].ttl}")
    check(not lib.checksum_errors(bytes(a)), f"checksums {lib.checksum_errors(bytes(a))}")
    # c owns no slice (between claims, or fenced while the router still
    # sends it returns) but is a live peer: what it carries is taken.
    remote(tunnel(PEER_C, ret_a))
    lib.wait_records(in_tx, 2, timeout=10, engine=eng, what="the return c carried")

    # One of each drop; the DF one is answered.
    remote(IP(src=SERVER, dst=POOL, id=5) / UDP(sport=53, dport=NOBODY_PORT))
    remote(tunnel(PEER_B, IP(src=SERVER, dst=POOL, id=6) / UDP(sport=53, dport=B_PORT)))
    remote(tunnel(STRANGER, ret_a))
    remote(tunnel(PEER_B, IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2)))
    big = IP(src=SERVER, dst=POOL, id=7, flags="DF") / UDP(sport=53, dport=B_PORT) / \
        Raw(bytes(1390 - 28))
    check(len(big) == 1390, "test bug: big datagram size")
    remote(big)
    remote(IP(src=SERVER, dst=POOL, id=8) / UDP(sport=53, dport=B_PORT) / Raw(bytes(1390 - 28)))
    lib.wait_records(out_tx, 4, timeout=10, engine=eng, what="fragmentation needed")
    fn = sent_out("frag needed", lambda f: ICMP in f and f[IP].dst == SERVER)
    check(fn.dst == OUTSIDE_PEER and fn[IP].src == SELF and fn[IP].dst == SERVER and
          fn[ICMP].type == 3 and fn[ICMP].code == 4 and fn[ICMP].nexthopmtu == MTU - 28,
          f"frag needed {fn.summary()} mtu {fn[ICMP].nexthopmtu}, expected "
          f"{SELF} -> {SERVER}, mtu {MTU - 28}")
    check(bytes(fn[ICMP].payload) == bytes(big)[:548] and fn[IPerror].dst == POOL and
          fn[UDPerror].dport == B_PORT, "the quote is not the datagram as sent")
    check(not lib.checksum_errors(bytes(fn)), "frag needed checksums")

    # Hairpins across hosts: a client to a mapping of b's slice is
    # translated, then carried to b; b carries here its client's packet
    # to our client's mapping, which takes it as a hairpin (the source
    # is a pool mapping, not a remote).
    client(IP(src=CLIENT, dst=POOL, id=20) / UDP(sport=1002, dport=B_PORT) / b"hp")
    lib.wait_records(out_tx, 5, timeout=10, engine=eng, what="the hairpin carried to b")
    hp = IP(bytes(carried(20)[IP])[28:])
    check(hp.src == POOL and 10000 <= hp[UDP].sport <= 12047 and hp.dst == POOL and
          hp[UDP].dport == B_PORT, f"the hairpin reached b as {hp.summary()}")
    remote(tunnel(PEER_B, IP(src=POOL, dst=POOL, id=21) /
                  UDP(sport=B_PORT, dport=port) / b"from b's client"))
    lib.wait_records(in_tx, 3, timeout=10, engine=eng, what="b's hairpin")
    hb = [p for p in (Ether(r) for q in lib.read_pcaps(in_tx) for r in q)
          if p[IP].id == 21]
    check(len(hb) == 1 and hb[0][IP].src == POOL and hb[0][UDP].sport == B_PORT and
          hb[0][IP].dst == CLIENT and hb[0][UDP].dport == 1001,
          f"b's hairpin reached the inside as {[p.summary() for p in hb]}")

    # Fragments go by their datagram's port: both pieces of one carried
    # to b; of another, the first carried to b, and the second, which b
    # sends back (its map says the port is a's), dropped: what came from
    # a peer is never carried on.
    d1 = IP(src=SERVER, dst=POOL, id=30) / UDP(sport=53, dport=B_PORT) / Raw(bytes(600))
    d2 = IP(src=SERVER, dst=POOL, id=31) / UDP(sport=53, dport=B_PORT) / Raw(bytes(600))
    f1, f2 = fragment(d1, fragsize=400), fragment(d2, fragsize=400)
    check(len(f1) == 2 and len(f2) == 2, "test bug: fragments")
    for f in f1 + f2[:1]:
        remote(f)
    lib.wait_records(out_tx, 8, timeout=10, engine=eng, what="the fragments carried")
    for f in f1 + f2[:1]:
        got = [x for x in (Ether(r) for q in lib.read_pcaps(out_tx) for r in q)
               if x[IP].dst == PEER_B and bytes(x[IP])[28:] == bytes(f)]
        check(len(got) == 1, f"fragment at offset {f.frag} of id {f.id} "
              f"carried {len(got)} times")
        check_carried(got[0], f, f"fragment {f.id}/{f.frag}")
    remote(tunnel(PEER_B, f2[1]))
    eng.wait_settled({"rx_inside": 2, "rx_outside": 14, "not_owner": 2}, timeout=10)

    # Phase 2: 3 s of proof, renewed for 4 s; the flow outlives the first
    # deadline.
    ctl.notify("leases.update", lease_set(2, 3000))
    ctl.wait_report(lambda r: r.get("generation") == 2, "generation 2 applied")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 4:
        ctl.notify("fleet.valid", {"generation": 2, "valid_ms": 3000})
        time.sleep(0.5)
    client(IP(src=CLIENT, dst=SERVER, id=9) / UDP(sport=1001, dport=53) / b"again")
    lib.wait_records(out_tx, 9, timeout=5, engine=eng, what="the query after renewals")
    again = sent_out("the query after renewals", lambda f: f[IP].id == 9)
    check(again[UDP].sport == port,
          f"after renewals {again.summary()}, expected the flow's port {port}")
    r = ctl.wait_report(lambda r: r["fleet"]["fenced"], "fleet fenced", timeout=10)
    log(f"fenced {time.monotonic() - t0 - 4:.1f} s after the last renewal: {r['fleet']}")
    check(time.monotonic() - t0 > 4 + 2, "fenced before its proof ran out")
    client(IP(src=CLIENT, dst=SERVER, id=10) / UDP(sport=1001, dport=53) / b"late")
    remote(IP(src=SERVER, dst=POOL, id=11) / UDP(sport=53, dport=port) / b"late")
    eng.wait_settled({"rx_inside": 4, "rx_outside": 15, "unknown_owner": 3}, timeout=10)
    check(lib.count_records(out_tx) == 9 and lib.count_records(in_tx) == 3,
          "a packet of the fenced flow was translated")
    return eng.stop()


if __name__ == "__main__":
    lib.main(test)
