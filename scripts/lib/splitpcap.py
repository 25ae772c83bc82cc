#!/usr/bin/python3
"""Split a pcap into one pcap per worker queue by the client's owner.

Usage: splitpcap.py IN.pcap WORKERS SHIFT OUT0.pcap [OUT1.pcap ...]

Each IPv4 packet goes to queue (owner + SHIFT) % WORKERS, where owner is
the worker the engine assigns its source address to without RSS
(nat_owner_client() in engine/nat/steer.h: Fibonacci hashing of the
host-order address, ((a * 2654435761) mod 2^32) * WORKERS >> 32).
SHIFT 0 is what RSS on the IPv4 source would deliver: each queue holds
only its worker's clients. SHIFT 1 puts every packet on the queue of a
worker that does not own it, so the engine hands every packet to its
owner, and every worker both hands and receives. Packets keep their
order within a queue. Prints the packet count of each output.
"""
import struct
import sys

ETH_IPV4 = 0x0800


def owner(src, workers):
    a = struct.unpack("!I", src)[0]
    return ((a * 2654435761) & 0xFFFFFFFF) * workers >> 32


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    src, workers, shift = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    outs = sys.argv[4:]
    if len(outs) != workers:
        sys.exit(f"splitpcap: {workers} workers need {workers} outputs")
    with open(src, "rb") as f:
        data = f.read()
    if struct.unpack("<I", data[:4])[0] != 0xA1B2C3D4:
        sys.exit("splitpcap: not a little-endian microsecond pcap")
    parts = [[data[:24]] for _ in range(workers)]
    pos = 24
    while pos < len(data):
        incl = struct.unpack("<I", data[pos + 8:pos + 12])[0]
        rec = data[pos:pos + 16 + incl]
        pos += 16 + incl
        frame = rec[16:]
        if len(frame) < 34 or struct.unpack("!H", frame[12:14])[0] != ETH_IPV4:
            sys.exit("splitpcap: a frame that is not untagged IPv4")
        parts[(owner(frame[26:30], workers) + shift) % workers].append(rec)
    for path, part in zip(outs, parts):
        with open(path, "wb") as f:
            f.write(b"".join(part))
    print(" ".join(str(len(p) - 1) for p in parts))


if __name__ == "__main__":
    main()
