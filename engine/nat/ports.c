/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port selection for new client flows (the slow path).
 *
 * 1. Walk the nat leases whose client selector matches, most specific
 *    prefix first; skip draining leases.
 * 2. In each, scan the range from a keyed hash of (slice, destination)
 *    plus a per-destination offset (RFC 6056 algorithm 4), considering
 *    only ports this worker owns (nat_worker_owns_port: with the outside
 *    NIC's RSS, those whose return tuple hashes to this worker's queue;
 *    else P % n_workers == id). Two budgets bound the scan: at most
 *    NAT_PORT_ATTEMPTS owned candidates are looked up (each lookup is
 *    about one cache miss), and at most NAT_PORT_ATTEMPTS * n_workers
 *    ports are considered (an ownership test is a modulo or two table
 *    loads). A range no larger than that is scanned whole, so a small
 *    lease never reports a false "exhausted".
 * 3. A candidate is free when its outside 5-tuple (slice, port, remote,
 *    remote port, proto) belongs to no live flow: the same port is reused
 *    towards different destinations (RFC 7857 §3 port overlapping).
 * 4. On success advance the destination's offset past the chosen port so
 *    the next flow to it starts on a free one.
 */
#include "flow_lookup.h"
#include "pkt.h"

static int64_t pick_in_lease(struct nat_worker *w, const struct nat_lease *l,
			     const struct nat_key *in, struct nat_flow *f)
{
	uint32_t range = (uint32_t)(l->hi - l->lo) + 1, scan, probes = 0;
	uint32_t k, i, slot, base = 0;
	bool mine_all = w->n_workers == 1;
	struct nat_key out;
	uint64_t h;

	h = nat_mix((uint64_t)l->ip << 32 | in->remote_ip,
		    (uint64_t)in->remote_port << 8 | in->proto, w->secret[1]);
	slot = (uint32_t)(h >> 40) % NAT_PORT_TABLE_SIZE;
	k = (uint32_t)((h + w->port_offset[slot]) % range);
	scan = NAT_PORT_ATTEMPTS * w->n_workers;
	if (scan > range)
		scan = range;
	if (w->steer && w->steer->rss)
		base = nat_steer_base(w->steer, l->ip, in->remote_ip,
				      in->remote_port);

	for (i = 0; i < scan; i++, k = k + 1 == range ? 0 : k + 1) {
		uint16_t port = nat_be16((uint16_t)(l->lo + k));
		int64_t idx;

		if (!mine_all && !nat_worker_owns_port(w, base, port, in->proto))
			continue;
		if (probes++ == NAT_PORT_ATTEMPTS)
			break;
		nat_key_set(&out, l->ip, port, in->remote_ip, in->remote_port,
			    in->proto);
		if (nat_lookup_out(w, &out) < 0) {
			f->out_ip = l->ip;
			f->out_port = port;
			f->lease = (uint16_t)l->id;
			idx = nat_flow_add(w, f);
			if (idx >= 0)
				w->port_offset[slot] += (uint16_t)(i + 1);
			return idx;
		}
	}
	return -SH_DROP_PORTS_EXHAUSTED;
}

int64_t nat_flow_create(struct nat_worker *w, const struct nat_lease_set *ls,
			const struct nat_key *in)
{
	struct nat_flow f = {
		.in_ip = in->local_ip,
		.rem_ip = in->remote_ip,
		.in_port = in->local_port,
		.rem_port = in->remote_port,
		.proto = in->proto,
		.last_seen = w->now,
	};
	int64_t ret = -SH_DROP_NO_LEASE;
	int m = -1;

	/* A full table may hold expired flows the paced sweep has not reached:
	 * give the hand one bounded extra turn before refusing. */
	if (w->t.n_free == 0 && nat_expire(w, NAT_PORT_ATTEMPTS) == 0)
		return -SH_DROP_TABLE_FULL;
	if (w->max_ports_per_client &&
	    nat_client_flows(w, in->local_ip) >= w->max_ports_per_client)
		return -SH_DROP_CLIENT_PORT_CAP;

	/* Bounded by the number of match entries (NAT_MAX_MATCH). */
	while ((m = nat_lease_match(ls, in->local_ip, m)) >= 0) {
		ret = pick_in_lease(w, &ls->leases[ls->match[m].lease], in, &f);
		if (ret != -SH_DROP_PORTS_EXHAUSTED)
			return ret;
	}
	return ret;
}
