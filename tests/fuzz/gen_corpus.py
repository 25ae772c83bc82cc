#!/usr/bin/env python3
# Write the seed corpus of the fuzz harnesses (tests/fuzz/corpus/NAME/):
# a few valid inputs each, in the formats the harnesses' header comments
# describe. The files are committed; run this again when a format
# changes (it replaces each harness's directory). Usage: python3 tests/fuzz/gen_corpus.py
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def frame(src, dst, proto, l4, vlan=False, ttl=64):
    """Ethernet/IPv4 with zero checksums: the harness's fix bit fills them."""
    eth = bytes([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2])
    eth += b"\x81\x00\x00\x2a\x08\x00" if vlan else b"\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0x1234, 0,
                     ttl, proto, 0, ip4(src), ip4(dst))
    return eth + ip + l4


def udp(sp, dp, payload=b"payload!"):
    return struct.pack("!HHHH", sp, dp, 8 + len(payload), 0xffff) + payload


def tcp(sp, dp, flags):
    return struct.pack("!HHIIBBHHH", sp, dp, 1, 0, 5 << 4, flags, 0xffff, 0, 0)


def icmp(t, code, rest, payload=b""):
    return struct.pack("!BBH", t, code, 0) + rest + payload


def quoted(src, dst, proto, l4):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 63,
                       proto, 0, ip4(src), ip4(dst)) + l4


def rec(op, f, clk=0):
    return bytes([op, clk]) + struct.pack("!H", len(f)) + f


IN, OUT, KERN = 0, 1, 2
FIX, NIC, DRAIN, AIM, DST, PREV = 4, 8, 16, 32, 64, 128
C, R, S = "10.0.0.5", "203.0.113.5", "198.51.100.10"
R2 = "203.0.113.77"
# Lease modes (nat_harness.h): mapping * 3 + filtering, (EIM, APDM) x
# (ADF, EIF, APDF); 5 is the shared-port mode.
EIM_ADF, EIM_EIF, EIM_APDF, APDM_ADF, APDM_EIF, SHARED = range(6)
# Hold-down choices of setup byte 0, bits 5-6.
HOLD_120, HOLD_0, HOLD_2, HOLD_30 = 0, 0x20, 0x40, 0x60


def setup(b0=0, a=SHARED, b=SHARED, c=1):
    """The two setup bytes: c indexes (EIM/ADF, shared, EIM/EIF, APDM/EIF)."""
    return bytes([b0, a | b << 3 | c << 6])


