#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The installed programs run with no more capabilities than their
installed units' CapabilityBoundingSet= (read from the staged units, so
the test follows the units), and each capability left there is needed.

  * shoal-engine, in a network namespace of its own (unshare -n), with
    TAP kernel mirrors on both sides: with the unit's set it starts
    (READY=1) and the mirrors carry their addresses; without
    CAP_NET_ADMIN it stops at the mirrors. On net_af_packet ports (a
    veth pair of that namespace): it starts with the unit's set and
    stops without CAP_NET_RAW. (CAP_IPC_LOCK is for VFIO: no NIC here.)
  * shoal-ctld with the unit's set, in a network namespace of its own as
    PrivateNetwork=yes puts it, and [ctl] group = nogroup (a group it is
    not in): its socket is root:nogroup 0660 and the installed shoalctl,
    in the test's own namespace, gets an answer through it; with no
    capability at all the daemon stops at the chown.
systemd itself is not running here: the other sandboxing options of the
units are checked by systemd-analyze verify only (docs/OPERATIONS.md).
"""

import grp
import os
import re
import stat
import subprocess

import svc
from svc import check, log, lib


def bounding_set(unit):
    """The unit's CapabilityBoundingSet= as setpriv's --bounding-set."""
    caps = []
    for line in svc.staged("unitdir", unit).read_text().splitlines():
        m = re.match(r"^CapabilityBoundingSet=(.*)$", line)
        if m:
            caps += m.group(1).split()
    check(caps, f"{unit}: no CapabilityBoundingSet=")
    return caps


def confined(caps, argv, setup=""):
    """@argv with only @caps (CAP_*), in a new network namespace where
    the shell commands @setup ran first (with every capability)."""
    keep = "".join(f",+{c.lower().removeprefix('cap_')}" for c in caps)
    return ["unshare", "-n", "/bin/sh", "-ec", setup + '\nexec "$@"', "sh",
            "setpriv", f"--bounding-set=-all{keep}", "--inh-caps=-all",
            "--", *map(str, argv)]


# TAP kernel mirrors on net_null ports (CAP_NET_ADMIN) ...
MIRRORS = """\
[inside]
device = net_null0,no-rx=1
address = 10.0.0.1/24
exception = tap
[outside]
device = net_null1,no-rx=1
address = 192.0.2.1/24
gateway = 192.0.2.254
exception = tap
"""

# ... or AF_PACKET ports on a veth pair of the namespace (CAP_NET_RAW).
AF_PACKET = """\
[inside]
device = net_af_packet0,iface=v0
address = 10.0.0.1/24
next_hop_mac = 02:00:00:00:00:02
exception = none
[outside]
device = net_af_packet1,iface=v1
address = 192.0.2.1/24
next_hop_mac = 02:00:00:00:00:fe
exception = none
"""
VETH = ("ip link add v0 type veth peer name v1\n"
        "ip link set v0 up\nip link set v1 up")

ENGINE_CONFIG = """\
[engine]
eal = -l 0-1 --no-huge -m 512 --no-pci --file-prefix {prefix} --log-level=*:notice
state = {state}
{ports}[slices]
198.51.100.10 = 10000-10999
[lease.a]
kind = nat
ip = 198.51.100.10
ports = 10000-10999
clients = 10.0.0.0/16
[nat]
max_flows = 4096
"""


def engine_run(tmp, caps, tag, ports=MIRRORS, setup=""):
    """Start the engine with @caps and @ports; (READY=1 seen, the
    addresses in its namespace, exit status, output)."""
    engine = svc.staged("sbindir", "shoal-engine")
    conf = tmp / f"engine-{tag}.conf"
    conf.write_text(ENGINE_CONFIG.format(
        prefix=f"shoalinst{os.getpid()}{tag}", ports=ports,
        state=tmp / f"engine-{tag}.state"))
    out = tmp / f"engine-{tag}.out"
    ns = svc.NotifySocket(tmp / f"notify-{tag}.sock")
    proc = svc.start(confined(caps, [engine, "-c", conf], setup), ns, out)
    ready, addrs = False, ""
    try:
        try:
            ns.wait_for(lambda x: x == "READY=1", 40, proc, "READY=1")
            ready = True
        except lib.TestFailure:
            pass
        if ready:
            addrs = subprocess.run(
                ["nsenter", f"--net=/proc/{proc.pid}/ns/net", "ip", "-br",
                 "-4", "addr", "show"], capture_output=True, text=True,
                timeout=10).stdout
        rc = svc.stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ns.close()
        svc.eal_rundir_remove(conf)
    return ready, addrs, rc, out.read_text()


def test_engine(tmp):
    caps = bounding_set("shoal-engine.service")
    ready, addrs, rc, text = engine_run(tmp, caps, "unit")
    check(ready and rc == 0, f"engine with {caps}: ready {ready}, exit "
          f"{rc}:\n{text[-2000:]}")
    for name, addr in (("shoal-in", "10.0.0.1/24"), ("shoal-out", "192.0.2.1/24")):
        check(re.search(rf"^{name}\s+\S+\s+{re.escape(addr)}", addrs, re.M),
              f"mirror {name} without {addr}:\n{addrs}")
    log(f"engine with {' '.join(caps)}: ready, mirrors up with their "
        "addresses, exit 0")
    fewer = [c for c in caps if c != "CAP_NET_ADMIN"]
    ready, _, rc, text = engine_run(tmp, fewer, "less")
    check(not ready and rc != 0, f"engine without CAP_NET_ADMIN: ready "
          f"{ready}, exit {rc}")
    log(f"engine without CAP_NET_ADMIN: exit {rc} ({last_line(text)})")

    ready, _, rc, text = engine_run(tmp, caps, "pkt", AF_PACKET, VETH)
    check(ready and rc == 0, f"engine on AF_PACKET with {caps}: ready "
          f"{ready}, exit {rc}:\n{text[-2000:]}")
    log(f"engine on net_af_packet with {' '.join(caps)}: ready, exit 0")
    fewer = [c for c in caps if c != "CAP_NET_RAW"]
    ready, _, rc, text = engine_run(tmp, fewer, "pktless", AF_PACKET, VETH)
    check(not ready and rc != 0, f"engine on AF_PACKET without "
          f"CAP_NET_RAW: ready {ready}, exit {rc}")
    log(f"engine on net_af_packet without CAP_NET_RAW: exit {rc} "
        f"({last_line(text)})")


def last_line(text):
    return text.strip().splitlines()[-1].strip() if text.strip() else ""


CTLD_CONFIG = """\
[inside]
device = net_null0
[outside]
device = net_null1
[slices]
198.51.100.10 = 10000-10999
[ctl]
socket = {dir}/run-{tag}/ctl.sock
database = {dir}/lib-{tag}/leases.db
group = nogroup
"""


def test_ctld(tmp):
    caps = bounding_set("shoal-ctld.service")
    ctld = svc.staged("sbindir", "shoal-ctld")
    shoalctl = svc.staged("bindir", "shoalctl")
    try:
        gid = grp.getgrnam("nogroup").gr_gid
    except KeyError:
        lib.skip("no group 'nogroup'")
    for tag, keep in (("unit", caps), ("none", [])):
        conf = tmp / f"ctld-{tag}.conf"
        conf.write_text(CTLD_CONFIG.format(dir=tmp, tag=tag))
        out = tmp / f"ctld-{tag}.out"
        ns = svc.NotifySocket(tmp / f"notify-ctld-{tag}.sock")
        proc = svc.start(confined(keep, [ctld, "-c", conf]), ns, out)
        sock = tmp / f"run-{tag}/ctl.sock"
        try:
            try:
                ns.wait_for(lambda x: x == "READY=1", 20, proc, "READY=1")
                ready = True
            except lib.TestFailure:
                ready = False
            if tag == "none":
                check(not ready and proc.wait(10) != 0,
                      "shoal-ctld started without CAP_CHOWN")
                log(f"shoal-ctld without capabilities: exit "
                    f"{proc.returncode} ({out.read_text().strip().splitlines()[-1]})")
                continue
            check(ready, f"shoal-ctld with {keep}:\n{out.read_text()}")
            st = os.stat(sock)
            check(st.st_uid == 0 and st.st_gid == gid and
                  stat.S_IMODE(st.st_mode) == 0o660,
                  f"socket {st.st_uid}:{st.st_gid} {stat.S_IMODE(st.st_mode):o}")
            r = subprocess.run([shoalctl, "-s", sock, "-j", "status"],
                               capture_output=True, text=True, timeout=10)
            check(r.returncode == 0 and '"generation"' in r.stdout,
                  f"shoalctl status from another network namespace: "
                  f"{r.returncode} {r.stdout} {r.stderr}")
            check(svc.stop(proc) == 0, "shoal-ctld exit status")
            log(f"shoal-ctld with {' '.join(keep)} in its own network "
                "namespace: socket root:nogroup 0660, shoalctl status ok")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            ns.close()


def test():
    with lib.TempDir("shoal-install-") as tmp:
        test_engine(tmp)
        test_ctld(tmp)


if __name__ == "__main__":
    lib.main(test)
