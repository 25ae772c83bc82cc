#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Flow timeouts, end to end, on live interfaces.

Both engine ports capture from veths in a namespace of the test's own, so
the test controls when each packet arrives:

    veth-ib ~~ veth-ia --rx_iface_in--> [inside ] --tx--> inside_tx.pcap
    veth-ob ~~ veth-oa --rx_iface_in--> [outside] --tx--> outside_tx.pcap

Timeouts: UDP and ICMP 3 s, TCP transitory 3 s, TCP established 3600 s.

  t=0    clients open U1, U2 (UDP), I1, I2 (ICMP echo), X and Y (TCP SYN);
         X's server answers with a SYN-ACK at once (X is now established).
  t=1    replies to U1 and I1: the flows are alive, the replies go through
         (and refresh U1 and I1, which then expire at about t=4).
  t=5.5  replies to U2 and I2: expired -> unsolicited;
         client ACK on X: established, still alive -> translated, on the
         port X's SYN used;
         client ACK on Y: the half-open flow expired (transitory timeout),
         so a non-SYN cannot revive it -> tcp_not_syn; Y's late SYN-ACK
         -> unsolicited.
  end    flows_expired == 5 (U1, U2, I1, I2, Y); X stays.

The margins (2 s before a timeout, 2.5 s after) leave room for a slow
machine; lateness can only make an expired flow more expired.

