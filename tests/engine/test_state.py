#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The state file's compatibility rules ([engine] state, docs/RESTART.md),
engine by engine, on live interfaces as in test_reload.py.

Every case opens one UDP flow per worker (a client each worker owns) and
then answers them from the outside, to the outside port the first engine
gave each: a reply counts only when it reaches its own client's address
and port, translated, through the next engine.

  clean restart   SIGINT, plain start: tables adopted as synced (no
                  rebuild), replies go through, the clients keep their
                  outside ports, a new client gets a port of its own.
  kill -9         --takeover finds no engine at STATE.sock (the dead one's
                  socket is left over): refused; a plain start adopts with
                  "indices rebuilt", replies go through.
  second start    a plain start while one runs: exit 1, "in use by the
                  running engine (pid N)"; the first goes on forwarding.
  takeover        --takeover, same configuration: the old engine exits 0,
                  the new one says "took over from pid OLD" and forwards
                  the old flows on their old ports.
  takeover, workers changed: refused (exit 1, the reason names the
                  workers); the old engine goes on forwarding.
  takeover, no engine: exit 1, the reason names STATE.sock.
  plain start, workers changed: the file moves to STATE.discarded, the
                  engine says so and starts empty: replies to the old
                  ports are dropped as unsolicited.
  version         the header's format version overwritten: a takeover
                  refuses naming the version (the old engine goes on); a
                  plain start moves the file aside and starts empty.
