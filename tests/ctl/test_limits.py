#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""shoal-ctld grants only what the engine can hold: SHOAL_MAX_LEASES leases
(static and stored together) and, over all of them, SHOAL_MAX_SELECTORS
client selectors, both checked before the acknowledgement. The full lease
set still fits one engine line (SHOAL_ENGINE_MSG_MAX). To stay fast, the
lease limit is reached mostly through static leases in the configuration
(4096 lease.add take tens of seconds: each is a synced transaction)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import nat, sock_lease  # noqa: E402

MAX_LEASES = 4096               # proto.h SHOAL_MAX_LEASES
MAX_SELECTORS = 4096            # proto.h SHOAL_MAX_SELECTORS
ENGINE_MSG_MAX = 4 << 20        # proto.h SHOAL_ENGINE_MSG_MAX
STATIC_SELECTORS = 1            # lib.CONFIG: [lease.web] has one prefix
BIG_IP = "198.51.100.12"
DYNAMIC = 100                   # leases added over the protocol


def prefixes(n, base):
    return ["10.%d.%d.0/24" % (base, j) for j in range(n)]


def test_selector_total_is_refused_past_the_limit():
    # 255 leases of 16 and one of 15 fill the set exactly (with the static
    # one); a draining lease still counts: the engine keeps it.
    with lib.Env(drain=3600) as env:
        env.start()
        c = env.client()
        left = MAX_SELECTORS - STATIC_SELECTORS
        i = 0
        while left:
            n = min(16, left)
            lease = c.call("lease.add", nat(clients=prefixes(n, i), size=1))
            if i == 0:
                c.call("lease.release", {"id": lease["lease"]["id"]})
            left -= n
            i += 1
        before = c.call("status")["generation"]
        e = c.expect_error("lease.add",
                           nat(clients=["10.250.0.0/24"], size=1),
                           "too_many_selectors")
        assert e["code"] == -32000, e
        assert str(MAX_SELECTORS) in e["message"], e
        assert c.call("status")["generation"] == before, "refusal committed"
        # a socket lease has no selectors: still granted
        c.call("lease.add", sock_lease(size=1))
        total = sum(len(l["clients"])
                    for l in c.call("lease.list")["leases"])
        assert total == MAX_SELECTORS, total
        c.close()


def big_config(n_static):
    """@n_static leases on BIG_IP, every other one nat with one client
    prefix, names of the longest kind (63 characters)."""
    out = ["\n[slices]\n%s = 1-65535\n" % BIG_IP]
    for i in range(n_static):
        out.append("[lease.%s]\nip = %s\nports = %d-%d\n" %
                   (("s%d-" % i).ljust(63, "x"), BIG_IP, 10 * i + 1,
                    10 * i + 10))
        if i % 2:
            out.append("kind = socket\n")
        else:
            out.append("kind = nat\nclients = 172.%d.%d.%d/32\n"
                       "mapping = address-and-port-dependent\n"
                       "filtering = address-and-port-dependent\n" %
                       (16 + i // 65536, i // 256 % 256, i % 256))
    return "".join(out)


def test_lease_total_is_refused_at_the_limit():
    n_static = MAX_LEASES - 2 - DYNAMIC  # lib.CONFIG has two of its own
    # [slices] may only appear once: put the big slice in the base config
    with lib.Env(drain=3600, hold=0) as env:
        extra = big_config(n_static)
        with open(env.conf) as f:
            text = f.read()
        head, tail = extra.split("[lease.", 1)
        text = text.replace("[slices]\n", "[slices]\n%s = 1-65535\n" % BIG_IP)
        with open(env.conf, "w") as f:
            f.write(text + "\n[lease." + tail)
        env.start()
        c = env.client()
        t0 = time.time()
        ids = []
        for i in range(DYNAMIC):
            holder = ("d%d-" % i).ljust(63, "y")
            kw = {"mapping": "address-and-port-dependent",
                  "filtering": "address-and-port-dependent",
                  "ttl": 315360000}
            l = c.call("lease.add", nat(holder, ip=BIG_IP, size=10,
                                        clients=["172.31.%d.0/24" % i],
                                        **kw) if i % 2 else
                       sock_lease(holder, ip=BIG_IP, size=10, ttl=315360000))
            ids.append(l["lease"]["id"])
        dt = time.time() - t0
        gen = c.call("status")["generation"]
        e = c.expect_error("lease.add", sock_lease(size=1), "too_many_leases")
        assert e["code"] == -32000, e
        assert c.call("status")["generation"] == gen, "refusal committed"
        t1 = time.time()
        leases = c.call("lease.list")["leases"]
        dl = time.time() - t1
        assert len(leases) == MAX_LEASES, len(leases)
        lib.check_invariants(
            [l for l in leases if l["ip"] != BIG_IP])
        # the engine's snapshot: every lease, within one engine line
        eng = env.client()
        eng.request("engine.subscribe", {"version": 1})
        while b"\n" not in eng.buf:
            d = eng.s.recv(1 << 20)
            assert d, "daemon closed the engine connection"
            eng.buf += d
        line = eng.buf.split(b"\n", 1)[0]
        assert len(line) + 1 <= ENGINE_MSG_MAX, len(line)
        r = eng.wait_reply(1)
        assert len(r["result"]["leases"]) == MAX_LEASES
        # a draining lease still counts: the engine keeps it
        c.call("lease.release", {"id": ids[0]})
        c.expect_error("lease.add", sock_lease(size=1), "too_many_leases")
        # an engine that does not read while 40 changes are made (40 sets
        # of ~1.3 MB would pass the daemon's 16 MiB output limit) stays
        # connected and then gets the latest set, in fewer updates
        for _ in range(40):
            c.call("lease.renew", {"id": ids[1]})
        last = c.call("status")
        assert last["engine"]["connected"] is True, last
        updates = []
        eng.s.settimeout(5)
        while not updates or \
                updates[-1]["params"]["generation"] < last["generation"]:
            m = eng.recv()
            assert m is not None, "engine dropped"
            updates.append(m)
        assert 1 <= len(updates) < 40, len(updates)
        assert len(updates[-1]["params"]["leases"]) == MAX_LEASES
        print("limits: %d lease.add in %.2f s (%.1f ms each) with %d "
              "leases; lease.list of %d in %.3f s; engine set line %d bytes"
              % (DYNAMIC, dt, 1000 * dt / DYNAMIC, MAX_LEASES - DYNAMIC,
                 len(leases), dl, len(line) + 1))
        eng.close()
        c.close()


def main():
    lib.run_tests([test_selector_total_is_refused_past_the_limit,
                   test_lease_total_is_refused_at_the_limit])


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit(77)
    main()
