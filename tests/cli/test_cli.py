# SPDX-License-Identifier: BSD-3-Clause
"""shoalctl against the real shoal-ctld: every command, text and -j.

Starts shoal-ctld on a private config, socket and database (no engine),
then drives the built shoalctl and checks outputs and exit statuses
(BRIEF §3): 0 success, 1 refused or failed (reason on stderr, and with -j
the JSON error document on stdout), 2 usage error.

Binaries: SHOALCTL (default build/ctl/cli/shoalctl) and SHOALCTLD
(default build/ctl/ctld/shoal-ctld), relative to the repository root.
Prints one PASS/FAIL line per case; writes "passed failed skipped" to
the file named by SHOAL_CLI_SUMMARY for run.sh. Exit 77 if not root or
the daemon is absent.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lib"))
import pty_run  # noqa: E402
SKIP = 77
CTL = Path(os.environ.get("SHOALCTL", REPO / "build/ctl/cli/shoalctl"))
CTLD = Path(os.environ.get("SHOALCTLD", REPO / "build/ctl/ctld/shoal-ctld"))

COMMANDS = ["status", "slice list", "lease add", "lease list", "lease show",
            "lease renew", "lease release", "lease history", "flows", "stats",
            "top", "reload", "engine upgrade", "help"]
LEASE_COLUMNS = ("ID HOLDER KIND STATE IP PORTS CLIENTS EXPIRES FLOWS MAP "
                 "FILTER").split()

CONFIG = """\
[engine]
workers = 1

[inside]
device = net_null0
address = 10.0.0.1/24

[outside]
device = net_null1
address = 192.0.2.1/24
gateway = 192.0.2.254

[slices]
198.51.100.10 = 10000-12047
198.51.100.11 = 20000-20999

; short timeouts: a released lease is gone ~1 s later (no engine here)
; and its range held down for 600 s
[nat]
udp_timeout = 1
tcp_established_timeout = 1
icmp_timeout = 1
port_hold_down = 600

[lease.web]
kind = nat
ip = 198.51.100.10
ports = 10000-10999
clients = 10.0.0.0/16

[lease.proxy]
kind = socket
ip = 198.51.100.11
ports = 20000-20099

[ctl]
socket = {dir}/run/ctl.sock
database = {dir}/db/leases.db
group = root
"""


class Fail(AssertionError):
    pass


def check(cond, what, res=None):
    if not cond:
        if res is not None:
            what += (f"\n  argv: {res.args}\n  rc: {res.returncode}"
                     f"\n  stdout: {res.stdout!r}\n  stderr: {res.stderr!r}")
        raise Fail(what)


class Env:
    """The daemon under test and a shoalctl runner bound to its socket."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="shoal-cli-test."))
        (self.dir / "db").mkdir()
        self.conf = self.dir / "shoal.conf"
        self.conf.write_text(CONFIG.format(dir=self.dir))
        self.sock = self.dir / "run" / "ctl.sock"
        self.proc = None
        self.log = None

    def start(self):
        self.log = open(self.dir / "ctld.log", "w+")
        self.proc = subprocess.Popen([str(CTLD), "-c", str(self.conf)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fail(f"shoal-ctld exited {self.proc.returncode}: "
                           f"{self.daemon_log()}")
            if self.sock.exists() and self.ctl("status").returncode == 0:
                return
            time.sleep(0.05)
        raise Fail(f"shoal-ctld did not answer in 10 s: {self.daemon_log()}")

    def daemon_log(self):
        self.log.flush()
        return (self.dir / "ctld.log").read_text()[-2000:]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args, sock=True, env=None):
        argv = [str(CTL)] + (["-s", str(self.sock)] if sock else []) + \
            [str(a) for a in args]
        e = dict(os.environ)
        e.pop("SHOAL_CTL_SOCKET", None)
        e.update(env or {})
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=15, env=e)

    def ok(self, *args):
        res = self.ctl(*args)
        check(res.returncode == 0, f"expected exit 0", res)
        check(res.stderr == "", "expected empty stderr", res)
        return res

    def js(self, *args):
        """-j run that must succeed: exactly one JSON document."""
        res = self.ok("-j", *args)
        try:
            return json.loads(res.stdout)
        except ValueError as e:
            raise Fail(f"-j stdout is not one JSON document ({e}): "
                       f"{res.stdout!r}")

    def refused(self, reason, *args):
        """A refusal: exit 1, 'shoalctl: WORDS: reason: ...' on stderr,
        and with -j the error document on stdout."""
        words = " ".join(a for a in args[:2] if not a[0].isdigit()
                         and not a.startswith("-"))
        res = self.ctl("-j", *args)
        check(res.returncode == 1, f"expected exit 1 ({reason}) with -j", res)
        doc = json.loads(res.stdout)
        check(list(doc) == ["error"], "expected {'error': ...}", res)
        err = doc["error"]
        check(err.get("data") == reason, f"expected error.data {reason}", res)
        check(err.get("code") == -32000 and err.get("message"),
              "expected code -32000 and a message", res)
        # stderr: "shoalctl: WORDS: data: message" (the message left out
        # when it only repeats data), with and without -j.
        want = f"shoalctl: {words}: {reason}"
        if err["message"] != reason:
            want += f": {err['message']}"
        check(res.stderr == want + "\n", f"expected stderr {want!r}", res)
        res = self.ctl(*args)
        check(res.returncode == 1, f"expected exit 1 ({reason})", res)
        check(res.stdout == "", "expected empty stdout", res)
        check(res.stderr == want + "\n", f"expected stderr {want!r}", res)
        return err


def usage_error(env, *args):
    res = env.ctl(*args)
    check(res.returncode == 2, "expected exit 2 (usage)", res)
    check(res.stdout == "", "expected nothing on stdout", res)
    check("usage: " in res.stderr or "shoalctl [-s SOCKET]" in res.stderr,
          "expected a usage line on stderr", res)
    check(res.stderr.startswith("shoalctl: "),
          "expected 'shoalctl: reason' first", res)
    return res


def text_table(out):
    """Header and rows of an aligned text table, split on 2+ spaces."""
    lines = [l for l in out.splitlines() if l.strip()]
    return [re.split(r"\s{2,}", l.strip()) for l in lines]


def record(out):
    """'key: value' lines into a dict."""
    d = {}
    for line in out.splitlines():
        k, _, v = line.partition(":")
        d[k.strip()] = v.strip()
    return d


# ---- cases without a daemon ------------------------------------------------

