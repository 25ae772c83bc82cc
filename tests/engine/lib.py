# SPDX-License-Identifier: BSD-3-Clause
"""Shared harness for the shoal-engine packet tests.

The tests drive the real engine binary over DPDK net_pcap ports: the
inside (and, for pure-pcap tests, the outside) port reads a pcap file the
test wrote, and every port records what the engine transmits into a
tx_pcap file. What this module provides:

  * Engine         start shoal-engine on a generated config (its own EAL
                   --file-prefix per run), wait for the startup line, stop
                   it with SIGINT by PID and parse the final counters; a
                   context manager that always kills the process by PID.
  * wait_records   poll a tx_pcap until it holds N records (bounded).
  * Netns          a private network namespace with veth pairs, IPv6
                   off, links up; removed on exit. packet_socket() gives an
                   AF_PACKET socket bound to an interface inside it, so the
                   test can inject frames into a running engine.
  * checksum_errors  recompute IPv4/TCP/UDP/ICMP checksums with scapy
                   (delete the fields, rebuild, compare bytes).
  * worker counts  main() runs a test taking a worker count once per
                   count in SHOAL_TEST_WORKERS (default "1 2 4"; run.sh
                   passes one at a time); write_config(workers=N) gives the
                   EAL N worker lcores; pcap_device() builds a net_pcap
                   device with one RX and one TX queue per worker;
                   owner_client() and owner_port() say which worker owns a
                   packet (docs/DESIGN.md "Several workers", soft steering:
                   net_pcap has no RSS).

Empirical facts about net_pcap (DPDK 22.11) the tests rely on:
  * tx_pcap is flushed after every TX burst (pcap_dump_flush), so the
    file can be read while the engine runs; a record may be half written
    at the moment we look, so the record counter ignores a torn tail.
  * tx_pcap files use nanosecond timestamps (magic a1b23c4d).
  * rx_pcap is read once, in order; the port's MAC is
    02:70:63:61:70:<n>, n counting net_pcap ports in creation order
    (the engine creates inside first, then outside).
  * rx_iface / rx_iface_in capture live from an interface in promiscuous
    mode and can be combined with tx_pcap on the same port.
  * one RX queue per rx_pcap / rx_iface / rx_iface_in argument and one TX
    queue per tx_pcap / tx_iface argument, in argument order; rx_pcap and
    rx_iface* do not mix on one port. Each rx_pcap queue is read at full
    speed from the start, with no backpressure: with several workers the
    handoff rings (512 entries) overflow when one queue holds more than
    that for another worker, so large multi-worker inputs go over veths
    in bounded bursts instead. Repeating one rx_iface_in gives every
    queue a copy of each frame: one veth per queue.
  * a veth refuses frames shorter than an Ethernet header (EINVAL) and the
    receiving kernel drops a cut 802.1Q tag before any tap sees it: such
    frames can only come from an rx_pcap.
"""

import contextlib
import ctypes
import inspect
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SKIP = 77  # automake convention, understood by run.sh

REPO = Path(__file__).resolve().parents[2]

# The engine's net_pcap ports, in creation order (see the module comment).
INSIDE_MAC = "02:70:63:61:70:00"
OUTSIDE_MAC = "02:70:63:61:70:01"

COUNTER_RE = re.compile(r"^\s+(drop|event)\s+(\S+)\s+(\d+)$")
# Per worker, after the sums: "  worker I: lcore L, ... handoff tx A rx B"
# and, with several workers, "  worker I drop|event NAME N" (non-zero only).
WORKER_RE = re.compile(r"^\s+worker (\d+): lcore (\d+),.*handoff tx (\d+) rx (\d+)$")
WORKER_COUNTER_RE = re.compile(r"^\s+worker (\d+) (?:drop|event) (\S+) (\d+)$")
MAX_WORKERS = 64


class TestFailure(AssertionError):
    """A check failed; the message says what was expected and seen."""