def nat_seeds():
    u = frame(C, R, 17, udp(4000, 53))
    s = {}
    s["udp_round_trip"] = setup() + rec(IN | FIX, u) + \
        rec(OUT | FIX | AIM, frame(R, S, 17, udp(53, 1))) + rec(IN | FIX, u)
    s["udp_expiry_reuse"] = setup() + rec(IN | FIX, u) + \
        rec(IN | FIX, u, clk=0x0b) + rec(OUT | FIX | AIM, frame(R, S, 17, udp(53, 1)), clk=0x0b)
    s["tcp_handshake_close"] = setup(a=EIM_ADF) + \
        rec(IN | FIX, frame(C, R, 6, tcp(40000, 443, 0x02))) + \
        rec(OUT | FIX | AIM, frame(R, S, 6, tcp(443, 1, 0x12))) + \
        rec(IN | FIX | NIC, frame(C, R, 6, tcp(40000, 443, 0x10))) + \
        rec(IN | FIX, frame(C, R, 6, tcp(40000, 443, 0x11))) + \
        rec(OUT | FIX | AIM, frame(R, S, 6, tcp(443, 1, 0x11))) + \
        rec(OUT | FIX | AIM, frame(R, S, 6, tcp(443, 1, 0x04)), clk=0x09)
    s["icmp_echo"] = setup() + \
        rec(IN | FIX, frame(C, R, 1, icmp(8, 0, struct.pack("!HH", 0x4242, 1), b"ping"))) + \
        rec(OUT | FIX | AIM, frame(R, S, 1, icmp(0, 0, struct.pack("!HH", 1, 1), b"ping")))
    q_out = quoted(S, R, 17, udp(1, 53, b""))
    q_in = quoted(R, C, 17, udp(53, 4000, b""))
    s["icmp_errors"] = setup(a=EIM_ADF) + rec(IN | FIX, u) + \
        rec(OUT | FIX | AIM, frame("203.0.113.1", S, 1, icmp(3, 4, struct.pack("!HH", 0, 1400), q_out))) + \
        rec(OUT | FIX | AIM, frame(R, S, 1, icmp(11, 0, b"\0\0\0\0", q_out))) + \
        rec(IN | FIX | AIM, frame(C, R, 1, icmp(3, 3, b"\0\0\0\0", q_in)))
    s["kernel_egress"] = setup() + \
        rec(KERN, frame(S, R, 17, udp(11050, 53)), 0) + \
        rec(KERN | FIX, frame(S, R, 17, udp(10500, 53))) + \
        rec(KERN | FIX, frame("192.0.2.1", R, 6, tcp(22, 5555, 0x12)))
    s["unsolicited_socket_local"] = setup(a=EIM_EIF) + \
        rec(OUT | FIX, frame(R, S, 17, udp(53, 10500))) + \
        rec(OUT | FIX, frame(R, S, 17, udp(53, 11050))) + \
        rec(OUT | FIX, frame(R, S, 17, udp(53, 12000))) + \
        rec(OUT | FIX, frame(R, "192.0.2.1", 6, tcp(5555, 22, 0x02))) + \
        rec(IN | FIX, frame(C, "10.0.0.1", 17, udp(4000, 53)))
    s["lease_b_c_vlan_draining"] = setup(0x11, a=EIM_ADF, b=APDM_EIF, c=2) + \
        rec(IN | FIX, frame("10.0.5.9", R, 17, udp(5000, 53), vlan=True)) + \
        rec(IN | FIX, frame("10.0.7.7", R, 17, udp(5000, 53))) + \
        rec(IN | FIX | DRAIN, frame("10.0.9.9", R, 17, udp(5000, 53))) + \
        rec(IN | FIX, frame("10.1.2.3", R, 6, tcp(5000, 80, 0x02)))
    s["two_workers"] = setup(0x05) + rec(IN | FIX, u) + \
        rec(IN | FIX, frame("10.0.0.6", R, 17, udp(4000, 53))) + \
        rec(OUT | FIX | AIM, frame(R, S, 17, udp(53, 1)))
    s["ttl_one"] = setup() + rec(IN | FIX, frame(C, R, 17, udp(4000, 53), ttl=1))
    # Hairpins: a second client sends to the first one's mapping, which
    # answers the second's (DST aims the destination at the last flow's
    # outside address and port, PREV at the one before).
    for name, proto, l4a, l4b in (
            ("udp", 17, udp(4000, 53), udp(5000, 9)),
            ("tcp", 6, tcp(4000, 80, 0x02), tcp(5000, 9, 0x02))):
        for mode, tag in ((EIM_ADF, ""), (EIM_APDF, "_apdf"),
                          (SHARED, "_shared")):
            s["hairpin_" + name + tag] = setup(a=mode) + \
                rec(IN | FIX, frame(C, R, proto, l4a)) + \
                rec(IN | FIX | DST, frame("10.0.0.6", R, proto, l4b)) + \
                rec(IN | FIX | DST, frame(C, R, proto, l4a))
    s["hairpin_rss_two_workers"] = setup(0x81, a=EIM_EIF) + \
        rec(IN | FIX, frame(C, R, 17, udp(4000, 53))) + \
        rec(IN | FIX | DST, frame("10.0.0.7", R, 17, udp(5002, 9))) + \
        rec(IN | FIX | DST | PREV, frame("10.0.0.9", R, 17, udp(5004, 9)))
    # Inbound flows per filtering mode: a new port of the same remote,
    # then a new remote, to the mapping of the first flow.
    for mode, tag in ((EIM_EIF, "eif"), (EIM_ADF, "adf"), (EIM_APDF, "apdf"),
                      (APDM_EIF, "apdm_eif"), (APDM_ADF, "apdm_adf")):
        s["inbound_" + tag] = setup(a=mode) + rec(IN | FIX, u) + \
            rec(OUT | FIX | DST, frame(R, S, 17, udp(54, 1))) + \
            rec(OUT | FIX | DST, frame(R2, S, 17, udp(999, 1))) + \
            rec(IN | FIX, frame(C, R2, 17, udp(4000, 999)))
    s["inbound_tcp_syn_eif"] = setup(a=EIM_EIF) + \
        rec(IN | FIX, frame(C, R, 6, tcp(40000, 443, 0x02))) + \
        rec(OUT | FIX | DST, frame(R2, S, 6, tcp(5555, 1, 0x10))) + \
        rec(OUT | FIX | DST, frame(R2, S, 6, tcp(5555, 1, 0x02))) + \
        rec(OUT | FIX | DST, frame(S, S, 6, tcp(5556, 1, 0x02)))
    # Hold-down: 10.0.0.5 keeps its own port 10005; once its flow expired
    # another client asking for the same port gets it only after 2 s.
    s["hold_down_2s"] = setup(HOLD_2, a=EIM_ADF) + \
        rec(IN | FIX, frame(C, R, 17, udp(10005, 53))) + \
        rec(IN | FIX, frame("10.0.0.6", R, 17, udp(10005, 53)), clk=0x0b) + \
        rec(IN | FIX, frame("10.0.0.7", R, 17, udp(10005, 53)), clk=0x15)
    s["hold_down_shared"] = setup(HOLD_2) + \
        rec(IN | FIX, frame(C, R, 17, udp(10005, 53))) + \
        rec(IN | FIX, frame("10.0.0.6", R, 17, udp(10005, 53)), clk=0x0b) + \
        rec(IN | FIX, frame("10.0.0.7", R, 17, udp(10005, 53)), clk=0x15)
    # RSS with two workers: outside packets to odd ports of lease "a"
    # that RSS brings to worker 0 are handed to worker 1.
    s["handoff_rss"] = setup(0x81, a=EIM_EIF) + b"".join(
        rec(OUT | FIX, frame(R, S, 17, udp(1000 + i, 10001 + 2 * i)))
        for i in range(8))
    # Paired pooling: 10.0.5.9 fills lease "b" (slice B) and waits there;
    # 10.0.5.10 falls back to "a" (slice A); once its flows on B are gone
    # 10.0.5.9 may go to A too.
    s["paired_pooling"] = setup(a=EIM_ADF, b=SHARED) + b"".join(
        rec(IN | FIX, frame("10.0.5.9", R, 17, udp(3000 + i, 53)))
        for i in range(33)) + \
        rec(IN | FIX, frame("10.0.5.10", R, 17, udp(2000, 53))) + \
        rec(IN | FIX, frame("10.0.5.10", R, 17, udp(2001, 53))) + \
        rec(IN | FIX, frame("10.0.5.9", R, 17, udp(2000, 53)), clk=0x0b)
    return s


