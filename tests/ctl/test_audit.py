#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The audit record of every lease change (docs/CONTROL.md "Audit"): one
log line and one history row each for grant, renew, release, expire and
drained, with the asking peer's uid and pid (none for the lifecycle's own
changes); the history is append-only, commits with the change or not at
all, survives a restart and is migrated into a version 2 database.
(tests/ctl/test_permissions.py checks the uid of a non-root peer.)"""

import json
import os
import re
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import sock_lease  # noqa: E402

AUDIT = re.compile(r"^shoal-ctld: audit: (.*)$", re.M)


def audit_lines(env):
    """The audit log lines as dicts of key=value (holder unquoted)."""
    out = []
    for body in AUDIT.findall(env.logtext()):
        d = {}
        for m in re.finditer(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', body):
            v = m.group(2)
            if v.startswith('"'):
                v = re.sub(r'\\(.)', r'\1', v[1:-1])
            d[m.group(1)] = v
        out.append(d)
    return out


def wait_for(pred, timeout=8):
    end = time.time() + timeout
    while time.time() < end:
        r = pred()
        if r:
            return r
        time.sleep(0.1)
    raise AssertionError("timed out")


def history(c, **q):
    return c.call("lease.history", q)["events"]


def test_every_change_has_a_log_line_and_a_history_row():
    with lib.Env(drain=1, hold=0) as env:
        env.start()
        c = env.client()
        me = os.getpid()
        a = c.call("lease.add", sock_lease('we "b"', size=4, ttl=1))["lease"]
        c.call("lease.renew", {"id": a["id"], "ttl": 1})
        b = c.call("lease.add", sock_lease("rel", size=4))["lease"]
        c.call("lease.release", {"id": b["id"]})
        # releasing again changes nothing: no record
        c.call("lease.release", {"id": b["id"]})
        # refused changes leave no record either
        c.expect_error("lease.renew", {"id": b["id"]}, "draining")
        c.expect_error("lease.release", {"id": 1}, "static_lease")
        # a expires (ttl 1 s), both drain (no engine: after drain_max 1 s)
        want = {(a["id"], e) for e in ("grant", "renew", "expire",
                                        "drained")}
        want |= {(b["id"], e) for e in ("grant", "release", "drained")}
        ev = wait_for(lambda: (lambda h: h if len(h) == 7 else None)(
            history(c)))
        assert {(e["lease"], e["event"]) for e in ev} == want, ev
        seqs = [e["seq"] for e in ev]
        assert seqs == sorted(seqs), ev
        gens = [e["generation"] for e in ev]
        assert gens == sorted(gens) and gens[-1] == \
            c.call("status")["generation"], ev
        for e in ev:
            peer = e["event"] in ("grant", "renew", "release")
            assert (e["uid"], e["pid"]) == ((0, me) if peer else
                                            (None, None)), e
            lease = a if e["lease"] == a["id"] else b
            assert (e["holder"], e["kind"], e["ip"], e["lo"], e["hi"]) == \
                (lease["holder"], "socket", lease["ip"], lease["lo"],
                 lease["hi"]), e
        logs = wait_for(lambda: (lambda l: l if len(l) == 7 else None)(
            audit_lines(env)))
        for e, l in zip(ev, logs):
            assert l["event"] == e["event"] and \
                int(l["lease"]) == e["lease"] and \
                l["holder"] == e["holder"] and l["kind"] == "socket" and \
                l["ip"] == e["ip"] and \
                l["ports"] == "%d-%d" % (e["lo"], e["hi"]) and \
                int(l["generation"]) == e["generation"], (e, l)
            assert (l["uid"], l["pid"]) == \
                ((str(e["uid"]), str(e["pid"])) if e["uid"] is not None
                 else ("-", "-")), (e, l)
        # the history survives a restart, the log line format is greppable
        c.close()
        env.stop()
        assert 'holder="we \\"b\\""' in env.logtext(), env.logtext()
        env.start()
        c = env.client()
        assert history(c) == ev
        c.close()


def test_history_is_append_only():
    with lib.Env() as env:
        env.start()
        c = env.client()
        c.call("lease.add", sock_lease("x", size=1))
        db = sqlite3.connect(env.db)
        for sql in ("DELETE FROM history", "UPDATE history SET uid = 5"):
            try:
                db.execute(sql)
                db.commit()
            except sqlite3.DatabaseError as e:
                assert "append-only" in str(e), e
                db.rollback()
            else:
                raise AssertionError(sql + " succeeded")
        assert db.execute("SELECT count(*) FROM history").fetchone()[0] == 1
        db.close()
        c.close()


def test_change_and_record_commit_together():
    """A history row that cannot be written takes the change with it."""
    with lib.Env() as env:
        env.start()
        c = env.client()
        db = sqlite3.connect(env.db)
        db.execute("CREATE TRIGGER t_fail BEFORE INSERT ON history "
                   "BEGIN SELECT RAISE(ABORT, 'test'); END")
        db.commit()
        n = len(c.call("lease.list")["leases"])
        gen = c.call("status")["generation"]
        c.expect_error("lease.add", sock_lease("lost", size=1), "internal")
        assert len(c.call("lease.list")["leases"]) == n
        assert c.call("status")["generation"] == gen
        assert not audit_lines(env)
        db.execute("DROP TRIGGER t_fail")
        db.commit()
        db.close()
        l = c.call("lease.add", sock_lease("kept", size=1))["lease"]
        assert [e["lease"] for e in history(c)] == [l["id"]]
        c.close()


def test_filters_limit_and_the_largest_reply():
    """ip/port/lease/since/before select rows; a full reply of events with
    the longest escaped holders fits SHOAL_MSG_MAX (proto.h)."""
    holder = '"' * 63
    with lib.Env(hold=0) as env:
        env.start()
        c = env.client()
        t0 = int(time.time())
        ids = []
        for i in range(55):
            l = c.call("lease.add", sock_lease(holder, size=1, ttl=10 ** 8,
                                               ip=lib.SLICE2_IP))["lease"]
            c.call("lease.renew", {"id": l["id"]})
            ids.append(l)
        r = c.call_raw("lease.history", {})
        line = len(json.dumps(r, separators=(",", ":"))) + 1
        ev = r["result"]["events"]
        assert len(ev) == 100 and r["result"]["truncated"] is True, r
        assert line <= 65536, line
        print("audit: lease.history reply of 100 events with 63-byte "
              "escaped holders: %d bytes" % line)
        assert [e["event"] for e in history(c, lease=ids[3]["id"])] == \
            ["grant", "renew"]
        assert len(history(c, ip=lib.SLICE2_IP, port=ids[0]["lo"])) == 2
        assert history(c, ip=lib.SLICE_IP) == []
        assert history(c, since=t0 + 3600) == []
        older = history(c, before=ev[0]["seq"])
        assert [e["seq"] for e in older] == \
            list(range(1, ev[0]["seq"])), older
        c.expect_error("lease.history", {"limit": 101}, "invalid_params")
        c.expect_error("lease.history", {"ip": "1.2.3"}, "invalid_params")
        c.expect_error("lease.history", {"since": -1}, "invalid_params")
        c.expect_error("lease.history", {"holder": "x"}, "invalid_params")
        c.close()


V2_SCHEMA = """
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
 drain_since INTEGER, drain_gen INTEGER NOT NULL DEFAULT 0,
 add_gen INTEGER NOT NULL DEFAULT 0, mapping TEXT, filtering TEXT);