def test_help_lists_every_command(env):
    out = env.ok("help").stdout
    for c in COMMANDS:
        check(re.search(rf"^\s+shoalctl {c}\b", out, re.M),
              f"help lacks '{c}':\n{out}")
    check("__bash-completion" not in out, "hidden command shown")
    out = env.ok("help", "lease").stdout
    check(all(f"shoalctl {c}" in out for c in COMMANDS if c.startswith("lease"))
          and "slice list" not in out, f"help lease:\n{out}")
    out = env.ok("help", "lease", "add").stdout
    check("--holder NAME (--clients PFX[,PFX] | --socket) [--ip IP] "
          "(--ports LO-HI | --size N) [--ttl SECONDS]" in out,
          f"help lease add:\n{out}")
    doc = env.js("help")
    check([c["command"] for c in doc["commands"]] == COMMANDS,
          f"-j help commands: {doc}")
    usage_error(env, "help", "nosuch")
    check(env.ctl("-h").stdout == env.ctl("help").stdout, "-h is help")


def test_completion_comes_from_the_table(env):
    generated = CTL.parent / "completion" / "shoalctl"
    check(generated.exists(), f"no generated {generated}")
    text = generated.read_text()
    check(text == env.ok("__bash-completion").stdout,
          "completion file differs from the table's output")
    for c in COMMANDS:
        for w in c.split():
            check(re.search(rf"\b{re.escape(w)}\b", text),
                  f"completion lacks '{w}'")
    for opt in ["--holder", "--clients", "--socket", "--ip", "--ports",
                "--size", "--ttl", "--lease", "--client", "--limit",
                "--mapping", "--filtering", "--port", "--since",
                "--before", "--binary"]:
        check(opt in text, f"completion lacks {opt}")

    def complete(*words):
        script = (f"source {generated}\n"
                  f"COMP_WORDS=(shoalctl {' '.join(words)})\n"
                  f"COMP_CWORD=${{#COMP_WORDS[@]}}\n"
                  "COMP_WORDS+=('')\n"
                  "_shoalctl\necho \"${COMPREPLY[*]}\"\n")
        r = subprocess.run(["bash", "-c", script], capture_output=True,
                           text=True, timeout=10)
        check(r.returncode == 0, f"completion script failed: {r.stderr}")
        return r.stdout.split()

    check(complete() == ["-s", "-j", "status", "slice", "lease", "flows",
                         "stats", "top", "reload", "engine", "help"],
          f"top level: {complete()}")
    check(complete("engine") == ["upgrade"], f"engine: {complete('engine')}")
    check(complete("engine", "upgrade") == ["--binary"],
          f"engine upgrade: {complete('engine', 'upgrade')}")
    got = complete("top")
    check(got == ["--interval", "-i", "--count", "-n"], f"top: {got}")
    check(complete("-s", "x", "lease") == ["add", "list", "show", "renew",
                                           "release", "history"],
          f"lease: {complete('-s', 'x', 'lease')}")
    got = complete("lease", "add", "--holder", "web")
    check("--ports" in got and "--mapping" in got and "add" not in got,
          f"lease add: {got}")
    got = complete("lease", "add", "--mapping")
    check(got == ["endpoint-independent", "address-and-port-dependent"],
          f"--mapping values: {got}")
    got = complete("lease", "add", "--filtering")
    check(got == ["endpoint-independent", "address-dependent",
                  "address-and-port-dependent"], f"--filtering values: {got}")


def test_usage_errors_exit_2(env):
    cases = [
        ["nosuch"],
        [],
        ["engine"],
        ["engine", "upgrade", "extra"],
        ["engine", "upgrade", "--binary"],
        ["engine", "upgrade", "--binary", "shoal-engine"],
        ["lease"],
        ["lease", "frob"],
        ["status", "extra"],
        ["slice", "list", "extra"],
        ["lease", "add", "--socket", "--size", "10"],            # no --holder
        ["lease", "add", "--holder", "a", "--size", "10"],      # no kind
        ["lease", "add", "--holder", "a", "--socket", "--clients",
         "10.0.0.0/8", "--size", "10"],                         # both kinds
        ["lease", "add", "--holder", "a", "--socket", "--ports", "1-2",
         "--size", "2"],                                        # both ranges
        ["lease", "add", "--holder", "a", "--socket"],          # no range
        ["lease", "add", "--holder", "a", "--clients", "10.0.0/8",
         "--size", "1"],                                        # bad prefix
        ["lease", "add", "--holder", "a", "--clients", "10.0.0.0/33",
         "--size", "1"],
        ["lease", "add", "--holder", "a", "--clients", "10.0.0.0/8,",
         "--size", "1"],
        ["lease", "add", "--holder", "a", "--socket", "--ports", "2-1"],
        ["lease", "history", "--since", "yesterday"],
        ["lease", "history", "--since", "-5y"],
        ["lease", "history", "--since", "2026-13-01"],
        ["lease", "history", "--since", "2026-11-26T10"],
        ["lease", "history", "--limit", "101"],
        ["lease", "history", "--port", "0"],
        ["lease", "history", "--ip", "198.51.100"],
        ["lease", "add", "--holder", "a", "--socket", "--ports", "0-10"],
        ["lease", "add", "--holder", "a", "--socket", "--ports", "10-70000"],
        ["lease", "add", "--holder", "a", "--socket", "--ports", "010-20"],
        ["lease", "add", "--holder", "a", "--socket", "--ports", "10-"],
        ["lease", "add", "--holder", "a", "--socket", "--ttl", "010",
         "--size", "5"],                  # the config's grammar: no zero-pad
        ["lease", "add", "--holder", "a", "--socket", "--size", "x"],
        ["lease", "add", "--holder", "a", "--socket", "--size", "-5"],
        ["lease", "add", "--holder", "a", "--clients", "10.0.0.0/8",
         "--size", "1", "--mapping", "eim"],
        ["lease", "add", "--holder", "a", "--clients", "10.0.0.0/8",
         "--size", "1", "--filtering", "endpoint"],
        ["lease", "add", "--holder", "a", "--clients", "10.0.0.0/8",
         "--size", "1", "--mapping", ""],
        ["lease", "add", "--holder", "a", "--socket", "--size", "1",
         "--mapping", "endpoint-independent"],
        ["lease", "add", "--holder", "a", "--socket", "--size", "1",
         "--filtering", "address-dependent"],
        ["lease", "add", "--holder", "a", "--socket", "--size", "5",
         "--ttl", "1h"],
        ["lease", "add", "--holder", "a", "--socket", "--size", "5",
         "--ip", "198.51.100"],
        ["lease", "add", "--holder", "x" * 64, "--socket", "--size", "5"],
        ["lease", "add", "--holder", "a", "--socket", "--size", "5",
         "extra"],
        ["lease", "add", "--holder"],                           # no value
        ["lease", "add", "--hold", "a", "--socket", "--size", "5"],  # abbrev
        ["lease", "show"],
        ["lease", "show", "abc"],
        ["lease", "show", "0"],
        ["lease", "show", "1", "2"],
        ["lease", "show", "+1"],
        ["lease", "renew", "1", "--ttl", "0"],
        ["lease", "release", "1x"],
        ["flows", "--limit", "0"],
        ["flows", "--client", "10.0.0"],
        ["flows", "--lease", "x"],
        ["stats", "--verbose"],
        ["top", "-i", "0"],
        ["top", "--interval", "3601"],
        ["top", "--interval", "1.5"],
        ["top", "-n", "0"],
        ["top", "--count", "x"],
        ["top", "--count"],
        ["top", "extra"],
        ["top", "-n", "1", "-n", "2"],
        ["-x", "status"],
        ["-s"],
        ["lease", "list", "-j"],          # global options go first
    ]
    for argv in cases:
        usage_error(env, *argv)
    # -j changes nothing for usage errors: stdout stays empty.
    usage_error(env, "-j", "lease", "show", "abc")
    res = env.ctl("lease", "add", "--socket", "--size", "10")
    check("--holder" in res.stderr, "names the missing option", res)


