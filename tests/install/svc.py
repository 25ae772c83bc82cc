# SPDX-License-Identifier: BSD-3-Clause
"""What systemd gives a Type=notify service, without systemd, for the
tests of tests/install:

  * NotifySocket   a unix datagram socket the test binds and reads, as
                   systemd's NOTIFY_SOCKET; every line received is kept
                   with its arrival time (sd_notify sends "A=1\\nB=2").
  * start          run a program with NOTIFY_SOCKET, WATCHDOG_USEC and
                   WATCHDOG_PID (its own PID, as systemd sets it: a shell
                   exports $$ and execs the program), output to a file.
  * stop           SIGTERM by PID, wait bounded, SIGKILL if it hangs.
  * Ptrace         stop ONE thread of a running process (PTRACE_SEIZE +
                   PTRACE_INTERRUPT on its TID) and let it go again
                   (PTRACE_DETACH): the other threads run on.
  * staged         the path of an installed file inside the staged
                   install of run.sh (SHOAL_STAGE and the build's dirs).
"""

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
import lib  # noqa: E402  tests/engine/lib.py: check, log, main, TempDir

check, log = lib.check, lib.log


def staged(kind, name):
    """The staged install's @name in the build's @kind dir (bindir,
    sbindir, sysconfdir, mandir, unitdir...), from run.sh's environment."""
    var = "SHOAL_STAGED_" + kind.upper()
    d = os.environ.get(var)
    if not d:
        lib.skip(f"{var} not set: run tests/install/run.sh")
    return Path(d) / name


class NotifySocket:
    """A bound AF_UNIX datagram socket at @path; lines() so far."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.got = []  # (monotonic time, "KEY=value")

    def close(self):
        self.sock.close()

    def pump(self, seconds):
        """Receive for @seconds; keep every line."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return
            now = time.monotonic()
            for line in data.decode(errors="replace").split("\n"):
                if line:
                    self.got.append((now, line))

    def wait_for(self, pred, timeout, proc=None, what="message", since=0.0):
        """Pump until a line satisfying @pred arrives at or after @since
        (one already kept counts); return (time, line). Fails after
        @timeout seconds, or at once if @proc exited."""
        end = time.monotonic() + timeout
        seen = 0
        while True:
            for t, line in self.got[seen:]:
                if t >= since and pred(line):
                    return t, line
            seen = len(self.got)
            if proc is not None and proc.poll() is not None:
                raise lib.TestFailure(f"{what}: the program exited "
                                      f"{proc.returncode} first")
            if time.monotonic() >= end:
                raise lib.TestFailure(f"{what}: not received in {timeout} s "
                                      f"(got {[x for _, x in self.got][-8:]})")
            self.pump(0.1)

    def lines(self, key, since=0.0, until=float("inf")):
        """(time, line) of lines starting with @key received in
        [since, until)."""
        return [(t, x) for t, x in self.got
                if x.startswith(key) and since <= t < until]


def start(argv, notify, out, watchdog_usec=None):
    """Popen @argv as systemd would start a Type=notify service: with
    NOTIFY_SOCKET=@notify.path, and with @watchdog_usec also
    WATCHDOG_USEC and WATCHDOG_PID (= the program's own PID)."""
    env = dict(os.environ, NOTIFY_SOCKET=notify.path)
    for k in ("WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(k, None)
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
        argv = ["/bin/sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; '
                'exec "$@"', "sh", *map(str, argv)]
    with open(out, "ab") as f:
        return subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT,
                                env=env)


def eal_rundir_remove(conf):
    """Remove the EAL runtime directory of @conf's --file-prefix."""
    m = re.search(r"--file-prefix\s+(\S+)", Path(conf).read_text())
    if m:
        shutil.rmtree(f"/var/run/dpdk/{m.group(1)}", ignore_errors=True)


def stop(proc, timeout=30):
    """SIGTERM @proc by PID; its exit status (SIGKILL after @timeout)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise lib.TestFailure(f"no exit {timeout} s after SIGTERM")
    return proc.returncode


def stop_expect_stopping(ns, proc, what):
    """SIGTERM @proc: it must send STOPPING=1 on @ns and exit 0."""
    t_term = time.monotonic()
    rc = stop(proc)
    ns.pump(0.2)
    check(rc == 0, f"{what} exit status {rc}")
    check(ns.lines("STOPPING=1", t_term), "no STOPPING=1 on SIGTERM")


def thread_by_name(pid, name):
    """TID of the thread of @pid whose comm is @name, or None."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == name:
                return int(task.name)
        except OSError:
            pass
    return None


def thread_state(pid, tid):
    """The state letter of thread @tid of @pid (R, S, t: traced...)."""
    stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


class Ptrace:
    """Stop thread @tid alone (ptrace stops only the thread it is
    attached to) and detach again; the kernel detaches by itself if the
    test dies first, so the thread never stays stopped."""

    SEIZE, INTERRUPT, DETACH = 0x4206, 0x4207, 17
    WALL = 0x40000000  # __WALL: wait for threads too

    def __init__(self, tid):
        self.tid = tid
        self.attached = False
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.ptrace.restype = ctypes.c_long
        self.libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long,
                                     ctypes.c_void_p, ctypes.c_void_p]

    def _call(self, req):
        if self.libc.ptrace(req, self.tid, None, None) != 0:
            e = ctypes.get_errno()
            raise lib.TestFailure(f"ptrace({req:#x}, {self.tid}): "
                                  f"{os.strerror(e)}")

    def interrupt(self):
        """Attach and stop the thread; returns once it is stopped."""
        self._call(self.SEIZE)
        self.attached = True
        self._call(self.INTERRUPT)
        _, status = os.waitpid(self.tid, self.WALL)
        check(os.WIFSTOPPED(status), f"thread {self.tid} did not stop "
              f"(wait status {status:#x})")

    def detach(self):
        if self.attached:
            self.attached = False
            self._call(self.DETACH)
