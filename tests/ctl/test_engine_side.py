#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The engine's side of shoal-ctld, with a Python client speaking the
engine protocol to the real daemon: subscribe snapshot, leases.update with
increasing generations, engine.report freeing a draining lease, the flows
relay, and no_engine once the engine is gone."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import nat, sock_lease  # noqa: E402

E = None


def subscribe():
    eng = E.client()
    r = eng.call("engine.subscribe", {"version": 1})
    return eng, r


def next_update(eng, timeout=3):
    m = eng.recv(timeout=timeout)
    assert m and m.get("method") == "leases.update", m
    assert "id" not in m
    return m["params"]


def wait_update(eng, pred, timeout=4):
    end = time.time() + timeout
    while time.time() < end:
        u = next_update(eng, timeout=max(0.1, end - time.time()))
        if pred(u):
            return u
    raise AssertionError("no such leases.update")


def report(eng, gen, leases, counters=None):
    eng.send({"jsonrpc": "2.0", "method": "engine.report",
              "params": {"generation": gen, "workers": 2,
                         "counters": counters or {"rx": 1},
                         "leases": [{"id": i, "flows": f}
                                    for i, f in leases]}})


def test_subscribe_gets_snapshot():
    cli = E.client()
    cli.call("lease.add", nat("pre", size=4))
    gen = cli.call("status")["generation"]
    eng, r = subscribe()
    assert r["generation"] == gen
    ids = [l["id"] for l in r["leases"]]
    assert ids == [1, 2, 1000], ids
    assert r["leases"][0]["static"] and r["leases"][2]["holder"] == "pre"
    assert cli.call("status")["engine"]["connected"] is True
    eng.close()
    cli.close()


def test_changes_push_updates_with_rising_generation():
    eng, r = subscribe()
    cli = E.client()
    g = r["generation"]
    a = cli.call("lease.add", sock_lease("u1", size=3))["lease"]
    u = next_update(eng)
    assert u["generation"] == g + 1
    assert a["id"] in [l["id"] for l in u["leases"]]
    cli.call("lease.renew", {"id": a["id"], "ttl": 50})
    u = next_update(eng)
    assert u["generation"] == g + 2
    cli.call("lease.release", {"id": a["id"]})
    u = next_update(eng)
    assert u["generation"] == g + 3
    mine = [l for l in u["leases"] if l["id"] == a["id"]]
    assert mine[0]["state"] == "draining"
    # a refused change changes nothing: no update
    cli.expect_error("lease.add", nat(ports="10000-10001"), "overlap")
    eng.s.settimeout(0.5)
    try:
        m = eng.recv(timeout=0.5)
        raise AssertionError("unexpected message %r" % m)
    except OSError:
        pass
    eng.close()
    cli.close()


def test_report_with_zero_flows_frees_draining_lease():
    eng, r = subscribe()
    cli = E.client()
    # the engine reports no flows at all: what drained earlier goes now
    report(eng, r["generation"], [])
    gone = [l["id"] for l in r["leases"] if l["state"] == "draining"]
    if gone:
        wait_update(eng, lambda u: not any(l["id"] in gone
                                           for l in u["leases"]))
    a = cli.call("lease.add", sock_lease("f1", size=2))["lease"]
    g = next_update(eng)["generation"]
    report(eng, g, [(a["id"], 3)])
    time.sleep(0.2)
    assert cli.call("lease.show", {"id": a["id"]})["lease"]["flows"] == 3
    cli.call("lease.release", {"id": a["id"]})
    g = next_update(eng)["generation"]
    # flows still live: kept past the 1 s minimum (drain timeout is 30 s)
    for _ in range(4):
        report(eng, g, [(a["id"], 3)])
        time.sleep(0.5)
    assert cli.call("lease.show", {"id": a["id"]})["lease"]["state"] == \
        "draining"
    report(eng, g, [(a["id"], 0)])
    u = next_update(eng, timeout=3)
    assert a["id"] not in [l["id"] for l in u["leases"]], u
    cli.expect_error("lease.show", {"id": a["id"]}, "not_found")
    st = cli.call("stats")
    assert st["counters"] == {"rx": 1} and st["workers"] == 2
    assert st["report_age"] <= 1
    assert cli.call("status")["engine"]["generation"] == g
    eng.close()
    cli.close()


def test_flows_relayed_to_engine_and_back():
    eng, _ = subscribe()
    cli = E.client()
    rid = cli.request("flows", {"lease": 1, "limit": 5})
    m = eng.recv(timeout=3)
    assert m["method"] == "engine.flows", m
    assert m["params"] == {"lease": 1, "limit": 5}
    flow = {"proto": "udp", "client": "10.0.0.2:5000",
            "outside": "198.51.100.10:10001", "remote": "192.0.2.9:53",
            "lease": 1, "idle": 0, "tcp": None}
    eng.send({"jsonrpc": "2.0", "id": m["id"],
              "result": {"flows": [flow], "truncated": False}})
    r = cli.wait_reply(rid)
    assert r["result"] == {"flows": [flow], "truncated": False}, r
    # an engine error is relayed as it is
    rid = cli.request("flows", {})
    m = eng.recv(timeout=3)
    eng.send({"jsonrpc": "2.0", "id": m["id"],
              "error": {"code": -32000, "message": "x", "data": "internal"}})
    assert cli.wait_reply(rid)["error"]["data"] == "internal"
    # no answer within 2 s: no_engine
    t0 = time.time()
    rid = cli.request("flows", {})
    eng.recv(timeout=3)
    r = cli.wait_reply(rid)
    assert r["error"]["data"] == "no_engine" and time.time() - t0 >= 1.9
    # the engine goes away with a request pending: no_engine at once
    rid = cli.request("flows", {})
    eng.recv(timeout=3)
    eng.close()
    t0 = time.time()
    r = cli.wait_reply(rid)
    assert r["error"]["data"] == "no_engine" and time.time() - t0 < 1.5
    time.sleep(0.2)
    cli.expect_error("flows", {}, "no_engine")
    assert cli.call("status")["engine"]["connected"] is False
    cli.close()


def test_second_subscriber_replaces_first():
    old, _ = subscribe()
    new, _ = subscribe()
    assert old.is_closed()
    cli = E.client()
    cli.call("lease.add", sock_lease("r1", size=1))
    next_update(new)
    new.close()
    cli.close()


def test_non_engine_reports_are_ignored():
    cli = E.client()
    before = cli.call("stats")
    report(cli, 999, [], counters={"bogus": 5})
    assert cli.call("stats")["counters"] == before["counters"]
    cli.close()


def main():
    global E
    with lib.Env(drain=30) as env:
        E = env
        env.start()
        lib.run_tests([test_subscribe_gets_snapshot,
                       test_changes_push_updates_with_rising_generation,
                       test_report_with_zero_flows_frees_draining_lease,
                       test_flows_relayed_to_engine_and_back,
                       test_second_subscriber_replaces_first,
                       test_non_engine_reports_are_ignored])


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit(77)
    main()
