#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Acceptance test of the translation paths, both ways, in one engine run.

Topology (all inside a network namespace of the test's own):

    inside.pcap --rx--> [ inside  net_pcap0 ] --tx--> inside_tx.pcap
                        [   shoal-engine    ]
    vethb ~~veth~~ vetha --rx_iface_in--> [ outside net_pcap1 ] --tx--> outside_tx.pcap

Phase 1, inside -> outside (inside.pcap, read once at start):
  * 10,000 client flows: TCP SYNs (with and without options), UDP (some
    with IP options, some with UDP checksum 0), ICMP echo; clients spread
    over 10.0.0.0/16, destinations over 203.0.113.0/24 and 198.18.0.0/15,
    three popular destinations taking hundreds of flows each, so the 2,000
    port lease only suffices through port reuse across destinations
    (RFC 7857 §3); some flows send a second packet;
  * ICMP errors from clients quoting packets of live flows (RFC 5508);
  * malformed or refused frames of every kind, each with a known count.
  Checks on outside_tx.pcap, per packet (matched to its input by IP id):
  source = slice address, source port / echo id inside the lease, the rest
  of the packet unchanged except TTL - 1 and MACs (src = the outside port's
  MAC, dst = next_hop_mac); every checksum recomputed by scapy equals the
  one emitted; every packet of a flow uses the same outside port; no two
  flows share an outside 5-tuple; translated client errors carry the slice
  tuple in their quote with valid quoted checksums; no refused frame
  appears.

Phase 2, outside -> inside, same engine (flows live only in its memory):
  replies crafted from what phase 1 emitted are injected on vethb: UDP
  replies, TCP SYN-ACKs, echo replies; ICMP errors from routers and hosts
  (port unreachable, fragmentation needed with MTU, time exceeded) quoting
  translated packets in full or in 8 bytes; unsolicited and unleased
  traffic; refused frames. Checks on inside_tx.pcap: each reply reaches
  exactly its client's address and port (or echo id), unchanged otherwise
  but for TTL - 1 and MACs, checksums valid; each translated error quotes
  byte for byte the packet the client sent (TTL as the router saw it), so
  the quoted header and quoted L4 checksums are valid.

Finally every engine counter is compared with what the test sent: each
drop reason, in2out/out2in, ICMP error events, flows_created, rx and tx
(which also proves the capture lost nothing).

Several workers (the test runs once per worker count, see lib.main):
with N > 1 each port has N queues, one veth pair each (vi<q>a/vi<q>b
inside, vo<q>a/vo<q>b outside, rx_iface_in) and one tx_pcap each
(inside_tx<q>.pcap, outside_tx<q>.pcap). Frames are spread round-robin
over the queues, one after the other, so most land on a worker that does
not own them and are handed over. The inside frames go over veths too, in
the same bounded bursts as phase 2: an rx_pcap queue is read at full
speed, and one holding more than 512 frames for another worker overflows
the handoff ring (handoff_full) by design. So the few frames a veth cannot
carry (shorter than an Ethernet header, a cut 802.1Q tag: l2_malformed)
are only sent with one worker. Phase B starts once phase A's packets are
out, so a flow's later packets never overtake its first on another queue.
On top of every check above (over all queues together), the owners
(lib.owner_client, lib.owner_port): every packet of client c, translated
or an error about its flow, leaves on TX queue owner(c) of the outside,
from a port (or echo id) P with P % N == owner(c); every reply and ICMP
error reaches the client on TX queue owner(c) of the inside; time
exceeded leaves from the expired packet's owner; handoff_tx == handoff_rx
> 0, handoff_full 0, and every worker translated both ways.

The packet-by-packet checks run once the engine has stopped (only what
phase 2 needs is read from phase 1's output while it runs): the engine's
workers poll, so a check competing with them for the CPUs would take
several times longer.

Needs root and `ip netns` (exit 77 otherwise). SHOAL_TEST_SEED changes
the random traffic; SHOAL_TEST_KEEP=1 keeps the pcaps.
"""

import os
import random
import socket
import sys
import time
from collections import Counter

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import lib  # noqa: E402
from lib import check, log

from scapy.layers.inet import IP, ICMP, TCP, UDP, IPOption_Router_Alert
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

SEED = int(os.environ.get("SHOAL_TEST_SEED", "5508"))
N_FLOWS = 10000

SLICE_IP = "198.51.100.10"
LEASE_LO, LEASE_HI = 10000, 11999      # the nat lease
SOCKET_LO, SOCKET_HI = 12040, 12047    # a socket lease: Linux's ports
UNLEASED = (12000, 12039)              # in the slice, in no lease
INSIDE_PEER = "02:00:00:00:00:02"      # inside next_hop_mac
OUTSIDE_PEER = "02:00:00:00:00:fe"     # outside next_hop_mac
ROUTER = "192.0.2.254"                 # sends ICMP errors about our packets
STRANGER = "192.0.2.77"                # never a destination: no flow with it
HOST_INSIDE, HOST_OUTSIDE = "10.0.0.1", "192.0.2.1"

# Refused inside frames come from this block, never used by a flow, so a
# refused frame can never be mistaken for (or create) a flow.
BAD_CLIENT = "10.0.0.%d"               # 100..199
BAD_TAG = 0xF000                       # IP ids of refused frames start here

# Frames per burst on the veths: well below netdev_max_backlog, and below
# a handoff ring's 512 entries however they are spread over the workers.
SEND_BATCH = 250


class Flow:
    __slots__ = ("idx", "proto", "cip", "cport", "dip", "dport", "out_port",
                 "ipopts", "udp0", "seq")

    def __init__(self, idx, proto, cip, cport, dip, dport):
        self.idx, self.proto = idx, proto
        self.cip, self.cport, self.dip, self.dport = cip, cport, dip, dport
        self.out_port = None
        self.ipopts = False  # IPv4 options (IHL 6)
        self.udp0 = False    # UDP checksum 0 ("none")
        self.seq = 0

    def __repr__(self):
        return (f"flow {self.idx} {self.proto} {self.cip}:{self.cport} -> "
                f"{self.dip}:{self.dport}")


# ---- traffic generation ----

def make_flows(rng):
    """10,000 distinct client flows; three popular destinations take 2,000
    of them, the rest are spread wide."""
    flows, seen = [], set()

    def add(proto, dip, dport):
        # A clash is rare (10,000 draws among ~4e9 client tuples); 100
        # tries are plenty.
        for _ in range(100):
            cip = f"10.0.{rng.randint(1, 254)}.{rng.randint(1, 254)}"
            cport = rng.randint(1024, 65535)
            key = (proto, cip, cport, dip, dport)
            if key not in seen:
                seen.add(key)
                flows.append(Flow(len(flows), proto, cip, cport, dip, dport))
                return
        raise lib.TestFailure("could not draw a fresh client tuple")

    for _ in range(700):
        add("tcp", "203.0.113.80", 443)
    for _ in range(800):
        add("udp", "203.0.113.53", 53)
    for _ in range(500):
        add("icmp", "198.18.0.1", 0)
    while len(flows) < N_FLOWS:
        proto = rng.choices(("tcp", "udp", "icmp"), (35, 40, 25))[0]
        if rng.random() < 0.4:
            dip = f"203.0.113.{rng.randint(1, 254)}"
        else:
            dip = f"198.{rng.randint(18, 19)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        dport = 0 if proto == "icmp" else rng.choice(
            (80, 443, 53, 123, 8080, rng.randint(1, 65535)))
        add(proto, dip, dport)
    rng.shuffle(flows)
    for i, f in enumerate(flows):
        f.idx = i
        f.seq = rng.getrandbits(32) if f.proto == "tcp" else 1
    udp = [f for f in flows if f.proto == "udp"]
    for f in udp[:10]:
        f.ipopts = True
    for f in udp[10:30]:
        f.udp0 = True
    return flows


def client_packet(rng, f, first):
    """A client's IP packet of flow @f (the first, or a follow-up)."""
    ip = IP(src=f.cip, dst=f.dip, ttl=rng.choice((2, 64, 128, 255, rng.randint(2, 255))),
            tos=rng.choice((0, 0x10, 0xb8)), flags=rng.choice(("", "DF")))
    if f.ipopts:
        ip.options = [IPOption_Router_Alert()]
    if f.proto == "tcp":
        if first:
            opts = rng.choice(([], [("MSS", 1460)],
                               [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (rng.getrandbits(32), 0)),
                                ("NOP", None), ("WScale", 7)]))
            l4 = TCP(sport=f.cport, dport=f.dport, flags="S", seq=f.seq, options=opts,
                     window=rng.choice((64240, 65535, 29200)))
        elif rng.random() < 0.5:   # SYN retransmitted: same mapping
            l4 = TCP(sport=f.cport, dport=f.dport, flags="S", seq=f.seq,
                     window=64240, options=[("MSS", 1460)])
        else:
            l4 = TCP(sport=f.cport, dport=f.dport, flags="PA", seq=f.seq + 1,
                     ack=rng.getrandbits(32)) / f"data of flow {f.idx}".encode()
    elif f.proto == "udp":
        l4 = UDP(sport=f.cport, dport=f.dport) / (f"udp {f.idx} ".encode() +
                                                  rng.randbytes(rng.randint(0, 64)))
        if f.udp0:
            l4.chksum = 0
    else:
        l4 = ICMP(type=8, id=f.cport, seq=1 if first else 2) / f"ping {f.idx}".encode()
    return ip / l4


def padded(frame, rng):
    """Half the short frames get the Ethernet padding a NIC would add (to
    60 bytes): the engine must go by the IPv4 total length, not the frame
    length, and keep the padding out of every checksum."""
    if len(frame) < 60 and rng.random() < 0.5:
        return frame + bytes(60 - len(frame))
    return frame


def inside_frame(pkt, rng):
    return padded(bytes(Ether(src=INSIDE_PEER, dst=lib.INSIDE_MAC) / pkt), rng)


def outside_frame(pkt, rng):
    return padded(bytes(Ether(src=OUTSIDE_PEER, dst=lib.OUTSIDE_MAC) / pkt), rng)


def as_received_by_client(rng, f):
    """The reply the client would have got from its destination: what a
    client's ICMP error quotes."""
    ip = IP(src=f.dip, dst=f.cip, ttl=50, id=rng.getrandbits(16))
    if f.proto == "udp":
        return ip / UDP(sport=f.dport, dport=f.cport) / f"reply {f.idx}".encode()
    if f.proto == "tcp":
        return ip / TCP(sport=f.dport, dport=f.cport, flags="SA", seq=rng.getrandbits(32),
                        ack=f.seq + 1, options=[("MSS", 1400)])
    return ip / ICMP(type=0, id=f.cport, seq=1) / f"pong {f.idx}".encode()


def refused_inside(rng, live):
    """Frames the engine must refuse on the inside, as two lists of
    (reason, frame): those that stand alone, and ICMP errors about flows in
    @live (to be sent once the flows exist)."""
    out, about_flows = [], []
    n = [0]

    def ip(**kw):
        n[0] += 1
        kw.setdefault("src", BAD_CLIENT % (100 + n[0] % 100))
        kw.setdefault("dst", "203.0.113.9")
        return IP(id=BAD_TAG + n[0], **kw)

    def udp():
        return UDP(sport=rng.randint(1024, 65535), dport=53) / b"refused"

    def add(reason, frame, count=1):
        for _ in range(count):
            out.append((reason, bytes(frame)))

    eth = Ether(src=INSIDE_PEER, dst=lib.INSIDE_MAC)
    # L2: shorter than an Ethernet header, or a VLAN tag cut short.
    for k in range(4):
        add("l2_malformed", bytes(eth)[:6 + k])
    add("l2_malformed", bytes(eth / Dot1Q(vlan=7))[:16], 3)
    # Not IPv4 (no exception path to hand ARP/IPv6 to).
    add("not_ipv4", eth / ARP(psrc="10.0.0.150", pdst=HOST_INSIDE), 3)
    add("not_ipv4", eth / IPv6(src="fd00::2", dst="2001:db8::1") / udp(), 2)

    def patched(pkt, offset, value):
        b = bytearray(bytes(eth / pkt))
        b[14 + offset] = value
        return bytes(b)
    # Bad version, IHL below 5, total length beyond the frame, below the IHL.
    add("ip_malformed", patched(ip() / udp(), 0, 0x55))
    add("ip_malformed", patched(ip() / udp(), 0, 0x65))
    add("ip_malformed", patched(ip() / udp(), 0, 0x44))
    longer = ip() / udp()
    longer.len = len(longer) + 20      # claims 20 bytes the frame lacks
    add("ip_malformed", eth / longer)
    shorter = ip() / udp()
    shorter.len = 12                   # shorter than its own header
    add("ip_malformed", eth / shorter)
    # IPv4 header checksum wrong (L4 fine).
    for pkt in (ip() / udp(), ip() / TCP(dport=80, flags="S"), ip() / ICMP(id=9)):
        b = bytearray(bytes(eth / pkt))
        b[24] ^= 0x5a
        add("ip_bad_checksum", bytes(b))
    # First fragments of ICMP errors (never translated in pieces; later
    # fragments, held until their first, are test_fragments.py's).
    add("ip_fragment", eth / ip(flags="MF") / ICMP(type=3, code=3) / Raw(b"q" * 32))
    add("ip_fragment", eth / ip(flags="MF") / ICMP(type=11) / Raw(b"x" * 32))
    add("ip_fragment", eth / ip(flags="MF") / ICMP(type=12) / Raw(b"y" * 32))
    # Truncated or inconsistent L4 headers.
    bad_len = udp()
    bad_len.len = len(bad_len) + 8     # UDP length beyond the IP payload
    add("l4_malformed", eth / ip() / bad_len)
    add("l4_malformed", eth / ip(proto=17) / Raw(b"\x10\x00\x00\x35"))  # 4-byte UDP
    add("l4_malformed", eth / ip(proto=6) / Raw(bytes(TCP(dport=80, flags="S"))[:12]))
    add("l4_malformed", eth / ip() / TCP(dport=80, flags="S", dataofs=4))
    add("l4_malformed", eth / ip() / TCP(dport=80, flags="S", dataofs=15))  # 60 > 20
    add("l4_malformed", eth / ip(proto=1) / Raw(b"\x08\x00\xf7\xff"))  # 4-byte ICMP
    # L4 checksum wrong; each would otherwise open a flow.
    for l4 in (TCP(sport=4444, dport=80, flags="S", chksum=0x1234),
               UDP(sport=4445, dport=53, chksum=0x1234) / b"q",
               ICMP(type=8, id=77, chksum=0x1234) / b"p"):
        add("l4_bad_checksum", eth / ip() / l4)
    # IP protocols the NAT does not translate: GRE, ESP, SCTP.
    for proto in (47, 50, 132):
        add("proto_unsupported", eth / ip(proto=proto) / Raw(b"\x00" * 24))
    # ICMP that is neither echo request nor an error: timestamp, echo
    # reply, redirect.
    for t in (13, 0, 5):
        add("icmp_unsupported", eth / ip() / ICMP(type=t) / Raw(b"\x00" * 20))
    # TTL would reach zero.
    add("ttl_expired", eth / ip(ttl=1) / udp(), 2)
    add("ttl_expired", eth / ip(ttl=0) / TCP(dport=80, flags="S"))
    add("ttl_expired", eth / ip(ttl=1) / ICMP(type=8, id=5))
    # Clients no nat lease covers.
    for src in ("172.16.5.5", "10.1.0.5", "192.168.1.1"):
        add("no_lease", eth / ip(src=src) / udp())
    # TCP segments other than a bare SYN cannot open a flow.
    for flags in ("A", "SA", "R", "RA", "F", "PA", "SR"):
        add("tcp_not_syn", eth / ip() / TCP(sport=rng.randint(1024, 65535), dport=443,
                                           flags=flags))
    # The engine's own addresses belong to Linux; no exception path here.
    add("no_exception_path", eth / ip(dst=HOST_INSIDE) / ICMP(type=8, id=3))
    add("no_exception_path", eth / ip(dst=HOST_INSIDE) / udp())
    add("no_exception_path", eth / ip(dst=HOST_OUTSIDE) / TCP(dport=22, flags="S"))
    # Client ICMP errors the engine must refuse.
    plain, out = out, about_flows
    f0, f1, f2 = live[0], live[1], live[2]
    quote = as_received_by_client(rng, f0)
    add("icmp_inner_malformed",   # quote shorter than an IPv4 header
        eth / ip(src=f0.cip, dst=f0.dip) / ICMP(type=3, code=3) / Raw(bytes(quote)[:12]))
    add("icmp_inner_malformed",   # quote not IPv4
        eth / ip(src=f0.cip, dst=f0.dip) / ICMP(type=3, code=3) / Raw(b"\x60" + b"\x00" * 39))
    # sent to a third host, not back to the quoted packet's source
    add("icmp_inner_malformed", eth / ip(src=f1.cip, dst="198.18.255.77") /
        ICMP(type=3, code=3) / as_received_by_client(rng, f1))
    cut = bytes(as_received_by_client(rng, f1))[:24]   # IPv4 + 4 bytes
    add("icmp_inner_malformed", eth / ip(src=f1.cip, dst=f1.dip) / ICMP(type=3, code=3) / Raw(cut))
    add("ttl_expired",            # a valid error, but TTL 1
        eth / ip(src=f2.cip, dst=f2.dip, ttl=1) / ICMP(type=3, code=3) /
        as_received_by_client(rng, f2))
    for k in range(3):            # quoting a flow that does not exist
        ghost = IP(src="203.0.113.9", dst=BAD_CLIENT % (150 + k)) / \
            UDP(sport=53, dport=3000 + k) / b"ghost"
        add("unsolicited", eth / ip(src=ghost.dst, dst=ghost.src) /
            ICMP(type=3, code=3) / ghost)
    return plain, about_flows


def veth_carries(frame):
    """Can a veth deliver @frame to a capture? Not when it is shorter than
    an Ethernet header (the sender gets EINVAL) or has a cut 802.1Q tag
    (the receiving kernel drops it before any tap)."""
    return len(frame) >= 14 and not (frame[12:14] == b"\x81\x00" and len(frame) < 18)


def build_inside(rng, flows, veth=False):
    """inside.pcap contents. Returns (frames, sent, expected drops, the
    index of phase B's first frame) where sent maps the IP id of every
    frame that must come out to (kind, flow, frame, extra). With @veth,
    refused frames a veth cannot carry are left out (the same random
    draws either way)."""
    sent, frames = {}, []
    tag = 1

    def emit(kind, f, pkt, extra=None):
        nonlocal tag
        pkt[IP].id = tag
        fr = inside_frame(pkt, rng)
        sent[tag] = (kind, f, fr, extra)
        frames.append(fr)
        tag += 1

    # Phase A: the first packet of every flow, in random order (flows was
    # shuffled), with a first share of the refused frames mixed in.
    live = [f for f in flows if f.proto == "udp" and not f.udp0 and not f.ipopts]
    plain, about_flows = refused_inside(rng, live)
    rng.shuffle(plain)
    split = len(plain) // 2
    mixed_a = [("flow", f) for f in flows] + [("bad", r) for r in plain[:split]]
    rng.shuffle(mixed_a)
    for what, x in mixed_a:
        if what == "flow":
            emit("first", x, client_packet(rng, x, True))
        elif not veth or veth_carries(x[1]):
            frames.append(x[1])
    phase_b = len(frames)

    # Phase B: follow-ups of 10% of the flows, client ICMP errors about
    # live flows (valid ones and refused ones), the rest of the refused
    # frames.
    mixed_b = [("next", f) for f in rng.sample(flows, N_FLOWS // 10)]
    by_proto = {p: [f for f in flows if f.proto == p] for p in ("udp", "tcp", "icmp")}
    for p, n in (("udp", 30), ("tcp", 15), ("icmp", 15)):
        mixed_b += [("error", f) for f in rng.sample(by_proto[p][30:], n)]
    mixed_b += [("bad", r) for r in plain[split:] + about_flows]
    rng.shuffle(mixed_b)
    for what, x in mixed_b:
        if what == "next":
            emit("next", x, client_packet(rng, x, False))
        elif what == "error":
            # Quote the whole packet, or (a third of them) its IPv4 header
            # and the first 8 bytes of L4, the RFC 792 minimum.
            full = bytes(as_received_by_client(rng, x))
            quoted = full[:28] if rng.random() < 0.33 else full
            code = {"udp": 3, "tcp": 13, "icmp": 1}[x.proto]
            err = IP(src=x.cip, dst=x.dip, ttl=64) / ICMP(type=3, code=code) / Raw(quoted)
            emit("client_error", x, err, (full, len(quoted)))
        elif not veth or veth_carries(x[1]):
            frames.append(x[1])
    # Sentinel: the last frame is one that must come out, so once every
    # expected packet is out, every frame has been handled (with one
    # queue; several are settled through the engine's counters).
    emit("next", live[-1], client_packet(rng, live[-1], False))
    drops = Counter(r for r, fr in plain + about_flows if not veth or veth_carries(fr))
    return frames, sent, drops, phase_b


# ---- expected packets ----

def rewritten(frame, mac_src, mac_dst, src=None, dst=None, sport=None,
              dport=None, icmp_id=None, quote=None):
    """@frame as the engine must emit it: MACs, TTL - 1, the given fields
    (and an ICMP error's quote) replaced, every checksum recomputed by
    scapy (a UDP checksum of 0 stays 0: RFC 768 "no checksum")."""
    p = Ether(frame)
    p.src, p.dst = mac_src, mac_dst
    ip = p[IP]
    ip.ttl -= 1
    if src:
        ip.src = src
    if dst:
        ip.dst = dst
    l4 = ip.payload
    if sport is not None:
        l4.sport = sport
    if dport is not None:
        l4.dport = dport
    if icmp_id is not None:
        l4.id = icmp_id
    if quote is not None:
        l4.remove_payload()
        l4.add_payload(Raw(quote))
    del ip.chksum
    if not (isinstance(l4, UDP) and l4.chksum == 0):
        del l4.chksum
    return bytes(p)


def quote_checks(quote, full):
    """The quoted header's checksum, and for a complete quote the quoted
    L4 checksum, recomputed by scapy."""
    errs = []
    ihl = (quote[0] & 0xf) * 4
    if lib.inet_checksum(quote[:ihl]) != 0:
        errs.append("quoted IPv4 checksum wrong")
    if full:
        q = IP(quote)
        l4 = q.payload
        if not (isinstance(l4, UDP) and l4.chksum == 0):
            del l4.chksum
            if bytes(q) != quote:
                errs.append("quoted L4 checksum wrong")
    return errs


def ip_packet(frame):
    """The IPv4 packet in an Ethernet frame, without Ethernet padding."""
    return frame[14:14 + int.from_bytes(frame[16:18], "big")]


def icmp_quote(frame):
    """The quoted packet of an ICMP error frame."""
    ip = ip_packet(frame)
    return ip[(ip[0] & 0xf) * 4 + 8:]


def diff(got, want):
    """Human-readable difference between two frames."""
    g, w = Ether(got), Ether(want)
    return (f"\n    got:      {got.hex()}\n    expected: {want.hex()}"
            f"\n    got:      {g.summary()}  {lib.checksum_errors(got)}"
            f"\n    expected: {w.summary()}")


def in_lease(port):
    return LEASE_LO <= port <= LEASE_HI


# ---- phase 1 checks ----

def time_exceeded(raw, host):
    """Is @raw an ICMP time exceeded the engine sent from its own @host
    address? Checked fully when it is: valid checksums and a quote of an
    IPv4 packet whose TTL had run out. Returns None, or a problem string."""
    p = Ether(raw)
    if IP not in p or p[IP].src != host or ICMP not in p or p[ICMP].type != 11:
        return None
    errs = lib.checksum_errors(raw)
    if errs:
        return f"time exceeded with bad checksums {errs}: {raw.hex()}"
    quote = icmp_quote(raw)
    if len(quote) < 28 or quote[0] >> 4 != 4 or quote[8] > 1:
        return f"time exceeded quoting a packet whose TTL had not run out: {raw.hex()}"
    return ""


def l4_port(raw, proto):
    """The source port (echo id for ICMP) of the IPv4 packet in frame @raw."""
    l4 = 14 + (raw[14] & 0xf) * 4
    off = l4 + 4 if proto == "icmp" else l4
    return int.from_bytes(raw[off:off + 2], "big")


def map_outside(queues, sent):
    """What phase 2 needs from phase 1's output, without checking it: each
    flow's outside port (f.out_port) and flow index -> the IP packet its
    first packet left as. @queues: the records of each outside TX queue.
    Returns (first_out, flows that never came out)."""
    first_out = {}
    for raws in queues:
        for raw in raws:
            tag = int.from_bytes(raw[18:20], "big") if raw[12:14] == b"\x08\x00" else None
            if tag not in sent:
                continue
            kind, f, _, _ = sent[tag]
            if kind != "client_error" and f.idx not in first_out:
                f.out_port = l4_port(raw, f.proto)
                first_out[f.idx] = ip_packet(raw)
    missing = {f.idx for kind, f, _, _ in sent.values()} - set(first_out)
    return first_out, missing


def check_outside(queues, sent, flows, workers):
    """Everything on the outside TX queues (@queues: the records of each)
    against what the inside received, with @workers workers."""
    seen = set()
    port_of = {}
    problems = []

    def bad(msg):
        if len(problems) < 20:
            problems.append(msg)

    for q, raw in ((q, raw) for q, raws in enumerate(queues) for raw in raws):
        p = Ether(raw)
        if IP not in p or p[IP].id not in sent:
            bad(f"unexpected packet on the outside: {raw.hex()}")
            continue
        tag = p[IP].id
        if tag in seen:
            bad(f"packet id {tag} emitted twice")
            continue
        seen.add(tag)
        kind, f, orig, quoted = sent[tag]
        owner = lib.owner_client(f.cip, workers)
        if q != owner:
            bad(f"{f}: {kind} packet {tag} left on TX queue {q}, the client's "
                f"owner is worker {owner}")
            continue
        errs = lib.checksum_errors(raw)
        if errs and not (f.udp0 and errs == ["udp checksum 0"]):
            bad(f"{f}: checksums: {errs}{diff(raw, orig)}")
            continue
        if kind == "client_error":
            # The quote names the client: its destination must now be the
            # slice tuple of the flow (which phase A established).
            if f.idx not in port_of:
                bad(f"{f}: client error translated before the flow's first packet")
                continue
            # Expected quote: the full quoted packet translated and its
            # checksums recomputed, cut to the quoted length (a cut quote's
            # checksums still cover the whole packet).
            full, qlen = quoted
            q = IP(full)
            q.dst = SLICE_IP
            if f.proto == "icmp":
                q[ICMP].id = f.out_port
            else:
                q.payload.dport = f.out_port
            del q.chksum
            del q.payload.chksum
            want = rewritten(orig, lib.OUTSIDE_MAC, OUTSIDE_PEER, src=SLICE_IP,
                             quote=bytes(q)[:qlen])
            if raw != want:
                bad(f"{f}: client ICMP error mistranslated{diff(raw, want)}")
                continue
            qerr = quote_checks(icmp_quote(raw), full=qlen == len(full))
            if qerr:
                bad(f"{f}: client ICMP error: {qerr}")
            continue
        port = p[ICMP].id if f.proto == "icmp" else p[IP].payload.sport
        if not in_lease(port):
            bad(f"{f}: outside port {port} not in lease {LEASE_LO}-{LEASE_HI}")
            continue
        if lib.owner_port(port, workers) != owner:
            bad(f"{f}: outside port {port} belongs to worker "
                f"{lib.owner_port(port, workers)}, the client to worker {owner}")
            continue
        if port_of.setdefault(f.idx, port) != port:
            bad(f"{f}: packet {tag} left on port {port}, the flow's first on "
                f"{port_of[f.idx]}")
            continue
        if f.proto == "icmp":
            want = rewritten(orig, lib.OUTSIDE_MAC, OUTSIDE_PEER, src=SLICE_IP, icmp_id=port)
        else:
            want = rewritten(orig, lib.OUTSIDE_MAC, OUTSIDE_PEER, src=SLICE_IP, sport=port)
        if raw != want:
            bad(f"{f}: mistranslated{diff(raw, want)}")
    missing = [t for t in sent if t not in seen]
    for t in missing[:5]:
        kind, f, orig, _ = sent[t]
        bad(f"{f}: {kind} packet id {t} never came out: {orig.hex()}")
    if missing:
        bad(f"{len(missing)} expected packets missing on the outside")
    # No two flows on one outside 5-tuple, whichever worker chose it (slice
    # address is the same for all; ICMP flows are keyed by echo id and
    # remote address).
    tuples = Counter((f.proto, port_of[f.idx], f.dip, f.dport) for f in flows
                     if f.idx in port_of)
    shared = [t for t, n in tuples.items() if n > 1]
    if shared:
        bad(f"{len(shared)} outside 5-tuples shared by two flows, e.g. {shared[:3]}")
    check(not problems, "outside (in2out) check failed:\n  " + "\n  ".join(problems))


# ---- phase 2: return traffic ----

def build_outside(rng, flows, first_out):
    """Frames to inject on vethb, answering what the engine emitted
    (@first_out: flow index -> its first translated IP packet). Returns
    (frames, expect, drops) where expect maps the IP id of each frame that
    must reach the inside to (kind, flow, frame, quote it carries)."""
    frames, expect = [], {}
    drops = Counter()
    tag = 1

    def emit(kind, f, pkt, quote=None):
        nonlocal tag
        pkt[IP].id = tag
        fr = outside_frame(pkt, rng)
        expect[tag] = (kind, f, fr, quote)
        frames.append(fr)
        tag += 1

    def refuse(reason, pkt):
        """@pkt: a scapy packet (given a refused-frame IP id here), or the
        bytes of an IP packet deliberately broken (sent as they are)."""
        if isinstance(pkt, (bytes, bytearray)):
            frames.append(bytes(Ether(src=OUTSIDE_PEER, dst=lib.OUTSIDE_MAC, type=0x0800))
                          + bytes(pkt))
        else:
            if IP in pkt:
                pkt[IP].id = BAD_TAG + drops.total()
            frames.append(outside_frame(pkt, rng))
        drops[reason] += 1

    def translated(f):
        return first_out[f.idx]

    # Replies to every flow, from its destination to the slice tuple.
    for f in flows:
        ip = IP(src=f.dip, dst=SLICE_IP, ttl=rng.randint(2, 255), tos=rng.choice((0, 0x20)))
        if f.ipopts:
            ip.options = [IPOption_Router_Alert()]
        if f.proto == "udp":
            l4 = UDP(sport=f.dport, dport=f.out_port) / f"answer {f.idx}".encode()
            if f.udp0:
                l4.chksum = 0
        elif f.proto == "tcp":
            l4 = TCP(sport=f.dport, dport=f.out_port, flags="SA", seq=rng.getrandbits(32),
                     ack=f.seq + 1, options=rng.choice(([], [("MSS", 1400), ("WScale", 9)])))
        else:
            l4 = ICMP(type=0, id=f.out_port, seq=1) / f"ping {f.idx}".encode()
        emit("reply", f, ip / l4)

    # UDP replies whose checksum, once translated, computes to 0: it must
    # be sent as 0xffff (RFC 768; 0 would mean "no checksum").
    for f in [f for f in flows if f.proto == "udp" and not f.udp0][:8]:
        emit("reply_ffff", f, IP(src=f.dip, dst=SLICE_IP, ttl=64) /
             UDP(sport=f.dport, dport=f.out_port) / zero_sum_payload(f))

    # ICMP errors about translated packets: (proto, count, type, code,
    # quote the whole packet or only 8 bytes of L4, sender).
    by_proto = {p: [f for f in flows if f.proto == p] for p in ("udp", "tcp", "icmp")}
    # The flows with IPv4 options get theirs quoted (quoted IHL 6).
    with_opts = [f for f in flows if f.ipopts]
    plan = (("udp", 60, 3, 3, True, "dest"),     # port unreachable from the host
            ("tcp", 60, 3, 4, False, "router"),  # fragmentation needed, 8 bytes
            ("tcp", 30, 11, 0, True, "router"),  # time exceeded, full TCP header
            ("icmp", 40, 11, 0, True, "router"), # time exceeded, echo request
            ("icmp", 20, 3, 13, False, "router"),  # admin prohibited, 8 bytes
            ("udp", 20, 11, 0, False, "router"),  # time exceeded, 8 bytes
            ("opts", 10, 3, 1, True, "router"))  # host unreachable
    for proto, n, typ, code, full, sender in plan:
        pool = with_opts if proto == "opts" else rng.sample(by_proto[proto][30:], n)
        for f in pool:
            q = translated(f)
            if not full:
                q = q[:(q[0] & 0xf) * 4 + 8]
            icmp = ICMP(type=typ, code=code)
            if code == 4:
                icmp.nexthopmtu = rng.choice((1280, 1400, 1492))
            src = f.dip if sender == "dest" else ROUTER
            emit("router_error", f, IP(src=src, dst=SLICE_IP, ttl=rng.randint(2, 255)) /
                 icmp / Raw(q), q)

    # Traffic no flow explains.
    lease_port = lambda: rng.randint(LEASE_LO, LEASE_HI)
    for _ in range(10):
        refuse("unsolicited", IP(src=STRANGER, dst=SLICE_IP) /
               UDP(sport=5353, dport=lease_port()) / b"hello?")
    for _ in range(5):
        refuse("unsolicited", IP(src=STRANGER, dst=SLICE_IP) /
               TCP(sport=40000, dport=lease_port(), flags="S"))
    for _ in range(5):
        refuse("unsolicited", IP(src=STRANGER, dst=SLICE_IP) / ICMP(type=0, id=lease_port()))
    for _ in range(3):
        ghost = IP(src=SLICE_IP, dst=STRANGER, ttl=63) / UDP(sport=lease_port(), dport=53)
        refuse("unsolicited", IP(src=ROUTER, dst=SLICE_IP) / ICMP(type=3, code=1) /
               Raw(bytes(ghost)))
    # Slice ports in no lease (and ports outside the slice altogether).
    for port in list(rng.sample(range(UNLEASED[0], UNLEASED[1] + 1), 5)) + [80, 9999, 40000]:
        refuse("not_leased", IP(src=STRANGER, dst=SLICE_IP) / UDP(sport=53, dport=port))
    for echo_id in (5, 12001):
        refuse("not_leased", IP(src=STRANGER, dst=SLICE_IP) / ICMP(type=0, id=echo_id))
    ghost = IP(src=SLICE_IP, dst=STRANGER, ttl=63) / UDP(sport=12010, dport=53)
    refuse("not_leased", IP(src=ROUTER, dst=SLICE_IP) / ICMP(type=11) / Raw(bytes(ghost)))
    # Linux's traffic, with no exception path to give it to: a socket
    # lease's ports, the host's address, a foreign address, a ping.
    for port in (SOCKET_LO, SOCKET_HI, SOCKET_LO + 3):
        refuse("no_exception_path", IP(src=STRANGER, dst=SLICE_IP) / UDP(sport=53, dport=port))
    refuse("no_exception_path", IP(src=STRANGER, dst=HOST_OUTSIDE) / TCP(dport=22, flags="S"))
    refuse("no_exception_path", IP(src=STRANGER, dst=HOST_OUTSIDE) / ICMP(type=8))
    refuse("no_exception_path", IP(src=STRANGER, dst="203.0.113.9") / UDP(dport=53))
    refuse("no_exception_path", IP(src=STRANGER, dst=SLICE_IP) / ICMP(type=8, id=10500))
    frames.append(bytes(Ether(src=OUTSIDE_PEER, dst="ff:ff:ff:ff:ff:ff") /
                        ARP(psrc=ROUTER, pdst=HOST_OUTSIDE)))
    drops["not_ipv4"] += 1
    # Broken packets for live flows: TTL 1, bad checksums, fragments,
    # errors with bad quotes, unsupported ICMP.
    f = by_proto["udp"][0]
    reply = lambda **kw: IP(src=f.dip, dst=SLICE_IP, id=BAD_TAG - 1, **kw) / \
        UDP(sport=f.dport, dport=f.out_port) / b"late"
    refuse("ttl_expired", reply(ttl=1))
    refuse("ttl_expired", IP(src=ROUTER, dst=SLICE_IP, ttl=1) / ICMP(type=11) /
           Raw(translated(f)))
    b = bytearray(bytes(reply(ttl=9)))
    b[-1] ^= 0x01                        # payload changed, checksum not
    refuse("l4_bad_checksum", b)
    refuse("l4_bad_checksum", IP(src=f.dip, dst=SLICE_IP) /
           ICMP(type=0, id=f.out_port, chksum=0xbeef))
    b = bytearray(bytes(reply(ttl=9)))
    b[10] ^= 0xff
    refuse("ip_bad_checksum", b)
    # ICMP errors in fragments (frag.h: never translated in pieces).
    refuse("ip_fragment", IP(src=ROUTER, dst=SLICE_IP, flags="MF") /
           ICMP(type=11) / Raw(translated(f)))
    refuse("ip_fragment", IP(src=ROUTER, dst=SLICE_IP, flags="MF") /
           ICMP(type=3, code=4) / Raw(translated(f)))
    moved = IP(translated(f))
    moved.src = "198.51.100.99"          # not us: the quote is not ours
    del moved.chksum
    refuse("icmp_inner_malformed", IP(src=ROUTER, dst=SLICE_IP) / ICMP(type=11) /
           Raw(bytes(moved)))
    fi = by_proto["icmp"][0]
    echo_reply = IP(src=SLICE_IP, dst=fi.dip) / ICMP(type=0, id=fi.out_port)
    refuse("icmp_inner_malformed", IP(src=ROUTER, dst=SLICE_IP) / ICMP(type=11) /
           Raw(bytes(echo_reply)))
    refuse("icmp_inner_malformed", IP(src=ROUTER, dst=SLICE_IP) / ICMP(type=11) /
           Raw(translated(f)[:24]))
    refuse("icmp_unsupported", IP(src=f.dip, dst=SLICE_IP) / ICMP(type=14) / Raw(b"\x00" * 12))

    # Random order; the sentinel (one more reply) last: once it is out,
    # every frame has been handled.
    rng.shuffle(frames)
    f = by_proto["udp"][1]
    emit("reply", f, IP(src=f.dip, dst=SLICE_IP, ttl=64) /
         UDP(sport=f.dport, dport=f.out_port) / b"sentinel")
    return frames, expect, drops


def zero_sum_payload(f):
    """A UDP payload for a reply of flow @f such that the reply, as the
    client receives it (to cip:cport), has a one's complement sum of 0xffff,
    i.e. a computed checksum of 0. The last two bytes balance the sum."""
    prefix = f"zero-sum reply of flow {f.idx}".encode()
    prefix += b"." * (len(prefix) % 2)          # keep the last word aligned
    length = 8 + len(prefix) + 2
    pseudo = (socket.inet_aton(f.dip) + socket.inet_aton(f.cip) +
              bytes((0, 17)) + length.to_bytes(2, "big"))
    header = (f.dport.to_bytes(2, "big") + f.cport.to_bytes(2, "big") +
              length.to_bytes(2, "big") + b"\0\0")
    folded = ~lib.inet_checksum(pseudo + header + prefix + b"\0\0") & 0xffff
    payload = prefix + (0xffff - folded).to_bytes(2, "big")
    as_received = IP(src=f.dip, dst=f.cip) / UDP(sport=f.dport, dport=f.cport) / payload
    check(IP(bytes(as_received))[UDP].chksum == 0xffff, "zero_sum_payload self-test")
    return payload


def send_and_wait(socks, frames, expect, tx, engine, ns, done=0,
                  what="replies on the inside"):
    """Inject @frames in bursts, round-robin over @socks (one per queue);
    after each burst wait until the TX pcaps @tx hold every expected packet
    so far (@done records before, plus one per frame whose IP id is in
    @expect; bounded), so neither the veth backlog, nor the capture buffer,
    nor a handoff ring can overflow. On a timeout, the failure says where
    frames went: veth counters and the engine's counters. Returns the
    records now expected in @tx."""
    for start in range(0, len(frames), SEND_BATCH):
        for k, fr in enumerate(frames[start:start + SEND_BATCH], start):
            socks[k % len(socks)].send(fr)
            if fr[12:14] == b"\x08\x00" and int.from_bytes(fr[18:20], "big") in expect:
                done += 1
        try:
            lib.wait_records(tx, done, timeout=30, engine=engine, what=what)
        except lib.TestFailure as e:
            links = ns.exec(["ip", "-s", "link", "show"])
            try:
                c = engine.stop()
                counters = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if v)
            except lib.TestFailure as e2:
                counters = str(e2)
            raise lib.TestFailure(f"{e} (after sending {start + SEND_BATCH} frames)\n"
                                  f"engine counters: {counters}\n{links}") from None
    return done


def check_inside(queues, expect, first_sent, workers):
    """Everything on the inside TX queues (@queues: the records of each),
    against what was injected.
    @first_sent: flow index -> the IP packet the client first sent."""
    seen = set()
    problems = []

    def bad(msg):
        if len(problems) < 20:
            problems.append(msg)

    n_te = 0
    for q, raw in ((q, raw) for q, raws in enumerate(queues) for raw in raws):
        p = Ether(raw)
        te = time_exceeded(raw, HOST_INSIDE)
        if te is not None:
            n_te += 1
            # From the owner of the expired packet's sender, the client.
            if not te and q != lib.owner_client(p[IP].dst, workers):
                te = (f"time exceeded to {p[IP].dst} on TX queue {q}, from "
                      f"worker {lib.owner_client(p[IP].dst, workers)} expected")
            if te:
                bad(te)
            continue
        if IP not in p or p[IP].id not in expect:
            bad(f"unexpected packet on the inside: {raw.hex()}")
            continue
        tag = p[IP].id
        if tag in seen:
            bad(f"reply id {tag} emitted twice")
            continue
        seen.add(tag)
        kind, f, sent_frame, quote = expect[tag]
        if q != lib.owner_client(f.cip, workers):
            bad(f"{f}: {kind} id {tag} reached the client on TX queue {q}, its "
                f"owner is worker {lib.owner_client(f.cip, workers)}")
            continue
        errs = lib.checksum_errors(raw)
        if errs and not (f.udp0 and errs == ["udp checksum 0"]):
            bad(f"{f}: checksums: {errs}{diff(raw, sent_frame)}")
            continue
        if kind in ("reply", "reply_ffff"):
            if kind == "reply_ffff" and p[UDP].chksum != 0xffff:
                bad(f"{f}: UDP checksum computing to 0 sent as "
                    f"{p[UDP].chksum:#06x}, expected 0xffff")
                continue
            if p[IP].dst != f.cip:
                bad(f"{f}: reply to {p[IP].dst}, expected the client {f.cip}")
                continue
            if f.proto == "icmp":
                want = rewritten(sent_frame, lib.INSIDE_MAC, INSIDE_PEER, dst=f.cip,
                                 icmp_id=f.cport)
            else:
                want = rewritten(sent_frame, lib.INSIDE_MAC, INSIDE_PEER, dst=f.cip,
                                 dport=f.cport)
            if raw != want:
                bad(f"{f}: reply mistranslated{diff(raw, want)}")
            continue
        # An error about the packet the client sent: the quote must be that
        # packet again (TTL as the router saw it: one less), as much of it
        # as was quoted.
        orig = first_sent[f.idx]
        o = IP(orig)
        o.ttl -= 1
        del o.chksum
        want_quote = bytes(o)[:len(quote)]
        want = rewritten(sent_frame, lib.INSIDE_MAC, INSIDE_PEER, dst=f.cip, quote=want_quote)
        if raw != want:
            bad(f"{f}: ICMP error mistranslated{diff(raw, want)}")
            continue
        qerr = quote_checks(icmp_quote(raw), full=len(quote) == len(orig))
        if qerr:
            bad(f"{f}: ICMP error: {qerr}")
    missing = [t for t in expect if t not in seen]
    for t in missing[:5]:
        kind, f, fr, _ = expect[t]
        bad(f"{f}: {kind} id {t} never reached the inside: {fr.hex()}")
    if missing:
        bad(f"{len(missing)} expected packets missing on the inside")
    check(not problems, "inside (out2in) check failed:\n  " + "\n  ".join(problems))
    return n_te


# ---- the test ----

def test(workers):
    if not lib.netns_available():
        lib.skip("needs root and `ip netns`")
    lib.engine_path()  # fail now, not after building the traffic
    rng = random.Random(SEED)
    t0 = time.monotonic()
    flows = make_flows(rng)
    veth = workers > 1
    in_frames, sent, in_drops, phase_b = build_inside(rng, flows, veth=veth)
    n_in2out = sum(1 for k, *_ in sent.values() if k != "client_error")
    n_err_in = len(sent) - n_in2out
    log(f"seed {SEED}: {len(flows)} flows, {len(in_frames)} inside frames "
        f"({n_in2out} to translate, {n_err_in} client ICMP errors, "
        f"{sum(in_drops.values())} to refuse) built in {time.monotonic() - t0:.1f} s")

    # One veth pair per queue on the outside, and on the inside with
    # several workers (one worker reads inside.pcap).
    if veth:
        in_pairs = [(f"vi{q}a", f"vi{q}b") for q in range(workers)]
        out_pairs = [(f"vo{q}a", f"vo{q}b") for q in range(workers)]
    else:
        in_pairs, out_pairs = [], [("vetha", "vethb")]
    with lib.TempDir() as d, lib.Netns(tuple(in_pairs + out_pairs)) as ns:
        in_tx = lib.queue_files(d, "inside_tx", workers)
        out_tx = lib.queue_files(d, "outside_tx", workers)
        if veth:
            inside = lib.pcap_device(0, in_tx, rx_iface_in=[a for a, _ in in_pairs])
        else:
            lib.write_pcap(d / "inside.pcap", in_frames)
            inside = lib.pcap_device(0, in_tx, rx_pcap=[d / "inside.pcap"])
        conf = lib.write_config(
            d / "engine.ini",
            inside_device=inside,
            # rx_iface_in: only frames arriving on the engine's veth end,
            # never anything the kernel might send out of it.
            outside_device=lib.pcap_device(1, out_tx,
                                           rx_iface_in=[a for a, _ in out_pairs]),
            slices={SLICE_IP: "10000-12047"},
            # The shared-port mode (RFC 7857 §3): see Phase 1.
            leases={"clients": {"kind": "nat", "ip": SLICE_IP,
                                "ports": f"{LEASE_LO}-{LEASE_HI}",
                                "clients": "10.0.0.0/16",
                                "mapping": "address-and-port-dependent",
                                "filtering": "address-and-port-dependent"},
                    "linux": {"kind": "socket", "ip": SLICE_IP,
                              "ports": f"{SOCKET_LO}-{SOCKET_HI}"}},
            # Timeouts far beyond the test's run time: a slow machine must
            # not see flows expire between the two phases.
            nat={"max_flows": 65536, "udp_timeout": 3600, "icmp_timeout": 3600,
                 "tcp_transitory_timeout": 3600},
            workers=workers)
        socks = []
        try:
            with lib.Engine(conf, d, netns=ns.name) as eng:
                eng.wait_started()
                socks = [ns.packet_socket(b) for _, b in in_pairs + out_pairs]
                in_socks, out_socks = socks[:len(in_pairs)], socks[len(in_pairs):]

                # Phase 1: inside -> outside; phase B once phase A is out.
                t1 = time.monotonic()
                if veth:
                    done = send_and_wait(in_socks, in_frames[:phase_b], sent, out_tx,
                                         eng, ns, what="translated client packets")
                    send_and_wait(in_socks, in_frames[phase_b:], sent, out_tx, eng, ns,
                                  done=done, what="translated client packets")
                else:
                    lib.wait_records(out_tx, len(sent), timeout=60, engine=eng,
                                     what="translated client packets")
                eng.wait_settled({"rx_inside": len(in_frames)})
                out_phase1 = lib.read_pcaps(out_tx)
                first_out, missing = map_outside(out_phase1, sent)
                if missing:
                    check_outside(out_phase1, sent, flows, workers)
                    check(False, f"flows {sorted(missing)[:5]}... never came out")
                log(f"in2out: {n_in2out} packets of {len(flows)} flows translated, "
                    f"{n_err_in} client ICMP errors, in {time.monotonic() - t1:.1f} s")

                # Phase 2: outside -> inside, on the flows phase 1 created.
                t2 = time.monotonic()
                with eng.yielding():
                    out_inject, expect, out_drops = build_outside(rng, flows, first_out)
                t_built = time.monotonic() - t2
                try:
                    send_and_wait(out_socks, out_inject, expect, in_tx, eng, ns,
                                  done=lib.count_records(in_tx))
                except lib.TestFailure:
                    # Replies go nowhere when phase 1 went wrong: say that.
                    check_outside(out_phase1, sent, flows, workers)
                    raise
                eng.wait_settled({"rx_inside": len(in_frames),
                                  "rx_outside": len(out_inject)})
                counters = eng.stop()
                log(f"out2in: {len(out_inject)} frames built in {t_built:.1f} s, "
                    f"injected on {len(out_socks)} queue(s) in "
                    f"{time.monotonic() - t2 - t_built:.1f} s")
        finally:
            for sock in socks:
                sock.close()

        # Every packet, now that the engine no longer competes for the CPUs.
        t3 = time.monotonic()
        check_outside(out_phase1, sent, flows, workers)
        ports = {f.out_port for f in flows}
        log(f"in2out: {n_in2out} packets of {len(flows)} flows on {len(ports)} lease "
            f"ports (reused across destinations), {n_err_in} client ICMP errors: "
            f"checked in {time.monotonic() - t3:.1f} s")
        t4 = time.monotonic()
        first_sent = {f.idx: ip_packet(fr) for k, f, fr, _ in sent.values() if k == "first"}
        # The engine answers expired client packets (not errors) with
        # time exceeded from its inside address, and expired outside
        # packets from its outside address; both are checked here.
        te_in = check_inside(lib.read_pcaps(in_tx), expect, first_sent, workers)
        te_out = []
        for q, raws in enumerate(lib.read_pcaps(out_tx)):
            for raw in raws[len(out_phase1[q]):]:
                te = time_exceeded(raw, HOST_OUTSIDE)
                if te == "":
                    # From the owner of the expired packet (a reply to
                    # a flow): the worker owning its destination port.
                    quote = icmp_quote(raw)
                    qihl = (quote[0] & 0xf) * 4
                    port = int.from_bytes(quote[qihl + 2:qihl + 4], "big")
                    if q != lib.owner_port(port, workers):
                        te = (f"time exceeded about port {port} on TX queue {q}, "
                              f"from worker {lib.owner_port(port, workers)} expected")
                te_out.append(te)
        check(all(t == "" for t in te_out),
              f"outside: only time exceeded may follow phase 1: {te_out}")
        n_out2in = sum(1 for k, *_ in expect.values() if k != "router_error")
        n_err_out = len(expect) - n_out2in
        log(f"out2in: {n_out2in} replies and {n_err_out} ICMP errors back to their "
            f"clients, {sum(out_drops.values())} frames refused; checked in "
            f"{time.monotonic() - t4:.1f} s")

    # Every counter: what was sent fixes what the engine must have counted.
    expected = Counter(in_drops) + Counter(out_drops)
    expected.update({
        "rx_inside": len(in_frames), "rx_outside": len(out_inject),
        "in2out": n_in2out, "icmp_error_in2out": n_err_in,
        "tx_outside": n_in2out + n_err_in + len(te_out),
        "out2in": n_out2in, "icmp_error_out2in": n_err_out,
        "tx_inside": n_out2in + n_err_out + te_in,
        "icmp_time_exceeded": te_in + len(te_out),
        "flows_created": len(flows),
    })
    # Four expired client packets that are not ICMP errors (two UDP, a TCP
    # SYN with TTL 0, an echo request) and one expired reply.
    check(te_in == 4 and len(te_out) == 1,
          f"time exceeded sent: {te_in} inside, {len(te_out)} outside; expected 4 and 1")
    lib.check_counters(counters, dict(expected), handoff=workers > 1)
    lib.check_workers(eng.workers, workers,
                      busy=("in2out", "out2in", "handoff_tx", "handoff_rx"))
    log("counters: " + ", ".join(f"{k} {v}" for k, v in sorted(expected.items())))
    if workers > 1:
        log("per worker: " + "; ".join(
            f"{i}: in2out {w.get('in2out', 0)} out2in {w.get('out2in', 0)} "
            f"handoff tx {w['handoff_tx']} rx {w['handoff_rx']}"
            for i, w in sorted(eng.workers.items())))


if __name__ == "__main__":
    lib.main(test)
