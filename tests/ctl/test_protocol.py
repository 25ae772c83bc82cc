#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""shoal-ctld protocol: every method, every error reason the daemon can
give without an engine, framing (split and joined requests, oversized
lines), connection limit, slow readers and the idle timeout -- while a
second client stays connected and keeps being served throughout."""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import nat, sock_lease  # noqa: E402

E = None        # the Env
W = None        # the watcher: a second client, checked after every step
IDLE = None     # silent from the start; must be closed after 30 s
IDLE_T0 = 0.0
C = None        # the main client


def watcher_ok():
    r = W.call("status")
    assert r["version"] == 1


def test_every_method_succeeds():
    st = C.call("status")
    assert st["pid"] == E.proc.pid and st["slices"] == 2
    assert st["leases"] == {"active": 2, "draining": 0}
    assert st["engine"]["connected"] is False
    sl = C.call("slice.list")["slices"]
    assert [(s["ip"], s["lo"], s["hi"]) for s in sl] == lib.SLICES
    assert sl[0]["leased"] == 200 and sl[0]["free"] == 800
    g0 = st["generation"]
    a = C.call("lease.add", nat("a", ports="10200-10209", ttl=60))["lease"]
    assert a["id"] == 1000 and a["state"] == "active" and a["ttl"] == 60
    assert a["expires"] - a["created"] == 60 and a["static"] is False
    b = C.call("lease.add", sock_lease("b", size=5))["lease"]
    assert (b["id"], b["lo"], b["hi"]) == (1001, 10210, 10214), b
    assert b["clients"] == [] and b["ttl"] is None
    c = C.call("lease.add", nat("c", ip=lib.SLICE2_IP, size=10))["lease"]
    assert (c["ip"], c["lo"], c["hi"]) == (lib.SLICE2_IP, 20000, 20009)
    ls = C.call("lease.list")["leases"]
    assert [l["id"] for l in ls] == [1, 2, 1000, 1001, 1002]
    assert ls[0]["static"] and ls[0]["holder"] == "web"
    lib.check_invariants(ls)
    assert C.call("lease.show", {"id": 1001})["lease"] == b
    assert C.call("lease.show", {"id": 2})["lease"]["holder"] == "proxy"
    r = C.call("lease.renew", {"id": 1000, "ttl": 120})["lease"]
    assert r["ttl"] == 120 and r["expires"] >= a["expires"]
    r = C.call("lease.renew", {"id": 1000})["lease"]
    assert r["ttl"] == 120
    rel = C.call("lease.release", {"id": 1002})["lease"]
    assert rel["state"] == "draining"
    assert C.call("status")["generation"] == g0 + 6
    # lowest free id: 1002 is draining (still taken), so the next is 1003
    d = C.call("lease.add", sock_lease("d", size=1))["lease"]
    assert d["id"] == 1003
    C.call("lease.release", {"id": 1003})
    watcher_ok()


def test_invalid_params():
    bad = [
        ("lease.add", {"kind": "nat", "clients": ["10.0.0.0/8"], "size": 1}),
        ("lease.add", nat(holder=7, size=1)),
        ("lease.add", nat(holder="", size=1)),
        ("lease.add", nat(holder="x" * 64, size=1)),
        ("lease.add", nat(size="1")),
        ("lease.add", nat(size=0)),
        ("lease.add", nat(size=1, ttl=-1)),
        ("lease.add", nat(size=1, ttl=1.5)),
        ("lease.add", nat(size=1, bogus=1)),
        ("lease.add", nat(size=1, ports="10500-10501")),
        ("lease.add", nat()),
        ("lease.add", nat(size=1, kind="tcp")),
        ("lease.add", nat(size=1, clients="10.0.0.0/8")),
        ("lease.add", nat(size=1, clients=[])),
        ("lease.add", nat(size=1, clients=["10.0.0.1/8"])),
        ("lease.add", nat(size=1, clients=["10.0.0.0/33"])),
        ("lease.add", nat(size=1, clients=["10.0.0.0/24"] * 17)),
        ("lease.add", {"holder": "s", "kind": "nat", "size": 1}),
        ("lease.add", sock_lease(size=1, clients=["10.0.0.0/8"])),
        ("lease.add", nat(ports="10500-")),
        ("lease.add", nat(ports="10501-10500")),
        ("lease.add", nat(size=1, ip="198.51.100")),
        ("lease.show", {}),
        ("lease.show", {"id": "1000"}),
        ("lease.show", {"id": 0}),
        ("lease.show", {"id": 70000}),
        ("lease.renew", {"id": 1000, "ttl": 0}),
        ("lease.release", {"id": 1000, "ttl": 5}),
        ("status", {"verbose": True}),
        ("flows", {"limit": 0}),
        ("flows", {"client": "nope"}),
        ("engine.subscribe", {"version": 99}),
        ("engine.subscribe", {}),
    ]
    for method, params in bad:
        e = C.expect_error(method, params, "invalid_params")
        assert e["code"] == -32602
    watcher_ok()


def test_refusals():
    C.expect_error("lease.add", nat(ports="10050-10060"), "overlap")
    C.expect_error("lease.add", nat(ports="10205-10205"), "overlap")
    C.expect_error("lease.add", nat(ports="10990-11000"), "outside_slice")
    C.expect_error("lease.add", nat(ports="30000-30001"), "outside_slice")
    C.expect_error("lease.add", nat(ip="198.51.100.99", size=1),
                   "outside_slice")
    C.expect_error("lease.add", nat(ip=lib.SLICE_IP, ports="20000-20001"),
                   "outside_slice")
    C.expect_error("lease.add", nat(size=1001), "no_space")
    C.expect_error("lease.add", nat(ip=lib.SLICE2_IP, size=91), "no_space")
    for m in ("lease.show", "lease.renew", "lease.release"):
        C.expect_error(m, {"id": 4242}, "not_found")
        C.expect_error(m, {"id": 3}, "not_found")
    C.expect_error("lease.renew", {"id": 1}, "static_lease")
    C.expect_error("lease.release", {"id": 2}, "static_lease")
    C.expect_error("lease.renew", {"id": 1002}, "draining")
    # releasing again is harmless
    assert C.call("lease.release", {"id": 1002})["lease"]["state"] == \
        "draining"
    C.expect_error("flows", {}, "no_engine")
    C.expect_error("stats", None, "no_engine")
    watcher_ok()


def test_request_shapes():
    def raw(data):
        C.send_raw(data)
        return C.recv()

    r = raw(b"{not json\n")
    assert r["error"]["data"] == "parse_error" and r["id"] is None
    assert r["error"]["code"] == -32700
    assert raw(b"\n")["error"]["data"] == "parse_error"
    for req in ([{"jsonrpc": "2.0", "id": 1, "method": "status"}],
                {"id": 1, "method": "status"},
                {"jsonrpc": "1.0", "id": 1, "method": "status"},
                {"jsonrpc": "2.0", "id": 1, "method": 5},
                {"jsonrpc": "2.0", "id": 1, "method": "status",
                 "params": [1]},
                {"jsonrpc": "2.0", "id": {"a": 1}, "method": "status"},
                "status", 42):
        r = raw(json.dumps(req).encode() + b"\n")
        assert r["error"]["data"] == "invalid_request", (req, r)
        assert r["error"]["code"] == -32600
    r = C.call_raw("lease.destroy", {})
    assert r["error"]["data"] == "method_not_found"
    assert r["error"]["code"] == -32601
    # a notification gets no reply, even for an unknown method
    C.send({"jsonrpc": "2.0", "method": "lease.list"})
    C.send({"jsonrpc": "2.0", "method": "nope"})
    C.send({"jsonrpc": "2.0", "method": "engine.report",
            "params": {"generation": 5}})
    r = C.call_raw("status", None)
    assert r["result"]["engine"]["generation"] is None, r
    # string ids come back as they went
    C.send({"jsonrpc": "2.0", "id": "abc", "method": "status"})
    assert C.recv()["id"] == "abc"
    watcher_ok()


def test_every_request_gets_one_reply():
    """Error messages that echo request text are cut to a bounded size;
    a cut inside a multi-byte UTF-8 character must not cost the reply."""
    def one_reply(data, rid, reason):
        C.send_raw(data)
        C.send({"jsonrpc": "2.0", "id": "after", "method": "status"})
        r = C.recv()
        assert r is not None and r.get("id") == rid and \
            r["error"]["data"] == reason, (data[:60], r)
        r = C.recv()
        assert r.get("id") == "after" and "result" in r, (data[:60], r)

    for ch in ("\u00e9", "\u20ac", "\U0001F600"):   # 2, 3 and 4 bytes
        for k in range(120, 164):
            key = "a" * k + ch * 40
            one_reply(json.dumps({"jsonrpc": "2.0", "id": k, "method": "status",
                                  "params": {key: 1}},
                                 ensure_ascii=False).encode() + b"\n",
                      k, "invalid_params")
            # not JSON: the parser's message quotes the input
            one_reply(('{"a" "' + "b" * k + ch * 80 + '"}').encode() + b"\n",
                      None, "parse_error")
    watcher_ok()


def test_split_and_joined_requests():
    msg = json.dumps({"jsonrpc": "2.0", "id": 77, "method": "lease.show",
                      "params": {"id": 1}}).encode() + b"\n"
    for i in range(0, len(msg), 9):
        C.send_raw(msg[i:i + 9])
        time.sleep(0.05)
        if i == 18:
            watcher_ok()  # a half-sent request blocks nobody
    r = C.recv()
    assert r["id"] == 77 and r["result"]["lease"]["id"] == 1
    two = b"".join(json.dumps({"jsonrpc": "2.0", "id": i,
                               "method": "status"}).encode() + b"\n"
                   for i in (101, 102))
    C.send_raw(two + b'{"jsonrpc":"2.0","id":103,"meth')
    assert C.recv()["id"] == 101
    assert C.recv()["id"] == 102
    C.send_raw(b'od":"status"}\n')
    assert C.recv()["id"] == 103
    watcher_ok()


def test_message_size_limit():
    # exactly SHOAL_MSG_MAX bytes with the newline: served
    head = b'{"jsonrpc":"2.0","id":5,"method":"status"'
    line = head + b" " * (65536 - len(head) - 2) + b"}\n"
    assert len(line) == 65536
    C.send_raw(line)
    assert C.recv()["id"] == 5
    # one byte more: refused and closed
    c = E.client()
    try:
        c.send_raw(head + b" " * (65536 - len(head)) + b"}\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = c.recv()
    assert r["error"]["data"] == "message_too_large", r
    assert c.is_closed()
    c.close()
    watcher_ok()


def test_slow_reader_is_dropped():
    """Requests but never reads: its output overflows, it is dropped, and
    nobody else waits for it."""
    # 256 leases: 800 lease.list replies of ~70 KB overflow OUT_MAX
    n = 0
    while len(C.call("lease.list")["leases"]) < 256:
        C.call("lease.add", sock_lease("fill%d" % n, size=1))
        n += 1
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slow.connect(E.sock)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    req = json.dumps({"jsonrpc": "2.0", "id": 1,
                      "method": "lease.list"}).encode() + b"\n"
    slow.settimeout(10)
    sent = 0
    try:
        for _ in range(40):
            slow.sendall(req * 20)
            sent += 20
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    t0 = time.time()
    watcher_ok()
    assert time.time() - t0 < 1.0
    # drain: the stream ends (dropped) well before all replies arrived
    got, data = 0, b""
    try:
        while True:
            d = slow.recv(1 << 20)
            if not d:
                break
            data += d
    except ConnectionResetError:
        pass
    got = data.count(b"\n")
    slow.close()
    assert got < sent, (got, sent)
    watcher_ok()


def test_connection_limit():
    conns = []
    try:
        # W, C and IDLE are connected already
        for _ in range(64 - 3):
            conns.append(E.client())
        for c in conns:  # every one of them is served
            c.call("status")
        extra = E.client()
        r = extra.recv()
        assert r["error"]["data"] == "busy", r
        assert extra.is_closed()
        extra.close()
        watcher_ok()
    finally:
        for c in conns:
            c.close()
    time.sleep(0.3)
    c = E.client()
    c.call("status")
    c.close()


def test_idle_client_is_closed():
    # the watcher talks every few seconds and so stays connected
    while time.time() < IDLE_T0 + 31.5:
        time.sleep(min(5, max(0, IDLE_T0 + 31.5 - time.time())))
        watcher_ok()
    assert IDLE.is_closed(timeout=3), "idle client still connected"
    watcher_ok()


def main():
    global E, W, IDLE, IDLE_T0, C
    with lib.Env() as env:
        E = env
        env.start()
        IDLE = env.client()
        IDLE_T0 = time.time()
        W = env.client()
        C = env.client()
        lib.run_tests([test_every_method_succeeds, test_invalid_params,
                       test_refusals, test_request_shapes,
                       test_every_request_gets_one_reply,
                       test_split_and_joined_requests,
                       test_message_size_limit, test_slow_reader_is_dropped,
                       test_connection_limit, test_idle_client_is_closed])


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit(77)
    main()
