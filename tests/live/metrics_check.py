#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check two scrapes of shoal-ctld's /metrics taken across traffic.

Usage: metrics_check.py BEFORE AFTER LEASE_ID

Both files are parsed with the Prometheus client's own text parser
(Debian python3-prometheus-client), which refuses malformed exposition.
Then: the build, engine and lease series exist; packet and byte counters
of the inside port grew between the scrapes; no counter went down. Prints
one summary line; exits 1 with the reason on the first failure.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def load(path):
    """{(sample name, sorted labels): value} and {family: type}."""
    with open(path) as f:
        text = f.read()
    samples, types = {}, {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in samples:
                sys.exit("%s: sample %r twice" % (path, key))
            samples[key] = s.value
    return samples, types


def total(samples, name, **want):
    """Sum of @name's samples whose labels include @want; None if none."""
    vals = [v for (n, labels), v in samples.items() if n == name and
            all(dict(labels).get(k) == w for k, w in want.items())]
    return sum(vals) if vals else None


def main():
    before, _ = load(sys.argv[1])
    after, types = load(sys.argv[2])
    lease = sys.argv[3]

    need = {
        "shoal_build_info": "gauge", "shoal_engine_connected": "gauge",
        "shoal_engine_report_age_seconds": "gauge", "shoal_leases": "gauge",
        "shoal_received_packets": "counter", "shoal_received_bytes": "counter",
        "shoal_sent_packets": "counter", "shoal_sent_bytes": "counter",
        "shoal_drops": "counter", "shoal_netlink_overruns": "counter",
        "shoal_netlink_resyncs": "counter", "shoal_lease_flows": "gauge",
        "shoal_lease_capacity_ports": "gauge",
        "shoal_lease_ports_in_use": "gauge",
        "shoal_lease_ports_exhausted": "counter",
        "shoal_handoff_sent_packets": "counter", "shoal_punted_packets": "counter",
    }
    for fam, typ in need.items():
        if types.get(fam) != typ:
            sys.exit("family %s: type %r, want %r" % (fam, types.get(fam), typ))
    if total(after, "shoal_engine_connected") != 1:
        sys.exit("engine not connected")
    for name in ("shoal_lease_flows", "shoal_lease_capacity_ports",
                 "shoal_lease_ports_exhausted_total"):
        if total(after, name, lease=lease) is None:
            sys.exit("no %s for lease %s" % (name, lease))
    if total(after, "shoal_lease_ports_in_use", lease=lease,
             protocol="udp") is None:
        sys.exit("no udp ports_in_use for lease %s" % lease)
    if total(after, "shoal_drops_total", reason="no_lease") is None:
        sys.exit("no drops_total{reason=no_lease}")
    moved = {}
    for name in ("shoal_received_packets_total", "shoal_received_bytes_total",
                 "shoal_sent_packets_total", "shoal_sent_bytes_total"):
        b = total(before, name, port="inside") or 0
        a = total(after, name, port="inside") or 0
        if a <= b:
            sys.exit("%s{port=inside} did not move: %s -> %s" % (name, b, a))
        moved[name] = a - b
    for key, v in before.items():
        if key[0].endswith("_total") and key in after and after[key] < v:
            sys.exit("counter %r went down: %s -> %s" % (key, v, after[key]))
    print("parsed %d and %d samples; inside rx +%d packets +%d bytes, "
          "tx +%d packets; lease %s flows %d" % (
              len(before), len(after),
              moved["shoal_received_packets_total"],
              moved["shoal_received_bytes_total"],
              moved["shoal_sent_packets_total"], lease,
              total(after, "shoal_lease_flows", lease=lease)))


main()