"""

import os
import re
import shutil
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import lib  # noqa: E402
from lib import check, log

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

SLICE_IP, REMOTE = "198.51.100.10", "203.0.113.1"
LEASE_LO, LEASE_HI = 10000, 10999
INSIDE_PEER, OUTSIDE_PEER = "02:00:00:00:00:02", "02:00:00:00:00:fe"
MAX_FLOWS = 1024
# struct sh_state_hdr (engine/state.h) begins: u64 magic, u32 version,
# u32 layout, u32 n_workers, u32 max_flows, in host order.
HDR = struct.Struct("=QIIII")
VERSION_OFFSET = 8


def read_header(path):
    magic, version, layout, n_workers, max_flows = \
        HDR.unpack_from(path.read_bytes())
    return dict(magic=magic, version=version, layout=layout,
                n_workers=n_workers, max_flows=max_flows)


class Rig:
    """The namespace, its veths (enough for the larger of the two worker
    counts) and our packet sockets on their far ends, shared by the cases;
    each case has its own directory, state file and EAL prefix."""

    def __init__(self, ns, root, workers, changed):
        self.ns, self.root = ns, root
        self.workers, self.changed = workers, changed
        n = max(workers, changed)
        self.in_pairs, self.out_pairs = lib.veth_names("i", n), lib.veth_names("o", n)
        self.inside = [ns.packet_socket(b) for _, b in self.in_pairs]
        self.outside = [ns.packet_socket(b) for _, b in self.out_pairs]
        self.clients = lib.clients_per_worker(workers)

    def close(self):
        for s in self.inside + self.outside:
            s.close()

    def case(self, name):
        d = self.root / name
        d.mkdir()
        return d

    def prefix(self, d):
        return f"shoaltest{os.getpid()}_st{self.workers}{d.name}"

    def tx(self, d, side, n):
        return lib.queue_files(d, f"{side}_tx", n)

    def conf(self, d, n=None, name="engine.ini"):
        """The case's configuration for @n workers (default: the test's),
        on the first @n veths of each side; one state file per case."""
        n = n or self.workers
        if n == 1:
            in_ifs, out_ifs = [self.in_pairs[0][0]], [self.out_pairs[0][0]]
        else:
            in_ifs = [a for a, _ in self.in_pairs[:n]]
            out_ifs = [a for a, _ in self.out_pairs[:n]]
        return lib.write_config(
            d / name,
            inside_device=lib.pcap_device(0, self.tx(d, "inside", n),
                                          rx_iface_in=in_ifs),
            outside_device=lib.pcap_device(1, self.tx(d, "outside", n),
                                           rx_iface_in=out_ifs),
            slices={SLICE_IP: "10000-12047"},
            # shared-port mode: no binding outlives a flow, so a reply
            # with no flow is plainly unsolicited
            leases={"a": {"kind": "nat", "ip": SLICE_IP,
                          "ports": f"{LEASE_LO}-{LEASE_HI}",
                          "clients": "10.0.0.0/16",
                          "mapping": "address-and-port-dependent",
                          "filtering": "address-and-port-dependent"}},
            nat={"max_flows": MAX_FLOWS}, file_prefix=self.prefix(d),
            workers=n, state=d / "engine.state")

    def clear_tx(self, d):
        """Before an engine that opens the ports: its tx_pcap files start
        empty (a running engine keeps writing to the unlinked ones)."""
        for f in d.glob("*_tx*.pcap"):
            f.unlink()

    def send_client(self, n, ip, sport, ipid):
        pkt = IP(src=ip, dst=REMOTE, id=ipid) / UDP(sport=sport, dport=53) / b"ask"
        q = lib.owner_client(ip, n)
        self.inside[q].send(bytes(Ether(src=INSIDE_PEER, dst=lib.INSIDE_MAC) / pkt))

    def send_remote(self, n, port, ipid):
        pkt = IP(src=REMOTE, dst=SLICE_IP, id=ipid) / \
            UDP(sport=53, dport=port) / b"answer"
        q = lib.owner_port(port, n)
        self.outside[q].send(bytes(Ether(src=OUTSIDE_PEER, dst=lib.OUTSIDE_MAC) / pkt))

    def wait_ids(self, files, ids, eng, what, timeout=10):
        """The frames in @files with IP ids @ids, {id: Ether}, waiting
        until every one is there (bounded)."""
        deadline = time.monotonic() + timeout
        got = {}
        while time.monotonic() < deadline:
            got = {}
            for q in lib.read_pcaps(f for f in files if f.exists()):
                for r in q:
                    p = Ether(r)
                    if IP in p and p[IP].id in ids:
                        got[p[IP].id] = p
            if len(got) == len(ids):
                return got
            check(eng.alive(), f"engine exited waiting for {what}\n{eng.output()}")
            time.sleep(0.05)
        raise lib.TestFailure(f"{what}: got IP ids {sorted(got)} of "
                              f"{sorted(ids)} within {timeout} s\n{eng.output()}")

    def open_flows(self, d, eng, clients, id0):
        """Each client (index i: port 5000 + i) sends; returns
        [(client, client port, outside port)], checking the translation."""
        n = self.workers
        ids = {}
        for i, c in enumerate(clients):
            self.send_client(n, c, 5000 + i, id0 + i)
            ids[id0 + i] = (c, 5000 + i)
        got = self.wait_ids(self.tx(d, "outside", n), ids, eng,
                            "the clients' packets, translated")
        flows = []
        for ipid, (c, cport) in sorted(ids.items()):
            p = got[ipid]
            check(p[IP].src == SLICE_IP and p[IP].dst == REMOTE and
                  p[UDP].dport == 53 and LEASE_LO <= p[UDP].sport <= LEASE_HI,
                  f"{c}:{cport} left as {p[IP].src}:{p[UDP].sport} -> "
                  f"{p[IP].dst}:{p[UDP].dport}")
            errs = lib.checksum_errors(p)
            check(not errs, f"{c}:{cport} translated with {errs}")
            flows.append((c, cport, p[UDP].sport))
        return flows

    def check_replies(self, d, eng, flows, id0, what):
        """Replies to each flow's outside port reach its client, translated."""
        n = self.workers
        ids = {}
        for i, (c, cport, oport) in enumerate(flows):
            self.send_remote(n, oport, id0 + i)
            ids[id0 + i] = (c, cport, oport)
        got = self.wait_ids(self.tx(d, "inside", n), ids, eng, what)
        for ipid, (c, cport, oport) in sorted(ids.items()):
            p = got[ipid]
            check(p[IP].src == REMOTE and p[UDP].sport == 53 and
                  p[IP].dst == c and p[UDP].dport == cport,
                  f"{what}: the reply to port {oport} reached "
                  f"{p[IP].dst}:{p[UDP].dport} from {p[IP].src}:"
                  f"{p[UDP].sport}, not {c}:{cport} from {REMOTE}:53")
            errs = lib.checksum_errors(p)
            check(not errs, f"{what}: reply to {c}:{cport} with {errs}")

    def check_same_ports(self, d, eng, flows, id0):
        """The clients send again: each leaves from its old outside port."""
        again = self.open_flows(d, eng, [c for c, _, _ in flows], id0)
        check(again == flows, f"after the restart the clients left as {again}, "
              f"before as {flows}")

    def check_dropped(self, d, eng, flows, n, id0):
        """An engine of @n workers that started empty: replies to the old
        ports are dropped as unsolicited, none reaches a client."""
        for i, (_, _, oport) in enumerate(flows):
            self.send_remote(n, oport, id0 + i)
        eng.wait_settled({"rx_outside": len(flows)}, timeout=10)
        counters = eng.stop()
        check(counters.get("unsolicited") == len(flows) and
              counters.get("out2in") == 0 and counters.get("tx_inside") == 0,
              f"replies to the old ports: unsolicited "
              f"{counters.get('unsolicited')}, out2in {counters.get('out2in')}, "
              f"tx_inside {counters.get('tx_inside')}; expected {len(flows)}, "
              "0, 0")
        back = lib.count_records(self.tx(d, "inside", n))
        check(back == 0, f"{back} frames sent to the clients by an engine "
              "that should have no flows")

    def refused(self, conf, args, d):
        """Run an engine that must refuse to start: (exit status, stdout,
        stderr). Bounded; one that went further is killed by PID."""
        argv = ["ip", "netns", "exec", self.ns.name, str(lib.engine_path()),
                *args, "-c", str(conf)]
        try:
            r = subprocess.run(argv, capture_output=True, text=True,
                               timeout=30, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise lib.TestFailure(f"{' '.join(argv)}: still running after 30 s")
        finally:
            if "--takeover" in args:
                shutil.rmtree(f"/var/run/dpdk/{self.prefix(d)}-b",
                              ignore_errors=True)
        return r.returncode, r.stdout, r.stderr


def said(eng):
    """All the engine wrote, stdout and stderr (output() keeps the tails)."""
    return "".join(p.read_text(errors="replace") if p.exists() else ""
                   for p in (eng.out_path, eng.err_path))


def adopted(eng):
    """(flows, discarded, rebuilt) of the engine's "adopted" line, or None."""
    m = re.search(r"adopted (\d+) flows \((\d+) discarded.*", said(eng))
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), "indices rebuilt" in m.group(0)


