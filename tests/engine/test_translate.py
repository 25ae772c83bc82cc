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

SEND_BATCH = 250   # frames per burst on vethb (well below netdev_max_backlog)


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
    # Fragments: first (MF), middle, last.
    add("ip_fragment", eth / ip(flags="MF") / udp())
    add("ip_fragment", eth / ip(flags="MF", frag=64, proto=17) / Raw(b"x" * 16))
    add("ip_fragment", eth / ip(frag=128, proto=17) / Raw(b"y" * 16))
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
    wrong = as_received_by_client(rng, f1)
    wrong.dst = "10.0.99.99"      # quote not addressed to the erring client
    add("icmp_inner_malformed", eth / ip(src=f1.cip, dst=f1.dip) / ICMP(type=3, code=3) / wrong)
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


def build_inside(rng, flows):
    """inside.pcap contents. Returns (frames, sent, expected drops) where
    sent maps the IP id of every frame that must come out to
    (kind, flow, frame, extra)."""
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
        else:
            frames.append(x[1])

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
        else:
            frames.append(x[1])
    # Sentinel: the last frame is one that must come out, so once every
    # expected packet is out, every frame has been handled.
    emit("next", live[-1], client_packet(rng, live[-1], False))
    drops = Counter(r for r, _ in plain + about_flows)
    return frames, sent, drops


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


def check_outside(raw_frames, sent, flows):
    """Everything on outside_tx.pcap, against what inside.pcap held.
    Returns flow index -> the IP packet its first packet left as."""
    seen = set()
    first_out = {}
    problems = []

    def bad(msg):
        if len(problems) < 20:
            problems.append(msg)

    for raw in raw_frames:
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
        errs = lib.checksum_errors(raw)
        if errs and not (f.udp0 and errs == ["udp checksum 0"]):
            bad(f"{f}: checksums: {errs}{diff(raw, orig)}")
            continue
        if kind == "client_error":
            # The quote names the client: its destination must now be the
            # slice tuple of the flow (which phase A established).
            if f.out_port is None:
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
        if f.out_port is None:
            f.out_port = port
            first_out[f.idx] = ip_packet(raw)
        elif f.out_port != port:
            bad(f"{f}: packet {tag} left on port {port}, the flow's first on {f.out_port}")
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
    # No two flows on one outside 5-tuple (slice address is the same for
    # all; ICMP flows are keyed by echo id and remote address).
    tuples = Counter((f.proto, f.out_port, f.dip, f.dport) for f in flows
                     if f.out_port is not None)
    shared = [t for t, n in tuples.items() if n > 1]
    if shared:
        bad(f"{len(shared)} outside 5-tuples shared by two flows, e.g. {shared[:3]}")
    check(not problems, "outside (in2out) check failed:\n  " + "\n  ".join(problems))
    return first_out


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
    refuse("ip_fragment", reply(flags="MF"))
    refuse("ip_fragment", IP(src=f.dip, dst=SLICE_IP, frag=100, proto=17) / Raw(b"z" * 24))
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


def send_and_wait(sock, frames, expect, in_tx, engine, ns):
    """Inject @frames in bursts; after each burst wait until the inside has
    emitted every expected packet so far (bounded), so neither the veth
    backlog nor the capture buffer can overflow. On a timeout, the failure
    says where frames went: veth counters and the engine's counters."""
    done = 0
    for start in range(0, len(frames), SEND_BATCH):
        for fr in frames[start:start + SEND_BATCH]:
            sock.send(fr)
            if fr[12:14] == b"\x08\x00" and int.from_bytes(fr[18:20], "big") in expect:
                done += 1
        try:
            lib.wait_records(in_tx, done, timeout=30, engine=engine,
                             what="replies on the inside")
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


def check_inside(raw_frames, expect, first_sent):
    """Everything on inside_tx.pcap, against what was injected.
    @first_sent: flow index -> the IP packet the client first sent."""
    seen = set()
    problems = []

    def bad(msg):
        if len(problems) < 20:
            problems.append(msg)

    n_te = 0
    for raw in raw_frames:
        p = Ether(raw)
        te = time_exceeded(raw, HOST_INSIDE)
        if te is not None:
            n_te += 1
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

