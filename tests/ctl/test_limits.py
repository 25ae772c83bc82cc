#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""shoal-ctld grants only what the engine can hold: the client selectors of
all leases (static, stored active and draining, and the new one) stay
within SHOAL_MAX_SELECTORS, checked before the acknowledgement."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import nat, sock_lease  # noqa: E402

MAX_SELECTORS = 1024    # proto.h SHOAL_MAX_SELECTORS
STATIC_SELECTORS = 1    # lib.CONFIG: [lease.web] has one prefix

E = None
C = None


def prefixes(n, base):
    return ["10.%d.%d.0/24" % (base, j) for j in range(n)]


def test_selector_total_is_refused_past_the_limit():
    # 63 leases of 16 and one of 15 fill the set exactly (with the static
    # one); a draining lease still counts: the engine keeps it.
    left = MAX_SELECTORS - STATIC_SELECTORS
    i = 0
    while left:
        n = min(16, left)
        lease = C.call("lease.add", nat(clients=prefixes(n, i), size=1))
        if i == 0:
            C.call("lease.release", {"id": lease["lease"]["id"]})
        left -= n
        i += 1
    before = C.call("status")["generation"]
    e = C.expect_error("lease.add", nat(clients=["10.250.0.0/24"], size=1),
                       "too_many_selectors")
    assert e["code"] == -32000, e
    assert "1024" in e["message"], e
    assert C.call("status")["generation"] == before, "refusal committed"
    # a socket lease has no selectors: still granted
    C.call("lease.add", sock_lease(size=1))
    total = sum(len(l["clients"]) for l in C.call("lease.list")["leases"])
    assert total == MAX_SELECTORS, total


def main():
    global E, C
    with lib.Env(drain=3600) as env:
        E = env
        env.start()
        C = env.client()
        lib.run_tests([test_selector_total_is_refused_past_the_limit])


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit(77)
    main()