def wait_output(eng, text, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and text not in said(eng):
        time.sleep(0.05)
    check(text in said(eng), f"no {text!r} within {timeout} s\n{eng.output()}")


def case_clean_restart(rig):
    d = rig.case("clean")
    conf = rig.conf(d)
    with lib.Engine(conf, d, rig.ns.name, name="first") as e1:
        e1.wait_started()
        check(adopted(e1) is None, f"a fresh state file adopted\n{e1.output()}")
        flows = rig.open_flows(d, e1, rig.clients, 1)
        e1.stop()
    rig.clear_tx(d)
    with lib.Engine(conf, d, rig.ns.name, name="second") as e2:
        e2.wait_started()
        got = adopted(e2)
        check(got == (rig.workers, 0, False),
              f"adopted (flows, discarded, rebuilt) {got}, expected "
              f"({rig.workers}, 0, False) after a clean stop\n{e2.output()}")
        rig.check_replies(d, e2, flows, 100, "replies after a clean restart")
        rig.check_same_ports(d, e2, flows, 200)
        new = rig.open_flows(d, e2, ["10.0.2.1"], 300)[0][2]
        check(new not in [p for _, _, p in flows],
              f"the new client got port {new}, one of the adopted flows' "
              f"{[p for _, _, p in flows]}")
        counters = e2.stop()
    check(counters.get("flows_created") == 1 and
          counters.get("out2in") == rig.workers,
          f"flows_created {counters.get('flows_created')}, out2in "
          f"{counters.get('out2in')}: expected 1 (only the new client) and "
          f"{rig.workers}")


def case_kill9(rig):
    d = rig.case("kill9")
    conf = rig.conf(d)
    state = d / "engine.state"
    with lib.Engine(conf, d, rig.ns.name, name="first") as e1:
        e1.wait_started()
        flows = rig.open_flows(d, e1, rig.clients, 1)
        e1.kill()
    # the dead engine's handover socket is still there: nobody answers
    rc, _, err = rig.refused(conf, ["--takeover"], d)
    check(rc == 1 and f"{state}.sock" in err and "is an engine running" in err,
          f"--takeover after kill -9: exit {rc}, stderr {err!r}; expected 1 "
          f"naming {state}.sock")
    rig.clear_tx(d)
    with lib.Engine(conf, d, rig.ns.name, name="second") as e2:
        e2.wait_started()
        got = adopted(e2)
        check(got == (rig.workers, 0, True),
              f"adopted (flows, discarded, rebuilt) {got}, expected "
              f"({rig.workers}, 0, True) after kill -9\n{e2.output()}")
        rig.check_replies(d, e2, flows, 100, "replies after kill -9")
        rig.check_same_ports(d, e2, flows, 200)
        counters = e2.stop()
    check(counters.get("flows_created") == 0,
          f"flows_created {counters.get('flows_created')} after kill -9: "
          "the clients' flows were not adopted")


def case_second_start(rig):
    d = rig.case("second")
    conf = rig.conf(d)
    with lib.Engine(conf, d, rig.ns.name, name="first") as e1:
        e1.wait_started()
        flows = rig.open_flows(d, e1, rig.clients, 1)
        rc, _, err = rig.refused(conf, [], d)
        want = f"is in use by the running engine (pid {e1.proc.pid})"
        check(rc == 1 and want in err,
              f"a second plain start: exit {rc}, stderr {err!r}; expected 1 "
              f"with {want!r}")
        check(e1.alive(), f"the first engine died\n{e1.output()}")
        rig.check_replies(d, e1, flows, 100, "replies after a refused start")
        e1.stop()


def case_takeover(rig):
    d = rig.case("takeover")
    conf = rig.conf(d)
    with lib.Engine(conf, d, rig.ns.name, name="old") as old:
        old.wait_started()
        flows = rig.open_flows(d, old, rig.clients, 1)
        rig.clear_tx(d)
        with lib.Engine(conf, d, rig.ns.name, args=["--takeover"],
                        name="new") as new:
            new.wait_started(timeout=40)
            try:
                rc = old.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                raise lib.TestFailure(f"the old engine still runs 30 s after "
                                      f"the takeover\n{old.output()}")
            check(rc == 0, f"the old engine exited {rc}\n{old.output()}")
            check(f"handed over to pid {new.proc.pid}" in said(old),
                  f"the old engine does not say it handed over\n{old.output()}")
            got = adopted(new)
            check(got == (rig.workers, 0, False),
                  f"adopted (flows, discarded, rebuilt) {got}, expected "
                  f"({rig.workers}, 0, False) in a handover\n{new.output()}")
            rig.check_replies(d, new, flows, 100, "replies after the takeover")
            wait_output(new, f"took over from pid {old.proc.pid}")
            rig.check_same_ports(d, new, flows, 200)
            counters = new.stop()
    check(counters.get("flows_created") == 0,
          f"flows_created {counters.get('flows_created')} after the "
          "takeover: the clients' flows were not taken over")


def case_takeover_workers_changed(rig):
    d = rig.case("tkworkers")
    conf = rig.conf(d)
    other = rig.conf(d, rig.changed, "changed.ini")
    with lib.Engine(conf, d, rig.ns.name) as eng:
        eng.wait_started()
        flows = rig.open_flows(d, eng, rig.clients, 1)
        rc, _, err = rig.refused(other, ["--takeover"], d)
        want = (f"tables of {rig.workers} workers x {MAX_FLOWS} flows; this "
                f"configuration has {rig.changed} workers")
        check(rc == 1 and "takeover refused" in err and want in err,
              f"--takeover with workers {rig.changed}: exit {rc}, stderr "
              f"{err!r}; expected 1 with {want!r}")
        check(eng.alive(), f"the running engine died\n{eng.output()}")
        wait_output(eng, f"refused: {d / 'engine.state'}: tables of "
                    f"{rig.workers} workers")
        rig.check_replies(d, eng, flows, 100, "replies after a refused takeover")
        eng.stop()
    hdr = read_header(d / "engine.state")
    check(hdr["n_workers"] == rig.workers,
          f"the state file now holds {hdr['n_workers']} workers' tables")


def case_takeover_no_engine(rig):
    d = rig.case("tknone")
    rc, _, err = rig.refused(rig.conf(d), ["--takeover"], d)
    sock = f"{d / 'engine.state'}.sock"
    check(rc == 1 and sock in err and "is an engine running" in err,
          f"--takeover with no engine: exit {rc}, stderr {err!r}; expected 1 "
          f"naming {sock}")


def case_plain_workers_changed(rig):
    d = rig.case("workers")
    conf = rig.conf(d)
    state = d / "engine.state"
    with lib.Engine(conf, d, rig.ns.name, name="first") as e1:
        e1.wait_started()
        flows = rig.open_flows(d, e1, rig.clients, 1)
        e1.stop()
    other = rig.conf(d, rig.changed, "changed.ini")
    with lib.Engine(other, d, rig.ns.name, name="second") as e2:
        e2.wait_started()
        check("cannot adopt the flows of" in said(e2) and
              f"{state}.discarded" in said(e2) and adopted(e2) is None,
              f"workers {rig.workers} -> {rig.changed}: no word of the "
              f"discarded tables\n{e2.output()}")
        check((d / "engine.state.discarded").exists() and
              read_header(d / "engine.state.discarded")["n_workers"] ==
              rig.workers and read_header(state)["n_workers"] == rig.changed,
              "the old tables were not moved to engine.state.discarded, "
              "or the new file is not the new engine's")
        rig.check_dropped(d, e2, flows, rig.changed, 100)


def case_version(rig):
    d = rig.case("version")
    conf = rig.conf(d)
    state = d / "engine.state"

    def corrupt():
        with open(state, "r+b") as f:
            f.seek(VERSION_OFFSET)
            f.write(struct.pack("=I", bad))

    with lib.Engine(conf, d, rig.ns.name, name="first") as e1:
        e1.wait_started()
        flows = rig.open_flows(d, e1, rig.clients, 1)
        bad = read_header(state)["version"] + 100
        corrupt()
        rc, _, err = rig.refused(conf, ["--takeover"], d)
        check(rc == 1 and "takeover refused" in err and
              f"state format {bad}" in err,
              f"--takeover of a version {bad} file: exit {rc}, stderr "
              f"{err!r}; expected 1 naming format {bad}")
        check(e1.alive(), f"the running engine died\n{e1.output()}")
        wait_output(e1, f"refused: {state}: state format {bad}")
        rig.check_replies(d, e1, flows, 100, "replies after a refused takeover")
        e1.stop()
    corrupt()  # whatever the clean stop wrote
    rig.clear_tx(d)
    with lib.Engine(conf, d, rig.ns.name, name="second") as e2:
        e2.wait_started()
        check("cannot adopt the flows of" in said(e2) and
              f"state format {bad}" in said(e2) and adopted(e2) is None,
              f"a version {bad} file: not said to be discarded\n{e2.output()}")
        check(read_header(d / "engine.state.discarded")["version"] == bad,
              f"the version {bad} file is not engine.state.discarded")
        rig.check_dropped(d, e2, flows, rig.workers, 100)


CASES = [case_clean_restart, case_kill9, case_second_start, case_takeover,
         case_takeover_workers_changed, case_takeover_no_engine,
         case_plain_workers_changed, case_version]


def test(workers):
    if not lib.netns_available():
        lib.skip("needs root and `ip netns`")
    lib.engine_path()
    changed = workers + 1 if workers == 1 else workers - 1
    n = max(workers, changed)
    pairs = tuple(lib.veth_names("i", n) + lib.veth_names("o", n))
    with lib.TempDir() as d, lib.Netns(pairs) as ns:
        rig = Rig(ns, d, workers, changed)
        try:
            for case in CASES:
                t0 = time.monotonic()
                case(rig)
                log(f"{case.__name__}: ok ({time.monotonic() - t0:.1f} s)")
        finally:
            rig.close()


if __name__ == "__main__":
    lib.main(test)
