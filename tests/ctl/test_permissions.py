#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Who may talk to shoal-ctld, and what each may call (SO_PEERCRED, proto.h
"Roles"): root everything; the [ctl] group reads and operates leases but
cannot be the engine; the [ctl] readers group reads only; [ctl]
engine_user reads and may be the engine; anyone else is refused. Changes
are audited with the asking peer's uid and pid. The daemon refuses to
start on an unsafe socket directory or with a group or user that does not
exist. Creates throwaway system groups and users with unique names and
deletes them afterwards."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

TAG = "%x" % (os.getpid() & 0xffffff)
GROUP = "shoalg" + TAG
OUTSIDER = "shoalo" + TAG
MEMBER = "shoalm" + TAG
RGROUP = "shoalr" + TAG   # [ctl] readers
READER = "shoalv" + TAG   # a member of RGROUP only
ENGINEU = "shoale" + TAG  # [ctl] engine_user, in no group

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


# Calls on one connection: argv[2] is a JSON list of [method, params];
# prints {"pid": ours, "replies": [...]} ("closed" when the daemon hung up).
CALLS = r"""
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
f = s.makefile("rwb")
out = []
for i, (m, p) in enumerate(json.loads(sys.argv[2])):
    f.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": m,
                        "params": p}).encode() + b"\n")
    f.flush()
    line = f.readline()
    out.append(json.loads(line) if line else "closed")
print(json.dumps({"pid": os.getpid(), "replies": out}))
"""


def calls_as(user, sock, calls):
    """@calls on one connection as @user, with the user's own primary and
    supplementary groups (as after a login): (its pid, its replies)."""
    import json
    import pwd
    pw = pwd.getpwnam(user)
    r = subprocess.run([sys.executable, "-c", CALLS, sock, json.dumps(calls)],
                       user=user, group=pw.pw_gid,
                       extra_groups=os.getgrouplist(user, pw.pw_gid),
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    return doc["pid"], doc["replies"]


def reason(reply):
    return "ok" if "result" in reply else reply["error"]["data"]


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


UPGRADE = ["engine.upgrade", {"binary": "/usr/sbin/shoal-engine"}]
READS = [["status", {}], ["slice.list", {}], ["lease.list", {}],
         ["lease.show", {"id": 1}], ["lease.history", {}], ["stats", {}]]


def test_roles(env):
    """Without opening the file system path: the readers and the engine
    user reach the socket through its ACL entries, others do not."""
    import pwd
    env.start()
    os.chmod(env.dir, 0o755)  # the test's temp dir, as /run is
    st = os.stat(env.sockdir)
    assert st.st_mode & 0o7777 == 0o750, oct(st.st_mode)
    st = os.stat(env.sock)
    assert st.st_mode & 0o777 == 0o660, oct(st.st_mode)
    # others: the socket's file permissions stop them before the daemon
    r = subprocess.run([sys.executable, "-c", CLIENT, env.sock],
                       user=OUTSIDER, group=pwd.getpwnam(OUTSIDER).pw_gid,
                       extra_groups=[],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "PermissionError" in r.stderr, r
    root = env.client()
    eng = env.client()
    eng.call("engine.subscribe", {"version": 1})
    static_ok = ["lease.add", {"holder": "r", "kind": "socket", "size": 1}]
    # a reader reads, and nothing else
    _, rep = calls_as(READER, env.sock, READS + [
        static_ok, ["lease.renew", {"id": 1}], ["lease.release", {"id": 1}],
        ["engine.subscribe", {"version": 1}], UPGRADE])
    got = [reason(x) for x in rep]
    assert got == ["ok"] * 5 + ["no_engine"] + ["permission_denied"] * 5, \
        got
    # a group member operates leases and reads, but is not the engine:
    # it cannot displace the subscribed one, nor upgrade it (root only:
    # the engine would run the binary as root)
    pid, rep = calls_as(MEMBER, env.sock, READS + [
        static_ok, ["engine.subscribe", {"version": 1}],
        ["lease.release", {"id": 1000}], ["lease.renew", {"id": 1000}],
        UPGRADE])
    got = [reason(x) for x in rep]
    assert got == ["ok"] * 5 + ["no_engine", "ok", "permission_denied",
                                "ok", "draining", "permission_denied"], got
    lid = rep[6]["result"]["lease"]["id"]
    assert lid == 1000, rep[6]
    assert root.call("status")["engine"]["connected"] is True
    assert not eng.is_closed(timeout=0.5), "the engine was displaced"
    # the engine user reads and subscribes (displacing root's engine:
    # the latest subscriber wins), but does not operate leases
    _, rep = calls_as(ENGINEU, env.sock, READS[:5] + [
        static_ok, ["engine.subscribe", {"version": 1}], UPGRADE])
    got = [reason(x) for x in rep]
    assert got == ["ok"] * 5 + ["permission_denied", "ok",
                                "permission_denied"], got
    assert eng.is_closed(), "root's engine kept after a new subscriber"
    # the member's changes are audited with its uid and pid
    uid = pwd.getpwnam(MEMBER).pw_uid
    ev = [e for e in root.call("lease.history", {"lease": lid})["events"]]
    assert [(e["event"], e["uid"], e["pid"]) for e in ev] == \
        [("grant", uid, pid), ("release", uid, pid)], ev
    log = env.logtext()
    for e in ("grant", "release"):
        assert re.search(r"audit: event=%s lease=%d .* uid=%d pid=%d "
                         % (e, lid, uid, pid), log), log
    # root does everything
    l = root.call("lease.add", {"holder": "root", "kind": "socket",
                                "size": 1})["lease"]
    root.call("lease.renew", {"id": l["id"]})
    root.call("lease.release", {"id": l["id"]})
    e2 = env.client()
    e2.call("engine.subscribe", {"version": 1})
    e2.close()
    root.close()
    assert env.stop() == 0


def test_missing_readers_group_and_engine_user():
    with lib.Env(group=GROUP, extra="readers = nosuch%s\n" % TAG) as env:
        refused(env, "[ctl] readers = nosuch" + TAG + ": no such group")
    with lib.Env(group=GROUP, extra="engine_user = nosuch%s\n" % TAG) as env:
        refused(env, "[ctl] engine_user = nosuch" + TAG + ": no such user")


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
        for g in (GROUP, RGROUP):
            sh("groupadd", "-r", g)
            made.append(("groupdel", g))
        for u, extra in ((OUTSIDER, []), (MEMBER, ["-G", GROUP]),
                         (READER, ["-G", RGROUP]), (ENGINEU, [])):
            sh("useradd", "-r", "-M", "-s", "/usr/sbin/nologin", *extra, u)
            made.insert(0, ("userdel", u))
        with lib.Env(group=GROUP) as env:
            def test_only_root_and_group_members_are_served():
                test_peers(env)
            extra = "readers = %s\nengine_user = %s\n" % (RGROUP, ENGINEU)
            with lib.Env(group=GROUP, extra=extra) as env2:
                def test_each_role_calls_only_its_methods():
                    test_roles(env2)
                lib.run_tests([test_only_root_and_group_members_are_served,
                               test_each_role_calls_only_its_methods,
                               test_unsafe_directory,
                               test_missing_group,
                               test_missing_readers_group_and_engine_user])
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