def icmp_seeds():
    def fl(proto, o3, last, cport, rport):
        return bytes([proto | o3 << 2, last]) + struct.pack("!HH", cport, rport)
    s = {}
    flows = fl(0, 0, 5, 4000, 53) + fl(1, 0, 6, 40000, 443) + fl(2, 0, 7, 0x4242, 0)
    recs = bytes([1, 0, 0, 0, 3, 40, 0, 0]) + bytes([0, 0, 0, 0, 3, 8, 0, 0]) + \
        bytes([1, 0, 1, 1, 0, 63, 0, 0]) + bytes([3, 0, 2, 0, 4, 10, 0, 0]) + \
        bytes([0, 0, 2, 2, 0, 20, 0, 0])
    s["three_flows_errors"] = setup() + bytes([2]) + flows + recs
    s["three_flows_errors_eim_adf"] = setup(a=EIM_ADF) + bytes([2]) + flows + recs
    s["corrupted_quotes"] = setup(a=EIM_EIF) + bytes([0]) + fl(0, 0, 5, 4000, 53) + \
        bytes([5, 0, 0, 0, 3, 20, 50, 0xff]) + bytes([13, 0, 0, 0, 3, 20, 51, 0x01]) + \
        bytes([0x41, 0, 0, 0, 3, 20, 0, 0])
    s["expired_flow_error"] = setup(HOLD_0, a=APDM_ADF) + bytes([0]) + fl(0, 1, 9, 4000, 53) + \
        bytes([1, 0x0b, 0, 0, 3, 8, 0, 0]) + bytes([0x11, 0, 0, 0, 0, 0, 0, 0]) + \
        bytes([1, 0, 0, 0, 3, 8, 0, 0])
    return s


