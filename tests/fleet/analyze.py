#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check a capture at the fleet's server against the slice map's history.

  analyze.py owners OPTIONS     every packet from the pool address, tagged
                                with the host whose client sent it, used a
                                port of a slice that host owned at that
                                moment
  analyze.py partition OPTIONS --host H --at T
                                for each slice H owned at T: when H's
                                packets last used it (before H owned it
                                again, if it did), when its key vanished,
                                when another host claimed it and when
                                another host's packets first used it
                                after T

OPTIONS:
  --pcap FILE        tcpdump capture (Ethernet, IPv4) of what reached the server
  --events FILE      tests/fleet/watch.py log of PREFIX/
  --pool IP          the shared address
  --lo PORT --size N --n-slices K
                     the pool's first port, the slice size, how many slices
  --port-host P=H,.. server ports whose packets come from host H's clients
  --tags FILE        more tags: lines "PROTO SPORT H" (proto tcp or udp,
                     SPORT the packet's source port at the server)
  --from T --to T    only packets captured in [T, T] (wall clock seconds)

  --payload-ports P,..  server UDP ports whose datagrams say "H SEQ"
                     (tests/fleet/flows.py): tagged H, before any other tag

Prints one JSON object.
"""
import argparse
import bisect
import json
import socket
import struct
import sys
from collections import defaultdict


def packets(path):
    """(t, src, dst, proto, sport, dport, icmp, payload) for every IPv4
    packet; sport/dport None for ICMP and non-first fragments, icmp
    (type, code) for ICMP."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        end = "<"
    else:
        end = ">"
        magic = struct.unpack(">I", data[:4])[0]
    div = 1e9 if magic == 0xa1b23c4d else 1e6
    linktype = struct.unpack(end + "I", data[20:24])[0]
    if linktype != 1:
        raise SystemExit(f"{path}: link type {linktype}, not Ethernet")
    rec = struct.Struct(end + "IIII")
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = rec.unpack_from(data, off)
        off += 16
        pkt = data[off:off + incl]
        off += incl
        if len(pkt) < 34 or pkt[12:14] != b"\x08\x00":
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 0x0f) * 4
        proto = ip[9]
        frag = struct.unpack("!H", ip[6:8])[0] & 0x1fff
        src = socket.inet_ntoa(ip[12:16])
        dst = socket.inet_ntoa(ip[16:20])
        l4 = ip[ihl:]
        sport = dport = icmp = None
        payload = b""
        if frag == 0 and proto in (6, 17) and len(l4) >= 4:
            sport, dport = struct.unpack("!HH", l4[:4])
            if proto == 17:
                payload = l4[8:]
        elif frag == 0 and proto == 1 and len(l4) >= 2:
            icmp = (l4[0], l4[1])
        yield (sec + frac / div, src, dst, proto, sport, dport, icmp, payload)


class History:
    """Who owned each slice (by its first port) when, from watch.py."""

    def __init__(self, path):
        self.times = defaultdict(list)
        self.owners = defaultdict(list)
        with open(path) as f:
            for line in f:
                w = line.split(" ", 3)
                if len(w) < 3 or "/slices/" not in w[2]:
                    continue
                lo = int(w[2].rsplit("/", 1)[1])
                host = None
                if w[1] == "put":
                    host = json.loads(w[3])["host"]
                self.times[lo].append(float(w[0]))
                self.owners[lo].append(host)

    def owner(self, lo, t):
        i = bisect.bisect_right(self.times[lo], t)
        return self.owners[lo][i - 1] if i else None

    def changes(self, lo, after):
        """[(t, host or None)] of slice @lo after time @after."""
        return [(t, h) for t, h in zip(self.times[lo], self.owners[lo])
                if t > after]


def tagger(args):
    byport = {}
    for kv in filter(None, (args.port_host or "").split(",")):
        p, h = kv.split("=")
        byport[int(p)] = h
    bysport = {}
    if args.tags:
        with open(args.tags) as f:
            for line in f:
                w = line.split()
                if len(w) == 3:
                    bysport[(6 if w[0] == "tcp" else 17, int(w[1]))] = w[2]

    tagged = {int(p) for p in filter(None, (args.payload_ports or "").split(","))}

    def tag(proto, sport, dport, payload):
        if proto == 17 and dport in tagged:
            w = payload.split(b" ", 1)
            if len(w) == 2 and w[1][:1].isdigit() and 0 < len(w[0]) <= 16:
                return w[0].decode("ascii", "replace")
        if dport in byport:
            return byport[dport]
        return bysport.get((proto, sport))
    return tag


