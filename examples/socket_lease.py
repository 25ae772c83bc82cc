#!/usr/bin/python3
"""Confine a local socket to a socket lease, then fetch a page through it.

Usage: socket_lease.py SLICE_IP LO-HI URL_HOST URL_PORT [PATH]

A process that holds a `socket` lease (say 198.51.100.10:11000-11099)
must only ever use ports of it: shoal-engine drops anything Linux sends
from a slice address with another port (kernel_port_violation). Two ways:

  * Linux 6.3 and later: IP_LOCAL_PORT_RANGE (IPPROTO_IP option 51,
    value hi << 16 | lo) narrows the kernel's ephemeral port choice for
    this socket; bind to the slice address with port 0 and connect. The
    kernel still checks 4-tuple uniqueness, so many connections can share
    the range (unlike explicit binds). The kernel intersects the per-socket
    range with net.ipv4.ip_local_port_range and silently ignores it when
    the two do not overlap, so the lease must lie inside that sysctl's
    range (e.g. `sysctl net.ipv4.ip_local_port_range="1024 65000"`).
  * Older kernels: bind() explicitly to a port of the lease, trying the
    next one on EADDRINUSE.

This example uses the option when the kernel has it and falls back to
explicit binds; it prints which, and the local port it got.
"""
import errno
import socket
import sys

IP_LOCAL_PORT_RANGE = 51  # include/uapi/linux/in.h, Linux 6.3+


def in_ephemeral_range(lo, hi):
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        r_lo, r_hi = (int(x) for x in f.read().split())
    return r_lo <= lo and hi <= r_hi


def lease_socket(slice_ip, lo, hi):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if not in_ephemeral_range(lo, hi):
            # The option would be ignored: choose the port by hand.
            raise OSError(errno.EINVAL, "lease outside ip_local_port_range")
        s.setsockopt(socket.IPPROTO_IP, IP_LOCAL_PORT_RANGE, hi << 16 | lo)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((slice_ip, 0))
        return s, "IP_LOCAL_PORT_RANGE"
    except OSError as e:
        if e.errno not in (errno.ENOPROTOOPT, errno.EINVAL):
            raise
    for port in range(lo, hi + 1):  # bounded by the lease's size
        try:
            s.bind((slice_ip, port))
            return s, "explicit bind"
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
    raise OSError(errno.EADDRNOTAVAIL, "every port of the lease is in use")


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    slice_ip, rng, host, port = sys.argv[1:5]
    path = sys.argv[5] if len(sys.argv) == 6 else "/"
    lo, hi = (int(x) for x in rng.split("-"))
    s, how = lease_socket(slice_ip, lo, hi)
    s.settimeout(5)
    s.connect((host, int(port)))
    local = s.getsockname()
    s.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    reply = b""
    while chunk := s.recv(4096):
        reply += chunk
    s.close()
    status = reply.split(b"\r\n", 1)[0].decode(errors="replace")
    print(f"{how}: {local[0]}:{local[1]} -> {host}:{port}  {status}")
    if not lo <= local[1] <= hi:
        sys.exit(f"local port {local[1]} outside the lease {lo}-{hi}")


if __name__ == "__main__":
    main()