With N workers (the test runs for each count, see lib.main) each port has
N queues, queue q capturing from its own veth pair (veth-ia<q>/veth-ib<q>,
veth-oa<q>/veth-ob<q>). Every frame is sent on the queue after its
owner's (the client's worker inside, port % N outside), so each is handed
over to its owner (handoff_tx == handoff_rx == 14); each worker expires
its own flows; a client's packets leave on TX queue owner(client), from a
port that worker owns, and replies reach the client on that same queue.
Needs root and `ip netns` (exit 77 otherwise).
"""

import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import lib  # noqa: E402
from lib import check, log

from scapy.layers.inet import IP, ICMP, TCP, UDP
from scapy.layers.l2 import Ether

SLICE_IP = "198.51.100.10"
INSIDE_PEER, OUTSIDE_PEER = "02:00:00:00:00:02", "02:00:00:00:00:fe"
TIMEOUT = 3
LATE = TIMEOUT + 2.5


def by_id(queues):
    """(TX queue, packet) of every record in @queues, by IP id (each packet
    the test sends carries its own)."""
    got = {}
    for q, raws in enumerate(queues):
        for r in raws:
            p = Ether(r)
            check(p[IP].id not in got, f"IP id {p[IP].id} emitted twice")
            got[p[IP].id] = (q, p)
    return got


def test(workers):
    if not lib.netns_available():
        lib.skip("needs root and `ip netns`")
    lib.engine_path()
    in_pairs, out_pairs = lib.veth_names("i", workers), lib.veth_names("o", workers)
    with lib.TempDir() as d, lib.Netns(tuple(in_pairs + out_pairs)) as ns:
        out_tx = lib.queue_files(d, "outside_tx", workers)
        in_tx = lib.queue_files(d, "inside_tx", workers)
        conf = lib.write_config(
            d / "engine.ini",
            inside_device=lib.pcap_device(0, in_tx, rx_iface_in=[a for a, _ in in_pairs]),
            outside_device=lib.pcap_device(1, out_tx,
                                           rx_iface_in=[a for a, _ in out_pairs]),
            slices={SLICE_IP: "10000-12047"},
            leases={"a": {"kind": "nat", "ip": SLICE_IP, "ports": "10000-11999",
                          "clients": "10.0.0.0/16"}},
            nat={"max_flows": 1024, "udp_timeout": TIMEOUT, "icmp_timeout": TIMEOUT,
                 "tcp_transitory_timeout": TIMEOUT, "tcp_established_timeout": 3600},
            workers=workers)
        with lib.Engine(conf, d, netns=ns.name) as eng:
            eng.wait_started()
            inside = [ns.packet_socket(b) for _, b in in_pairs]
            outside = [ns.packet_socket(b) for _, b in out_pairs]

            def client(pkt):
                """On the queue after the client's owner's: handed over."""
                q = (lib.owner_client(pkt[IP].src, workers) + 1) % workers
                inside[q].send(bytes(Ether(src=INSIDE_PEER, dst=lib.INSIDE_MAC) / pkt))

            def remote(pkt):
                """On the queue after the owner's of the port it is sent to."""
                port = pkt[ICMP].id if ICMP in pkt else pkt[IP].payload.dport
                q = (lib.owner_port(port, workers) + 1) % workers
                outside[q].send(bytes(Ether(src=OUTSIDE_PEER, dst=lib.OUTSIDE_MAC) / pkt))

            try:
                # t=0: six flows open, IP ids 1 to 6.
                opening = [
                    IP(src="10.0.1.1", dst="203.0.113.1") / UDP(sport=1001, dport=53),
                    IP(src="10.0.1.2", dst="203.0.113.1") / UDP(sport=1002, dport=53),
                    IP(src="10.0.1.3", dst="203.0.113.2") / ICMP(type=8, id=3),
                    IP(src="10.0.1.4", dst="203.0.113.2") / ICMP(type=8, id=4),
                    IP(src="10.0.1.5", dst="203.0.113.3") / TCP(sport=1005, dport=80,
                                                                flags="S", seq=500),
                    IP(src="10.0.1.6", dst="203.0.113.3") / TCP(sport=1006, dport=80,
                                                                flags="S", seq=600),
                ]
                for i, pkt in enumerate(opening):
                    pkt[IP].id = i + 1
                    client(pkt)
                lib.wait_records(out_tx, 6, timeout=10, engine=eng, what="opening packets")
                t0 = time.monotonic()
                sent = by_id(lib.read_pcaps(out_tx))
                check(sorted(sent) == [1, 2, 3, 4, 5, 6],
                      f"opening packets out with IP ids {sorted(sent)}")
                for k, pkt in enumerate(opening):
                    q, p = sent[k + 1]
                    w = lib.owner_client(pkt[IP].src, workers)
                    port = p[ICMP].id if ICMP in p else p[IP].payload.sport
                    check(q == w and lib.owner_port(port, workers) == w,
                          f"{pkt[IP].src}'s flow left on TX queue {q} from port "
                          f"{port}; its owner is worker {w}")
                u1, u2, i1, i2, x, y = [sent[k][1] for k in range(1, 7)]

                def reply(p, **kw):
                    """The remote's answer to translated packet @p."""
                    ip = IP(src=p[IP].dst, dst=p[IP].src)
                    if ICMP in p:
                        return ip / ICMP(type=0, id=p[ICMP].id)
                    if TCP in p:
                        return ip / TCP(sport=p[TCP].dport, dport=p[TCP].sport,
                                        flags="SA", seq=9000, ack=p[TCP].seq + 1)
                    return ip / UDP(sport=p[UDP].dport, dport=p[UDP].sport) / b"answer"

                remote(reply(x))                  # X established
                lib.wait_records(in_tx, 1, timeout=10, engine=eng, what="X's SYN-ACK")

                # t=1: U1 and I1 are alive.
                time.sleep(max(0.0, t0 + 1 - time.monotonic()))
                remote(reply(u1))
                remote(reply(i1))
                lib.wait_records(in_tx, 3, timeout=TIMEOUT - 1, engine=eng,
                                 what="replies to live flows")
                check(time.monotonic() - t0 < TIMEOUT,
                      "machine too slow: the live-flow replies took past the timeout")

                # t=5.5: U2, I2 and Y expired, X (established) alive.
                time.sleep(max(0.0, t0 + LATE - time.monotonic()))
                remote(reply(u2))
                remote(reply(i2))
                remote(reply(y))
                client(IP(src="10.0.1.5", dst="203.0.113.3", id=7) /
                       TCP(sport=1005, dport=80, flags="A", seq=501, ack=9001))
                client(IP(src="10.0.1.6", dst="203.0.113.3", id=8) /
                       TCP(sport=1006, dport=80, flags="A", seq=601, ack=9001))
                lib.wait_records(out_tx, 7, timeout=10, engine=eng, what="X's ACK")
                # The drops leave no trace to wait for: wait until every
                # frame was received and nothing is left between workers.
                eng.wait_settled({"rx_inside": 8, "rx_outside": 6}, timeout=10)
            finally:
                for s in inside + outside:
                    s.close()
            counters = eng.stop()

        out = by_id(lib.read_pcaps(out_tx))
        back = [(q, Ether(r)) for q, raws in enumerate(lib.read_pcaps(in_tx)) for r in raws]
        check(sorted(out) == [1, 2, 3, 4, 5, 6, 7],
              f"packets on the outside with IP ids {sorted(out)}, expected 1 to 7")
        q, ack = out[7]
        check(TCP in ack and ack[IP].src == SLICE_IP and ack[TCP].flags == "A" and
              ack[TCP].sport == x[TCP].sport,
              f"X's ACK left as {ack.summary()}, expected from {SLICE_IP}:{x[TCP].sport}")
        check(q == out[5][0], f"X's ACK left on TX queue {q}, its SYN on {out[5][0]}")
        got = sorted((p[IP].dst, p.lastlayer().name) for _, p in back)
        want = sorted([("10.0.1.5", "TCP"), ("10.0.1.1", "Raw"), ("10.0.1.3", "ICMP")])
        check(got == want, f"replies reached {got}, expected {want}")
        wrong = [(p[IP].dst, q) for q, p in back
                 if q != lib.owner_client(p[IP].dst, workers)]
        check(not wrong, f"replies on another TX queue than their client's owner's: {wrong}")
        handed = 14 if workers > 1 else 0  # every frame, on a non-owner's queue
        lib.check_counters(counters, {
            "rx_inside": 8, "rx_outside": 6, "in2out": 7, "tx_outside": 7,
            "out2in": 3, "tx_inside": 3, "flows_created": 6,
            "unsolicited": 3, "tcp_not_syn": 1, "flows_expired": 5,
            "handoff_tx": handed, "handoff_rx": handed,
        })
        lib.check_workers(eng.workers, workers)
        log("flows live until their timeout, expire after it; an established "
            "TCP flow outlives the transitory timeout")


if __name__ == "__main__":
    lib.main(test)
