#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The installed shoal-ctld speaks systemd's notify protocol.

The daemon runs as systemd would run shoal-ctld.service: NOTIFY_SOCKET,
WATCHDOG_USEC (2 s: fed about every second from the event loop's tick)
and WATCHDOG_PID. Checked, in order:
  1. READY=1 once the socket answers, with STATUS= counting the static
     leases and saying the engine is not connected;
  2. WATCHDOG=1 arrives repeatedly;
  3. a lease granted with the installed shoalctl shows in the next
     STATUS= (leases are counted from the store);
  4. the daemon stopped (SIGSTOP: its one thread is its event loop):
     no WATCHDOG=1 until it continues (SIGCONT);
  5. SIGTERM: STOPPING=1, exit 0.
"""

import os
import re
import signal
import subprocess
import time

import svc
from svc import check, log, lib

WATCHDOG_USEC = 2_000_000

CONFIG = """\
[inside]
device = net_null0
[outside]
device = net_null1
[slices]
198.51.100.10 = 10000-10999
[lease.web]
kind = nat
ip = 198.51.100.10
ports = 10000-10099
clients = 10.0.0.0/16
[lease.proxy]
kind = socket
ip = 198.51.100.10
ports = 10100-10199
[ctl]
socket = {dir}/run/ctl.sock
database = {dir}/lib/leases.db
group = root
"""

STATUS_RE = re.compile(r"^STATUS=(\d+) leases active \((\d+) static\), "
                       r"(\d+) draining, generation (\d+), engine "
                       r"(connected|not connected)$")


def status(line):
    m = STATUS_RE.match(line)
    return m and (int(m.group(1)), int(m.group(2)), int(m.group(3)),
                  m.group(5))


def test():
    ctld = svc.staged("sbindir", "shoal-ctld")
    shoalctl = svc.staged("bindir", "shoalctl")
    with lib.TempDir("shoal-install-") as tmp:
        conf = tmp / "shoal.conf"
        conf.write_text(CONFIG.format(dir=tmp))
        out = tmp / "ctld.out"
        ns = svc.NotifySocket(tmp / "notify.sock")
        proc = svc.start([ctld, "-c", conf], ns, out, WATCHDOG_USEC)
        try:
            # 1. READY=1 and STATUS=
            t_ready, _ = ns.wait_for(lambda x: x == "READY=1", 20, proc,
                                     "READY=1")
            check((tmp / "run/ctl.sock").exists(),
                  "READY=1 before the socket exists")
            first = [x for t, x in ns.lines("STATUS=") if t <= t_ready]
            check(first and status(first[-1]) == (2, 2, 0, "not connected"),
                  f"STATUS= with READY=1: {first}")
            log(f"ready: {first[-1]}")

            # 2. the watchdog is fed
            ns.pump(4.0)
            wd = [t for t, _ in ns.lines("WATCHDOG=1", t_ready)]
            gaps = [b - a for a, b in zip(wd, wd[1:])]
            check(len(wd) >= 3 and max(gaps) < WATCHDOG_USEC / 1e6,
                  f"WATCHDOG=1 in 4 s: {len(wd)}, gaps "
                  f"{[round(g, 2) for g in gaps]}")
            log(f"fed: {len(wd)} WATCHDOG=1 in 4 s")

            # 3. a granted lease shows in STATUS=
            r = subprocess.run([shoalctl, "-s", tmp / "run/ctl.sock",
                                "lease", "add", "--holder", "t",
                                "--clients", "10.9.0.0/16", "--size", "64"],
                               capture_output=True, text=True, timeout=10)
            check(r.returncode == 0, f"shoalctl lease add: {r.stderr}")
            t_add = time.monotonic()
            _, st = ns.wait_for(lambda x: status(x) == (3, 2, 0, "not connected"),
                                8, proc, "STATUS= with the new lease",
                                since=t_add)
            log(f"after lease add: {st}")

            # 4. a stopped event loop feeds nothing
            os.kill(proc.pid, signal.SIGSTOP)
            t_stop = time.monotonic()
            ns.pump(3.0)
            os.kill(proc.pid, signal.SIGCONT)
            t_cont = time.monotonic()
            check(not ns.lines("WATCHDOG=1", t_stop + 0.1, t_cont),
                  "WATCHDOG=1 while the daemon was stopped")
            ns.wait_for(lambda x: x == "WATCHDOG=1", 3, proc,
                        "WATCHDOG=1 after SIGCONT", since=t_cont)
            log("SIGSTOP 3 s: no WATCHDOG=1; fed again after SIGCONT")

            # 5. SIGTERM
            svc.stop_expect_stopping(ns, proc, "shoal-ctld")
            log("SIGTERM: STOPPING=1, exit 0")
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
                proc.wait()
            ns.close()
            if proc.returncode:
                log(out.read_text()[-3000:])


if __name__ == "__main__":
    lib.main(test)
