#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Per-lease mapping and filtering (RFC 4787) through shoal-ctld: lease.add
takes them for nat leases only, LEASE objects report them (null for socket
leases, the configured values for static ones), they survive kill -9, a
database written before they existed (schema version 1) opens with the
defaults, and the subscribed engine receives them in its lease set."""

import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import nat, sock_lease  # noqa: E402

MAPPINGS = ["endpoint-independent", "address-and-port-dependent"]
FILTERINGS = ["endpoint-independent", "address-dependent",
              "address-and-port-dependent"]
DEFAULT = ("endpoint-independent", "address-dependent")

# a static nat lease with both keys set, on the second slice
EXTRA = """
[lease.strict]
kind = nat
ip = {ip2}
ports = 20090-20099
clients = 10.9.0.0/16
mapping = address-and-port-dependent
filtering = endpoint-independent
""".format(ip2=lib.SLICE2_IP)

E = None
C = None


def behaviour(lease):
    return (lease["mapping"], lease["filtering"])


def test_add_takes_each_value_and_reports_it():
    for m in MAPPINGS:
        for f in FILTERINGS:
            l = C.call("lease.add", nat("b-%s-%s" % (m, f), size=1,
                                        mapping=m, filtering=f))["lease"]
            assert behaviour(l) == (m, f), l
            shown = C.call("lease.show", {"id": l["id"]})["lease"]
            assert behaviour(shown) == (m, f), shown
    l = C.call("lease.add", nat("b-default", size=1))["lease"]
    assert behaviour(l) == DEFAULT, l
    l = C.call("lease.add", nat("b-m", size=1, mapping=MAPPINGS[1]))["lease"]
    assert behaviour(l) == (MAPPINGS[1], DEFAULT[1]), l


def test_socket_and_static_leases_report_theirs():
    s = C.call("lease.add", sock_lease("b-sock", size=1))["lease"]
    assert behaviour(s) == (None, None), s
    leases = {l["holder"]: l for l in C.call("lease.list")["leases"]}
    assert behaviour(leases["web"]) == DEFAULT, leases["web"]
    assert behaviour(leases["proxy"]) == (None, None), leases["proxy"]
    assert leases["strict"]["static"]
    assert behaviour(leases["strict"]) == (
        "address-and-port-dependent", "endpoint-independent")


def test_invalid_values_are_invalid_params():
    gen = C.call("status")["generation"]
    for bad in ({"mapping": "eim"}, {"mapping": "address-dependent"},
                {"filtering": "Endpoint-Independent"},
                {"filtering": "endpoint-independent "},
                {"mapping": 1}, {"filtering": None}, {"mapping": ""},
                {"filtering": ["address-dependent"]}):
        e = C.expect_error("lease.add", nat("b-bad", size=1, **bad),
                           "invalid_params")
        assert e["code"] == -32602, e
    for key, val in (("mapping", MAPPINGS[0]), ("filtering", FILTERINGS[1])):
        e = C.expect_error("lease.add", sock_lease("b-bad", size=1,
                                                   **{key: val}),
                           "invalid_params")
        assert key in e["message"] and "socket" in e["message"], e
    assert C.call("status")["generation"] == gen, "a refusal committed"


def test_values_survive_kill_9():
    want = {}
    for i, (m, f) in enumerate([(MAPPINGS[1], FILTERINGS[2]),
                                (MAPPINGS[0], FILTERINGS[0])]):
        l = C.call("lease.add", nat("k%d" % i, size=2, mapping=m,
                                    filtering=f))["lease"]
        want[l["id"]] = (m, f)
    restart(kill=True)
    for i, mf in want.items():
        assert behaviour(C.call("lease.show", {"id": i})["lease"]) == mf


def test_engine_receives_them():
    eng = E.client()
    r = eng.call("engine.subscribe", {"version": 1})
    got = {l["holder"]: behaviour(l) for l in r["leases"]}
    assert got["strict"] == ("address-and-port-dependent",
                             "endpoint-independent"), got
    assert got["proxy"] == (None, None), got
    C.call("lease.add", nat("pushed", size=1, mapping=MAPPINGS[1],
                            filtering=FILTERINGS[2]))
    m = eng.recv(timeout=3)
    assert m and m.get("method") == "leases.update", m
    got = {l["holder"]: behaviour(l) for l in m["params"]["leases"]}
    assert got["pushed"] == (MAPPINGS[1], FILTERINGS[2]), got
    eng.close()


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE leases (
 id INTEGER PRIMARY KEY CHECK (id BETWEEN 1000 AND 65535),
 holder TEXT NOT NULL,
 kind TEXT NOT NULL CHECK (kind IN ('nat', 'socket')),
 ip TEXT NOT NULL,
 lo INTEGER NOT NULL CHECK (lo BETWEEN 1 AND 65535),
 hi INTEGER NOT NULL CHECK (hi BETWEEN lo AND 65535),
 clients TEXT NOT NULL,
 state TEXT NOT NULL CHECK (state IN ('active', 'draining')),
 ttl INTEGER, expires INTEGER, created INTEGER NOT NULL,
 drain_since INTEGER, drain_gen INTEGER NOT NULL DEFAULT 0);
INSERT INTO meta VALUES ('schema_version', 1);
INSERT INTO meta VALUES ('generation', 7);
INSERT INTO leases VALUES (1000, 'old', 'nat', '{ip}', 10500, 10509,
 '10.3.0.0/16', 'active', NULL, NULL, 1700000000, NULL, 0);
INSERT INTO leases VALUES (1001, 'olds', 'socket', '{ip}', 10510, 10519,
 '', 'active', NULL, NULL, 1700000000, NULL, 0);
""".format(ip=lib.SLICE_IP)


def test_version_1_database_opens_with_defaults():
    with lib.Env(drain=1, hold=60) as env:
        os.makedirs(os.path.dirname(env.db))
        db = sqlite3.connect(env.db)
        db.executescript(V1_SCHEMA)
        db.close()
        env.start()
        c = env.client()
        st = c.call("status")
        assert st["generation"] == 7, st
        leases = {l["id"]: l for l in c.call("lease.list")["leases"]}
        assert behaviour(leases[1000]) == DEFAULT, leases[1000]
        assert leases[1000]["clients"] == ["10.3.0.0/16"]
        assert behaviour(leases[1001]) == (None, None), leases[1001]
        # the migrated database takes the new columns
        l = c.call("lease.add", nat("new", size=1,
                                    mapping=MAPPINGS[1]))["lease"]
        c.close()
        env.kill()
        env.start()
        c = env.client()
        shown = c.call("lease.show", {"id": l["id"]})["lease"]
        assert behaviour(shown) == (MAPPINGS[1], DEFAULT[1]), shown
        db = sqlite3.connect(env.db)
        v = db.execute("SELECT value FROM meta WHERE key = "
                       "'schema_version'").fetchone()[0]
        hist = db.execute("SELECT event, lease FROM history").fetchall()
        db.close()
        assert v == 4, v
        assert hist == [("grant", l["id"])], hist
        c.close()


def restart(kill=False):
    global C
    C.close()
    if kill:
        E.kill()
    else:
        E.stop()
    E.start()
    C = E.client()


def main():
    global E, C
    with lib.Env(extra=EXTRA) as env:
        E = env
        env.start()
        C = env.client()
        lib.run_tests([test_add_takes_each_value_and_reports_it,
                       test_socket_and_static_leases_report_theirs,
                       test_invalid_values_are_invalid_params,
                       test_values_survive_kill_9,
                       test_engine_receives_them,
                       test_version_1_database_opens_with_defaults])


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit(77)
    main()