def test_unreachable_daemon_exits_1(env):
    missing = env.dir / "nosuch.sock"
    res = env.ctl("-s", missing, "status", sock=False)
    check(res.returncode == 1, "expected exit 1", res)
    check(res.stderr.strip() ==
          f"shoalctl: cannot connect to {missing}: No such file or directory",
          "expected 'cannot connect to SOCKET: reason'", res)
    res = env.ctl("-j", "-s", missing, "lease", "list", sock=False)
    check(res.returncode == 1, "expected exit 1 with -j", res)
    doc = json.loads(res.stdout)
    check("cannot connect" in doc["error"]["message"], "JSON error", res)
    res = env.ctl("status", sock=False,
                  env={"SHOAL_CTL_SOCKET": str(missing)})
    check(f"cannot connect to {missing}:" in res.stderr,
          "SHOAL_CTL_SOCKET is the default socket", res)


# ---- cases against the daemon ---------------------------------------------

def test_top_unreachable_daemon_exits_1(env):
    res = env.ctl("-s", env.dir / "none.sock", "top", "-n", "1", sock=False)
    check(res.returncode == 1 and res.stdout == ""
          and res.stderr.startswith("shoalctl: top: cannot reach"),
          "top without a daemon: exit 1, reason on stderr", res)
    res = env.ctl("-j", "-s", env.dir / "none.sock", "top", sock=False)
    lines = res.stdout.splitlines()
    check(res.returncode == 1 and len(lines) == 1, "-j top: one line", res)
    doc = json.loads(lines[0])
    check(doc["error"]["data"] == "connect" and isinstance(doc["time"], int),
          f"-j top error frame: {doc}")


def test_status_text_and_json(env):
    doc = env.js("status")
    check(doc["pid"] == env.proc.pid, f"pid {doc}")
    for k in ["version", "generation", "slices", "leases", "engine"]:
        check(k in doc, f"status lacks {k}: {doc}")
    check(doc["engine"]["connected"] is False, f"no engine: {doc}")
    rec = record(env.ok("status").stdout)
    check(rec.get("pid") == str(env.proc.pid), f"text pid: {rec}")
    check(rec.get("engine connected") == "no", f"text engine: {rec}")
    check(rec.get("leases active") == str(doc["leases"]["active"]),
          f"text leases: {rec}")
    # SHOAL_CTL_SOCKET works, and -s wins over it.
    res = env.ctl("status", sock=False,
                  env={"SHOAL_CTL_SOCKET": str(env.sock)})
    check(res.returncode == 0, "status via SHOAL_CTL_SOCKET", res)
    res = env.ctl("status", env={"SHOAL_CTL_SOCKET": "/nonexistent"})
    check(res.returncode == 0, "-s wins over SHOAL_CTL_SOCKET", res)


def test_slice_list_text_and_json(env):
    doc = env.js("slice", "list")
    ips = [(s["ip"], s["lo"], s["hi"]) for s in doc["slices"]]
    check(ips == [("198.51.100.10", 10000, 12047),
                  ("198.51.100.11", 20000, 20999)], f"slices: {doc}")
    rows = text_table(env.ok("slice", "list").stdout)
    check(rows[0] == ["IP", "PORTS", "LEASED", "HELD", "FREE"],
          f"header {rows}")
    by_ip = {s["ip"]: s for s in doc["slices"]}
    for r in rows[1:]:
        s = by_ip[r[0]]
        check(r[1:] == [f"{s['lo']}-{s['hi']}", str(s["leased"]),
                        str(s["held"]), str(s["free"])], f"row {r} vs {s}")
    check(len(rows) == 3, f"rows {rows}")


def test_lease_list_shows_static_leases(env):
    doc = env.js("lease", "list")
    st = {l["id"]: l for l in doc["leases"] if l["static"]}
    check(sorted(st) == [1, 2], f"static ids: {doc}")
    check(st[1]["holder"] == "web" and st[1]["clients"] == ["10.0.0.0/16"]
          and st[1]["kind"] == "nat" and st[1]["lo"] == 10000
          and st[1]["hi"] == 10999, f"lease 1: {st[1]}")
    check(st[2]["kind"] == "socket", f"lease 2: {st[2]}")
    rows = text_table(env.ok("lease", "list").stdout)
    check(rows[0] == LEASE_COLUMNS, f"header {rows[0]}")
    one = next(r for r in rows[1:] if r[0] == "1")
    check(one == ["1", "web", "nat", "active", "198.51.100.10",
                  "10000-10999", "10.0.0.0/16", "never", one[8], "EI", "AD"],
          f"row 1: {one}")
    two = next(r for r in rows[1:] if r[0] == "2")
    check(two[-2:] == ["-", "-"], f"row 2 (socket): {two}")
    check(st[1]["mapping"] == "endpoint-independent"
          and st[1]["filtering"] == "address-dependent"
          and st[2]["mapping"] is None and st[2]["filtering"] is None,
          f"behaviours: {st}")


def test_lease_add_mapping_and_filtering_round_trip(env):
    out = env.ok("lease", "add", "--holder", "strict", "--clients",
                 "10.7.0.0/24", "--size", "4", "--mapping",
                 "address-and-port-dependent", "--filtering",
                 "endpoint-independent").stdout
    rec = record(out)
    check(rec["MAPPING"] == "address-and-port-dependent"
          and rec["FILTERING"] == "endpoint-independent", f"record: {out}")
    lid = rec["ID"]
    shown = env.js("lease", "show", lid)["lease"]
    check(shown["mapping"] == "address-and-port-dependent"
          and shown["filtering"] == "endpoint-independent", f"show {shown}")
    row = next(r for r in text_table(env.ok("lease", "list").stdout)
               if r[0] == lid)
    check(row[-2:] == ["APD", "EI"], f"list row {row}")
    doc = env.js("lease", "add", "--holder", "apdf", "--clients",
                 "10.8.0.0/24", "--size", "1", "--filtering",
                 "address-and-port-dependent")["lease"]
    check(doc["mapping"] == "endpoint-independent"
          and doc["filtering"] == "address-and-port-dependent", f"{doc}")
    rec = record(env.ok("lease", "show", doc["id"]).stdout)
    check(rec["MAPPING"] == "endpoint-independent"
          and rec["FILTERING"] == "address-and-port-dependent", f"{rec}")
    env.ok("lease", "release", lid)
    env.ok("lease", "release", doc["id"])