def fleet_seeds():
    """fuzz_fleet.c's format: geometry, candidate peers, owner codes, frame."""
    FIXB = 0x20
    VERIFY, GOOD, PARTIAL = 0, 0x40, 0x80

    def head(b0, size, per, lo, cands, listed, codes, port=0, rev=False,
             pool=()):
        # per and lo as the harness reads them: 1 + per_b % max, 1 + lo_v % ...
        return bytes([b0]) + struct.pack("!HBHH", size, per - 1, lo - 1, port) + \
            bytes([len(cands) | (0x10 if rev else 0), listed]) + \
            b"".join(ip4(c) for c in cands) + b"".join(ip4(a) for a in pool) + \
            bytes([len(codes)]) + bytes(codes)
    P, A, B, C2 = "198.51.100.10", "192.0.2.6", "192.0.2.10", "203.0.113.10"
    # The simulation's map (docs/FLEET.md): 10000-22287 in six 2048-port
    # slices: two ours, two host b's, two host c's.
    sim = head(FIXB | VERIFY, 2048, 6, 10000, [A, B], 0x3, [1, 1, 2, 2, 3, 3])
    s = {}
    s["return_to_peer"] = sim + frame(C2, P, 17, udp(7101, 14500))
    s["return_to_self_tcp"] = sim + frame(C2, P, 6, tcp(7100, 10500, 0x12))
    s["tunnel_from_peer"] = sim + frame(A, "192.0.2.2", 17, udp(
        49152 + 7, 6080, quoted(C2, P, 17, udp(7101, 10500))))
    s["tunnel_from_stranger"] = sim + frame("192.0.2.14", "192.0.2.2", 17, udp(
        49152 + 7, 6080, quoted(C2, P, 6, tcp(7100, 12000, 0x10))))
    s["icmp_error_quoting_pool_port"] = sim + frame("203.0.113.1", P, 1, icmp(
        3, 4, struct.pack("!HH", 0, 1400), quoted(P, C2, 17, udp(18000, 7101))))
    s["echo_reply_vlan"] = sim + frame(C2, P, 1, icmp(
        0, 0, struct.pack("!HH", 20000, 1), b"ping"), vlan=True)
    # Four pool addresses side by side, 1000-port slices, candidates the
    # set must refuse (0, this host) or take once (a repeat), reversed adds.
    s["four_addresses_odd_slices"] = head(
        FIXB | GOOD | 3 | 1 << 3, 1000, 3, 1024,
        [B, "0.0.0.0", "192.0.2.2", A, B], 0x16, [0, 1, 2, 3, 4, 5, 6],
        rev=True) + frame(C2, "198.51.100.12", 1, icmp(
            0, 0, struct.pack("!HH", 2500, 1), b"ping"))
    # Addresses from the input, one port per slice, the last port 65535.
    s["given_pool_tiny_slices"] = head(
        FIXB | PARTIAL | 1 | 3 << 3, 1, 64, 65472, [A], 0, [1, 2, 0],
        port=4789, pool=["10.9.8.7", "172.16.0.1"]) + \
        frame(C2, "172.16.0.1", 17, udp(53, 65535))
    return s


def etcd_seeds():
    """Replies of etcd's v3 JSON gateway, shaped as etcd 3.4 sends them."""
    import base64
    import json

    def b64(t):
        return base64.b64encode(t.encode()).decode()
    hdr = {"cluster_id": "14841639068965178418", "member_id": "10276657743932975437",
           "revision": "7", "raft_term": "2"}
    lease = "7587862366887946500"
    kv = lambda k, v, rev, l=lease: {"key": b64(k), "create_revision": rev,
                                     "mod_revision": rev, "version": "1",
                                     "value": b64(v), "lease": l}
    s = {}
    s["grant"] = {"header": hdr, "ID": lease, "TTL": "10"}
    s["keepalive"] = {"result": {"header": hdr, "ID": lease, "TTL": "10"}}
    s["keepalive_gone"] = {"result": {"header": hdr, "ID": lease}}
    s["txn_succeeded"] = {"header": hdr, "succeeded": True, "responses": [
        {"response_put": {"header": {"revision": "8"}}}]}
    s["txn_failed"] = {"header": hdr, "responses": [
        {"response_range": {"header": {"revision": "8"}, "kvs": [
            kv("/shoal/slices/198.51.100.10/10000",
               '{"host": "b", "address": "192.0.2.6", "lo": 10000, "hi": 12047}',
               "5", "7587862366887946511")], "count": "1"}}]}
    s["range"] = {"header": hdr, "kvs": [
        kv("/shoal/hosts/a", '{"address": "192.0.2.2", "want": 2, "have": 2, "list": false}', "3"),
        kv("/shoal/slices/198.51.100.10/10000",
           '{"host": "a", "address": "192.0.2.2", "lo": 10000, "hi": 12047}', "4"),
        {"key": b64("/shoal/hosts/b")},
        {"key": "***", "value": "eA=="}], "count": "4"}
    # keys and values as long as struct etcd_kv holds, and one byte more
    klen, vlen = 512 + 64 - 1, 1024 - 1
    s["range_limits"] = {"header": hdr, "kvs": [
        {"key": b64("k" * klen), "value": b64("v" * vlen)},
        {"key": b64("k" * (klen + 1)), "value": b64("v")},
        {"key": b64("k"), "value": b64("v" * (vlen + 1))}]}
    s["range_empty"] = {"header": {"revision": "9"}}
    s["error"] = {"error": "etcdserver: requested lease not found", "code": 5,
                  "message": "etcdserver: requested lease not found"}
    s["all_in_one"] = [s["grant"], s["keepalive"], s["txn_succeeded"], s["range"]]
    return {k: json.dumps(v, separators=(",", ":")).encode() for k, v in s.items()}