CREATE TABLE holds (ip TEXT NOT NULL, lo INTEGER NOT NULL,
 hi INTEGER NOT NULL, holder TEXT NOT NULL, until INTEGER NOT NULL);
INSERT INTO meta VALUES ('schema_version', 2);
INSERT INTO meta VALUES ('generation', 4);
INSERT INTO leases VALUES (1000, 'old', 'socket', '{ip}', 10500, 10509,
 '', 'active', NULL, NULL, 1700000000, NULL, 0, 2, NULL, NULL);
""".format(ip=lib.SLICE_IP)


def test_version_2_database_gets_a_history():
    with lib.Env(drain=1, hold=0) as env:
        os.makedirs(os.path.dirname(env.db))
        db = sqlite3.connect(env.db)
        db.executescript(V2_SCHEMA)
        db.close()
        env.start()
        c = env.client()
        assert c.call("status")["generation"] == 4
        assert history(c) == []
        c.call("lease.release", {"id": 1000})
        ev = wait_for(lambda: (lambda h: h if len(h) == 2 else None)(
            history(c)))
        assert [(e["event"], e["lease"], e["generation"]) for e in ev] == \
            [("release", 1000, 5), ("drained", 1000, 6)], ev
        db = sqlite3.connect(env.db)
        v = db.execute("SELECT value FROM meta WHERE key = "
                       "'schema_version'").fetchone()[0]
        db.close()
        assert v == 4, v
        c.close()


def test_version_3_database_keeps_its_history():
    """Version 4 rebuilds the history to allow 'fenced' ([fleet]): the
    rows survive with their seq, the next seq follows on, and the table
    stays append-only."""
    with lib.Env(drain=1, hold=0) as env:
        env.start()
        c = env.client()
        l = c.call("lease.add", lib.sock_lease("v3", size=10))["lease"]
        c.call("lease.renew", {"id": l["id"], "ttl": 60})
        c.close()
        env.stop()
        db = sqlite3.connect(env.db)
        db.executescript(
            "DROP TRIGGER history_no_update; DROP TRIGGER history_no_delete;"
            "ALTER TABLE history RENAME TO h4;"
            "CREATE TABLE history (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " time INTEGER NOT NULL, generation INTEGER NOT NULL,"
            " event TEXT NOT NULL CHECK (event IN ('grant', 'renew',"
            " 'release', 'expire', 'drained')), lease INTEGER NOT NULL,"
            " holder TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN"
            " ('nat', 'socket')), ip TEXT NOT NULL, lo INTEGER NOT NULL,"
            " hi INTEGER NOT NULL, ttl INTEGER, expires INTEGER,"
            " uid INTEGER, pid INTEGER);"
            "INSERT INTO history SELECT * FROM h4; DROP TABLE h4;"
            "CREATE TRIGGER history_no_update BEFORE UPDATE ON history"
            " BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;"
            "CREATE TRIGGER history_no_delete BEFORE DELETE ON history"
            " BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;"
            "UPDATE meta SET value = 3 WHERE key = 'schema_version';")
        db.close()
        env.start()
        c = env.client()
        old = history(c)
        assert [(e["seq"], e["event"]) for e in old] == \
            [(1, "grant"), (2, "renew")], old
        c.call("lease.release", {"id": l["id"]})
        assert history(c)[-1]["seq"] == 3
        c.close()
        db = sqlite3.connect(env.db)
        v = db.execute("SELECT value FROM meta WHERE key = "
                       "'schema_version'").fetchone()[0]
        assert v == 4, v
        try:
            db.execute("DELETE FROM history")
            raise AssertionError("history rows could be deleted")
        except sqlite3.DatabaseError:
            pass
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name ="
                         " 'history'").fetchone()[0]
        assert "'fenced'" in sql, sql
        db.close()


def main():
    lib.run_tests([test_every_change_has_a_log_line_and_a_history_row,
                   test_history_is_append_only,
                   test_change_and_record_commit_together,
                   test_filters_limit_and_the_largest_reply,
                   test_version_2_database_gets_a_history,
                   test_version_3_database_keeps_its_history])


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit(77)
    main()
