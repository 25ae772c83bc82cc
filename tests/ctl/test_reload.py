#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Reload of shoal-ctld (the reload method and SIGHUP): a changed file is
taken (new static lease, new slice) without touching dynamic leases and
pushed to the engine as a new generation; a broken file, a key only a
restart can change, a slice removed under a live lease, and an engine
that refuses are each refused with FILE:LINE (or the engine's reason),
and nothing changes. The engine is a Python client speaking the engine
protocol to the real daemon, so its answer can be chosen."""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import nat  # noqa: E402

E = None

NEW_STATIC = """
[lease.added]
kind = socket
ip = 198.51.100.11
ports = 20090-20099
"""


def write(extra="", **kw):
    E.write_config(drain=30, extra=extra, **kw)


def statics(cli):
    return sorted(l["holder"] for l in cli.call("lease.list")["leases"]
                  if l["static"])


def line_of(text):
    """1-based line of the first line of the config containing text."""
    with open(E.conf) as f:
        for i, line in enumerate(f, 1):
            if text in line:
                return i
    raise AssertionError("%r not in the config" % text)


class FakeEngine:
    """Subscribes, then answers engine.reload with ok or an error (in a
    thread) and collects leases.update generations."""

    def __init__(self, answer=None):
        self.cli = E.client()
        self.gen = self.cli.call("engine.subscribe",
                                 {"version": 1})["generation"]
        self.answer = answer  # None: ok; else (message)
        self.asked = 0
        self.updates = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                m = self.cli.recv(timeout=0.2)
            except OSError:
                continue
            if m is None:
                return
            if m.get("method") == "engine.reload":
                self.asked += 1
                if self.answer is None:
                    r = {"result": {"reloaded": True}}
                else:
                    r = {"error": {"code": -32000, "message": self.answer,
                                   "data": "invalid_config"}}
                r.update({"jsonrpc": "2.0", "id": m["id"]})
                self.cli.send(r)
            elif m.get("method") == "leases.update":
                self.updates.append(m["params"])

    def close(self):
        self.stop = True
        self.t.join(2)
        self.cli.close()


def test_reload_takes_new_static_and_keeps_dynamic():
    cli = E.client()
    dyn = cli.call("lease.add", nat("dyn", size=10))["lease"]
    before = cli.call("status")["generation"]
    write(extra=NEW_STATIC)
    r = cli.call("reload")
    assert r["reloaded"] is True and r["engine"] == "not_connected", r
    assert r["generation"] == before + 1, (r, before)
    assert statics(cli) == ["added", "proxy", "web"], statics(cli)
    assert "audit: event=reload path=%s static_leases=3 slices=2 uid=0 " \
        "pid=%d " % (E.conf, os.getpid()) in E.logtext(), E.logtext()[-500:]
    # the dynamic lease is untouched
    assert cli.call("lease.show", {"id": dyn["id"]})["lease"] == \
        dict(dyn, flows=None), cli.call("lease.show", {"id": dyn["id"]})
    lib.check_invariants(cli.call("lease.list")["leases"])
    cli.call("lease.release", {"id": dyn["id"]})
    write()
    cli.call("reload")
    cli.close()


def test_broken_file_refused_with_file_line():
    cli = E.client()
    gen = cli.call("status")["generation"]
    write(extra="[nat]\nudp_timeout = soon\n")
    err = cli.expect_error("reload", None, "invalid_config")
    # a second [nat] section: the parser names the line of the duplicate
    assert err["message"].startswith("%s:%d: " % (E.conf, line_of(
        "udp_timeout = soon") - 1)), err
    assert cli.call("status")["generation"] == gen
    assert statics(cli) == ["proxy", "web"]
    write()
    cli.close()


def test_restart_only_key_refused():
    cli = E.client()
    other = os.path.join(E.dir, "other.db")
    with open(E.conf) as f:
        text = f.read()
    with open(E.conf, "w") as f:
        f.write(text.replace("database = " + E.db, "database = " + other))
    err = cli.expect_error("reload", None, "invalid_config")
    assert err["message"] == ("%s:%d: [ctl] database: differs from the "
                              "running value; reload cannot change it, "
                              "restart shoal-ctld" %
                              (E.conf, line_of("database = "))), err
    write()
    cli.close()


def test_slice_removed_under_a_lease_refused():
    cli = E.client()
    dyn = cli.call("lease.add", nat("under", ip=lib.SLICE2_IP,
                                    ports="20000-20009"))["lease"]
    with open(E.conf) as f:
        text = f.read()
    with open(E.conf, "w") as f:
        f.write(text.replace(lib.SLICE2_IP + " = 20000-20099\n", ""))
    err = cli.expect_error("reload", None, "invalid_config")
    assert err["message"].startswith("%s:%d: lease %d (under, %s 20000-"
                                     "20009) would lie outside every "
                                     "slice" % (E.conf, line_of("[slices]"),
                                                dyn["id"], lib.SLICE2_IP)), \
        err
    assert len(cli.call("slice.list")["slices"]) == 2
    cli.call("lease.release", {"id": dyn["id"]})
    write()
    cli.close()


def test_engine_reloads_first_and_gets_the_new_set():
    eng = FakeEngine()
    try:
        cli = E.client()
        write(extra=NEW_STATIC)
        r = cli.call("reload")
        assert r["engine"] == "reloaded" and eng.asked == 1, (r, eng.asked)
        end = time.time() + 3
        while time.time() < end and not any(
                u["generation"] == r["generation"] for u in eng.updates):
            time.sleep(0.02)
        u = [u for u in eng.updates if u["generation"] == r["generation"]]
        assert u and "added" in [l["holder"] for l in u[0]["leases"]], \
            eng.updates
        write()
        cli.call("reload")
        cli.close()
    finally:
        eng.close()


def test_engine_refusal_refuses_the_reload():
    eng = FakeEngine(answer="%s:3: [inside] device: differs" % "x.conf")
    try:
        cli = E.client()
        gen = cli.call("status")["generation"]
        write(extra=NEW_STATIC)
        err = cli.expect_error("reload", None, "invalid_config")
        assert err["message"] == "shoal-engine: x.conf:3: [inside] " \
            "device: differs", err
        assert cli.call("status")["generation"] == gen
        assert statics(cli) == ["proxy", "web"]
        write()
        cli.close()
    finally:
        eng.close()


def test_sighup_reloads():
    cli = E.client()
    gen = cli.call("status")["generation"]
    write(extra=NEW_STATIC)
    os.kill(E.proc.pid, signal.SIGHUP)
    end = time.time() + 3
    while time.time() < end and cli.call("status")["generation"] == gen:
        time.sleep(0.02)
    assert statics(cli) == ["added", "proxy", "web"]
    assert E.proc.poll() is None, "SIGHUP must not stop the daemon"
    assert "audit: event=reload path=%s static_leases=3 slices=2 " \
        "signal=SIGHUP" % E.conf in E.logtext(), E.logtext()[-500:]
    write()
    os.kill(E.proc.pid, signal.SIGHUP)
    cli.close()


def main():
    global E
    with lib.Env(drain=30) as env:
        E = env
        env.start()
        lib.run_tests([test_reload_takes_new_static_and_keeps_dynamic,
                       test_broken_file_refused_with_file_line,
                       test_restart_only_key_refused,
                       test_slice_removed_under_a_lease_refused,
                       test_engine_reloads_first_and_gets_the_new_set,
                       test_engine_refusal_refuses_the_reload,
                       test_sighup_reloads])


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit(77)
    main()
