# SPDX-License-Identifier: BSD-3-Clause
"""Run a program on a pseudo-terminal, as a user at a terminal would.

    pty_run.py [--cols C] [--rows R] [--key SECONDS:CHAR] [--sigint SECONDS]
               [--timeout SECONDS] -- PROGRAM [ARGS...]

The program's stdin, stdout and stderr are the pty's slave side, of the
size given (default 120x40). --key types CHAR that many seconds after the
start; --sigint sends SIGINT then. Prints one JSON object: "rc" (the exit
status, or -signal; null if it outlived --timeout and was killed),
"output" (everything it wrote, escapes included) and "restored" (whether
the terminal is back in canonical mode with echo after it exited).
Exit 0 unless the runner itself failed. test_cli.py imports run().
"""

import argparse
import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time


def run(argv, cols=120, rows=40, key=None, sigint=None, timeout=20):
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ,
                struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)
    start = time.monotonic()
    out = b""
    rc = None
    try:
        while True:
            now = time.monotonic() - start
            if key and now >= key[0]:
                os.write(master, key[1].encode())
                key = None
            if sigint is not None and now >= sigint:
                proc.send_signal(signal.SIGINT)
                sigint = None
            if now > timeout:
                proc.kill()
                proc.wait()
                break
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    pass
                continue
            if proc.poll() is not None:
                rc = proc.returncode
                break
        attrs = termios.tcgetattr(slave)
        restored = bool(attrs[3] & termios.ECHO and attrs[3] & termios.ICANON)
    finally:
        os.close(master)
        os.close(slave)
    return {"rc": rc, "output": out.decode(errors="replace"),
            "restored": restored}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cols", type=int, default=120)
    ap.add_argument("--rows", type=int, default=40)
    ap.add_argument("--key")
    ap.add_argument("--sigint", type=float)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("argv", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    argv = a.argv[1:] if a.argv[:1] == ["--"] else a.argv
    key = None
    if a.key:
        t, _, ch = a.key.partition(":")
        key = (float(t), ch)
    json.dump(run(argv, a.cols, a.rows, key, a.sigint, a.timeout),
              sys.stdout)
    print()


if __name__ == "__main__":
    main()
