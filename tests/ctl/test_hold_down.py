#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Hold-down of lease ranges (RFC 6888 REQ-8) in shoal-ctld: once a lease
is gone, its ports are refused to other holders (held_down, seconds left
in the message) for [nat] port_hold_down seconds, a size request is
placed around them, the same holder takes them back at once, the hold
survives kill -9 and slice.list shows it. The refusal checks run with a
60 s hold so that no check races its end; the end itself is checked with
a 2 s hold and a bounded wait."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import nat, sock_lease  # noqa: E402

S2 = lib.SLICE2_IP  # 20000-20099, no static lease on it


def gone(c, lease_id, timeout=15):
    """Release @lease_id and wait until it is deleted (drained)."""
    c.call("lease.release", {"id": lease_id})
    end = time.time() + timeout
    while time.time() < end:
        if lease_id not in [l["id"] for l in c.call("lease.list")["leases"]]:
            return
        time.sleep(0.1)
    raise AssertionError("lease %d not deleted in %d s" % (lease_id, timeout))


def slice2(c):
    return [s for s in c.call("slice.list")["slices"] if s["ip"] == S2][0]


def test_range_held_for_other_holders_survives_kill_9():
    with lib.Env(drain=1, hold=60) as env:
        env.start()
        c = env.client()
        a = c.call("lease.add", nat("alice", ip=S2, size=100))["lease"]
        assert (a["lo"], a["hi"]) == (20000, 20099), a
        t0 = time.time()
        gone(c, a["id"])
        s = slice2(c)
        assert (s["leased"], s["held"], s["free"]) == (0, 100, 0), s
        assert len(s["holds"]) == 1, s
        h = s["holds"][0]
        assert (h["lo"], h["hi"], h["holder"]) == (20000, 20099, "alice"), h
        assert t0 + 59 <= h["until"] <= time.time() + 61, (t0, h)
        # another holder: explicit ports refused, size finds no room
        gen = c.call("status")["generation"]
        e = c.expect_error("lease.add", nat("bob", ip=S2, ports="20050-20059"),
                           "held_down")
        assert e["code"] == -32000, e
        m = re.search(r"held down for (\d+) s more \(left by alice\)",
                      e["message"])
        assert m and 1 <= int(m.group(1)) <= 60, e
        c.expect_error("lease.add", sock_lease("bob", ip=S2, ports="20099"),
                       "held_down")
        c.expect_error("lease.add", nat("bob", ip=S2, size=1), "no_space")
        # without ip, a size request goes to a slice with room
        b = c.call("lease.add", nat("bob", size=1))["lease"]
        assert b["ip"] == lib.SLICE_IP, b
        assert c.call("status")["generation"] == gen + 1
        # kill -9: the hold is stored
        c.close()
        env.kill()
        env.start()
        c = env.client()
        assert slice2(c)["holds"] == [h]
        c.expect_error("lease.add", nat("bob", ip=S2, ports="20000"),
                       "held_down")
        # the same holder takes its ports back at once, by ports or size
        a1 = c.call("lease.add", nat("alice", ip=S2, ports="20010-20019"))
        a2 = c.call("lease.add", sock_lease("alice", ip=S2, size=5))["lease"]
        assert (a2["lo"], a2["hi"]) == (20000, 20004), a2
        s = slice2(c)
        assert (s["leased"], s["held"], s["free"]) == (15, 85, 0), s
        # a holder name differing in case is another holder
        c.expect_error("lease.add", nat("Alice", ip=S2, ports="20090"),
                       "held_down")
        # an overlap with a live lease is reported before the hold
        c.expect_error("lease.add", nat("bob", ip=S2, ports="20015-20030"),
                       "overlap")
        # releasing alice's new lease again replaces her hold inside it,
        # and it still keeps bob out
        gone(c, a1["lease"]["id"])
        s = slice2(c)
        assert (s["leased"], s["held"], s["free"]) == (5, 95, 0), s
        c.expect_error("lease.add", nat("bob", ip=S2, ports="20015"),
                       "held_down")
        c.close()


def test_hold_ends_after_port_hold_down():
    with lib.Env(drain=1, hold=2) as env:
        env.start()
        c = env.client()
        a = c.call("lease.add", nat("alice", ip=S2, ports="20000-20009"))
        gone(c, a["lease"]["id"])
        until = slice2(c)["holds"][0]["until"]
        end = time.time() + 10
        while True:
            r = c.call_raw("lease.add", nat("bob", ip=S2,
                                            ports="20000-20009"))
            if "result" in r:
                break
            assert r["error"]["data"] == "held_down", r
            # the hold ends at "until" (whole seconds), not before
            assert time.time() < until + 1, (time.time(), until)
            assert time.time() < end, "hold did not end in 10 s"
            time.sleep(0.2)
        assert time.time() >= until - 1, (time.time(), until)
        s = slice2(c)
        assert s["holds"] == [] and s["held"] == 0, s
        c.close()


def test_no_hold_with_port_hold_down_0():
    with lib.Env(drain=1, hold=0) as env:
        env.start()
        c = env.client()
        a = c.call("lease.add", nat("alice", ip=S2, ports="20000-20009"))
        gone(c, a["lease"]["id"])
        assert slice2(c)["holds"] == []
        c.call("lease.add", nat("bob", ip=S2, ports="20000-20009"))
        c.close()


def main():
    lib.run_tests([test_range_held_for_other_holders_survives_kill_9,
                   test_hold_ends_after_port_hold_down,
                   test_no_hold_with_port_hold_down_0])


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit(77)
    main()