def test_released_range_is_held_down(env):
    doc = env.js("lease", "add", "--holder", "alice", "--socket", "--ip",
                 "198.51.100.11", "--ports", "20900-20909")["lease"]
    env.ok("lease", "release", doc["id"])
    end = time.time() + 15
    while any(l["id"] == doc["id"]
              for l in env.js("lease", "list")["leases"]):
        check(time.time() < end, "released lease not gone in 15 s")
        time.sleep(0.2)
    res = env.ctl("lease", "add", "--holder", "bob", "--socket", "--ip",
                  "198.51.100.11", "--ports", "20905-20905")
    check(res.returncode == 1 and "held_down" in res.stderr
          and "left by alice" in res.stderr, "held_down for bob", res)
    s = [x for x in env.js("slice", "list")["slices"]
         if x["ip"] == "198.51.100.11"][0]
    check(s["held"] == 10 and s["holds"][0]["holder"] == "alice",
          f"slice.list: {s}")
    out = env.ok("slice", "list").stdout
    check(re.search(r"held: 198\.51\.100\.11 20900-20909 left by alice, "
                    r"\d+s more", out), f"slice list text: {out}")
    row = [r for r in text_table(out) if r[0] == "198.51.100.11"][0]
    check(row[3] == "10", f"HELD column: {row}")
    # the same holder takes it back at once
    again = env.js("lease", "add", "--holder", "alice", "--socket", "--ip",
                   "198.51.100.11", "--ports", "20900-20909")["lease"]
    env.ok("lease", "release", again["id"])


def test_lease_add_by_ports_round_trip(env):
    out = env.ok("lease", "add", "--holder", "batch", "--clients",
                 "10.1.0.0/24,10.2.0.0/24", "--ip", "198.51.100.10",
                 "--ports", "11000-11099").stdout
    rec = record(out)
    lid = rec.get("ID")
    check(lid is not None and int(lid) >= 1000, f"dynamic id: {out}")
    check(rec["HOLDER"] == "batch" and rec["KIND"] == "nat"
          and rec["PORTS"] == "11000-11099"
          and rec["CLIENTS"] == "10.1.0.0/24,10.2.0.0/24"
          and rec["STATE"] == "active" and rec["EXPIRES"] == "never"
          and rec["STATIC"] == "no", f"record: {out}")
    shown = env.js("lease", "show", lid)["lease"]
    check(shown["holder"] == "batch" and shown["lo"] == 11000
          and shown["hi"] == 11099 and shown["ttl"] is None
          and shown["expires"] is None, f"show: {shown}")
    check(record(env.ok("lease", "show", lid).stdout)["ID"] == lid,
          "text show")
    rows = text_table(env.ok("lease", "list").stdout)
    check(any(r[0] == lid and r[1] == "batch" for r in rows), f"list {rows}")
    slices = env.js("slice", "list")["slices"]
    check(slices[0]["leased"] >= 1000 + 100, f"slice use: {slices}")
    rel = env.js("lease", "release", lid)["lease"]
    check(rel["state"] == "draining" and rel["id"] == int(lid),
          f"release: {rel}")


def test_lease_add_by_size_with_ttl_and_renew(env):
    before = int(time.time())
    doc = env.js("lease", "add", "--holder", "sized", "--clients",
                 "10.3.0.0/16", "--size", "64", "--ttl", "600")["lease"]
    check(doc["hi"] - doc["lo"] + 1 == 64, f"size: {doc}")
    check(doc["ttl"] == 600 and before + 590 <= doc["expires"]
          <= int(time.time()) + 610, f"ttl: {doc}")
    lid = doc["id"]
    renewed = env.js("lease", "renew", lid, "--ttl", "3600")["lease"]
    check(renewed["ttl"] == 3600 and renewed["expires"] >= before + 3590,
          f"renew --ttl: {renewed}")
    rec = record(env.ok("lease", "renew", lid).stdout)
    check(rec["TTL"] == "1h00m" and rec["EXPIRES"].startswith("in "),
          f"renew keeps the ttl: {rec}")
    rows = text_table(env.ok("lease", "list").stdout)
    row = next(r for r in rows if r[0] == str(lid))
    check(re.fullmatch(r"in (59m\d\ds|1h00m)", row[7]), f"EXPIRES {row}")
    out = env.ok("lease", "release", lid).stdout
    check(record(out)["STATE"] == "draining", f"release text: {out}")
    env.refused("draining", "lease", "renew", str(lid))


def test_socket_lease_has_no_clients(env):
    doc = env.js("lease", "add", "--holder", "proxy2", "--socket",
                 "--ip", "198.51.100.11", "--size", "10")["lease"]
    check(doc["kind"] == "socket" and doc["clients"] == []
          and doc["ip"] == "198.51.100.11", f"socket lease: {doc}")
    rec = record(env.ok("lease", "show", doc["id"]).stdout)
    check(rec["KIND"] == "socket" and rec["CLIENTS"] == "-", f"show {rec}")
    env.ok("lease", "release", doc["id"])


def test_refusals_exit_1_with_reason(env):
    err = env.refused("overlap", "lease", "add", "--holder", "clash",
                      "--clients", "10.9.0.0/24", "--ip", "198.51.100.10",
                      "--ports", "10500-10600")
    # BRIEF: "ports 10000-10999 overlap lease 3 (web)": say which lease.
    check("lease 1" in err["message"] or "web" in err["message"],
          f"the overlap message names the lease held: {err}")
    env.refused("outside_slice", "lease", "add", "--holder", "far",
                "--socket", "--ip", "198.51.100.10", "--ports",
                "30000-30010")
    env.refused("outside_slice", "lease", "add", "--holder", "far",
                "--socket", "--ip", "203.0.113.1", "--size", "1")
    env.refused("no_space", "lease", "add", "--holder", "huge",
                "--socket", "--size", "60000")
    env.refused("not_found", "lease", "show", "4242")
    env.refused("not_found", "lease", "renew", "4242")
    env.refused("not_found", "lease", "release", "4242")
    env.refused("static_lease", "lease", "release", "1")
    env.refused("static_lease", "lease", "renew", "2")


