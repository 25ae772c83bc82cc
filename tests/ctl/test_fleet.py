#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""shoal-ctld [fleet] against a real etcd (docs/FLEET.md).

One single-member etcd (Debian's etcd-server) on 127.0.0.1 with ports the
kernel picks and a temporary data directory; three shoal-ctld processes
(no engine: the test plays one where it checks what an engine is sent),
each reaching etcd through its own TCP relay in this process, which the
test can black-hole to cut that host off from etcd. ttl 2 s, hold_down
4 s. The cases run in order on one fleet:

  - every host claims its slices, etcd holds the map, slice.list on every
    daemon shows the same map, the engine gets the "fleet" object and
    fleet.valid; [fleet] clients leases; lease.add outside owned slices
    refused; an explicit slice list;
  - a daemon restarted within the TTL resumes its lease and slices;
  - kill -9: the dead host's slices free after ~ttl, claimed by the
    survivors only after the hold-down; back, it gets slices given back;
  - a host cut off from etcd fences (its pushed set loses its slices,
    valid_ms reaches 0, its leases there are deleted as "fenced") before
    anyone else claims them.

Measured times are printed as "fleet:" lines. Processes are stopped by
PID; the directory goes even on failure."""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

TTL = 2
HOLD = 4
POOL = "198.51.100.10"
SLICE = 1000
PORTS = (10000, 15999)  # six slices of 1000 ports
DIR = None
ETCD = None
HOSTS = {}


def note(fmt, *args):
    print("fleet: " + fmt % args)
    sys.stdout.flush()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(fn, timeout, step=0.1, what="condition"):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(step)


class Etcd:
    """A single-member etcd, stopped by PID."""

    def __init__(self, base):
        self.dir = os.path.join(base, "etcd")
        self.port = free_port()
        peer = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(base, "etcd.log"), "w")
        self.proc = subprocess.Popen(
            ["etcd", "--name", "t", "--data-dir", self.dir,
             "--listen-client-urls", self.url,
             "--advertise-client-urls", self.url,
             "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
             "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
             "--initial-cluster", "t=http://127.0.0.1:%d" % peer],
            stdout=self.log, stderr=self.log)
        wait_for(lambda: self.alive(), 20, 0.2, "etcd to answer")

    def alive(self):
        try:
            self.call("/v3/kv/range", {"key": b64("x")})
            return True
        except OSError:
            return False

    def call(self, path, body):
        req = urllib.request.Request(self.url + path,
                                     data=json.dumps(body).encode(),
                                     method="POST")
        with urllib.request.urlopen(req, timeout=2) as r:
            return json.loads(r.read())

    def prefix(self, pfx):
        """{key: (value as JSON, lease)} of every key under pfx."""
        end = pfx[:-1] + chr(ord(pfx[-1]) + 1)
        r = self.call("/v3/kv/range", {"key": b64(pfx),
                                       "range_end": b64(end)})
        out = {}
        for kv in r.get("kvs", []):
            k = base64.b64decode(kv["key"]).decode()
            v = base64.b64decode(kv.get("value", "")).decode()
            out[k] = (json.loads(v) if v else None,
                      int(kv.get("lease", "0")),
                      int(kv.get("create_revision", "0")))
        return out

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def b64(s):
    return base64.b64encode(s.encode()).decode()


class Relay:
    """A TCP relay to etcd. cut() black-holes it: bytes in either
    direction are dropped and new connections hang, as a partition looks
    to the daemon (its requests time out); mend() forwards again."""

    def __init__(self, target):
        self.target = target
        self.up = True
        self.closed = False
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.socks = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except (socket.timeout, OSError):
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target), 2)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.socks += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b),
                                 daemon=True).start()

    def _pump(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                if self.up:
                    b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.up = False

    def mend(self):
        self.up = True

    def close(self):
        self.closed = True
        self.lsock.close()
        with self.lock:
            for s in self.socks:
                try:
                    s.close()
                except OSError:
                    pass


CONFIG = """\
[engine]
ctl_socket = {sock}

[inside]
device = net_null0
address = 10.0.0.1/24
exception = none

[outside]
device = net_null1
address = {addr}/24
gateway = 192.0.2.254
exception = none

[fleet]
etcd = http://127.0.0.1:{port}
host = {name}
address = {addr}
pool = {pool}
ports = {lo}-{hi}
slice_size = {size}
slices = {slices}
{clients}ttl = {ttl}
hold_down = {hold}
prefix = {prefix}

[ctl]
socket = {sock}
database = {db}
group = root
"""


class Host:
    """One shoal-ctld with [fleet], behind its own relay to etcd."""

    def __init__(self, name, addr, slices, clients=None):
        self.name = name
        self.dir = os.path.join(DIR, name)
        os.makedirs(os.path.join(self.dir, "run"), mode=0o750)
        self.sock = os.path.join(self.dir, "run", "ctl.sock")
        self.db = os.path.join(self.dir, "leases.db")
        self.conf = os.path.join(self.dir, "shoal.conf")
        self.log = os.path.join(self.dir, "ctld.log")
        self.relay = Relay(ETCD.port)
        self.proc = None
        with open(self.conf, "w") as f:
            f.write(CONFIG.format(
                sock=self.sock, addr=addr, port=self.relay.port, name=name,
                pool=POOL, lo=PORTS[0], hi=PORTS[1], size=SLICE,
                slices=slices, ttl=TTL, hold=HOLD, prefix=PREFIX,
                db=self.db, clients="clients = %s\n" % clients
                if clients else ""))

    def start(self):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([lib.find_ctld(), "-c", self.conf],
                                     stdout=logf, stderr=logf)
        logf.close()
        self.started = time.monotonic()
        end = time.time() + 15
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited:\n%s" % (self.name,
                                                       self.logtext()))
            try:
                lib.Client(self.sock, timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("%s not ready:\n%s" % (self.name, self.logtext()))

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def logtext(self):
        with open(self.log) as f:
            return f.read()

    def call(self, method, params=None):
        c = lib.Client(self.sock)
        try:
            return c.call(method, params)
        finally:
            c.close()

    def error(self, method, params, reason):
        c = lib.Client(self.sock)
        try:
            return c.expect_error(method, params, reason)
        finally:
            c.close()

    def fleet(self):
        return self.call("slice.list")["fleet"]

    def mine(self):
        """(ip, lo) of the slices this daemon says are its own."""
        return sorted((m["ip"], m["lo"]) for m in self.fleet()["map"]
                      if m["state"] == "mine")


class Engine:
    """Plays the engine of a host: subscribes, records every message with
    its arrival time, reports the generation it applied twice a second
    (what the daemon waits for before it deletes a released slice)."""

    def __init__(self, host):
        self.c = lib.Client(host.sock)
        rid = self.c.request("engine.subscribe", {"version": 1})
        r = self.c.wait_reply(rid)["result"]
        self.gen = r["generation"]
        self.msgs = [(time.monotonic(), "subscribe", r)]
        self.stop = False
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        last = 0
        while not self.stop:
            try:
                m = self.c.recv(timeout=0.2)
            except socket.timeout:
                m = False
            except OSError:
                return
            if m is None:
                return
            if m:
                with self.lock:
                    self.msgs.append((time.monotonic(), m.get("method"),
                                      m.get("params")))
                if m.get("method") == "leases.update":
                    self.gen = m["params"]["generation"]
            if time.monotonic() - last > 0.5:
                last = time.monotonic()
                self.c.send({"jsonrpc": "2.0", "method": "engine.report",
                             "params": {"generation": self.gen,
                                        "workers": 1, "counters": {}}})

    def since(self, t0, method=None):
        with self.lock:
            return [(t, m, p) for t, m, p in self.msgs
                    if t >= t0 and (method is None or m == method)]

    def close(self):
        self.stop = True
        self.t.join(2)
        self.c.close()


def slices_of(name):
    """(ip, lo) of every slice etcd says host name owns."""
    out = []
    for k, (v, _, _) in ETCD.prefix(PREFIX + "/slices/").items():
        if v["host"] == name:
            ip, lo = k.rsplit("/", 2)[-2:]
            out.append((ip, int(lo)))
    return sorted(out)


def n_slices():
    return (PORTS[1] - PORTS[0] + 1) // SLICE


# ---- cases ---------------------------------------------------------------

def test_hosts_claim_their_slices_and_share_one_map():
    # c wants two particular slices; it starts first so that nobody takes
    # them as orphans before it may claim them
    c = HOSTS["c"]
    c.start()
    t = wait_for(lambda: len(c.mine()) == 2 and time.monotonic(), 15,
                 what="c's explicit slices")
    note("claim after start (explicit list): %.1f s (hold_down %d s)",
         t - c.started, HOLD)
    assert c.mine() == [(POOL, 14000), (POOL, 15000)], c.mine()
    for n in "ab":
        HOSTS[n].start()
    t = wait_for(lambda: all(len(HOSTS[n].mine()) == 2 for n in "ab") and
                 time.monotonic(), 15, what="a and b to hold 2 each")
    note("claim after start (slices = 2): %.1f s", t - HOSTS["a"].started)
    assert t - HOSTS["a"].started >= HOLD, "claimed inside the hold-down"
    # every daemon has read every claim (a read a second)
    wait_for(lambda: all(all(e["state"] != "free" for e in
                             HOSTS[n].fleet()["map"]) for n in "abc"),
             3, what="every daemon to see the whole map")
    # etcd holds the map: every slice once, each bound to its host's lease
    keys = ETCD.prefix(PREFIX + "/")
    hosts = {k.rsplit("/", 1)[1]: v for k, v in keys.items()
             if "/hosts/" in k}
    assert sorted(hosts) == ["a", "b", "c"], hosts
    for n, (v, lease, _) in hosts.items():
        assert v["want"] == 2 and lease, (n, v)
    owners = {}
    for n in "abc":
        owners.update({s: n for s in slices_of(n)})
        assert slices_of(n) == HOSTS[n].mine(), n
    assert len(owners) == n_slices(), owners
    # every daemon shows the same map, and every slice of the pool
    maps = []
    for n in "abc":
        m = HOSTS[n].fleet()
        assert m["etcd"] == "connected" and 0 < m["valid_ms"] <= TTL * 1000
        assert sorted(h["host"] for h in m["hosts"]) == ["a", "b", "c"]
        maps.append(sorted((e["ip"], e["lo"], e["hi"], e["host"],
                            e["address"]) for e in m["map"]))
        for e in m["map"]:
            assert e["state"] == ("mine" if e["host"] == n else "owned")
            assert e["claimable_in"] is None
    assert maps[0] == maps[1] == maps[2], maps
    assert len(maps[0]) == n_slices()
    st = HOSTS["a"].call("status")["fleet"]
    assert st["host"] == "a" and st["owned"] == 2 and st["hosts"] == 3, st


def test_engine_gets_the_fleet_object_and_fleet_valid():
    a = HOSTS["a"]
    eng = Engine(a)
    try:
        t0 = time.monotonic()
        fl = eng.msgs[0][2]["fleet"]
        assert fl["host"] == "a" and 0 < fl["valid_ms"] <= TTL * 1000, fl
        got = sorted((s["ip"], s["lo"], s["host"], s["address"])
                     for s in fl["slices"])
        want = sorted((ip, lo, n, "192.0.2.%d" % (1 + "abc".index(n)))
                      for n in "abc" for ip, lo in slices_of(n))
        assert got == want, (got, want)
        # the other live hosts, whose tunnel packets a's engine takes
        assert sorted(fl["peers"]) == ["192.0.2.2", "192.0.2.3"], fl
        time.sleep(4)
        valid = eng.since(t0, "fleet.valid")
        rate = len(valid) / (time.monotonic() - t0)
        note("renewals (fleet.valid) per second: %.2f (ttl %d s: "
             "every ttl/3)", rate, TTL)
        assert 1.0 <= rate <= 2.0, rate
        for _, _, p in valid:
            assert p["generation"] == eng.gen and \
                0 < p["valid_ms"] <= TTL * 1000, p
        # requests per host in steady state: renewals plus one read
        r0 = a.call("status")["fleet"]["etcd_requests"]
        time.sleep(5)
        r1 = a.call("status")["fleet"]["etcd_requests"]
        note("etcd requests per second per host (steady): %.2f",
             (r1 - r0) / 5)
        assert (r1 - r0) / 5 <= 3.5, r1 - r0
    finally:
        eng.close()


def test_leases_only_inside_owned_slices():
    a, b = HOSTS["a"], HOSTS["b"]
    mine = a.mine()
    other = slices_of("b")[0]
    # outside: another host's slice
    e = a.error("lease.add", lib.nat(ip=other[0], ports="%d-%d" % (
        other[1], other[1] + 9)), "outside_slice")
    assert "does not own" in e["message"], e
    # inside: a dynamic lease, id above the reserved slice ids
    ls = a.call("lease.add", lib.nat(ip=mine[0][0], ports="%d-%d" % (
        mine[0][1], mine[0][1] + 99)))["lease"]
    assert ls["id"] >= 1000, ls
    a.call("lease.release", {"id": ls["id"]})
    # [fleet] clients: b has one static-like lease per owned slice
    per = (PORTS[1] - PORTS[0] + 1) // SLICE
    want = sorted((1 + (lo - PORTS[0]) // SLICE, ip, lo, lo + SLICE - 1)
                  for ip, lo in b.mine())
    got = sorted((l["id"], l["ip"], l["lo"], l["hi"])
                 for l in b.call("lease.list")["leases"]
                 if l["holder"] == "fleet")
    assert got == want, (got, want)
    for l in b.call("lease.list")["leases"]:
        assert l["static"] and l["clients"] == ["10.2.0.0/16"], l
    b.error("lease.release", {"id": got[0][0]}, "static_lease")
    b.error("lease.renew", {"id": got[0][0]}, "static_lease")
    # a reserved id of a slice b does not own is not a lease
    free_id = next(i for i in range(1, per + 1)
                   if i not in [g[0] for g in got])
    b.error("lease.show", {"id": free_id}, "not_found")


def test_shoalctl_prints_the_fleet_map():
    cli = os.environ.get("SHOALCTL", os.path.join(lib.ROOT, "build", "ctl",
                                                  "cli", "shoalctl"))
    if not os.access(cli, os.X_OK):
        note("shoalctl not built: its output not checked")
        return
    a = HOSTS["a"]
    text = subprocess.run([cli, "-s", a.sock, "slice", "list"], check=True,
                          capture_output=True, text=True).stdout
    lines = text.splitlines()
    assert any(l.startswith("fleet: host a, etcd connected") for l in lines)
    rows = [l.split() for l in lines if l.startswith(POOL + " ") and
            len(l.split()) >= 5]
    mine = [(r[0], int(r[1].split("-")[0])) for r in rows if r[2] == "mine"]
    assert sorted(mine) == a.mine(), (mine, text)
    assert len([r for r in rows if r[2] in ("mine", "owned")]) == \
        n_slices(), text
    js = json.loads(subprocess.run([cli, "-s", a.sock, "-j", "slice",
                                    "list"], check=True, capture_output=True,
                                   text=True).stdout)
    assert len(js["fleet"]["map"]) == n_slices() and \
        js["fleet"]["host"] == "a", js


def test_a_second_process_as_the_same_host_claims_nothing():
    a = HOSTS["a"]
    twin = Host("a-twin", "192.0.2.1", 2)
    # the same host name as a, its own database (so its own etcd lease)
    with open(twin.conf) as f:
        conf = f.read().replace("host = a-twin", "host = a")
    with open(twin.conf, "w") as f:
        f.write(conf)
    before = slices_of("a")
    twin.start()
    try:
        st = wait_for(lambda: (lambda s: s if s["conflict"] else None)(
            twin.call("status")["fleet"]), 5, what="the twin's conflict")
        time.sleep(HOLD + 1)
        st = twin.call("status")["fleet"]
        assert st["conflict"] and st["owned"] == 0, st
        assert slices_of("a") == before
        assert "bound to another etcd lease" in twin.logtext()
        assert a.call("status")["fleet"]["owned"] == 2
    finally:
        twin.kill(signal.SIGTERM)
        twin.relay.close()


def test_reload_and_sighup_keep_the_fleet():
    # SIGHUP must reach the loop's signalfd, never the worker thread
    # (whose default action would end the process)
    b = HOSTS["b"]
    before = b.mine()
    r = b.call("reload")
    assert r["reloaded"] and r["engine"] == "not_connected", r
    for _ in range(5):
        os.kill(b.proc.pid, signal.SIGHUP)
        time.sleep(0.1)
    time.sleep(0.5)
    assert b.proc.poll() is None, b.logtext()
    assert b.mine() == before and b.call("status")["fleet"]["owned"] == 2
    assert b.logtext().count("SIGHUP: reloading") == 5


def test_restart_within_ttl_resumes_the_same_slices():
    a = HOSTS["a"]
    before = {k: v for k, v in ETCD.prefix(PREFIX + "/slices/").items()
              if v[0]["host"] == "a"}
    a.kill(signal.SIGKILL)
    a.start()
    t = wait_for(lambda: a.mine() == sorted(
        (k.rsplit("/", 2)[-2], int(k.rsplit("/", 1)[1])) for k in before)
        and time.monotonic(), 5, what="a's slices after its restart")
    note("restart within ttl: slices back in %.2f s after start",
         t - a.started)
    after = {k: v for k, v in ETCD.prefix(PREFIX + "/slices/").items()
             if v[0]["host"] == "a"}
    # the same keys, never recreated (same create_revision), same lease
    assert after == before, (before, after)
    assert "granted" not in a.logtext().split("listening on")[-2], \
        "a restarted daemon granted a new lease"
    assert a.call("status")["fleet"]["owned"] == 2


def test_dead_host_slices_move_after_ttl_and_hold_down():
    a, b = HOSTS["a"], HOSTS["b"]
    lost = slices_of("b")
    kept = {n: slices_of(n) for n in "ac"}
    t_kill = time.monotonic()
    b.kill(signal.SIGKILL)
    t_gone = wait_for(lambda: not slices_of("b") and time.monotonic(),
                      TTL + 3, 0.05, "b's keys to expire")
    t_moved = wait_for(lambda: all(s in slices_of("a") + slices_of("c")
                                   for s in lost) and time.monotonic(),
                       TTL + HOLD + 6, 0.05, "b's slices to move")
    note("kill -9: keys gone after %.1f s (ttl %d), slices claimed after "
         "%.1f s (ttl + hold_down = %d s)", t_gone - t_kill, TTL,
         t_moved - t_kill, TTL + HOLD)
    assert t_moved - t_gone >= HOLD - 0.1, "claimed inside the hold-down"
    # the survivors' own slices never moved; c (an explicit list) takes
    # no orphans, so a has them all
    assert slices_of("c") == kept["c"]
    assert sorted(kept["a"] + lost) == slices_of("a"), slices_of("a")
    # b comes back (a new process, its lease gone): a gives back its
    # extra slices, one at a time, and b claims each after the hold-down
    t0 = time.monotonic()
    b.start()
    wait_for(lambda: len(slices_of("b")) == 2, 2 * (HOLD + 6),
             0.2, "b to get 2 slices back")
    note("give-back: the returning host holds 2 after %.1f s",
         time.monotonic() - t0)
    assert slices_of("a") == kept["a"], "a gave back a slice of its first 2"
    assert "gave back" in a.logtext()


def test_partitioned_host_fences_before_others_claim():
    a = HOSTS["a"]
    eng = Engine(a)
    try:
        ours = slices_of("a")
        ls = a.call("lease.add", lib.nat(ip=ours[0][0], ports="%d-%d" % (
            ours[0][1] + 100, ours[0][1] + 199)))["lease"]
        wait_for(lambda: eng.gen >= a.call("status")["generation"], 3,
                 what="the engine to have the lease")
        t_cut = time.monotonic()
        a.relay.cut()

        def fenced():
            for t, m, p in eng.since(t_cut, "leases.update"):
                if not any(s["host"] == "a" for s in
                           p["fleet"]["slices"]):
                    return t
            return None
        t_fence = wait_for(fenced, TTL + 3, 0.05, "a to fence")
        # the engine's own deadline: the last proof it got, plus valid_ms
        proofs = [t + p["valid_ms"] / 1000.0 for t, m, p in
                  eng.since(0, "fleet.valid")]
        proofs += [t + p["fleet"]["valid_ms"] / 1000.0 for t, m, p in
                   eng.since(0, "leases.update") if t < t_fence]
        deadline = max(proofs)
        st = a.call("status")["fleet"]
        assert st["valid_ms"] == 0 and st["owned"] == 0, st
        assert st["etcd"] == "unreachable", st
        # a's stale map still binds its slices to it, but unproven
        mp = a.call("slice.list")["fleet"]["map"]
        assert sorted((m["ip"], m["lo"]) for m in mp
                      if m["state"] == "fenced") == sorted(ours), mp
        t_claim = wait_for(lambda: any(s in slices_of("b") + slices_of("c")
                                       for s in ours) and time.monotonic(),
                           TTL + HOLD + 8, 0.05, "others to claim a's")
        note("partition: fenced %.1f s after the cut, engine deadline "
             "%.1f s, another host claimed %.1f s after the cut",
             t_fence - t_cut, deadline - t_cut, t_claim - t_cut)
        assert t_fence < t_claim and deadline < t_claim, \
            (t_fence, deadline, t_claim)
        assert t_claim - max(t_fence, deadline) >= HOLD - 1.5
        # the lease inside the lost slice was deleted, not drained
        ids = [l["id"] for l in a.call("lease.list")["leases"]]
        assert ls["id"] not in ids, ids
        ev = a.call("lease.history", {"lease": ls["id"]})["events"]
        assert [e["event"] for e in ev] == ["grant", "fenced"], ev
        a.error("lease.add", lib.nat(ip=ours[0][0], ports="%d-%d" % (
            ours[0][1], ours[0][1] + 9)), "outside_slice")
    finally:
        eng.close()
    # mended: a comes back with a new lease and claims again
    a.relay.mend()
    wait_for(lambda: a.call("status")["fleet"]["etcd"] == "connected",
             TTL + 3, what="a to reach etcd again")


def main():
    global DIR, ETCD, PREFIX
    if not shutil.which("etcd"):
        print("SKIP: etcd not installed (etcd-server)")
        sys.exit(77)
    DIR = tempfile.mkdtemp(prefix="shoal-fleet-")
    PREFIX = "/shoal-test-%d" % os.getpid()
    try:
        ETCD = Etcd(DIR)
        HOSTS["a"] = Host("a", "192.0.2.1", 2)
        HOSTS["b"] = Host("b", "192.0.2.2", 2, clients="10.2.0.0/16")
        HOSTS["c"] = Host("c", "192.0.2.3", "%s:14000-14999, %s:15000-15999"
                          % (POOL, POOL))
        lib.run_tests([test_hosts_claim_their_slices_and_share_one_map,
                       test_engine_gets_the_fleet_object_and_fleet_valid,
                       test_leases_only_inside_owned_slices,
                       test_shoalctl_prints_the_fleet_map,
                       test_a_second_process_as_the_same_host_claims_nothing,
                       test_reload_and_sighup_keep_the_fleet,
                       test_restart_within_ttl_resumes_the_same_slices,
                       test_dead_host_slices_move_after_ttl_and_hold_down,
                       test_partitioned_host_fences_before_others_claim])
    finally:
        for h in HOSTS.values():
            h.kill(signal.SIGTERM)
            h.relay.close()
        if ETCD:
            ETCD.stop()
        shutil.rmtree(DIR, ignore_errors=True)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root")
        sys.exit(77)
    main()
