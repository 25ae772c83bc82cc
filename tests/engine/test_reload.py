#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""SIGHUP reload of a running engine (no shoal-ctld: the file's leases are
the lease set), on live interfaces as in test_expiry.py.

  t=0    one UDP flow per worker (a client each worker owns) opens, under
         udp_timeout 3600 and lease a = ports 10000-10999.
  t~0.5  the file now says udp_timeout 2 and lease a = 11000-11999;
         SIGHUP: the engine reloads it.
  t~1    replies to every flow go through: established flows survived.
         A new flow leaves from a port in 11000-11999: the new lease set.
  then   a file changing [nat] max_flows: SIGHUP is refused with
         FILE:LINE in the log, and the engine runs on with the last good
         configuration.
  t~4.5  replies to the first flows find none (dropped as not_leased:
         their port is in no lease now): every worker took the new 2 s
         timeout (the old one would have kept them an hour).
"""

import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import lib  # noqa: E402
from lib import check, log

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

SLICE_IP = "198.51.100.10"
INSIDE_PEER, OUTSIDE_PEER = "02:00:00:00:00:02", "02:00:00:00:00:fe"
NEW_TIMEOUT = 2


def test(workers):
    if not lib.netns_available():
        lib.skip("needs root and `ip netns`")
    lib.engine_path()
    in_pairs, out_pairs = lib.veth_names("i", workers), lib.veth_names("o", workers)
    prefix = f"shoaltest{lib.os.getpid()}_reload{workers}"
    with lib.TempDir() as d, lib.Netns(tuple(in_pairs + out_pairs)) as ns:
        out_tx = lib.queue_files(d, "outside_tx", workers)
        in_tx = lib.queue_files(d, "inside_tx", workers)

        def conf(ports, nat):
            return lib.write_config(
                d / "engine.ini",
                inside_device=lib.pcap_device(0, in_tx,
                                              rx_iface_in=[a for a, _ in in_pairs]),
                outside_device=lib.pcap_device(1, out_tx,
                                               rx_iface_in=[a for a, _ in out_pairs]),
                slices={SLICE_IP: "10000-12047"},
                # shared-port mode: no binding outlives a flow, so a
                # reply to an expired flow is plainly unsolicited
                leases={"a": {"kind": "nat", "ip": SLICE_IP, "ports": ports,
                              "clients": "10.0.0.0/16",
                              "mapping": "address-and-port-dependent",
                              "filtering": "address-and-port-dependent"}},
                nat=nat, file_prefix=prefix, workers=workers)

        path = conf("10000-10999", {"max_flows": 1024, "udp_timeout": 3600})
        clients = lib.clients_per_worker(workers)
        with lib.Engine(path, d, netns=ns.name) as eng:
            eng.wait_started()
            inside = [ns.packet_socket(b) for _, b in in_pairs]
            outside = [ns.packet_socket(b) for _, b in out_pairs]

            def client(pkt):
                q = lib.owner_client(pkt[IP].src, workers)
                inside[q].send(bytes(Ether(src=INSIDE_PEER, dst=lib.INSIDE_MAC) / pkt))

            def remote(pkt):
                q = lib.owner_port(pkt[UDP].dport, workers)
                outside[q].send(bytes(Ether(src=OUTSIDE_PEER, dst=lib.OUTSIDE_MAC) / pkt))

            def reply(p, ipid):
                return IP(src=p[IP].dst, dst=p[IP].src, id=ipid) / \
                    UDP(sport=p[UDP].dport, dport=p[UDP].sport) / b"answer"

            try:
                for i, c in enumerate(clients):
                    client(IP(src=c, dst="203.0.113.1", id=i + 1) /
                           UDP(sport=1000 + i, dport=53))
                lib.wait_records(out_tx, workers, timeout=10, engine=eng,
                                 what="opening packets")
                first = [Ether(r) for q in lib.read_pcaps(out_tx) for r in q]
                check(all(10000 <= p[UDP].sport <= 10999 for p in first),
                      f"first flows from {[p[UDP].sport for p in first]}")

                conf("11000-11999", {"max_flows": 1024,
                                     "udp_timeout": NEW_TIMEOUT})
                eng.proc.send_signal(signal.SIGHUP)
                t0 = time.monotonic()
                time.sleep(0.5)
                for i, p in enumerate(first):
                    remote(reply(p, 100 + i))
                lib.wait_records(in_tx, workers, timeout=NEW_TIMEOUT - 0.5,
                                 engine=eng, what="replies after the reload")
                client(IP(src="10.0.2.1", dst="203.0.113.1", id=50) /
                       UDP(sport=2000, dport=53))
                lib.wait_records(out_tx, workers + 1, timeout=10, engine=eng,
                                 what="the new flow")
                new = [Ether(r) for q in lib.read_pcaps(out_tx) for r in q
                       if Ether(r)[IP].id == 50]
                check(len(new) == 1 and 11000 <= new[0][UDP].sport <= 11999,
                      f"the new flow left from {[p[UDP].sport for p in new]}, "
                      f"not from the reloaded lease 11000-11999")

                conf("11000-11999", {"max_flows": 2048,
                                     "udp_timeout": NEW_TIMEOUT})
                eng.proc.send_signal(signal.SIGHUP)
                want = re.compile(re.escape(str(path)) +
                                  r":\d+: \[nat\] max_flows: differs")
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and \
                        not want.search(eng.output()):
                    time.sleep(0.05)
                check(want.search(eng.output()),
                      f"no refusal with FILE:LINE logged\n{eng.output()}")
                check(eng.alive(), "the engine died on a refused reload")

                # the first flows were last seen before t0: past 2 s
                # (plus margin) they are gone under the new timeout
                time.sleep(max(0.0, t0 + NEW_TIMEOUT + 2.5 - time.monotonic()))
                for i, p in enumerate(first):
                    remote(reply(p, 200 + i))
                eng.wait_settled({"rx_inside": workers + 1,
                                  "rx_outside": 2 * workers}, timeout=10)
            finally:
                for s in inside + outside:
                    s.close()
            counters = eng.stop()
        back = [Ether(r)[IP].id for q in lib.read_pcaps(in_tx) for r in q]
        check(sorted(back) == list(range(100, 100 + workers)),
              f"replies delivered with IP ids {sorted(back)}; expected only "
              f"the ones before the timeout")
        # the late replies' port is in no lease any more: not_leased
        check(counters.get("not_leased", 0) == workers and
              counters.get("flows_expired", 0) >= workers,
              f"not_leased {counters.get('not_leased')}, flows_expired "
              f"{counters.get('flows_expired')}: expected {workers} each")
        log("SIGHUP reload: flows kept, new lease range and timeout taken by "
            "every worker, a max_flows change refused with FILE:LINE")


if __name__ == "__main__":
    lib.main(test)
