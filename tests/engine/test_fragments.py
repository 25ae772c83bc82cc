#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""RFC 4787 REQ-14: IPv4 fragments through the engine, both ways, by
virtual reassembly (engine/nat/frag.h), with one and several workers.

Topology: one veth pair per queue on each side (vi<q>a/vi<q>b inside,
vo<q>a/vo<q>b outside, rx_iface_in on the engine's end), one tx_pcap per
queue. All fragments of one datagram go on one queue, in the order the
test chooses, so what a worker sees in which order is fixed whatever the
scheduling (a handoff ring keeps order); datagrams are spread over the
queues, so with several workers most fragments cross to their owner
(outside: the datagram's owner by addresses, then the flow's owner by
ports: up to two rings).

Inside -> outside: UDP datagrams of 3000 bytes and ICMP echo requests
(ping -s 3000) in 1232-byte fragments from 24 clients, a third in order,
a third last fragment first, a third middle, last, then first. Checks:
every fragment leaves, the datagram put back together (by scapy) has the
slice address, one port in the lease for all of its fragments, a valid
L4 checksum, the client's payload.
Outside -> inside: a fragmented answer to each, in the same three orders.
Checks: each reaches its client's address and port, valid checksums,
payload intact.
Refused, each counted: a lone later fragment whose first never comes
(frag_timeout after the hold time: the test waits for the counter, not
for a time), six later fragments of one datagram (five held and timed
out, one frag_too_many), a datagram from a client no lease serves (the
first no_lease, the later ip_fragment). Every counter is then checked.

Needs root and `ip netns` (exit 77 otherwise).
"""

import random
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree

import lib  # noqa: E402
from lib import check, log  # noqa: E402

try:
    from scapy.all import ICMP, IP, UDP, Ether, Raw, fragment  # noqa: E402
except ImportError:
    lib.skip("scapy not installed")

SLICE_IP = "198.51.100.10"
LEASE_LO, LEASE_HI = 10000, 11999
INSIDE_PEER, OUTSIDE_PEER = "02:00:00:00:00:02", "02:00:00:00:00:fe"
N_CLIENTS = 24
FRAG = 1232  # payload bytes per fragment (a multiple of 8)


def frags(pkt, order):
    """@pkt cut into FRAG-byte fragments, in @order: "in", "rev" (last
    first) or "mix" (middle, last, then first)."""
    fs = fragment(pkt, fragsize=FRAG)
    if order == "rev":
        fs = fs[::-1]
    elif order == "mix":
        fs = fs[1:] + fs[:1]
    return fs


def reassemble(records):
    """IPv4 datagrams from the frames @records: {(src, dst, proto, id):
    (IP packet put back together, [fragment IP headers])}."""
    parts = {}
    for raw in records:
        p = Ether(raw)
        if IP not in p:
            continue
        ip = p[IP]
        key = (ip.src, ip.dst, ip.proto, ip.id)
        parts.setdefault(key, []).append(ip)
    out = {}
    for key, fl in parts.items():
        fl.sort(key=lambda f: f.frag)
        data = b"".join(bytes(f)[f.ihl * 4:f.len] for f in fl)
        first = fl[0].copy()
        whole = IP(src=first.src, dst=first.dst, id=first.id, proto=first.proto,
                   ttl=first.ttl) / Raw(data)
        out[key] = (IP(bytes(whole)), fl)
    return out


def l4_ok(ip):
    """The L4 checksum of the whole datagram @ip, recomputed by scapy,
    equals the one it carries."""
    sent = ip.payload.chksum
    fresh = ip.copy()
    del fresh.payload.chksum
    return IP(bytes(fresh)).payload.chksum == sent


def ip_ok(f):
    """The IPv4 header checksum of fragment @f is right."""
    fresh = IP(bytes(f))
    del fresh.chksum
    return IP(bytes(fresh)).chksum == f.chksum


def wait_out(tx, n, eng, ns, what):
    """Wait (bounded) for @n records in the pcaps @tx; on a timeout the
    failure carries the engine's counters."""
    try:
        lib.wait_records(tx, n, timeout=60, engine=eng, what=what)
    except lib.TestFailure as e:
        s = eng.stats()
        links = ns.exec(["ip", "-s", "link", "show"])
        raise lib.TestFailure(f"{e}; engine counters: " + ", ".join(
            f"{k} {v}" for k, v in sorted(s.items()) if v) + "\n" + links) from None


def test(workers):
    rng = random.Random(4787)
    in_pairs = [(f"vi{q}a", f"vi{q}b") for q in range(workers)]
    out_pairs = [(f"vo{q}a", f"vo{q}b") for q in range(workers)]
    with lib.TempDir() as d, lib.Netns(tuple(in_pairs + out_pairs)) as ns:
        in_tx = lib.queue_files(d, "inside_tx", workers)
        out_tx = lib.queue_files(d, "outside_tx", workers)
        conf = lib.write_config(
            d / "engine.ini",
            inside_device=lib.pcap_device(0, in_tx, rx_iface_in=[a for a, _ in in_pairs]),
            outside_device=lib.pcap_device(1, out_tx,
                                           rx_iface_in=[a for a, _ in out_pairs]),
            slices={SLICE_IP: "10000-12047"},
            leases={"clients": {"kind": "nat", "ip": SLICE_IP,
                                "ports": f"{LEASE_LO}-{LEASE_HI}",
                                "clients": "10.0.0.0/16"}},
            nat={"max_flows": 65536, "udp_timeout": 3600, "icmp_timeout": 3600},
            workers=workers)
        socks = []
        try:
            with lib.Engine(conf, d, netns=ns.name) as eng:
                eng.wait_started()
                socks = [ns.packet_socket(b) for _, b in in_pairs + out_pairs]
                in_socks, out_socks = socks[:workers], socks[workers:]

                # Inside -> outside.
                dgrams, n_in = {}, 0
                orders = ("in", "rev", "mix")
                for i in range(N_CLIENTS):
                    cip = f"10.0.{i // 8}.{10 + i}"
                    data = rng.randbytes(3000)
                    if i % 2:
                        pkt = IP(src=cip, dst="203.0.113.7", id=0x100 + i) / \
                            UDP(sport=5000 + i, dport=53) / data
                    else:
                        pkt = IP(src=cip, dst="203.0.113.7", id=0x100 + i) / \
                            ICMP(type=8, id=700 + i, seq=1) / data
                    dgrams[(cip, pkt.id)] = (pkt, data)
                    for f in frags(pkt, orders[i % 3]):
                        in_socks[i % workers].send(bytes(
                            Ether(src=INSIDE_PEER, dst=lib.INSIDE_MAC) / f))
                        n_in += 1
                    # one datagram at a time: a capture on a loaded
                    # machine loses frames from bursts of large ones
                    wait_out(out_tx, n_in, eng, ns, "translated fragments")
                out = reassemble(r for q in lib.read_pcaps(out_tx) for r in q)
                check(len(out) == N_CLIENTS, f"{len(out)} datagrams out, "
                      f"expected {N_CLIENTS}")
                back = {}
                for (src, dst, proto, ipid), (ip, fl) in out.items():
                    check(src == SLICE_IP and dst == "203.0.113.7",
                          f"datagram {ipid:#x}: {src} -> {dst}")
                    cands = [k for k in dgrams if k[1] == ipid]
                    check(len(cands) == 1, f"datagram id {ipid:#x} unknown")
                    pkt, data = dgrams[cands[0]]
                    check(l4_ok(ip), f"datagram {ipid:#x}: L4 checksum wrong")
                    check(all(ip_ok(f) for f in fl),
                          f"datagram {ipid:#x}: IPv4 checksum wrong")
                    if proto == 17:
                        port = ip[UDP].sport
                        check(bytes(ip[UDP].payload) == data, f"{ipid:#x}: payload")
                    else:
                        port = ip[ICMP].id
                        check(bytes(ip[ICMP].payload) == data, f"{ipid:#x}: payload")
                    if proto == 17:
                        check(LEASE_LO <= port <= LEASE_HI,
                              f"datagram {ipid:#x}: port {port} not in the lease")
                    back[cands[0]] = port
                log(f"in2out: {N_CLIENTS} datagrams in {n_in} fragments translated")

                # Outside -> inside: the answers, fragmented.
                n_out, replies = 0, {}
                # every datagram sent, in order (N_CLIENTS % 3 == 0: the i-th
                # answer has the order of the i-th request)
                firsts = [p for p, _ in dgrams.values()]
                for i, ((cip, ipid), (pkt, data)) in enumerate(sorted(dgrams.items())):
                    port = back[(cip, ipid)]
                    rid = 0x2000 + i
                    rdata = rng.randbytes(2900)
                    if UDP in pkt:
                        r = IP(src="203.0.113.7", dst=SLICE_IP, id=rid) / \
                            UDP(sport=53, dport=port) / rdata
                    else:
                        r = IP(src="203.0.113.7", dst=SLICE_IP, id=rid) / \
                            ICMP(type=0, id=port, seq=1) / rdata
                    replies[rid] = (cip, pkt, rdata)
                    firsts.append(r)
                    for f in frags(r, orders[i % 3]):
                        out_socks[i % workers].send(bytes(
                            Ether(src=OUTSIDE_PEER, dst=lib.OUTSIDE_MAC) / f))
                        n_out += 1
                    wait_out(in_tx, n_out, eng, ns, "translated answer fragments")
                got = reassemble(r for q in lib.read_pcaps(in_tx) for r in q)
                check(len(got) == N_CLIENTS, f"{len(got)} answers in, expected {N_CLIENTS}")
                for (src, dst, proto, ipid), (ip, fl) in got.items():
                    cip, pkt, rdata = replies[ipid]
                    check(dst == cip, f"answer {ipid:#x} to {dst}, expected {cip}")
                    check(l4_ok(ip), f"answer {ipid:#x}: L4 checksum wrong")
                    if UDP in pkt:
                        check(ip[UDP].dport == pkt[UDP].sport, f"answer {ipid:#x}: port")
                        check(bytes(ip[UDP].payload) == rdata, f"answer {ipid:#x}: payload")
                    else:
                        check(ip[ICMP].id == pkt[ICMP].id, f"answer {ipid:#x}: echo id")
                        check(bytes(ip[ICMP].payload) == rdata, f"answer {ipid:#x}: payload")
                log(f"out2in: {N_CLIENTS} answers in {n_out} fragments translated")

                # Refused: a lone later fragment; six later fragments of
                # one datagram; a datagram no lease serves.
                eth = Ether(src=INSIDE_PEER, dst=lib.INSIDE_MAC)
                lone = fragment(IP(src="10.0.0.200", dst="203.0.113.8", id=0x3000) /
                                UDP(sport=1, dport=2) / bytes(3000), fragsize=FRAG)
                six = fragment(IP(src="10.0.0.201", dst="203.0.113.8", id=0x3001) /
                               UDP(sport=1, dport=2) / bytes(8000), fragsize=FRAG)
                nolease = fragment(IP(src="172.16.0.1", dst="203.0.113.8", id=0x3002) /
                                   UDP(sport=1, dport=2) / bytes(2000), fragsize=FRAG)
                check(len(six) >= 7, "eight kilobytes make seven fragments")
                extra = [lone[1]] + six[1:7] + list(nolease)
                for f in extra:
                    in_socks[0].send(bytes(eth / f))
                # Held fragments time out (NAT_FRAG_HOLD_MS); wait for
                # the counters, bounded.
                eng.wait_settled({"rx_inside": n_in + len(extra),
                                  "rx_outside": n_out, "frag_timeout": 6})
                counters = eng.stop()
        finally:
            for sock in socks:
                sock.close()

    expected = {
        "rx_inside": n_in + len(extra), "rx_outside": n_out,
        "in2out": n_in, "tx_outside": n_in,
        "out2in": n_out, "tx_inside": n_out,
        "fragments": n_in + n_out,
        "flows_created": N_CLIENTS,
        # every fragment sent before its first, both ways, and the six
        # held of the refused ones
        "frag_held": 6 + sum(len(frags(p, orders[i % 3])) - 1
                             for i, p in enumerate(firsts)
                             if orders[i % 3] != "in"),
        "frag_timeout": 6, "frag_too_many": 1,
        "no_lease": 1, "ip_fragment": len(nolease) - 1,
    }
    lib.check_counters(counters, expected, handoff=workers > 1)
    log("counters: " + ", ".join(f"{k} {v}" for k, v in sorted(expected.items())))


if __name__ == "__main__":
    lib.main(test)
