#!/usr/bin/python3
"""Write a pcap of 64-byte UDP client packets over N flows, fast.

Usage: genpcap.py OUT.pcap FLOWS [PACKETS]
Flow i: 10.<i>/16-style client address and port towards 203.0.113.x:53.
Checksums are computed here (IPv4 and UDP), so the engine's validation
passes; the frame is 60 bytes plus the 4-byte FCS the wire adds = 64.
Packets cycle through the flows in order; PACKETS defaults to FLOWS.
"""
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(i):
    src = bytes([10, 1 + (i >> 16) % 200, (i >> 8) & 255, i & 255])
    dst = bytes([203, 0, 113, 1 + i % 250])
    sport = 1024 + (i * 7) % 60000
    payload = b"shoal-bench-" + bytes(6)
    udp_len = 8 + len(payload)
    ip_len = 20 + udp_len
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, i & 0xFFFF, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    pseudo = src + dst + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, 53, udp_len, 0) + payload
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    eth = bytes.fromhex("020000000001" "020000000002") + b"\x08\x00"
    return eth + ip + udp


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    out, flows = sys.argv[1], int(sys.argv[2])
    packets = int(sys.argv[3]) if len(sys.argv) == 4 else flows
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n in range(packets):
            fr = frame(n % flows)
            f.write(struct.pack("<IIII", n // 1000000, n % 1000000, len(fr), len(fr)))
            f.write(fr)


if __name__ == "__main__":
    main()
