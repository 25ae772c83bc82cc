#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The MTU path end to end: MSS clamping, fragmentation needed, egress
fragments, on the real engine over net_pcap.

    inside.pcap --rx--> [ inside  net_pcap0, mtu 1500 ] --tx--> inside_tx.pcap
                        [       shoal-engine         ]
    empty.pcap  --rx--> [ outside net_pcap1, mtu 1400 ] --tx--> outside_tx.pcap

The client sends, in one pcap:
  * a TCP SYN announcing MSS 1460 after a NOP and a window scale (the MSS
    at an odd offset);
  * a 1450-byte UDP datagram with DF: more than the outside MTU;
  * a 1450-byte UDP datagram without DF, 1422 bytes of known payload.

Run once per tcp_mss_clamp value: auto (1400 - 40 = 1360), 1200, off.
Checks each time: the SYN leaves with the expected MSS and a valid TCP
checksum (tcp_mss_clamped 1, or 0 when off or not larger); the DF
datagram does not leave, and the client gets ICMP type 3 code 4 from the
engine's inside address with next-hop MTU 1400 quoting the datagram as
it sent it (its own source and port, 548 bytes); the other datagram
leaves as two fragments of at most 1400 bytes, translated, which
reassemble (scapy's defragment) to the original payload with a valid
UDP checksum; counters mtu_exceeded 1, icmp_frag_needed 1,
tx_fragmented 1, in2out 3.

Needs the engine binary; no root (pcap files only).
"""

import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import lib  # noqa: E402
from lib import check, log

from scapy.layers.inet import IP, ICMP, TCP, UDP, IPerror, UDPerror, defragment
from scapy.layers.l2 import Ether
from scapy.packet import Raw

SLICE_IP = "198.51.100.10"
CLIENT, SERVER = "10.0.0.7", "203.0.113.5"
CLIENT_MAC = "02:00:00:00:00:02"
PAYLOAD = bytes((i * 7 + 3) & 0xff for i in range(1422))
ID_SYN, ID_DF, ID_FRAG = 0x101, 0x102, 0x103


def frames():
    eth = Ether(src=CLIENT_MAC, dst=lib.INSIDE_MAC)
    syn = eth / IP(src=CLIENT, dst=SERVER, id=ID_SYN, flags="DF") / TCP(
        sport=40000, dport=80, flags="S", seq=1000,
        options=[("NOP", None), ("WScale", 7), ("MSS", 1460), ("SAckOK", b"")])
    df = eth / IP(src=CLIENT, dst=SERVER, id=ID_DF, flags="DF") / \
        UDP(sport=5000, dport=9) / Raw(PAYLOAD)
    nodf = eth / IP(src=CLIENT, dst=SERVER, id=ID_FRAG, flags=0) / \
        UDP(sport=5001, dport=9) / Raw(PAYLOAD)
    return [syn, df, nodf]


def mss_of(tcp):
    return dict((k, v) for k, v in tcp.options).get("MSS")


def run(clamp, want_mss):
    with lib.TempDir() as d:
        sent = frames()
        check(len(sent[1][IP]) == 1450, "test bug: datagram size")
        lib.write_pcap(d / "inside.pcap", [bytes(f) for f in sent])
        lib.write_pcap(d / "empty.pcap", [])
        conf = lib.write_config(
            d / "shoal.conf",
            inside_device=lib.pcap_device(0, [d / "inside_tx.pcap"],
                                          rx_pcap=[d / "inside.pcap"]),
            outside_device=lib.pcap_device(1, [d / "outside_tx.pcap"],
                                           rx_pcap=[d / "empty.pcap"]),
            slices={SLICE_IP: "10000-12047"},
            leases={"c": {"kind": "nat", "ip": SLICE_IP,
                          "ports": "10000-10999", "clients": "10.0.0.0/24"}},
            nat={"max_flows": 1024, "tcp_mss_clamp": clamp})
        text = conf.read_text().replace(
            "[outside]\n", "[outside]\nmtu = 1400\n")
        conf.write_text(text)
        with lib.Engine(conf, d) as eng:
            eng.wait_started()
            lib.wait_records(d / "outside_tx.pcap", 3, timeout=20, engine=eng,
                             what="SYN and two fragments")
            lib.wait_records(d / "inside_tx.pcap", 1, timeout=20, engine=eng,
                             what="fragmentation needed")
            counters = eng.stop()
        out = [Ether(r) for r in lib.read_pcap(d / "outside_tx.pcap")]
        back = [Ether(r) for r in lib.read_pcap(d / "inside_tx.pcap")]

    check(len(out) == 3, f"outside sent {len(out)} frames, expected 3")
    check(not [p for p in out if p[IP].id == ID_DF],
          "the DF datagram over the MTU left the engine")
    syn = [p for p in out if p[IP].id == ID_SYN]
    check(len(syn) == 1 and TCP in syn[0], "the SYN did not leave once")
    syn = syn[0]
    check(mss_of(syn[TCP]) == want_mss,
          f"tcp_mss_clamp {clamp}: SYN left with MSS {mss_of(syn[TCP])}, "
          f"expected {want_mss}")
    errs = lib.checksum_errors(bytes(syn))
    check(not errs, f"SYN checksums: {errs}")

    frags = [p for p in out if p[IP].id == ID_FRAG]
    check(len(frags) == 2, f"{len(frags)} fragments, expected 2")
    for f in frags:
        check(len(f[IP]) <= 1400, f"fragment of {len(f[IP])} bytes over mtu 1400")
        check(f[IP].src == SLICE_IP, f"fragment from {f[IP].src}")
        check(lib.inet_checksum(bytes(f[IP])[:f[IP].ihl * 4]) == 0,
              "fragment IPv4 header checksum")
    check(frags[0][IP].flags.MF and not frags[1][IP].flags.MF and
          frags[1][IP].frag == (1400 - 20) // 8,
          f"fragment flags/offsets: {[(f[IP].flags, f[IP].frag) for f in frags]}")
    whole = defragment([f[IP] for f in frags])
    whole = [p for p in whole if UDP in p and not p[IP].flags.MF and p[IP].frag == 0]
    check(len(whole) == 1, "the fragments do not reassemble")
    dg = IP(bytes(whole[0]))
    check(bytes(dg[UDP].payload) == PAYLOAD, "reassembled payload differs")
    check(not lib.checksum_errors(bytes(Ether() / dg)),
          f"reassembled checksums: {lib.checksum_errors(bytes(Ether() / dg))}")
    check(dg[UDP].sport != 5001 and 10000 <= dg[UDP].sport <= 10999,
          f"reassembled source port {dg[UDP].sport}")

    check(len(back) == 1, f"{len(back)} frames back to the client, expected 1")
    fn = back[0]
    check(fn.dst == CLIENT_MAC and fn[IP].src == "10.0.0.1" and
          fn[IP].dst == CLIENT, f"frag needed addressed {fn.summary()}")
    check(fn[ICMP].type == 3 and fn[ICMP].code == 4 and
          fn[ICMP].nexthopmtu == 1400,
          f"ICMP {fn[ICMP].type}/{fn[ICMP].code} mtu {fn[ICMP].nexthopmtu}")
    check(not lib.checksum_errors(bytes(fn)), f"frag needed checksums: "
          f"{lib.checksum_errors(bytes(fn))}")
    quote = bytes(fn[ICMP].payload)
    check(quote == bytes(sent[1][IP])[:548],
          "the quote is not the datagram as the client sent it")
    check(fn[IPerror].src == CLIENT and fn[UDPerror].sport == 5000,
          "quoted source is not the client's")

    want = {"mtu_exceeded": 1, "icmp_frag_needed": 1, "tx_fragmented": 1,
            "in2out": 3, "tcp_mss_clamped": 1 if want_mss != 1460 else 0}
    bad = [f"{k} {counters.get(k)} (expected {v})" for k, v in want.items()
           if counters.get(k) != v]
    check(not bad, "counters: " + ", ".join(bad))
    log(f"tcp_mss_clamp = {clamp}: MSS {want_mss}, frag needed mtu 1400, "
        "2 fragments: ok")


def test():
    lib.engine_path()
    run("auto", 1360)
    run("1200", 1200)
    run("off", 1460)


if __name__ == "__main__":
    lib.main(test)