def log(*args):
    print(*args, flush=True)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def skip(reason):
    log(f"SKIP: {reason}")
    sys.exit(SKIP)


def engine_path():
    """SHOAL_ENGINE, or build/engine/shoal-engine under the repo root."""
    p = Path(os.environ.get("SHOAL_ENGINE") or REPO / "build/engine/shoal-engine")
    if not p.is_absolute():
        p = Path.cwd() / p
    if not os.access(p, os.X_OK):
        raise TestFailure(f"engine binary not found or not executable: {p} "
                          "(build it, or set SHOAL_ENGINE)")
    return p


def sigterm_as_exit():
    """Turn SIGTERM/SIGHUP into SystemExit so finally blocks clean up."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def worker_counts():
    """The worker counts to test: SHOAL_TEST_WORKERS, e.g. "1 2 4" (the
    default) or "2"."""
    text = os.environ.get("SHOAL_TEST_WORKERS", "1 2 4")
    try:
        counts = [int(w) for w in text.replace(",", " ").split()]
    except ValueError:
        counts = []
    if not counts or any(not 1 <= n <= MAX_WORKERS for n in counts):
        raise TestFailure(f"SHOAL_TEST_WORKERS={text!r}: expected worker "
                          f"counts from 1 to {MAX_WORKERS}, e.g. \"1 2 4\"")
    return counts


def main(test):
    """Run the test -> exit 0, TestFailure -> exit 1 with the reason.

    A test taking one argument runs once per worker count (worker_counts())
    and a failure names the count; test() without one runs once."""
    sigterm_as_exit()
    t0 = time.monotonic()
    per_count = len(inspect.signature(test).parameters) == 1
    n = None
    try:
        if not per_count:
            test()
        for n in worker_counts() if per_count else ():
            t1 = time.monotonic()
            log(f"== {n} worker(s)")
            test(n)
            log(f"ok with {n} worker(s) ({time.monotonic() - t1:.1f} s)")
    except TestFailure as e:
        log(f"FAIL: {n} worker(s): {e}" if n else f"FAIL: {e}")
        sys.exit(1)
    log(f"OK ({time.monotonic() - t0:.1f} s)")
    sys.exit(0)


class TempDir:
    """mkdtemp on enter, rmtree on exit (whatever happened)."""

    def __init__(self, prefix="shoaltest-"):
        self.prefix = prefix
        self.path = None

    def __enter__(self):
        self.path = Path(tempfile.mkdtemp(prefix=self.prefix))
        return self.path

    def __exit__(self, *exc):
        if self.path and os.environ.get("SHOAL_TEST_KEEP") != "1":
            shutil.rmtree(self.path, ignore_errors=True)
        elif self.path:
            log(f"keeping {self.path} (SHOAL_TEST_KEEP=1)")
        return False


# ---- configuration ----

def eal_lcores(workers):
    """EAL lcore option for @workers workers besides the main lcore: lcore
    0 is the main one, 1..N the workers; several workers float over CPUs 0
    and 1 (this machine may have no more)."""
    if workers == 1:
        return "-l 0-1"
    return f"--lcores (0-{workers})@(0,1)"


def write_config(path, inside_device, outside_device, slices, leases,
                 nat=None, file_prefix=None,
                 inside_address="10.0.0.1/24", outside_address="192.0.2.1/24",
                 inside_next_hop="02:00:00:00:00:02",
                 outside_next_hop="02:00:00:00:00:fe", workers=None,
                 state=None):
    """Write an engine config: static leases, no exception path.

    slices: {ip: "lo-hi"}; leases: {name: {key: value}}; nat: {key: value}.
    workers: [engine] workers and as many worker lcores (each data port
    then needs that many queues, see pcap_device()); None leaves both at
    the engine's default of one.
    Each run gets its own EAL --file-prefix so runs never share DPDK state,
    and its own state file so none adopts another's flows: @state, or by
    default engine.state next to @path, in the run's temporary directory
    ("none" turns the state file off).
    """
    prefix = file_prefix or f"shoaltest{os.getpid()}_{time.monotonic_ns() % 10**9}"
    lines = [
        "[engine]",
        *([f"workers = {workers}"] if workers is not None else []),
        f"eal = {eal_lcores(workers or 1)} --no-huge -m 512 --no-pci "
        f"--file-prefix {prefix} --log-level=*:notice",
        f"state = {state or Path(path).parent / 'engine.state'}",
        "[inside]",
        f"device = {inside_device}",
        f"address = {inside_address}",
        f"next_hop_mac = {inside_next_hop}",
        "exception = none",
        "[outside]",
        f"device = {outside_device}",
        f"address = {outside_address}",
        f"next_hop_mac = {outside_next_hop}",
        "exception = none",
        "[slices]",
    ]
    lines += [f"{ip} = {rng}" for ip, rng in slices.items()]
    for name, kv in leases.items():
        lines.append(f"[lease.{name}]")
        lines += [f"{k} = {v}" for k, v in kv.items()]
    lines.append("[nat]")
    lines += [f"{k} = {v}" for k, v in (nat or {"max_flows": 65536}).items()]
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def queue_files(directory, stem, n):
    """One pcap path per queue: STEM.pcap for one queue (the single-queue
    name), STEM0.pcap .. STEM{n-1}.pcap for several."""
    if n == 1:
        return [Path(directory) / f"{stem}.pcap"]
    return [Path(directory) / f"{stem}{q}.pcap" for q in range(n)]


def pcap_device(index, tx_pcap, rx_pcap=None, rx_iface_in=None):
    """A net_pcap device string: RX queue q reads rx_pcap[q] (a file) or
    captures what arrives on rx_iface_in[q] (an interface); TX queue q
    writes tx_pcap[q]. Both lists have one entry per queue (per worker)."""
    rx = [("rx_pcap", f) for f in rx_pcap or []] + \
        [("rx_iface_in", i) for i in rx_iface_in or []]
    check(len(rx) == len(tx_pcap) and not (rx_pcap and rx_iface_in),
          f"net_pcap{index}: {len(rx)} RX and {len(tx_pcap)} TX queues "
          "(one kind of RX, as many queues each way)")
    args = [f"{k}={v}" for k, v in rx] + [f"tx_pcap={f}" for f in tx_pcap]
    return f"net_pcap{index}," + ",".join(args)


# ---- owners (soft steering: docs/DESIGN.md "Several workers") ----

def owner_client(ip, workers):
    """The worker owning inside client address @ip (dotted quad): Fibonacci
    hashing of the host-order address, scaled to @workers."""
    h = int.from_bytes(socket.inet_aton(ip), "big")
    return ((h * 2654435761) % 2**32) * workers >> 32


def owner_port(port, workers):
    """The worker owning outside port (or ICMP echo id) @port."""
    return port % workers


# ---- pcap files ----


def veth_names(side, n):
    """The veth pairs (engine end, peer end) of @side ("i"/"o") for
    @n workers: one per queue, since net_pcap captures one interface per
    queue."""
    if n == 1:
        return [(f"veth-{side}a", f"veth-{side}b")]
    return [(f"veth-{side}a{q}", f"veth-{side}b{q}") for q in range(n)]


def clients_per_worker(workers):
    """One client address (10.0.1.x) owned by each worker."""
    got = {}
    for i in range(1, 255):
        ip = f"10.0.1.{i}"
        got.setdefault(owner_client(ip, workers), ip)
        if len(got) == workers:
            return [got[w] for w in range(workers)]
    raise TestFailure("no client address for every worker")

def write_pcap(path, frames):
    """Classic microsecond pcap, Ethernet link type, from raw frames."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            fr = bytes(fr)
            f.write(struct.pack("<IIII", 1, i % 1000000, len(fr), len(fr)))
            f.write(fr)
    return Path(path)