def test_lease_history_text_and_json(env):
    """Every change of a lease is in its history, oldest first, with the
    uid and pid of the shoalctl that made it; filters and --since forms."""
    t0 = int(time.time())
    # ids are reused: this lease's events are those after the latest now
    base = ([0] + [e["seq"] for e in
                   env.js("lease", "history", "--limit", "1")["events"]])[-1]
    doc = env.js("lease", "add", "--holder", "hist ory", "--socket",
                 "--ip", "198.51.100.11", "--size", "5", "--ttl", "600")
    lid, lo = doc["lease"]["id"], doc["lease"]["lo"]
    env.ok("lease", "renew", lid, "--ttl", "900")
    env.ok("lease", "release", lid)
    h = env.js("lease", "history", "--lease", lid)
    ev = [e for e in h["events"] if e["seq"] > base]
    check([e["event"] for e in ev] == ["grant", "renew", "release"]
          and h["truncated"] is False, f"history: {h}")
    check(all(e["uid"] == 0 and e["pid"] > 0 and e["lease"] == lid
              and e["holder"] == "hist ory" and e["lo"] == lo
              and t0 <= e["time"] <= time.time() for e in ev),
          f"history rows: {ev}")
    check(ev[1]["ttl"] == 900 and ev[0]["seq"] < ev[1]["seq"] < ev[2]["seq"],
          f"renew row: {ev}")
    # three shoalctl processes, three pids
    check(len({e["pid"] for e in ev}) == 3, f"pids: {ev}")
    for args in (["--ip", "198.51.100.11", "--port", lo],
                 ["--since", "-1h"], ["--since", t0],
                 ["--since", time.strftime("%Y-%m-%dT%H:%M:%S",
                                           time.localtime(t0))],
                 ["--since", time.strftime("%Y-%m-%d %H:%M:%SZ",
                                           time.gmtime(t0))]):
        got = env.js("lease", "history", *args)["events"]
        check([e["seq"] for e in got if e["seq"] > base] ==
              [e["seq"] for e in ev], f"history {args}: {got}")
    check(env.js("lease", "history", "--port", lo, "--ip",
                 "198.51.100.10")["events"] == [], "--ip filters")
    check(env.js("lease", "history", "--lease", lid, "--since",
                 t0 + 3600)["events"] == [], "--since filters")
    last = env.js("lease", "history", "--lease", lid, "--limit", "1")
    check([e["event"] for e in last["events"]] == ["release"]
          and last["truncated"] is True, f"--limit 1: {last}")
    older = env.js("lease", "history", "--lease", lid, "--before",
                   last["events"][0]["seq"], "--limit", "2")
    check([e["event"] for e in older["events"]] == ["grant", "renew"],
          f"--before: {older}")
    out = env.ok("lease", "history", "--lease", lid, "--limit", "1").stdout
    rows = text_table(out)
    check(rows[0][:6] == ["SEQ", "TIME", "EVENT", "LEASE", "HOLDER", "KIND"]
          and rows[1][2] == "release" and rows[1][4] == "hist ory"
          and "--before %d" % last["events"][0]["seq"] in out,
          f"text history:\n{out}")


def test_flows_and_stats_without_engine(env):
    env.refused("no_engine", "flows")
    env.refused("no_engine", "flows", "--lease", "1", "--client",
                "10.0.0.5", "--limit", "10")
    res = env.ctl("stats")
    if res.returncode == 1:
        env.refused("no_engine", "stats")
    else:
        check(res.returncode == 0, "stats: exit 0 or no_engine", res)
        doc = env.js("stats")
        check(isinstance(doc.get("counters"), dict), f"stats: {doc}")
        env.ok("stats", "--all")
        env.ok("stats", "-v")


class FakeEngine:
    """The engine's side of the socket (proto.h), enough for flows and
    stats: subscribe, report every 0.3 s (COUNTERS, or the counters and
    per_worker given), answer engine.flows."""

    COUNTERS = {"rx_inside": 10, "no_lease": 5, "tx_full": 0,
                "unsolicited": 2, "in2out": 0, "ip_malformed": 1}
    FLOWS = [
        {"proto": "tcp", "client": "10.0.0.5:40000",
         "outside": "198.51.100.10:10007", "remote": "203.0.113.9:443",
         "lease": 1, "idle": 3, "tcp": "established"},
        {"proto": "udp", "client": "10.0.0.6:5353",
         "outside": "198.51.100.10:10008", "remote": "203.0.113.53:53",
         "lease": 1, "idle": 75, "tcp": None},
    ]

    def __init__(self, path, counters=None, per_worker=None, extra=None,
                 upgrade=None):
        """upgrade: the answer to engine.upgrade, {"result": ...} or
        {"error": ...}."""
        self.counters = self.COUNTERS if counters is None else counters
        self.upgrade = upgrade
        self.upgrade_delay = 0  # seconds before that answer
        self.upgrade_params = []
        self.per_worker = per_worker
        self.extra = extra or {}
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.flow_params = []
        self.send({"jsonrpc": "2.0", "id": 1, "method": "engine.subscribe",
                   "params": {"version": 1}})
        reply = json.loads(self.file.readline())
        check("result" in reply, f"engine.subscribe: {reply}")
        self.gen = reply["result"]["generation"]
        self.report()
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()
        self.ticker = threading.Thread(target=self.tick, daemon=True)
        self.ticker.start()

    def send(self, msg):
        with self.lock:
            self.sock.sendall(json.dumps(msg).encode() + b"\n")

    def report(self):
        params = {"generation": self.gen, "workers": 1,
                  "counters": self.counters,
                  "leases": [{"id": 1, "flows": 2}]}
        if self.per_worker is not None:
            params["workers"] = len(self.per_worker)
            params["per_worker"] = self.per_worker
        params.update(self.extra)
        self.send({"jsonrpc": "2.0", "method": "engine.report",
                   "params": params})

    def tick(self):
        while not self.stop.wait(0.3):
            try:
                self.report()
            except OSError:
                return

    def read(self):
        for line in self.file:
            msg = json.loads(line)
            if msg.get("method") == "leases.update":
                self.gen = msg["params"]["generation"]
            elif msg.get("method") == "engine.flows":
                self.flow_params.append(msg["params"])
                self.send({"jsonrpc": "2.0", "id": msg["id"],
                           "result": {"flows": self.FLOWS,
                                      "truncated": True}})
            elif msg.get("method") == "engine.upgrade":
                self.upgrade_params.append(msg["params"])
                threading.Timer(self.upgrade_delay, self.send, [dict(
                    self.upgrade, jsonrpc="2.0", id=msg["id"])]).start()

    def close(self):
        self.stop.set()
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