def selected(args):
    for p in packets(args.pcap):
        if args.t_from is not None and p[0] < args.t_from:
            continue
        if args.t_to is not None and p[0] > args.t_to:
            continue
        yield p


def slice_of(args, port):
    span_end = args.lo + args.n_slices * args.size
    if port < args.lo or port >= span_end:
        return None
    return args.lo + (port - args.lo) // args.size * args.size


def cmd_owners(args):
    hist = History(args.events)
    tag = tagger(args)
    out = {"packets": 0, "from_pool": 0, "other_sources": defaultdict(int),
           "untagged": 0, "fragments": 0, "hosts": {}, "violations": 0,
           "first_violations": []}
    flows = defaultdict(set)
    for t, src, _, proto, sport, dport, icmp, payload in selected(args):
        out["packets"] += 1
        if src != args.pool:
            what = f"icmp {icmp[0]}/{icmp[1]}" if icmp else f"proto {proto}"
            out["other_sources"][f"{src} {what}"] += 1
            continue
        out["from_pool"] += 1
        if sport is None:
            # ICMP echo ids are ports too, but the suite sends none;
            # non-first fragments carry no port.
            out["fragments"] += 1
            continue
        h = tag(proto, sport, dport, payload)
        if h is None:
            out["untagged"] += 1
            continue
        st = out["hosts"].setdefault(h, {"packets": 0, "flows": 0,
                                         "min_port": sport, "max_port": sport,
                                         "slices": set()})
        st["packets"] += 1
        st["min_port"] = min(st["min_port"], sport)
        st["max_port"] = max(st["max_port"], sport)
        flows[h].add((proto, sport, dport))
        lo = slice_of(args, sport)
        owner = hist.owner(lo, t) if lo is not None else None
        if lo is not None:
            st["slices"].add(lo)
        if owner != h:
            out["violations"] += 1
            if len(out["first_violations"]) < 10:
                out["first_violations"].append(
                    f"{t:.6f} host {h} {'tcp' if proto == 6 else 'udp'} "
                    f"{sport}->{dport}: slice {lo} owned by {owner}")
    for h, st in out["hosts"].items():
        st["flows"] = len(flows[h])
        st["slices"] = sorted(st["slices"])
    out["flow_list"] = sorted([h, "tcp" if p == 6 else "udp", sp, dp]
                              for h, fl in flows.items() for p, sp, dp in fl)
    json.dump(out, sys.stdout)
    print()


def cmd_partition(args):
    hist = History(args.events)
    tag = tagger(args)
    mine = [lo for lo in hist.times if hist.owner(lo, args.at) == args.host]
    res = {lo: {"last_own": None, "first_other": None, "first_other_host": None,
                "vanished": None, "claimed": None, "claimed_by": None,
                "back": None}
           for lo in mine}
    for lo in mine:
        r = res[lo]
        for t, h in hist.changes(lo, args.at):
            if h is None and r["vanished"] is None:
                r["vanished"] = t
            elif h is not None and h != args.host and r["claimed"] is None:
                r["claimed"], r["claimed_by"] = t, h
            elif h == args.host and r["vanished"] is not None and r["back"] is None:
                r["back"] = t
    for t, src, _, proto, sport, dport, _, payload in selected(args):
        if src != args.pool or sport is None:
            continue
        lo = slice_of(args, sport)
        if lo not in res:
            continue
        h = tag(proto, sport, dport, payload)
        r = res[lo]
        if h == args.host and r["back"] is not None and t >= r["back"]:
            continue  # its own again
        if h == args.host:
            r["last_own"] = t if r["last_own"] is None else max(r["last_own"], t)
        elif h is not None and t > args.at and (r["first_other"] is None or
                                                t < r["first_other"]):
            r["first_other"], r["first_other_host"] = t, h
    json.dump({"host": args.host, "at": args.at,
               "slices": {str(k): v for k, v in sorted(res.items())}}, sys.stdout)
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=["owners", "partition"])
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--events", required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--lo", type=int, required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--n-slices", type=int, required=True)
    ap.add_argument("--port-host")
    ap.add_argument("--tags")
    ap.add_argument("--payload-ports")
    ap.add_argument("--from", dest="t_from", type=float)
    ap.add_argument("--to", dest="t_to", type=float)
    ap.add_argument("--host")
    ap.add_argument("--at", type=float)
    args = ap.parse_args()
    if args.cmd == "owners":
        cmd_owners(args)
    else:
        if args.host is None or args.at is None:
            ap.error("partition needs --host and --at")
        cmd_partition(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