def read_pcap(path):
    """All complete records of a pcap file as bytes (either precision)."""
    return list(_records(Path(path).read_bytes()))


def read_pcaps(paths):
    """read_pcap() of each of @paths (one per queue): a list per queue."""
    return [read_pcap(p) for p in paths]


def count_records(path):
    """Complete records in @path, or summed over a list of paths (one per
    queue); 0 for a file not yet there."""
    if isinstance(path, (list, tuple)):
        return sum(count_records(p) for p in path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return 0
    return sum(1 for _ in _records(data))


def _records(data):
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        endian = "<"
    elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
        endian = ">"
    else:
        raise TestFailure(f"not a pcap file (magic {magic:#x})")
    hdr = struct.Struct(endian + "IIII")
    off = 24
    # Bounded by the file size: each step consumes >= 16 bytes.
    while off + 16 <= len(data):
        _, _, caplen, _ = hdr.unpack_from(data, off)
        if off + 16 + caplen > len(data):
            break  # torn tail: the writer is mid-record
        yield data[off + 16:off + 16 + caplen]
        off += 16 + caplen


def wait_records(path, n, timeout, engine=None, what="packets"):
    """Poll @path (or a list of paths, summed) until it holds >= @n
    records; return the count.

    Fails after @timeout seconds, or at once if @engine died."""
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        count = count_records(path)
        if count >= n:
            return count
        if engine is not None and not engine.alive():
            raise TestFailure(f"engine exited while waiting for {what}: "
                              f"{count}/{n} in {_names(path)}\n{engine.output()}")
        time.sleep(0.05)
    raise TestFailure(f"timeout after {timeout} s waiting for {what}: "
                      f"{count}/{n} records in {_names(path)}")


def _names(path):
    if isinstance(path, (list, tuple)):
        return "+".join(Path(p).name for p in path)
    return Path(path).name


# ---- the engine process ----

def parse_counters(text):
    counters = {}
    for line in text.splitlines():
        m = COUNTER_RE.match(line)
        if m:
            counters[m.group(2)] = int(m.group(3))
    return counters


def parse_workers(text):
    """The per-worker part of the final counters: {worker: {"lcore": L,
    "handoff_tx": A, "handoff_rx": B, and with several workers each
    non-zero counter by name}}."""
    workers = {}
    for line in text.splitlines():
        m = WORKER_RE.match(line)
        if m:
            w = workers.setdefault(int(m.group(1)), {})
            w.update(lcore=int(m.group(2)), handoff_tx=int(m.group(3)),
                     handoff_rx=int(m.group(4)))
            continue
        m = WORKER_COUNTER_RE.match(line)
        if m:
            workers.setdefault(int(m.group(1)), {})[m.group(2)] = int(m.group(3))
    return workers


class Engine:
    """One shoal-engine process; use as a context manager.

    stdout/stderr go to files in @workdir (never a pipe, which could fill
    and block the engine), NAME.stdout and NAME.stderr. Exiting the context
    kills the process by PID if it is still running.

    @args go before -c, e.g. ["--takeover"]. A takeover runs its EAL with
    the other of the pair PREFIX / PREFIX-b to the running engine's
    (docs/RESTART.md): the harness takes PREFIX-b, as when the engine it
    replaces was started with the config's own prefix."""

    def __init__(self, config, workdir, netns=None, args=(), name="engine"):
        self.config = Path(config)
        self.workdir = Path(workdir)
        self.netns = netns
        self.args = list(args)
        self.proc = None
        self.counters = None
        self.workers = None  # parse_workers() of the final output
        self.out_path = self.workdir / f"{name}.stdout"
        self.err_path = self.workdir / f"{name}.stderr"

    def __enter__(self):
        argv = [str(engine_path()), *self.args, "-c", str(self.config)]
        if self.netns:
            # ip netns exec execs the command in place: the PID we hold is
            # the engine's own.
            argv = ["ip", "netns", "exec", self.netns] + argv
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        self.kill()
        # DPDK leaves its runtime directory behind; it is ours to remove.
        if re.search(r"--file-prefix\s+(\S+)", self.config.read_text()):
            shutil.rmtree(f"/var/run/dpdk/{self.file_prefix()}",
                          ignore_errors=True)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def output(self):
        def tail(p):
            try:
                return p.read_text(errors="replace")[-3000:]
            except FileNotFoundError:
                return ""
        return (f"--- engine stdout ---\n{tail(self.out_path)}"
                f"--- engine stderr ---\n{tail(self.err_path)}")

    def wait_started(self, timeout=20):
        """Wait for the startup line (ports and workers are up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.out_path.exists() and \
                    "worker(s)" in self.out_path.read_text(errors="replace"):
                return
            if not self.alive():
                raise TestFailure("engine failed to start "
                                  f"(exit {self.proc.returncode})\n{self.output()}")
            time.sleep(0.05)
        raise TestFailure(f"engine did not start within {timeout} s\n{self.output()}")

    def stop(self, timeout=20):
        """SIGINT by PID, wait, parse and return the final counters."""
        check(self.alive(), f"engine died before stop\n{self.output()}")
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure(f"engine did not stop within {timeout} s of "
                              f"SIGINT\n{self.output()}")
        check(rc == 0, f"engine exited with {rc}\n{self.output()}")
        text = self.out_path.read_text(errors="replace")
        self.counters = parse_counters(text)
        self.workers = parse_workers(text)
        check(self.counters, f"no counters in engine output\n{self.output()}")
        return self.counters

    @contextlib.contextmanager
    def yielding(self):
        """While the test does CPU-heavy work of its own (building traffic)
        with the engine running: every engine thread at nice 19, restored
        on exit. The workers poll, and on a machine with as few CPUs as
        workers they would otherwise take several times the test's own
        time from it; at nice 19 they still run, on what the test leaves."""
        pid = self.proc.pid
        saved = {}
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    saved[int(tid)] = os.getpriority(os.PRIO_PROCESS, int(tid))
                    os.setpriority(os.PRIO_PROCESS, int(tid), 19)
                except OSError:
                    pass  # the thread ended
        except OSError:
            pass  # the engine ended: the caller's next wait says so
        try:
            yield
        finally:
            for tid, prio in saved.items():
                try:
                    os.setpriority(os.PRIO_PROCESS, tid, prio)
                except OSError:
                    pass

    def file_prefix(self):
        """This process's EAL --file-prefix: the config's, -b taking over."""
        m = re.search(r"--file-prefix\s+(\S+)", self.config.read_text())
        check(m, f"{self.config}: no --file-prefix")
        return m.group(1) + ("-b" if "--takeover" in self.args else "")

    def stats(self):
        """The running engine's summed counters (telemetry /shoal/stats)."""
        sys.path.insert(0, str(REPO / "scripts/lib"))
        try:
            import telemetry
        finally:
            sys.path.pop(0)
        try:
            return telemetry.query(self.file_prefix(), "/shoal/stats",
                                   timeout=5)["/shoal/stats"]
        except (OSError, ValueError, KeyError) as e:
            raise TestFailure(f"telemetry /shoal/stats: {e}\n{self.output()}")

    def wait_settled(self, rx, timeout=30):
        """Wait until the engine received what was sent (@rx: {counter:
        packets}, e.g. {"rx_inside": 100}) and every packet one worker
        handed to another was taken (handoff_tx == handoff_rx; handoff_full
        counts what never entered a ring), the same in three readings 0.1 s
        apart: nothing is left in flight,
        so the final counters are complete. With several queues there is
        no last frame whose output proves that every earlier one was
        handled."""
        deadline = time.monotonic() + timeout
        last, same, s = None, 0, {}
        while time.monotonic() < deadline:
            check(self.alive(), f"engine exited while settling\n{self.output()}")
            s = self.stats()
            done = all(s.get(k, 0) >= v for k, v in rx.items()) and \
                s.get("handoff_tx", 0) == s.get("handoff_rx", 0)
            snap = tuple(sorted(s.items()))
            same = same + 1 if done and snap == last else 0
            if same == 2:
                return s
            last = snap
            time.sleep(0.1)
        raise TestFailure(f"engine not settled within {timeout} s: want {rx}, "
                          "and handoff_tx == handoff_rx; got " +
                          ", ".join(f"{k} {v}" for k, v in sorted(s.items()) if v))

    def kill(self):
        if self.alive():
            self.proc.kill()  # by PID
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def check_counters(got, expected, exact_zero=True, handoff=False):
    """Every counter in @expected must match; with @exact_zero, every
    counter not mentioned must be 0. Reports all differences at once.

    Handoff between workers is not an error: unless @expected names them,
    handoff_tx must equal handoff_rx (nothing lost on the rings) and
    handoff_full must be 0, whatever their value; with @handoff, packets
    must have been handed at all (handoff_tx > 0)."""
    bad = []
    expected = dict(expected)
    if "handoff_tx" not in expected and "handoff_rx" not in expected:
        tx, rx = got.get("handoff_tx"), got.get("handoff_rx")
        if tx != rx:
            bad.append(f"handoff_tx {tx} != handoff_rx {rx}: packets lost "
                       "between workers")
        elif handoff and not tx:
            bad.append(f"handoff_tx: got {tx}, expected packets handed between workers")
        expected["handoff_tx"] = expected["handoff_rx"] = tx
    expected.setdefault("handoff_full", 0)
    # Byte counters follow their packet counters: unless named, each is 0
    # exactly when its packets are, and at least one byte per frame.
    for side in ("rx_inside", "rx_outside", "tx_inside", "tx_outside"):
        name, pkts = side + "_bytes", got.get(side, 0)
        if name in expected or name not in got:
            continue
        if (got[name] == 0) != (pkts == 0) or got[name] < pkts:
            bad.append(f"{name}: got {got[name]} for {pkts} packets")
        expected[name] = got[name]
    for name, want in sorted(expected.items()):
        if name not in got:
            bad.append(f"{name}: missing (expected {want})")
        elif got[name] != want:
            bad.append(f"{name}: got {got[name]}, expected {want}")
    if exact_zero:
        for name, value in sorted(got.items()):
            if name not in expected and value != 0:
                bad.append(f"{name}: got {value}, expected 0")
    check(not bad, "counter mismatch:\n  " + "\n  ".join(bad))


def check_workers(workers, n, busy=()):
    """The per-worker lines of an engine with @n workers (parse_workers()):
    one per worker, handoff tx and rx summing to the same, and with several
    workers every counter in @busy non-zero on every worker (each did its
    share)."""
    check(sorted(workers) == list(range(n)),
          f"per-worker lines for workers {sorted(workers)}, expected 0..{n - 1}")
    tx = sum(w["handoff_tx"] for w in workers.values())
    rx = sum(w["handoff_rx"] for w in workers.values())
    check(tx == rx, f"per worker: handoff tx sums to {tx}, rx to {rx}")
    idle = [f"worker {i} {c}" for i in range(n) if n > 1
            for c in busy if not workers[i].get(c)]
    check(not idle, "workers that did none of the work: " + ", ".join(idle))


# ---- network namespaces ----

CLONE_NEWNET = 0x40000000


def _run(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise TestFailure(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def netns_available():
    """True when we are root and `ip netns` works."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        return False
    try:
        return subprocess.run(["ip", "netns", "list"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class Netns:
    """A network namespace of our own holding veth pairs, by default one
    (vetha, vethb), reachable as .a and .b.

    IPv6 is disabled before the links exist so that the kernel sends no
    router solicitations or MLD reports: the only frames on the wire are
    the test's own. Deleting the namespace on exit removes the veths."""

    def __init__(self, pairs=(("vetha", "vethb"),)):
        self.name = f"shoaltest-{os.getpid()}-{time.monotonic_ns() % 100000}"
        self.pairs = pairs
        self.a, self.b = pairs[0]
        self.created = False

    def __enter__(self):
        _run(["ip", "netns", "add", self.name])
        self.created = True
        try:
            self.exec(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                       "net.ipv6.conf.default.disable_ipv6=1"])
            for a, b in self.pairs:
                _run(["ip", "-n", self.name, "link", "add", a, "type", "veth",
                      "peer", "name", b])
                for dev in (a, b):
                    _run(["ip", "-n", self.name, "link", "set", dev, "up"])
            _run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        except BaseException:
            self.__exit__()  # __exit__ is not called when __enter__ fails
            raise
        return self

    def __exit__(self, *exc):
        if self.created:
            subprocess.run(["ip", "netns", "del", self.name],
                           capture_output=True, timeout=30)
        return False

    def exec(self, argv):
        return _run(["ip", "netns", "exec", self.name] + argv)

    def packet_socket(self, ifname):
        """AF_PACKET socket bound to @ifname inside the namespace.

        The calling thread enters the namespace just long enough to create
        and bind the socket, then returns; the socket stays attached to the
        namespace's interface."""
        libc = ctypes.CDLL(None, use_errno=True)
        home = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise TestFailure(f"setns {self.name}: "
                                  f"{os.strerror(ctypes.get_errno())}")
            try:
                s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
                s.bind((ifname, 0))
            finally:
                if libc.setns(home, CLONE_NEWNET) != 0:
                    raise TestFailure("setns back to the test's namespace failed")
        finally:
            os.close(home)
            os.close(target)
        return s


# ---- checksums ----

def checksum_errors(frame):
    """Recompute the IPv4 header and outer TCP/UDP/ICMP checksums with
    scapy: delete the checksum fields, rebuild, compare bytes. Returns a
    list of problems (empty when all are valid). A UDP checksum of 0
    ("none", RFC 768) is reported as such: the caller decides whether 0
    was expected. Quoted headers inside ICMP errors are left as they are
    (kept byte for byte in the rebuild); check them with quote helpers."""
    from scapy.layers.inet import IP, TCP, UDP, ICMP
    from scapy.layers.l2 import Ether

    frame = bytes(frame)
    p = Ether(frame)
    if IP not in p:
        return ["not IPv4"]
    errs = []
    ip = p[IP]
    del ip.chksum
    l4 = ip.payload
    if type(l4) in (TCP, UDP, ICMP):  # not the quoted IPerror/UDPerror...
        if isinstance(l4, UDP) and l4.chksum == 0:
            errs.append("udp checksum 0")
        else:
            del l4.chksum
    rebuilt = bytes(p)
    if rebuilt != frame:
        want = Ether(rebuilt)
        got = Ether(frame)
        if want[IP].chksum != got[IP].chksum:
            errs.append(f"ip checksum {got[IP].chksum:#06x}, "
                        f"expected {want[IP].chksum:#06x}")
        for layer in (TCP, UDP, ICMP):
            if layer in got and type(got[IP].payload) is layer and \
                    got[layer].chksum != want[layer].chksum:
                errs.append(f"{layer.__name__.lower()} checksum "
                            f"{got[layer].chksum:#06x}, expected "
                            f"{want[layer].chksum:#06x}")
        if not errs:
            errs.append("rebuild differs from the frame")
    return errs


def inet_checksum(data):
    """RFC 1071 checksum of @data (0 over a correct header)."""
    from scapy.utils import checksum
    return checksum(bytes(data))