def config_seeds():
    s = {}
    with open(os.path.join(HERE, "..", "..", "conf", "shoal.conf"), "rb") as f:
        s["shipped"] = f.read()
    s["minimal"] = b"[inside]\ndevice = x\n[outside]\ndevice = y\n[slices]\n198.51.100.10 = 10000-12047\n"
    s["leases_ctl"] = b"""[engine]
workers = 2
[inside]
device = a
address = 10.0.0.1/24
[outside]
device = b
address = 192.0.2.1/24
gateway = 192.0.2.254
next_hop_mac = 02:00:00:00:00:fe
[slices]
198.51.100.10 = 10000-10999
198.51.100.10 = 12000-12999
198.51.100.20 = 1-65535
[nat]
max_flows = 4096
max_ports_per_client = 8
[lease.a]
kind = nat
ip = 198.51.100.10
ports = 10000-10499
clients = 10.0.0.0/16, 10.1.0.0/24
[lease.b]
kind = socket
ip = 198.51.100.20
ports = 80
[ctl]
socket = /run/shoal/ctl.sock
database = /var/lib/shoal/leases.db
group = shoal
"""
    # [fleet] as docs/FLEET.md shows it, and one with an explicit list
    fleet = b"""[engine]
ctl_socket = /run/shoal/ctl.sock
[inside]
device = a
address = 10.1.1.1/24
[outside]
device = b
address = 192.0.2.2/30
[fleet]
etcd = http://10.255.0.1:2379, http://10.255.0.2:2379
host = a
address = 192.0.2.2
pool = 198.51.100.10, 198.51.100.11
ports = 10000-16143
slice_size = 2048
slices = 1
clients = 10.1.1.0/24
ttl = 10
hold_down = 20
port = 6080
prefix = /shoal
"""
    s["fleet"] = fleet
    s["fleet_list"] = fleet.replace(b"slices = 1", b"slices = 198.51.100.11:12048-14095, 198.51.100.10:10000-12047")
    s["overlap_error"] = s["minimal"] + b"[lease.x]\nkind = socket\nip = 198.51.100.10\nports = 10000-10010\n[lease.y]\nkind = socket\nip = 198.51.100.10\nports = 10010\n"
    return s


