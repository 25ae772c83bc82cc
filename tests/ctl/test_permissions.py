#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Who may talk to shoal-ctld: root and the [ctl] group only (SO_PEERCRED),
and the daemon refuses to start on an unsafe socket directory or with a
group that does not exist. Creates a throwaway system group and two
system users with unique names and deletes them afterwards."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

TAG = "%x" % (os.getpid() & 0xffffff)
GROUP = "shoalg" + TAG
OUTSIDER = "shoalo" + TAG
MEMBER = "shoalm" + TAG

CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
try:  # a refused peer may find the connection closed already
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"status"}\n')
except OSError:
    pass
buf = b""
while b"\n" not in buf:
    d = s.recv(4096)
    if not d:
        break
    buf += d
print(buf.split(b"\n")[0].decode())
"""


def run_as(user, sock, group=None, extra_groups=()):
    """The client above as @user; its first reply line, parsed."""
    import json
    r = subprocess.run([sys.executable, "-c", CLIENT, sock], user=user,
                       group=group, extra_groups=list(extra_groups),
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def test_peers(env):
    env.start()
    st = os.stat(env.sockdir)
    assert st.st_mode & 0o7777 == 0o750, oct(st.st_mode)
    assert st.st_uid == 0 and st.st_gid == gid(GROUP)
    st = os.stat(env.sock)
    assert st.st_mode & 0o777 == 0o660 and st.st_gid == gid(GROUP)
    # open the file system path so that only SO_PEERCRED decides
    os.chmod(env.dir, 0o755)
    os.chmod(env.sockdir, 0o755)
    os.chmod(env.sock, 0o666)
    r = run_as(OUTSIDER, env.sock)
    assert r.get("error", {}).get("data") == "permission_denied", r
    # a member: its own primary group, listed in the group's members
    r = run_as(MEMBER, env.sock, extra_groups=[GROUP])
    assert "result" in r, r
    # anyone whose process gid is the group
    r = run_as(OUTSIDER, env.sock, group=GROUP)
    assert "result" in r, r
    # and the daemon keeps serving root
    c = env.client()
    c.call("status")
    c.close()
    os.chmod(env.sockdir, 0o750)
    assert env.stop() == 0


def gid(name):
    import grp
    return grp.getgrnam(name).gr_gid


def refused(env, needle):
    p = env.start(wait=False)
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        env.stop()
        raise AssertionError("daemon started")
    env.proc = None
    log = env.logtext()
    assert rc != 0, log
    assert needle in log, log
    assert not os.path.exists(env.sock), "socket created"


def test_unsafe_directory():
    for mode, owner in ((0o777, 0), (0o755, 0), (0o770, 0), (0o750, None)):
        with lib.Env(group=GROUP) as env:
            os.mkdir(env.sockdir)
            os.chmod(env.sockdir, mode)
            if owner is None:
                import pwd
                os.chown(env.sockdir, pwd.getpwnam(OUTSIDER).pw_uid, 0)
            refused(env, "unsafe")


def test_missing_group():
    with lib.Env(group="nosuch" + TAG) as env:
        refused(env, "[ctl] group = nosuch" + TAG + ": no such group")


def main():
    made = []
    try:
        sh("groupadd", "-r", GROUP)
        made.append(("groupdel", GROUP))
        for u, extra in ((OUTSIDER, []), (MEMBER, ["-G", GROUP])):
            sh("useradd", "-r", "-M", "-s", "/usr/sbin/nologin", *extra, u)
            made.insert(0, ("userdel", u))
        with lib.Env(group=GROUP) as env:
            def test_only_root_and_group_members_are_served():
                test_peers(env)
            lib.run_tests([test_only_root_and_group_members_are_served,
                           test_unsafe_directory,
                           test_missing_group])
    finally:
        for cmd, name in made:
            subprocess.run([cmd, name], capture_output=True)


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit(77)
    for tool in ("useradd", "groupadd", "userdel", "groupdel"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            sys.exit(77)
    main()