UPGRADED = {"old_pid": 1234, "new_pid": 1301,
            "binary": "/usr/sbin/shoal-engine", "eal_ms": 900.2,
            "stop_ms": 1.2, "release_ms": 3.0, "adopt_ms": 5.5,
            "ports_ms": 30.1, "gap_ms": 42.1, "flows": 12345,
            "discarded": 0}


def wait_engine(env):
    deadline = time.monotonic() + 5
    while env.js("status")["engine"]["connected"] is not True:
        check(time.monotonic() < deadline, "engine never connected")
        time.sleep(0.05)


def test_engine_upgrade_text_and_json(env):
    env.refused("no_engine", "engine", "upgrade")
    usage_error(env, "engine", "upgrade", "--binary", "build/shoal-engine")
    eng = FakeEngine(env.sock, upgrade={"result": UPGRADED})
    try:
        wait_engine(env)
        rec = record(env.ok("status").stdout)
        check(rec.get("engine pid") == str(os.getpid()),
              f"status engine pid: {rec}")
        out = env.ok("engine", "upgrade", "--binary",
                     "/usr/sbin/shoal-engine").stdout
        check(out == "upgraded: engine pid 1234 -> 1301 "
              "(/usr/sbin/shoal-engine)\n"
              "forwarding gap 42.1 ms (stop 1.2, release 3.0, adopt 5.5, "
              "ports 30.1; EAL 900.2 before the switch); 12345 flows "
              "adopted, 0 discarded\n", f"text: {out!r}")
        check(eng.upgrade_params[-1] == {"binary": "/usr/sbin/shoal-engine"},
              f"params reach the engine: {eng.upgrade_params}")
        check(env.js("engine", "upgrade") == UPGRADED, "-j: the result")
        check(eng.upgrade_params[-1] == {}, "no --binary: no binary")
        eng.upgrade = {"result": dict(UPGRADED, gap_ms=-1)}
        out = env.ok("engine", "upgrade").stdout
        check("gap not measured yet (no packet forwarded) (stop 1.2"
              in out, f"unmeasured gap: {out!r}")
        eng.upgrade = {"error": {"code": -32000, "data": "upgrade_failed",
                                 "message": "new engine: EAL init failed"}}
        res = env.ctl("engine", "upgrade")
        check(res.returncode == 1 and res.stderr ==
              "shoalctl: engine upgrade: upgrade_failed: new engine: EAL "
              "init failed\n" and res.stdout == "", "failure", res)
        env.refused("upgrade_failed", "engine", "upgrade")
        # an upgrade takes longer than the 5 s other commands wait
        eng.upgrade, eng.upgrade_delay = {"result": UPGRADED}, 6
        t0 = time.monotonic()
        check(env.js("engine", "upgrade") == UPGRADED, "a 6 s upgrade")
        check(time.monotonic() - t0 >= 6, "answered before the delay")
    finally:
        eng.close()


def test_flows_and_stats_with_engine(env):
    eng = FakeEngine(env.sock)
    try:
        deadline = time.monotonic() + 5
        while env.js("status")["engine"]["connected"] is not True:
            check(time.monotonic() < deadline, "engine never connected")
            time.sleep(0.1)
        doc = env.js("flows", "--lease", "1", "--client", "10.0.0.5",
                     "--limit", "50")
        check(doc == {"flows": FakeEngine.FLOWS, "truncated": True},
              f"-j flows: {doc}")
        check(eng.flow_params[-1].get("lease") == 1
              and eng.flow_params[-1].get("client") == "10.0.0.5"
              and eng.flow_params[-1].get("limit") == 50,
              f"params reach the engine: {eng.flow_params}")
        rows = text_table(env.ok("flows").stdout)
        check(rows[0][:6] == ["PROTO", "CLIENT", "OUTSIDE", "REMOTE",
                              "LEASE", "IDLE"], f"flows header: {rows}")
        check(rows[1][:6] == ["tcp", "10.0.0.5:40000", "198.51.100.10:10007",
                              "203.0.113.9:443", "1", "3s"]
              and rows[2][5] == "1m15s", f"flows rows: {rows}")
        check("more flows" in rows[-1][0], f"truncation note: {rows}")

        doc = env.js("stats")
        check(doc["counters"] == FakeEngine.COUNTERS and doc["workers"] == 1
              and isinstance(doc["report_age"], int), f"-j stats: {doc}")
        # an engine without per_worker: none, and no worker table
        check(doc["per_worker"] == [] and doc["flows"] is None,
              f"-j stats without per_worker: {doc}")
        out = env.ok("stats").stdout
        check("WORKER" not in out and "flows: -" in out.splitlines(),
              f"stats without per_worker:\n{out}")
        rows = text_table(out)
        table = rows[rows.index(["KIND", "COUNTER", "VALUE"]) + 1:]
        # Drops first in counters.h order, then events; zeros hidden.
        check(table == [["drop", "ip_malformed", "1"],
                        ["drop", "no_lease", "5"],
                        ["drop", "unsolicited", "2"],
                        ["event", "rx_inside", "10"]], f"stats:\n{out}")
        for flag in ("--all", "-v"):
            rows = text_table(env.ok("stats", flag).stdout)
            names = [r[1] for r in rows if len(r) == 3][1:]
            check(names == ["ip_malformed", "no_lease", "unsolicited",
                            "tx_full", "rx_inside", "in2out"],
                  f"stats {flag}: {names}")
        rec = record(env.ok("status").stdout)
        check(rec["engine connected"] == "yes", f"status: {rec}")
        rows = text_table(env.ok("lease", "list").stdout)
        check(next(r for r in rows if r[0] == "1")[8] == "2",
              f"FLOWS column from the report: {rows}")
    finally:
        eng.close()