def test():
    if not lib.netns_available():
        lib.skip("needs root and `ip netns`")
    lib.engine_path()  # fail now, not after building the traffic
    rng = random.Random(SEED)
    t0 = time.monotonic()
    flows = make_flows(rng)
    in_frames, sent, in_drops = build_inside(rng, flows)
    n_in2out = sum(1 for k, *_ in sent.values() if k != "client_error")
    n_err_in = len(sent) - n_in2out
    log(f"seed {SEED}: {len(flows)} flows, {len(in_frames)} inside frames "
        f"({n_in2out} to translate, {n_err_in} client ICMP errors, "
        f"{sum(in_drops.values())} to refuse) built in {time.monotonic() - t0:.1f} s")

    with lib.TempDir() as d, lib.Netns() as ns:
        lib.write_pcap(d / "inside.pcap", in_frames)
        conf = lib.write_config(
            d / "engine.ini",
            inside_device=f"net_pcap0,rx_pcap={d}/inside.pcap,tx_pcap={d}/inside_tx.pcap",
            # rx_iface_in: only frames arriving on vetha, never anything
            # the kernel might send out of it.
            outside_device=f"net_pcap1,rx_iface_in={ns.a},tx_pcap={d}/outside_tx.pcap",
            slices={SLICE_IP: "10000-12047"},
            leases={"clients": {"kind": "nat", "ip": SLICE_IP,
                                "ports": f"{LEASE_LO}-{LEASE_HI}",
                                "clients": "10.0.0.0/16"},
                    "linux": {"kind": "socket", "ip": SLICE_IP,
                              "ports": f"{SOCKET_LO}-{SOCKET_HI}"}},
            # Timeouts far beyond the test's run time: a slow machine must
            # not see flows expire between the two phases.
            nat={"max_flows": 65536, "udp_timeout": 3600, "icmp_timeout": 3600,
                 "tcp_transitory_timeout": 3600})
        with lib.Engine(conf, d, netns=ns.name) as eng:
            eng.wait_started()

            # Phase 1: inside -> outside.
            t1 = time.monotonic()
            lib.wait_records(d / "outside_tx.pcap", len(sent), timeout=60, engine=eng,
                             what="translated client packets")
            out_frames = lib.read_pcap(d / "outside_tx.pcap")
            first_out = check_outside(out_frames, sent, flows)
            ports = {f.out_port for f in flows}
            log(f"in2out: {n_in2out} packets of {len(flows)} flows translated onto "
                f"{len(ports)} lease ports (reused across destinations), "
                f"{n_err_in} client ICMP errors; all checked in "
                f"{time.monotonic() - t1:.1f} s")

            # Phase 2: outside -> inside, on the flows phase 1 created.
            t2 = time.monotonic()
            out_inject, expect, out_drops = build_outside(rng, flows, first_out)
            sock = ns.packet_socket(ns.b)
            try:
                send_and_wait(sock, out_inject, expect, d / "inside_tx.pcap", eng, ns)
            finally:
                sock.close()
            counters = eng.stop()
        first_sent = {f.idx: ip_packet(fr) for k, f, fr, _ in sent.values() if k == "first"}
        # The engine answers expired client packets (not errors) with
        # time exceeded from its inside address, and expired outside
        # packets from its outside address; both are checked here.
        te_in = check_inside(lib.read_pcap(d / "inside_tx.pcap"), expect, first_sent)
        te_out = [time_exceeded(r, HOST_OUTSIDE)
                  for r in lib.read_pcap(d / "outside_tx.pcap")[len(out_frames):]]
        check(all(t == "" for t in te_out),
              f"outside: only time exceeded may follow phase 1: {te_out}")
        n_out2in = sum(1 for k, *_ in expect.values() if k != "router_error")
        n_err_out = len(expect) - n_out2in
        log(f"out2in: {n_out2in} replies and {n_err_out} ICMP errors back to their "
            f"clients, {sum(out_drops.values())} frames refused; checked in "
            f"{time.monotonic() - t2:.1f} s")

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
    lib.check_counters(counters, dict(expected))
    log("counters: " + ", ".join(f"{k} {v}" for k, v in sorted(expected.items())))


if __name__ == "__main__":
    lib.main(test)
