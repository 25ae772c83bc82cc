#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The engine's side of shoal-ctld, with a Python client speaking the
engine protocol to the real daemon: subscribe snapshot, leases.update with
increasing generations, engine.report freeing a draining lease, its
per_worker kept entry by entry for stats, the flows relay, and no_engine
once the engine is gone."""

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


def report(eng, gen, leases, counters=None, **extra):
    """An engine.report; extra keys (per_worker, ...) go in as given."""
    params = {"generation": gen, "workers": 2,
              "counters": counters or {"rx": 1},
              "leases": [{"id": i, "flows": f} for i, f in leases]}
    params.update(extra)
    eng.send({"jsonrpc": "2.0", "method": "engine.report", "params": params})


def stats_after(cli, counters):
    """stats once the daemon has read the report whose counters are
    these (a notification has no reply to wait for)."""
    end = time.time() + 3
    while time.time() < end:
        st = cli.call("stats")
        if st["counters"] == counters:
            return st
        time.sleep(0.02)
    raise AssertionError("no report with counters %r" % counters)


def worker(i, flows=0, **counters):
    return {"worker": i, "lcore": i + 1, "flows": flows,
            "counters": counters}


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


def test_report_lists_only_leases_with_flows():
    """A complete report's absentees have 0 flows; after a partial one, or
    for a lease the reported generation did not have, they are unknown
    (null) and a draining lease is not freed by it."""
    eng, r = subscribe()
    cli = E.client()
    a = cli.call("lease.add", sock_lease("sp1", size=1))["lease"]
    b = cli.call("lease.add", sock_lease("sp2", size=1))["lease"]
    g = wait_update(eng, lambda u: b["id"] in
                    [l["id"] for l in u["leases"]])["generation"]

    def flows(lid):
        return cli.call("lease.show", {"id": lid})["lease"]["flows"]

    def settled(counters, want):
        stats_after(cli, counters)
        got = (flows(a["id"]), flows(b["id"]), flows(1))
        assert got == want, (got, want)

    report(eng, g, [(a["id"], 5)], counters={"rx": 11})
    settled({"rx": 11}, (5, 0, 0))
    report(eng, g, [(a["id"], 5)], counters={"rx": 12}, leases_partial=True)
    settled({"rx": 12}, (5, None, None))
    # a report of the generation before b: b unknown, a and static known
    report(eng, g - 1, [(a["id"], 2)], counters={"rx": 13})
    settled({"rx": 13}, (2, None, 0))
    # a partial report does not free a draining lease it leaves out
    cli.call("lease.release", {"id": b["id"]})
    g = next_update(eng)["generation"]
    for i in range(4):
        report(eng, g, [(a["id"], 1)], counters={"rx": 20 + i},
               leases_partial=True)
        time.sleep(0.5)
    assert cli.call("lease.show", {"id": b["id"]})["lease"]["state"] == \
        "draining"
    # a complete one without it does
    report(eng, g, [(a["id"], 1)], counters={"rx": 30})
    u = wait_update(eng, lambda u: b["id"] not in
                    [l["id"] for l in u["leases"]])
    assert a["id"] in [l["id"] for l in u["leases"]]
    cli.call("lease.release", {"id": a["id"]})
    eng.close()
    cli.close()


def test_report_per_worker_returned_by_stats():
    eng, r = subscribe()
    cli = E.client()
    g = r["generation"]
    per = [worker(0, 1234, rx_inside=7, handoff_tx=3, handoff_full=1),
           worker(1, 766, rx_outside=5, handoff_rx=3)]
    summed = {"rx_inside": 7, "rx_outside": 5}
    report(eng, g, [], counters=summed, per_worker=per)
    st = stats_after(cli, summed)
    assert st["per_worker"] == per, st
    assert st["flows"] == 2000 and st["workers"] == 2, st
    # each report replaces it: an engine that sends none leaves none
    report(eng, g, [], counters={"rx": 2})
    st = stats_after(cli, {"rx": 2})
    assert st["per_worker"] == [] and st["flows"] is None, st
    eng.close()
    cli.close()


def test_malformed_per_worker_entries_skipped_alone():
    eng, r = subscribe()
    cli = E.client()
    g = r["generation"]
    good0 = worker(0, 5, rx_inside=1)
    good1 = worker(1, 6)
    bad = [
        "worker 2",                                     # not an object
        dict(worker(2), worker="2"),                    # index a string
        dict(worker(2), worker=-1),
        dict(worker(2), worker=64),                     # >= SHOAL_MAX_WORKERS
        dict(worker(2), lcore=-3),
        dict(worker(2), lcore=None),
        dict(worker(2), flows=1.5),
        dict(worker(2), flows=2 ** 32 + 1),
        dict(worker(2), counters=[1, 2]),
        {"worker": 2, "lcore": 3, "flows": 0},          # no counters
        dict(worker(0), flows=99),                      # repeats worker 0
    ]
    extra = dict(worker(1), flows=6, spare=True)        # unknown key dropped
    messy = dict(worker(3, 2), counters={"rx_inside": 4, "bogus": "x",
                                         "neg": -1, "f": 0.5})
    report(eng, g, [(1, 9)], counters={"rx_inside": 4, "bad": "x"},
           per_worker=[good0] + bad[:5] + [extra] + bad[5:] + [messy])
    # the rest of the report is kept; counters lose their non-integers
    st = stats_after(cli, {"rx_inside": 4})
    assert st["per_worker"] == [good0, good1,
                                worker(3, 2, rx_inside=4)], st
    assert st["flows"] == 13, st
    assert cli.call("lease.show", {"id": 1})["lease"]["flows"] == 9
    # too many entries: the first SHOAL_MAX_WORKERS (64) are kept
    report(eng, g, [], counters={"rx": 70},
           per_worker=[worker(i, 1) for i in range(70)])
    st = stats_after(cli, {"rx": 70})
    assert [w["worker"] for w in st["per_worker"]] == list(range(64)), st
    assert st["flows"] == 64, st
    # per_worker of the wrong type: none kept, the report still counts
    report(eng, g, [(1, 4)], counters={"tx_full": 2},
           per_worker={"0": good0})
    st = stats_after(cli, {"tx_full": 2})
    assert st["per_worker"] == [], st
    assert cli.call("lease.show", {"id": 1})["lease"]["flows"] == 4
    eng.close()
    cli.close()


def test_lease_usage_and_top_clients_kept_for_stats():
    eng, r = subscribe()
    cli = E.client()
    g = r["generation"]
    c = {"client": "10.0.0.5", "flows": 7, "outside": "198.51.100.10"}
    bad = [
        "10.0.0.6",                                     # not an object
        dict(c, client=6),                              # not a string
        dict(c, client="10.0.0.6" * 3),                 # over 15 bytes
        dict(c, outside=None),
        dict(c, flows=-1),
        dict(c, flows=2 ** 32),
        {"client": "10.0.0.7", "flows": 1},             # no outside
    ]
    extra = dict(c, client="10.0.0.8", spare=True)      # unknown key dropped
    report(eng, g, [(1, 3), (2, 4), (3, 1)], counters={"rx": 11},
           clients=[c] + bad + [extra])
    st = stats_after(cli, {"rx": 11})
    assert [u["tcp_ports"] + u["udp_ports"] for u in st["lease_usage"]] \
        == [0, 0, 0], st
    eng.send({"jsonrpc": "2.0", "method": "engine.report", "params": {
        "generation": g, "workers": 2, "counters": {"rx": 11},
        "clients": [c] + bad + [extra],
        "leases": [{"id": 1, "flows": 3, "tcp_ports": 2, "udp_ports": 5},
                   {"id": 2, "flows": 4},               # no ports: 0
                   {"id": 3, "flows": 1, "udp_ports": "x"}]}})
    time.sleep(0.2)
    st = stats_after(cli, {"rx": 11})
    assert st["lease_usage"] == [
        {"id": 1, "flows": 3, "tcp_ports": 2, "udp_ports": 5,
         "exhausted": 0},
        {"id": 2, "flows": 4, "tcp_ports": 0, "udp_ports": 0,
         "exhausted": 0},
        {"id": 3, "flows": 1, "tcp_ports": 0, "udp_ports": 0,
         "exhausted": 0}], st
    assert st["lease_usage_partial"] is False, st
    assert st["top_clients"] == [c, dict(c, client="10.0.0.8")], st
    assert isinstance(st["report_mono_ms"], int), st
    # too many: the first SHOAL_TOP_CLIENTS (10) kept; each report
    # replaces them, and one without clients leaves none
    many = [dict(c, client="10.0.1.%d" % i) for i in range(12)]
    report(eng, g, [], counters={"rx": 12}, clients=many,
           leases_partial=True)
    st = stats_after(cli, {"rx": 12})
    assert st["top_clients"] == many[:10], st
    assert st["lease_usage"] == [] and st["lease_usage_partial"], st
    t0 = st["report_mono_ms"]
    time.sleep(0.05)
    report(eng, g, [], counters={"rx": 13})
    st = stats_after(cli, {"rx": 13})
    assert st["top_clients"] == [] and st["report_mono_ms"] > t0, st
    eng.close()
    cli.close()


def engine_after(cli, pred):
    """status.engine once the daemon has read a report it satisfies."""
    end = time.time() + 3
    while time.time() < end:
        e = cli.call("status")["engine"]
        if pred(e):
            return e
        time.sleep(0.02)
    raise AssertionError("status.engine never matched: %r" % e)


def test_refused_lease_set_shown_in_status():
    """An engine that could not apply a set says so in its report; the
    daemon shows it until a report without it (the engine caught up)."""
    eng, r = subscribe()
    cli = E.client()
    g = r["generation"]
    e = cli.call("status")["engine"]
    assert e["refused_generation"] is None and \
        e["refused_reason"] is None, e
    report(eng, g - 1, [], counters={"rx": 11}, refused_generation=g,
           refused_reason="too_many_selectors")
    e = engine_after(cli, lambda e: e["generation"] == g - 1)
    assert e["refused_generation"] == g, e
    assert e["refused_reason"] == "too_many_selectors", e
    # each key on its own: a wrong type or an overlong reason is dropped
    report(eng, g - 1, [], refused_generation="x", refused_reason="y" * 64)
    e = engine_after(cli, lambda e: e["refused_generation"] is None)
    assert e["refused_reason"] is None, e
    report(eng, g - 1, [], refused_generation=g, refused_reason=5)
    e = engine_after(cli, lambda e: e["refused_generation"] == g)
    assert e["refused_reason"] is None, e
    report(eng, g, [])
    e = engine_after(cli, lambda e: e["generation"] == g)
    assert e["refused_generation"] is None, e
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
                       test_report_lists_only_leases_with_flows,
                       test_report_per_worker_returned_by_stats,
                       test_malformed_per_worker_entries_skipped_alone,
                       test_lease_usage_and_top_clients_kept_for_stats,
                       test_refused_lease_set_shown_in_status,
                       test_flows_relayed_to_engine_and_back,
                       test_second_subscriber_replaces_first,
                       test_non_engine_reports_are_ignored])


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit(77)
    main()