def test_stats_per_worker_text_and_json(env):
    per = [{"worker": 0, "lcore": 1, "flows": 1234,
            "counters": {"rx_inside": 900, "rx_outside": 100,
                         "tx_outside": 850, "handoff_tx": 40,
                         "handoff_rx": 12, "no_lease": 3,
                         "ip_malformed": 1, "tx_full": 0}},
           {"worker": 1, "lcore": 3, "flows": 766,
            "counters": {"rx_outside": 700, "tx_inside": 690,
                         "handoff_tx": 12, "handoff_rx": 40,
                         "unsolicited": 7, "tx_full": 0}}]
    summed = {}
    for w in per:
        for k, v in w["counters"].items():
            summed[k] = summed.get(k, 0) + v
    eng = FakeEngine(env.sock, counters=summed, per_worker=per)
    try:
        deadline = time.monotonic() + 5
        while env.js("stats")["per_worker"] != per:
            check(time.monotonic() < deadline, "per_worker never reported")
            time.sleep(0.1)
        # -j: the daemon's result as it is, one document
        doc = env.js("stats")
        check(doc == {"counters": summed, "workers": 2, "flows": 2000,
                      "per_worker": per,
                      "report_age": doc["report_age"],
                      "report_mono_ms": doc["report_mono_ms"],
                      "lease_usage": [{"id": 1, "flows": 2, "tcp_ports": 0,
                                       "udp_ports": 0, "exhausted": 0}],
                      "lease_usage_partial": False,
                      "top_clients": [], "netlink": None},
              f"-j stats: {doc}")
        check(env.js("stats", "--all") == doc, "-j stats --all is the same")

        out = env.ok("stats").stdout
        check("flows: 2000" in out.splitlines(), f"flows line:\n{out}")
        rows = text_table(out)
        head = ["WORKER", "LCORE", "FLOWS", "RX", "TX", "HANDOFF_TX",
                "HANDOFF_RX", "DROPS"]
        check(head in rows and rows.index(["KIND", "COUNTER", "VALUE"]) <
              rows.index(head), f"worker table after the counters:\n{out}")
        i = rows.index(head)
        # RX and TX add the inside and outside ports; DROPS every drop
        check(rows[i + 1:] == [["0", "1", "1234", "1000", "850", "40", "12",
                                "4"],
                               ["1", "3", "766", "700", "690", "12", "40",
                                "7"]], f"worker rows:\n{out}")

        out = env.ok("stats", "--all").stdout
        rows = text_table(out)
        check(rows[rows.index(["KIND", "COUNTER", "VALUE"]) + 1:
                   rows.index(head)] != [] and head in rows,
              f"stats --all keeps both tables:\n{out}")
        i = rows.index(["KIND", "COUNTER", "W0", "W1"])
        matrix = rows[i + 1:]
        # drops first in counters.h order, then events; a counter zero on
        # every worker (tx_full) is left out; a missing one shows as 0.
        # (Where handoff_* rank depends on counters.h, the engine's list.)
        names = [r[1] for r in matrix]
        check([n for n in names if not n.startswith("handoff_")] ==
              ["ip_malformed", "no_lease", "unsolicited", "rx_inside",
               "rx_outside", "tx_inside", "tx_outside"]
              and sorted(n for n in names if n.startswith("handoff_")) ==
              ["handoff_rx", "handoff_tx"], f"--all rows:\n{out}")
        values = {r[1]: r[2:] for r in matrix}
        check(values["no_lease"] == ["3", "0"]
              and values["unsolicited"] == ["0", "7"]
              and values["handoff_tx"] == ["40", "12"]
              and values["tx_inside"] == ["0", "690"], f"--all:\n{out}")
    finally:
        eng.close()


class BusyEngine(FakeEngine):
    """A FakeEngine whose two workers count STEP more packets each report
    (every 0.3 s: 1000 per second per counter), with lease 1 holding
    ports and one busy client."""

    STEP = 300
    USAGE = [{"id": 1, "flows": 2, "tcp_ports": 100, "udp_ports": 250}]
    CLIENTS = [{"client": "10.0.0.5", "flows": 2,
                "outside": "198.51.100.10"}]

    def __init__(self, path):
        self.per = [{"worker": i, "lcore": 1 + i, "flows": 1,
                     "counters": {"rx_inside": 0, "tx_outside": 0,
                                  "no_lease": 0}} for i in range(2)]
        super().__init__(path, counters={}, per_worker=self.per,
                         extra={"leases": self.USAGE,
                                "clients": self.CLIENTS})

    def report(self):
        summed = {}
        for w in self.per:
            for k in w["counters"]:
                w["counters"][k] += self.STEP
                summed[k] = summed.get(k, 0) + w["counters"][k]
        self.counters = summed
        super().report()


def near(value, want, within=0.25):
    return isinstance(value, (int, float)) and \
        abs(value - want) <= want * within


FRAME_KEYS = {"time", "interval", "report_age", "workers", "flows", "total",
              "per_worker", "drops", "leases", "clients"}


def busy_daemon(env):
    eng = BusyEngine(env.sock)
    deadline = time.monotonic() + 5
    while env.js("stats").get("top_clients") != BusyEngine.CLIENTS:
        check(time.monotonic() < deadline, "the busy engine never reported")
        time.sleep(0.1)
    return eng


def test_stats_serves_lease_usage_and_top_clients(env):
    eng = busy_daemon(env)
    try:
        doc = env.js("stats")
        check([dict(u, exhausted=0) for u in BusyEngine.USAGE] ==
              doc["lease_usage"]
              and doc["lease_usage_partial"] is False
              and doc["top_clients"] == BusyEngine.CLIENTS
              and isinstance(doc["report_mono_ms"], int), f"stats: {doc}")
    finally:
        eng.close()


def test_top_json_one_frame_per_refresh(env):
    shared = env.js("lease", "add", "--holder", "shared", "--clients",
                    "10.9.0.0/24", "--size", "10", "--mapping",
                    "address-and-port-dependent", "--filtering",
                    "address-and-port-dependent")["lease"]["id"]
    eng = busy_daemon(env)
    try:
        t0 = time.monotonic()
        res = env.ok("-j", "top", "-n", "2")
        took = time.monotonic() - t0
        frames = [json.loads(l) for l in res.stdout.splitlines()]
        check(len(frames) == 2 and 1.8 <= took < 4,
              f"-n 2: two frames a second apart ({took:.1f} s)", res)
        for f in frames:
            check(set(f) == FRAME_KEYS, f"frame keys: {sorted(f)}")
            # 300 per 0.3 s on each of two workers
            t = f["total"]
            check(near(t["rx_inside"], 2000) and near(t["tx_outside"], 2000)
                  and near(t["drops"], 2000) and t["rx_outside"] == 0
                  and 0.5 < f["interval"] < 1.5, f"total rates: {f}")
            check([w["worker"] for w in f["per_worker"]] == [0, 1]
                  and all(near(w["rx_inside"], 1000)
                          and w["lcore"] == 1 + w["worker"]
                          and w["flows"] == 1 for w in f["per_worker"]),
                  f"per worker: {f['per_worker']}")
            check(len(f["drops"]) == 1
                  and f["drops"][0]["reason"] == "no_lease"
                  and near(f["drops"][0]["rate"], 2000)
                  and f["drops"][0]["total"] > 0, f"drops: {f['drops']}")
            leases = {l["id"]: l for l in f["leases"]}
            check(set(leases) == {1, shared}, f"nat leases only: {leases}")
            check(leases[1]["fill"] == 0.25 and leases[1]["size"] == 1000
                  and leases[1]["tcp_ports"] == 100
                  and leases[1]["udp_ports"] == 250
                  and leases[1]["flows"] == 2
                  and f["leases"][0]["id"] == 1, f"lease 1: {leases}")
            check(leases[shared]["fill"] is None
                  and leases[shared]["flows"] == 0,
                  f"a shared-port lease has no fill: {leases}")
            check(f["clients"] == BusyEngine.CLIENTS, f"clients: {f}")
        check(frames[1]["drops"][0]["total"] >
              frames[0]["drops"][0]["total"], "totals move")
    finally:
        eng.close()
        env.ok("lease", "release", shared)


