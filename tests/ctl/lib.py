# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for the shoal-ctld tests: the real daemon binary, a temporary
directory per test (config, socket directory, database), JSON-RPC clients
on the real socket. Processes are stopped by PID; the directory is removed
even on failure (use Env as a context manager)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

SLICE_IP = "198.51.100.10"
SLICE2_IP = "198.51.100.11"


def find_ctld():
    cands = [os.environ.get("SHOAL_CTLD", ""),
             os.path.join(ROOT, "build", "ctl", "ctld", "shoal-ctld"),
             "/tmp/build-ctld/ctl/ctld/shoal-ctld"]
    for c in cands:
        if c and os.access(c, os.X_OK):
            return c
    sys.stderr.write("shoal-ctld not built (set SHOAL_CTLD)\n")
    sys.exit(77)


CONFIG = """\
[inside]
device = net_null0
address = 10.0.0.1/24
exception = none

[outside]
device = net_null1
address = 192.0.2.1/24
gateway = 192.0.2.254
exception = none

[slices]
{ip} = 10000-10999
{ip2} = 20000-20099

[nat]
udp_timeout = {drain}
tcp_established_timeout = {drain}
tcp_transitory_timeout = 1
icmp_timeout = 1
{hold}
[lease.web]
kind = nat
ip = {ip}
ports = 10000-10099
clients = 10.0.0.0/16

[lease.proxy]
kind = socket
ip = {ip}
ports = 10100-10199

[ctl]
socket = {sock}
database = {db}
group = {group}
{extra}"""

# what the test expects the config above to hold
SLICES = [(SLICE_IP, 10000, 10999), (SLICE2_IP, 20000, 20099)]
STATICS = [(SLICE_IP, 10000, 10099), (SLICE_IP, 10100, 10199)]


class Env:
    """A temp dir with a config; start()/kill()/stop() the daemon."""

    def __init__(self, group="root", drain=2, hold=None, extra=""):
        """hold: [nat] port_hold_down (None: the default, 120 s); extra:
        text appended to the config (more sections)."""
        self.dir = tempfile.mkdtemp(prefix="shoal-ctld-")
        self.sockdir = os.path.join(self.dir, "run")
        self.sock = os.path.join(self.sockdir, "ctl.sock")
        self.db = os.path.join(self.dir, "lib", "leases.db")
        self.conf = os.path.join(self.dir, "shoal.conf")
        self.log = os.path.join(self.dir, "ctld.log")
        self.proc = None
        self.write_config(group=group, drain=drain, hold=hold, extra=extra)

    def write_config(self, group="root", drain=2, hold=None, extra=""):
        with open(self.conf, "w") as f:
            f.write(CONFIG.format(
                ip=SLICE_IP, ip2=SLICE2_IP, sock=self.sock, db=self.db,
                group=group, drain=drain, extra=extra,
                hold="" if hold is None else "port_hold_down = %d\n" % hold))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, wait=True):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([find_ctld(), "-c", self.conf],
                                     stdout=logf, stderr=logf)
        logf.close()
        if wait:
            self.wait_ready()
        return self.proc

    def wait_ready(self, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("shoal-ctld exited %d:\n%s" %
                                   (self.proc.returncode, self.logtext()))
            try:
                c = Client(self.sock, timeout=1)
                c.close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("shoal-ctld not ready:\n" + self.logtext())

    def logtext(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def kill(self):
        """kill -9 by PID."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self):
        """SIGTERM by PID; SIGKILL if it does not exit in 5 s."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def client(self, timeout=5):
        return Client(self.sock, timeout=timeout)


class RpcError(Exception):
    def __init__(self, err):
        super().__init__("%s: %s" % (err.get("data"), err.get("message")))
        self.code = err.get("code")
        self.reason = err.get("data")


class Client:
    def __init__(self, path, timeout=5):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""
        self.next_id = 1
        self.pending = []  # messages read while waiting for something else

    def close(self):
        self.s.close()

    def send_raw(self, data):
        self.s.sendall(data)

    def send(self, obj):
        self.send_raw(json.dumps(obj).encode() + b"\n")

    def recv(self, timeout=None):
        """One message; None on EOF."""
        if self.pending:
            return self.pending.pop(0)
        if timeout is not None:
            self.s.settimeout(timeout)
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method, params=None, rid=None):
        if rid is None:
            rid = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return rid

    def wait_reply(self, rid):
        skipped = []
        while True:
            m = self.recv()
            if m is None:
                raise EOFError("connection closed")
            if "method" not in m and m.get("id") == rid:
                self.pending = skipped + self.pending
                return m
            skipped.append(m)

    def call_raw(self, method, params=None):
        return self.wait_reply(self.request(method, params))

    def call(self, method, params=None):
        r = self.call_raw(method, params)
        if "error" in r:
            raise RpcError(r["error"])
        return r["result"]

    def expect_error(self, method, params, reason):
        r = self.call_raw(method, params)
        assert "error" in r, "expected %s, got %r" % (reason, r)
        assert r["error"]["data"] == reason, \
            "expected %s, got %r" % (reason, r["error"])
        return r["error"]

    def is_closed(self, timeout=2):
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def nat(holder="t", **kw):
    p = {"holder": holder, "kind": "nat", "clients": ["10.1.0.0/24"]}
    p.update(kw)
    return p


def sock_lease(holder="t", **kw):
    p = {"holder": holder, "kind": "socket"}
    p.update(kw)
    return p


def check_invariants(leases):
    """No two leases overlap; each lies inside one slice."""
    for l in leases:
        assert any(l["ip"] == ip and lo <= l["lo"] <= l["hi"] <= hi
                   for ip, lo, hi in SLICES), "outside slices: %r" % l
    by_ip = {}
    for l in leases:
        by_ip.setdefault(l["ip"], []).append((l["lo"], l["hi"], l["id"]))
    for ip, rs in by_ip.items():
        rs.sort()
        for a, b in zip(rs, rs[1:]):
            assert a[1] < b[0], "overlap on %s: %r %r" % (ip, a, b)


def run_tests(tests):
    """Run test functions; print one line each; exit 1 on any failure."""
    failed = 0
    for t in tests:
        t0 = time.time()
        try:
            t()
            print("  ok   %-50s %.1fs" % (t.__name__, time.time() - t0))
        except Exception as e:  # noqa: BLE001 - report and go on
            failed += 1
            import traceback
            traceback.print_exc()
            print("  FAIL %-50s %s" % (t.__name__, e))
        sys.stdout.flush()
    sys.exit(1 if failed else 0)