def proto_seeds():
    def req(ctl, method, params=None, id_=1):
        body = '{"jsonrpc":"2.0","id":%s,"method":"%s"%s}' % (
            id_, method, ',"params":%s' % params if params else "")
        return (ctl + body + "\n").encode()
    s = {}
    s["status_list"] = req("0", "status") + req("0", "slice.list", id_=2) + \
        req("0", "lease.list", id_='"x"')
    s["lease_lifecycle"] = \
        req("0", "lease.add", '{"holder":"web","kind":"nat","clients":["10.2.0.0/16"],"size":64,"ttl":60}') + \
        req("0", "lease.add", '{"holder":"px","kind":"socket","ip":"198.51.100.20","ports":"20000-20009"}', 2) + \
        req("0", "lease.show", '{"id":1000}', 3) + req("0", "lease.renew", '{"id":1000,"ttl":120}', 4) + \
        req("0", "lease.release", '{"id":1000}', 5) + req("0", "lease.release", '{"id":1}', 6) + \
        req("0", "lease.add", '{"holder":"z","kind":"nat","clients":["10.3.0.0/16"],"ports":"10500-10600"}', 7)
    s["engine_relay"] = req("1", "engine.subscribe", '{"version":1}') + \
        b'1{"jsonrpc":"2.0","method":"engine.report","params":{"generation":1,"workers":1,"counters":{"in2out":5},"leases":[{"id":1,"flows":3}],"per_worker":[{"worker":0,"lcore":1,"flows":3,"counters":{"in2out":5}}]}}\n' + \
        req("0", "flows", '{"limit":10}', 7) + \
        b'1{"jsonrpc":"2.0","id":1,"result":{"flows":[],"truncated":false}}\n' + \
        req("0", "flows", '{"client":"10.0.0.5"}', 8) + req("2", "stats", None, 9) + \
        req("0", "status", None, 10)
    # an upgrade: connection 1 is the engine and is asked; connection 0
    # subscribes as the new engine before 1 answers (1 stays until then)
    s["engine_upgrade"] = req("1", "engine.subscribe", '{"version":1}') + \
        req("0", "engine.upgrade", '{"binary":"/usr/sbin/shoal-engine"}', 7) + \
        req("0", "engine.upgrade", None, 8) + \
        req("0", "engine.subscribe", '{"version":1}', 9) + \
        b'1{"jsonrpc":"2.0","method":"engine.report","params":{"generation":9,"workers":1}}\n' + \
        b'1{"jsonrpc":"2.0","id":1,"result":{"old_pid":1,"new_pid":2,"binary":"/usr/sbin/shoal-engine","eal_ms":1.5,"stop_ms":0.5,"release_ms":1,"adopt_ms":2,"ports_ms":3,"gap_ms":-1,"flows":0,"discarded":0}}\n' + \
        req("1", "engine.upgrade", '{"binary":"shoal-engine"}', 10) + \
        req("0", "status", None, 11)
    # roles: a reader ('@'), a member ('9'), the engine user ('I'); 'D'
    # closes the reader so that '8' opens connection 0 as a member
    s["roles"] = req("@", "status") + \
        req("@", "lease.add", '{"holder":"r","kind":"socket","size":4}', 2) + \
        req("9", "lease.add", '{"holder":"m","kind":"socket","size":4}', 3) + \
        req("9", "engine.subscribe", '{"version":1}', 4) + \
        req("D", "engine.subscribe", '{"version":1}', 5) + \
        req("8", "lease.release", '{"id":1000}', 6) + \
        req("9", "lease.history", '{"lease":1000}', 7)
    s["roles_engine"] = req("I", "engine.subscribe", '{"version":1}') + \
        req("I", "lease.add", '{"holder":"e","kind":"socket","size":1}', 2) + \
        b'I{"jsonrpc":"2.0","method":"engine.report","params":{"generation":0,"workers":1,"leases":[]}}\n' + \
        req("0", "lease.list", None, 3)
    s["history"] = \
        req("0", "lease.add", '{"holder":"h","kind":"socket","size":8,"ttl":1}') + \
        req("0", "lease.renew", '{"id":1000,"ttl":1}', 2) + \
        req("2", "lease.history", '{"ip":"198.51.100.10","port":11100}', 3) + \
        req("2", "lease.history", '{"since":0,"limit":1}', 4) + \
        req("2", "lease.history", '{"before":2,"lease":1000}', 5) + \
        req("0", "lease.history", '{"limit":101}', 6)
    s["errors"] = b"0not json\n0[1,2]\n0{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"status\"}\n" + \
        req("0", "nope") + req("0", "lease.show", '{"id":0}') + \
        b'0{"jsonrpc":"2.0","method":"status"}\n' + req("4", "flows")
    return s


def write(name, seeds):
    d = os.path.join(CORPUS, name)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        os.remove(os.path.join(d, old))
    for k, v in seeds.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)


write("fuzz_nat", nat_seeds())
write("fuzz_icmp", icmp_seeds())
write("fuzz_config", config_seeds())
write("fuzz_proto", proto_seeds())
write("fuzz_fleet", fleet_seeds())
write("fuzz_etcd", etcd_seeds())