def test_top_text_when_not_a_terminal(env):
    eng = busy_daemon(env)
    try:
        out = env.ctl("top", env={"COLUMNS": "100"})
        check(out.returncode == 0 and "\x1b" not in out.stdout
              and out.stdout.count("shoalctl top") == 1,
              "not a terminal, no -n: one plain frame", out)
        rows = text_table(out.stdout)
        i = rows.index(["PACKETS/S", "RX IN", "RX OUT", "TX IN", "TX OUT",
                        "DROPS", "FLOWS"])
        check(rows[i + 1][0] == "all" and rows[i + 1][1] != "-"
              and [r[0] for r in rows[i + 2:i + 4]] == ["W0 lcore 1",
                                                       "W1 lcore 2"],
              f"rates table:\n{out.stdout}")
        lease = next(l for l in out.stdout.splitlines()
                     if l.startswith("1 "))
        check(re.search(r"25% \[#+\.+\]", lease)
              and len(max(out.stdout.splitlines(), key=len)) <= 100,
              f"lease bar within COLUMNS:\n{out.stdout}")
        check("no_lease" in out.stdout and "10.0.0.5" in out.stdout,
              f"drops and clients:\n{out.stdout}")
        out = env.ok("top", "-n", "2")
        check(out.stdout.count("shoalctl top") == 2, "-n 2: two frames", out)
    finally:
        eng.close()


def test_top_on_a_terminal(env):
    eng = busy_daemon(env)
    try:
        argv = [str(CTL), "-s", str(env.sock), "top", "-n", "2"]
        r = pty_run.run(argv, cols=100, rows=30)
        out = r["output"]
        check(r["rc"] == 0 and r["restored"], f"top -n 2 on a pty: {r}")
        check("\x1b[?1049h" in out and out.rstrip().endswith("\x1b[?1049l"),
              f"alternate screen entered and left: {out!r}")
        frame = out.split("\x1b[H")[-1]
        check(re.search(r"25% \[#+\.+\]", frame)
              and re.search(r"^all\s+\d", frame, re.M),
              f"last frame has rates and the bar: {frame!r}")
        lines = frame.split("\r\n")
        check(len(lines) <= 30 and all(len(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]",
                                                  "", l)) <= 100
                                       for l in lines),
              f"frame within 100x30: {frame!r}")
        # q quits at once, Ctrl-C (SIGINT) too; the terminal is restored.
        t0 = time.monotonic()
        r = pty_run.run(argv[:-2], key=(1.5, "q"))
        check(r["rc"] == 0 and r["restored"]
              and time.monotonic() - t0 < 4, f"q: {r}")
        r = pty_run.run(argv[:-2], sigint=1.5)
        check(r["rc"] == 0 and r["restored"], f"SIGINT: {r}")
        # a tiny window: the leases give way, nothing wraps
        r = pty_run.run(argv, cols=40, rows=12)
        frame = r["output"].split("\x1b[H")[-1]
        check(r["rc"] == 0 and len(frame.split("\n")) <= 12,
              f"40x12: {frame!r}")
    finally:
        eng.close()


def test_top_without_engine_report_says_so(env):
    res = env.ok("-j", "top", "-n", "1")
    doc = json.loads(res.stdout)
    check(doc["error"]["data"] == "no_engine", f"no report yet: {doc}")
    res = env.ok("top", "-n", "1")
    check("no figures: no_engine" in res.stdout, "text says why", res)


def test_status_shows_a_refused_lease_set(env):
    eng = FakeEngine(env.sock, extra={"refused_generation": 7,
                                      "refused_reason": "too_many_selectors"})
    try:
        deadline = time.monotonic() + 5
        while env.js("status")["engine"]["refused_generation"] != 7:
            check(time.monotonic() < deadline, "refusal never reported")
            time.sleep(0.1)
        rec = record(env.ok("status").stdout)
        check(rec.get("engine refused generation") == "7"
              and rec.get("engine refused reason") == "too_many_selectors",
              f"text status: {rec}")
    finally:
        eng.close()


CASES_OFFLINE = [test_help_lists_every_command,
                 test_completion_comes_from_the_table,
                 test_usage_errors_exit_2,
                 test_unreachable_daemon_exits_1,
                 test_top_unreachable_daemon_exits_1]
CASES_DAEMON = [test_status_text_and_json,
                test_slice_list_text_and_json,
                test_lease_list_shows_static_leases,
                test_lease_add_by_ports_round_trip,
                test_lease_add_mapping_and_filtering_round_trip,
                test_released_range_is_held_down,
                test_lease_add_by_size_with_ttl_and_renew,
                test_socket_lease_has_no_clients,
                test_refusals_exit_1_with_reason,
                test_lease_history_text_and_json,
                test_flows_and_stats_without_engine,
                test_top_without_engine_report_says_so,
                test_flows_and_stats_with_engine,
                test_engine_upgrade_text_and_json,
                test_stats_per_worker_text_and_json,
                test_status_shows_a_refused_lease_set,
                test_stats_serves_lease_usage_and_top_clients,
                test_top_json_one_frame_per_refresh,
                test_top_text_when_not_a_terminal,
                test_top_on_a_terminal]


def summary(p, f, s):
    path = os.environ.get("SHOAL_CLI_SUMMARY")
    if path:
        Path(path).write_text(f"{p} {f} {s}\n")
    else:
        print(f"{p} passed, {f} failed, {s} skipped")


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root (the daemon checks peers against a group)")
        summary(0, 0, 1)
        return SKIP
    for b in (CTL, CTLD):
        if not os.access(b, os.X_OK):
            print(f"SKIP: {b} not built")
            summary(0, 0, 1)
            return SKIP
    passed = failed = 0
    env = Env()

    def run(case):
        nonlocal passed, failed
        try:
            case(env)
            print(f"PASS {case.__name__}", flush=True)
            passed += 1
        except Exception as e:
            print(f"FAIL {case.__name__}: {e}", flush=True)
            if not isinstance(e, Fail):
                traceback.print_exc(file=sys.stdout)
            failed += 1

    try:
        for case in CASES_OFFLINE:
            run(case)
        try:
            env.start()
        except Fail as e:
            print(f"FAIL daemon start: {e}")
            failed += len(CASES_DAEMON)
        else:
            for case in CASES_DAEMON:
                run(case)
    finally:
        env.stop()
    summary(passed, failed, 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
