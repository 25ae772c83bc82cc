#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Acknowledged lease changes survive kill -9 of shoal-ctld.

Loop (SHOAL_DURABILITY_ITERS, default 200; stops after
SHOAL_DURABILITY_SECONDS, default 150, whichever comes first): start the
real daemon, let three client threads add/renew/release leases, kill -9
it (by PID) at a random instant, restart it and check:
  - every acknowledged add is there with the same id and range (unless an
    acknowledged or in-flight release let it drain away);
  - every acknowledged release is draining or gone;
  - every acknowledged renew's expiry is kept;
  - nothing unacknowledged is half-applied: a lease either exists whole
    (holder, kind, clients and size as requested) or not at all, and no
    lease exists that no client asked for;
  - no two leases overlap, all lie inside slices.
Prints iterations per second."""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

ITERS = int(os.environ.get("SHOAL_DURABILITY_ITERS", "200"))
SECONDS = float(os.environ.get("SHOAL_DURABILITY_SECONDS", "150"))
THREADS = 3


class Rec:
    """What the clients know about one holder's lease."""

    def __init__(self, req):
        self.req = req          # the lease.add params
        self.add = "inflight"   # inflight | acked
        self.lease = None       # as acknowledged
        self.release = None     # None | inflight | acked
        self.expires_min = None  # from the last acknowledged renew


known = {}   # holder -> Rec
lock = threading.Lock()
errors = []
stats = {"adds": 0, "renews": 0, "releases": 0, "refused": 0}


def worker(env, tid, it, owned, rng):
    try:
        c = env.client(timeout=5)
    except OSError:
        return
    n = 0
    try:
        while True:
            op = rng.random()
            if len(owned) < 3 or op < 0.45:
                n += 1
                holder = "t%d-%d-%d" % (it, tid, n)
                if rng.random() < 0.5:
                    req = lib.nat(holder, size=rng.randint(1, 8),
                                  ttl=3600)
                else:
                    req = lib.sock_lease(holder, size=rng.randint(1, 8),
                                         ttl=3600)
                if rng.random() < 0.2:
                    req["ip"] = lib.SLICE2_IP
                rec = Rec(req)
                with lock:
                    known[holder] = rec
                r = c.call_raw("lease.add", req)
                if "error" in r:
                    assert r["error"]["data"] in ("no_space",
                                                  "too_many_leases"), r
                    with lock:
                        del known[holder]
                        stats["refused"] += 1
                    time.sleep(0.01)  # full: let leases drain away
                    if owned:
                        holder = owned.pop(0)
                        known[holder].release = "inflight"
                        c.call("lease.release",
                               {"id": known[holder].lease["id"]})
                        known[holder].release = "acked"
                    continue
                with lock:
                    rec.lease = r["result"]["lease"]
                    rec.add = "acked"
                    stats["adds"] += 1
                owned.append(holder)
            elif op < 0.75:
                rec = known[rng.choice(owned)]
                r = c.call("lease.renew", {"id": rec.lease["id"]})
                rec.expires_min = r["lease"]["expires"]
                stats["renews"] += 1
            else:
                holder = owned.pop(rng.randrange(len(owned)))
                rec = known[holder]
                rec.release = "inflight"
                r = c.call("lease.release", {"id": rec.lease["id"]})
                assert r["lease"]["state"] == "draining"
                rec.release = "acked"
                stats["releases"] += 1
    except (OSError, EOFError, ValueError):
        pass  # the daemon was killed under us
    except Exception as e:  # noqa: BLE001 - reported by main()
        errors.append("thread %d: %r" % (tid, e))
    finally:
        c.close()


def check(env):
    c = env.client()
    try:
        leases = c.call("lease.list")["leases"]
    finally:
        c.close()
    lib.check_invariants(leases)
    dyn = {l["holder"]: l for l in leases if not l["static"]}
    assert len(dyn) == len(leases) - 2
    for holder, l in dyn.items():
        rec = known.get(holder)
        assert rec, "lease nobody asked for: %r" % l
        req = rec.req
        assert l["kind"] == req["kind"], l
        assert l["clients"] == req.get("clients", []), l
        assert l["hi"] - l["lo"] + 1 == req["size"], l
        assert l["ip"] == req.get("ip", l["ip"]), l
        assert l["ttl"] == 3600, l
    for holder, rec in list(known.items()):
        l = dyn.get(holder)
        if rec.add == "acked":
            if rec.release is None:
                assert l, "acknowledged lease lost: %r" % rec.lease
                assert l["state"] == "active", l
            if rec.release == "acked":
                assert l is None or l["state"] == "draining", l
            if l:
                for k in ("id", "ip", "lo", "hi", "created"):
                    assert l[k] == rec.lease[k], (l, rec.lease)
                if rec.expires_min:
                    assert l["expires"] >= rec.expires_min, (l, rec)
        # resolve what was in flight, forget what is gone
        if l is None:
            del known[holder]
            continue
        rec.add = "acked"
        rec.lease = l
        if rec.release == "inflight":
            rec.release = "acked" if l["state"] == "draining" else None
    return [h for h, r in known.items() if r.release is None]


def main():
    rng = random.Random(int(os.environ.get("SHOAL_SEED", time.time())))
    t0 = time.time()
    done = 0
    # a 2 s hold-down: deletions write holds inside the crash loop, and
    # freed ranges come back soon enough to keep adds succeeding
    with lib.Env(drain=2, hold=2) as env:
        active = []
        while done < ITERS and time.time() - t0 < SECONDS:
            env.start()
            shares = [active[i::THREADS] for i in range(THREADS)]
            ts = [threading.Thread(target=worker,
                                   args=(env, i, done, shares[i],
                                         random.Random(rng.random())))
                  for i in range(THREADS)]
            for t in ts:
                t.start()
            time.sleep(rng.uniform(0.02, 0.4))
            env.kill()
            for t in ts:
                t.join(10)
                assert not t.is_alive(), "client thread hung"
            assert not errors, errors
            env.start()
            active = check(env)
            env.kill()
            done += 1
        dt = time.time() - t0
    print("durability: %d iterations in %.1f s (%.2f iterations/s); "
          "acknowledged: %d adds, %d renews, %d releases; %d refused"
          % (done, dt, done / dt, stats["adds"], stats["renews"],
             stats["releases"], stats["refused"]))


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit(77)
    main()
