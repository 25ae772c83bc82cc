#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The installed shoal-engine speaks systemd's notify protocol, and its
watchdog is fed only while every worker makes progress.

The engine (two workers on net_null ports: the inside one receives
endless packets, so the rates are not zero) runs as systemd would run
shoal-engine.service: NOTIFY_SOCKET, WATCHDOG_USEC (1 s: a check every
0.5 s) and WATCHDOG_PID. Checked, in order:
  1. READY=1, with a STATUS= line of rates, flows, leases and workers;
  2. WATCHDOG=1 arrives repeatedly, never more than a check apart;
  3. a later STATUS= shows packets per second;
  4. one worker thread (worker 1) stopped with ptrace: no WATCHDOG=1
     while it is stopped, STATUS= and the log name that worker, while
     the other worker runs on (the engine has no hook for this);
  5. the thread let go (PTRACE_DETACH): WATCHDOG=1 comes back (nothing
     here plays systemd killing the engine, so it runs on);
  6. SIGTERM: STOPPING=1, exit 0.
"""

import re
import time

import svc
from svc import check, log, lib

WATCHDOG_USEC = 1_000_000
HALF = WATCHDOG_USEC / 2e6  # seconds between checks
WEDGE_S = 3.0

STATUS_RE = re.compile(r"^STATUS=rx (\d+) pps, tx (\d+) pps, drops (\d+)/s, "
                       r"(\d+) flows, 1 leases \(generation \d+\), 2 workers$")


def worker_lcore(out, worker):
    """The lcore of @worker from the engine's start-up lines."""
    m = re.search(rf"^shoal-engine: worker {worker} on lcore (\d+),",
                  out.read_text(), re.M)
    check(m, f"no 'worker {worker} on lcore' line in the engine's output")
    return int(m.group(1))


def test():
    engine = svc.staged("sbindir", "shoal-engine")
    with lib.TempDir("shoal-install-") as tmp:
        conf = lib.write_config(
            tmp / "engine.conf", "net_null0", "net_null1,no-rx=1",
            {"198.51.100.10": "10000-10999"},
            {"a": {"kind": "nat", "ip": "198.51.100.10",
                   "ports": "10000-10999", "clients": "10.0.0.0/16"}},
            workers=2)
        out = tmp / "engine.out"
        ns = svc.NotifySocket(tmp / "notify.sock")
        proc = svc.start([engine, "-c", conf], ns, out, WATCHDOG_USEC)
        tracer = None
        try:
            # 1. READY=1 and a first STATUS=
            t_ready, _ = ns.wait_for(lambda x: x == "READY=1", 60, proc,
                                     "READY=1")
            first = [x for t, x in ns.lines("STATUS=") if t <= t_ready]
            check(first and STATUS_RE.match(first[-1]),
                  f"STATUS= with READY=1: {first}")
            log(f"ready: {first[-1]}")

            # 2. the watchdog is fed every check
            ns.pump(3.0)
            wd = [t for t, _ in ns.lines("WATCHDOG=1", t_ready)]
            gaps = [b - a for a, b in zip(wd, wd[1:])]
            check(len(wd) >= 4 and max(gaps) < 2.5 * HALF,
                  f"WATCHDOG=1 in 3 s after READY=1: {len(wd)}, gaps "
                  f"{[round(g, 2) for g in gaps]}")
            log(f"fed: {len(wd)} WATCHDOG=1 in 3 s, largest gap "
                f"{max(gaps):.2f} s")

            # 3. rates in a later STATUS=
            _, st = ns.wait_for(
                lambda x: (m := STATUS_RE.match(x)) and int(m.group(1)) > 0,
                10, proc, "STATUS= with rx pps > 0")
            log(f"status: {st}")

            # 4. stop worker 1's thread alone
            lcore = worker_lcore(out, 1)
            tid = next(filter(None, (svc.thread_by_name(proc.pid, f"{p}-worker-{lcore}")
                                     for p in ("rte", "lcore"))), None)
            check(tid, f"no thread named rte-worker-{lcore} (or "
                  f"lcore-worker-{lcore}) in /proc/{proc.pid}/task")
            tracer = svc.Ptrace(tid)
            tracer.interrupt()
            t_wedge = time.monotonic()
            other = svc.thread_by_name(proc.pid, f"rte-worker-{worker_lcore(out, 0)}") \
                or svc.thread_by_name(proc.pid, f"lcore-worker-{worker_lcore(out, 0)}")
            states = {t: svc.thread_state(proc.pid, t) for t in (tid, other)}
            check(states[tid] == "t" and states[other] in "RS",
                  f"thread states (t: stopped by ptrace): {states}")
            ns.pump(WEDGE_S)
            # The first check after the stop may still see the loops the
            # worker ran before it; from the next one on, nothing.
            late = ns.lines("WATCHDOG=1", t_wedge + HALF + 0.2)
            check(not late, f"WATCHDOG=1 while worker 1 was stopped, "
                  f"{[round(t - t_wedge, 2) for t, _ in late]} s after")
            check(ns.lines(f"STATUS=worker 1 (lcore {lcore}) stalled", t_wedge),
                  "no STATUS= naming the stalled worker")
            text = out.read_text()
            check(f"worker 1 (lcore {lcore}) made no progress" in text,
                  "no log line naming the stalled worker")
            check(proc.poll() is None, "the engine exited")
            log(f"worker 1 (tid {tid}) stopped {WEDGE_S} s: no WATCHDOG=1 "
                f"after {HALF + 0.2:.1f} s")

            # 5. let it go
            tracer.detach()
            t_free = time.monotonic()
            t_back, _ = ns.wait_for(lambda x: x == "WATCHDOG=1",
                                    3 * HALF + 1, proc,
                                    "WATCHDOG=1 after PTRACE_DETACH",
                                    since=t_free)
            check("progresses again" in out.read_text(),
                  "no log line saying the workers progress again")
            log(f"WATCHDOG=1 again {t_back - t_free:.2f} s after the detach")

            # 6. SIGTERM
            svc.stop_expect_stopping(ns, proc, "engine")
            log("SIGTERM: STOPPING=1, exit 0")
        finally:
            if tracer:
                tracer.detach()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            ns.close()
            svc.eal_rundir_remove(conf)
            if proc.returncode:
                log(out.read_text()[-3000:])


if __name__ == "__main__":
    lib.main(test)
