/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port selection for new client flows (the slow path).
 *
 * 1. Walk the nat leases whose client selector matches, most specific
 *    prefix first; skip draining leases.
 * 2. In each, search this worker's share of the range (every
 *    n_workers-th port, see nat.h "Ports belong to workers") starting at
 *    a keyed hash of (slice, destination) plus a per-destination offset
 *    (RFC 6056 algorithm 4), for at most NAT_PORT_ATTEMPTS candidates.
 * 3. A candidate is free when its outside 5-tuple (slice, port, remote,
 *    remote port, proto) belongs to no live flow: the same port is reused
 *    towards different destinations (RFC 7857 §3 port overlapping).
 * 4. On success advance the destination's offset past the chosen port so
 *    the next flow to it starts on a free one.
 */
#include "flow_lookup.h"
#include "pkt.h"

uint32_t nat_worker_ports(const struct nat_worker *w, uint16_t lo, uint16_t hi,
			  uint16_t *first)
{
	uint32_t n = w->n_workers, f;

	f = lo + (w->id + n - lo % n) % n;
	if (f > hi)
		return 0;
	*first = (uint16_t)f;
	return (hi - f) / n + 1;
}

static int64_t pick_in_lease(struct nat_worker *w, const struct nat_lease *l,
			     const struct nat_key *in, struct nat_flow *f)
{
	struct nat_key out;
	uint16_t first;
	uint32_t count, k, i, budget, slot;
	uint64_t h;

	count = nat_worker_ports(w, l->lo, l->hi, &first);
	if (count == 0)
		return -SH_DROP_PORTS_EXHAUSTED;
	h = nat_mix((uint64_t)l->ip << 32 | in->remote_ip,
		    (uint64_t)in->remote_port << 8 | in->proto, w->secret[1]);
	slot = (uint32_t)(h >> 40) % NAT_PORT_TABLE_SIZE;
	k = (uint32_t)((h + w->port_offset[slot]) % count);
	budget = count < NAT_PORT_ATTEMPTS ? count : NAT_PORT_ATTEMPTS;

	for (i = 0; i < budget; i++) {
		uint16_t port = nat_be16((uint16_t)(first + k * w->n_workers));
		int64_t idx;

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
		if (++k == count)
			k = 0;
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
