#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""engine.upgrade through the real shoal-ctld, and the engine session
takeover it brings: the engines are Python clients speaking the engine
protocol (this tests the daemon, not the engine), the new one in its own
process so that its pid is its own.

  - refused without an engine (no_engine), with a relative binary
    (invalid_params), while one is in flight (busy);
  - relayed to the engine with the same params; while the old engine has
    not answered, a new one subscribes and becomes the engine (status
    pid, leases.update, its reports used, the old one's ignored); the old
    one answers and closes at once, and the answer still reaches the
    client, field for field; audit lines name who asked;
  - the engine's refusal reaches the client as upgrade_failed with the
    engine's reason, and the old engine stays the engine;
  - an old session that answered but stays open is closed by the daemon;
  - an engine that goes away without answering fails the upgrade;
  - an engine that never answers: the client is not dropped as idle
    (SHOAL_IDLE_TIMEOUT_S, 30 s) and gets upgrade_failed after
    SHOAL_UPGRADE_TIMEOUT_MS (35 s)."""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import sock_lease  # noqa: E402

E = None
BINARY = "/usr/sbin/shoal-engine"

# The new engine, in a process of its own: subscribes, prints the reply,
# reports counters {"rx": 2} every 0.1 s, prints every message it gets,
# and exits when its stdin closes.
NEW_ENGINE = r"""
import json, select, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
def send(m):
    s.sendall(json.dumps(m).encode() + b"\n")
send({"jsonrpc": "2.0", "id": 1, "method": "engine.subscribe",
      "params": {"version": 1}})
buf = b""
while True:
    r, _, _ = select.select([s, sys.stdin], [], [], 0.1)
    if sys.stdin in r and not sys.stdin.readline():
        break
    if s in r:
        d = s.recv(65536)
        if not d:
            break
        buf += d
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            print(line.decode(), flush=True)
    send({"jsonrpc": "2.0", "method": "engine.report",
          "params": {"generation": 0, "workers": 1,
                     "counters": {"rx": 2}, "leases": []}})
"""


class NewEngine:
    def __init__(self):
        self.p = subprocess.Popen([sys.executable, "-c", NEW_ENGINE,
                                   E.sock], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.pid = self.p.pid
        first = json.loads(self.p.stdout.readline())
        assert "result" in first, first
        self.subscribed = first["result"]

    def next_message(self):
        return json.loads(self.p.stdout.readline())

    def stop(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p.stdout.close()


def old_engine():
    eng = E.client()
    eng.call("engine.subscribe", {"version": 1})
    report(eng, 999)
    return eng


def report(eng, rx):
    eng.send({"jsonrpc": "2.0", "method": "engine.report",
              "params": {"generation": 0, "workers": 1,
                         "counters": {"rx": rx}, "leases": []}})


def next_request(eng, method, timeout=3):
    end = time.time() + timeout
    while time.time() < end:
        m = eng.recv(timeout=max(0.1, end - time.time()))
        assert m is not None, "the engine's session closed"
        if m.get("method") == method:
            return m
    raise AssertionError("no %s request" % method)


def wait_counters(cli, rx):
    end = time.time() + 3
    while time.time() < end:
        st = cli.call("stats")
        if st["counters"] == {"rx": rx}:
            return
        time.sleep(0.02)
    raise AssertionError("no report with rx %d: %r" % (rx, st))


def wait_disconnected(cli):
    end = time.time() + 3
    while cli.call("status")["engine"]["connected"]:
        assert time.time() < end, "the engine is still connected"
        time.sleep(0.02)


def test_refused_without_engine_relative_path_and_while_busy():
    cli = E.client()
    cli.expect_error("engine.upgrade", {}, "no_engine")
    cli.expect_error("engine.upgrade", {"binary": "shoal-engine"},
                     "invalid_params")
    cli.expect_error("engine.upgrade", {"binary": 1}, "invalid_params")
    cli.expect_error("engine.upgrade", {"path": BINARY}, "invalid_params")
    eng = old_engine()
    rid = cli.request("engine.upgrade", {})
    req = next_request(eng, "engine.upgrade")
    assert req["params"] == {}, req
    other = E.client()
    err = other.expect_error("engine.upgrade", {"binary": BINARY}, "busy")
    assert "in progress" in err["message"], err
    eng.send({"jsonrpc": "2.0", "id": req["id"],
              "error": {"code": -32000, "message": "not now",
                        "data": "upgrade_failed"}})
    assert cli.wait_reply(rid)["error"]["message"] == "not now"
    other.close()
    eng.close()
    wait_disconnected(cli)
    cli.close()


def test_new_engine_takes_over_while_old_answers():
    cli = E.client()
    old = old_engine()
    wait_counters(cli, 999)
    rid = cli.request("engine.upgrade", {"binary": BINARY})
    req = next_request(old, "engine.upgrade")
    assert req["params"] == {"binary": BINARY}, req
    new = NewEngine()
    try:
        gen = cli.call("status")["generation"]
        assert new.subscribed["generation"] == gen, new.subscribed
        # the newest subscriber is the engine; the old one stays open
        st = cli.call("status")["engine"]
        assert st["connected"] and st["pid"] == new.pid, (st, new.pid)
        assert not old.is_closed(timeout=0.3), "old session dropped early"
        wait_counters(cli, 2)
        report(old, 999)  # ignored now
        time.sleep(0.3)
        assert cli.call("stats")["counters"] == {"rx": 2}
        # leases go to the new engine only
        cli.call("lease.add", sock_lease("up", size=4))
        upd = new.next_message()
        while upd.get("method") != "leases.update":
            upd = new.next_message()
        assert upd["params"]["generation"] == gen + 1, upd
        old.s.settimeout(0.3)
        try:
            got = old.recv()
            assert got is None or got.get("method") != "leases.update", got
        except OSError:
            pass
        # the old engine answers and is gone at once
        result = {"old_pid": 4321, "new_pid": new.pid, "binary": BINARY,
                  "eal_ms": 900.2, "stop_ms": 1.2, "release_ms": 3.0,
                  "adopt_ms": 5.5, "ports_ms": 30.1, "gap_ms": 42.1,
                  "flows": 12345, "discarded": 0}
        old.send({"jsonrpc": "2.0", "id": req["id"], "result": result})
        old.close()
        r = cli.wait_reply(rid)
        assert r.get("result") == result, r
        st = cli.call("status")["engine"]
        assert st["connected"] and st["pid"] == new.pid, st
        log = E.logtext()
        me = os.getpid()
        assert re.search(r"audit: event=upgrade binary=%s uid=0 pid=%d"
                         % (BINARY, me), log), log[-800:]
        assert re.search(r"audit: event=upgraded binary=%s old_pid=4321 "
                         r"new_pid=%d gap_ms=42.1 flows=12345 discarded=0 "
                         r"uid=0 pid=%d" % (BINARY, new.pid, me), log), \
            log[-800:]
    finally:
        new.stop()
    wait_disconnected(cli)
    cli.close()


def test_engine_refusal_reaches_the_client():
    cli = E.client()
    eng = old_engine()
    rid = cli.request("engine.upgrade", {"binary": "/nonexistent/engine"})
    req = next_request(eng, "engine.upgrade")
    why = "/nonexistent/engine: No such file or directory"
    eng.send({"jsonrpc": "2.0", "id": req["id"],
              "error": {"code": -32000, "message": why,
                        "data": "upgrade_failed"}})
    r = cli.wait_reply(rid)
    assert r["error"]["data"] == "upgrade_failed", r
    assert r["error"]["message"] == why, r
    # the old engine goes on being the engine
    assert not eng.is_closed(timeout=0.3)
    assert cli.call("status")["engine"]["connected"] is True
    assert re.search(r"audit: event=upgrade_failed "
                     r"binary=/nonexistent/engine reason=\"%s\" uid=0"
                     % re.escape(why), E.logtext()), E.logtext()[-800:]
    eng.close()
    wait_disconnected(cli)
    cli.close()


def test_old_session_closed_once_it_has_answered():
    cli = E.client()
    old = old_engine()
    rid = cli.request("engine.upgrade", {})
    req = next_request(old, "engine.upgrade")
    new = E.client()
    new.call("engine.subscribe", {"version": 1})
    assert not old.is_closed(timeout=0.3)
    old.send({"jsonrpc": "2.0", "id": req["id"],
              "error": {"code": -32000, "message": "it failed",
                        "data": "upgrade_failed"}})
    assert cli.wait_reply(rid)["error"]["message"] == "it failed"
    assert old.is_closed(), "the old session owes nothing and stays open"
    assert not new.is_closed(timeout=0.3), "the new engine was dropped"
    assert cli.call("status")["engine"]["connected"] is True
    new.close()
    wait_disconnected(cli)
    cli.close()


def test_engine_gone_without_answer_fails_the_upgrade():
    cli = E.client()
    eng = old_engine()
    rid = cli.request("engine.upgrade", {})
    next_request(eng, "engine.upgrade")
    eng.close()
    r = cli.wait_reply(rid)
    assert r["error"]["data"] == "upgrade_failed", r
    assert "went away" in r["error"]["message"], r
    cli.close()


def test_silent_engine_times_out_and_client_is_not_idle():
    cli = E.client(timeout=60)
    eng = old_engine()
    t0 = time.time()
    rid = cli.request("engine.upgrade", {})
    next_request(eng, "engine.upgrade")
    # the engine keeps reporting (as a live one does) but never answers
    end = t0 + 40
    cli.s.settimeout(0.5)
    r = None
    while r is None and time.time() < end:
        report(eng, 999)
        try:
            r = cli.wait_reply(rid)
        except OSError:
            pass
    took = time.time() - t0
    assert r is not None, "no answer in 40 s"
    assert r["error"]["data"] == "upgrade_failed", r
    assert "in time" in r["error"]["message"], r
    assert 34 <= took <= 38, took
    eng.close()
    cli.close()


def main():
    global E
    with lib.Env() as env:
        E = env
        env.start()
        lib.run_tests([
            test_refused_without_engine_relative_path_and_while_busy,
            test_new_engine_takes_over_while_old_answers,
            test_engine_refusal_reaches_the_client,
            test_old_session_closed_once_it_has_answered,
            test_engine_gone_without_answer_fails_the_upgrade,
            test_silent_engine_times_out_and_client_is_not_idle,
        ])


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit(77)
    main()
