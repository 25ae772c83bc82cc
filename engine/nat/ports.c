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
 * An exclusive lease (nat.h, "Mappings and filtering") differs in three
 * ways: a client endpoint that already has a binding in an
 * endpoint-independent lease reuses its port for every destination; a
 * candidate is free when no binding holds it (live or in its hold-down);
 * and this worker considers only ports P % n_workers == id (and with RSS
 * also those the first destination's return hashes to it), because an
 * inbound packet from a new remote must find the binding's worker from
 * the port alone.
 * Every lease: the client's own port is tried first (port preservation,
 * RFC 4787 REQ-4 "try"); a free port of the other parity than the
 * client's is taken only when the next NAT_PARITY_LOOKAHEAD candidates
 * have none of its parity (REQ-6 parity preservation), all within the
 * same probe budget. A client
 * with live flows stays on the slice address they use (paired pooling,
 * RFC 6888 REQ-2), and a client whose own expired 5-tuple is held gets
 * that very mapping back.
 */
#include "flow_lookup.h"
#include "pkt.h"

/* reuse()'s answer when the client has no mapping to reuse. */
#define NO_MAPPING INT64_MIN

static inline bool owns(const struct nat_worker *w, bool excl, uint32_t base,
			uint16_t port_be, uint8_t proto)
{
	if (w->n_workers == 1)
		return true;
	if (!excl)
		return nat_worker_owns_port(w, base, port_be, proto);
	if (nat_be16(port_be) % w->n_workers != w->id)
		return false;
	return !(w->steer && w->steer->rss) ||
	       nat_owner_port(w->steer, base, port_be) == w->id;
}

/* Entries created here before a failure are freed by the sweep: they
 * have no users. */
int64_t nat_flow_bind(struct nat_worker *w, const struct nat_lease *l,
		      struct nat_flow *f, int64_t b)
{
	int64_t p = -1, idx;
	struct nat_key k;

	if (b < 0) {
		struct nat_flow bf = {
			.in_ip = f->in_ip, .out_ip = f->out_ip,
			.in_port = f->in_port, .out_port = f->out_port,
			.proto = f->proto | NAT_PROTO_PSEUDO,
			.last_seen = w->now, .lease = f->lease,
			.flags = NAT_FLOW_BIND,
		};

		b = nat_flow_add(w, &bf);
		if (b < 0)
			return b;
	}
	f->flags = NAT_FLOW_BOUND;
	if (l->filtering == SH_FILTERING_ADF) {
		nat_pseudo_key(&k, f->out_ip, f->out_port, f->rem_ip,
			       f->proto);
		p = nat_find(w, &k, true);
		if (p < 0) {
			struct nat_flow pf = {
				.in_ip = f->in_ip, .out_ip = f->out_ip,
				.rem_ip = f->rem_ip, .in_port = f->in_port,
				.out_port = f->out_port,
				.proto = f->proto | NAT_PROTO_PSEUDO,
				.last_seen = w->now, .lease = f->lease,
				.flags = NAT_FLOW_PERMIT,
			};

			p = nat_flow_add(w, &pf);
			if (p < 0)
				return p;
		}
		f->flags |= NAT_FLOW_PERMITTED;
	}
	idx = nat_flow_add(w, f);
	if (idx < 0)
		return idx;
	w->t.flows[b].pkts++;
	if (p >= 0)
		w->t.flows[p].pkts++;
	return idx;
}

/* Is @port_be of @l free for @in: its outside 5-tuple (shared mode) or
 * its binding (exclusive) taken by no live or held entry? */
static bool port_free(struct nat_worker *w, const struct nat_lease *l,
		      const struct nat_key *in, uint16_t port_be, bool excl)
{
	struct nat_key out;

	if (excl)
		nat_key_set(&out, l->ip, port_be, 0, 0, in->proto);
	else
		nat_key_set(&out, l->ip, port_be, in->remote_ip,
			    in->remote_port, in->proto);
	return !nat_tuple_used(w, &out);
}

/* Give free @port_be of @l to flow @f: the flow index or
 * -SH_DROP_TABLE_FULL. */
static int64_t claim(struct nat_worker *w, const struct nat_lease *l,
		     struct nat_flow *f, uint16_t port_be, bool excl)
{
	f->out_ip = l->ip;
	f->out_port = port_be;
	f->lease = (uint16_t)l->id;
	if (excl)
		return nat_flow_bind(w, l, f, -1);
	f->flags = NAT_FLOW_HOLD;
	return nat_flow_add(w, f);
}

/* After a free port of the other parity, look this many candidates
 * further for one of the client port's parity (RFC 4787 REQ-6) before
 * taking it: a preference that costs a dense lease a few probes, where a
 * separate pass per parity would spend the whole budget. */
#define NAT_PARITY_LOOKAHEAD 4

static int64_t pick_in_lease(struct nat_worker *w, const struct nat_lease *l,
			     const struct nat_key *in, struct nat_flow *f)
{
	uint32_t range = (uint32_t)(l->hi - l->lo) + 1, scan, probes = 0;
	bool excl = nat_lease_exclusive(l) && in->proto != NAT_PROTO_ICMP;
	uint16_t own = nat_be16(in->local_port), other = 0;
	uint32_t k, i, slot, base = 0, other_i = 0, ahead = 0;
	int64_t idx;
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

	if (own >= l->lo && own <= l->hi &&
	    owns(w, excl, base, in->local_port, in->proto)) {
		probes++;
		if (port_free(w, l, in, in->local_port, excl))
			return claim(w, l, f, in->local_port, excl);
	}
	for (i = 0; i < scan; i++, k = k + 1 == range ? 0 : k + 1) {
		uint16_t port = (uint16_t)(l->lo + k);

		if (!owns(w, excl, base, nat_be16(port), in->proto))
			continue;
		if (probes++ == NAT_PORT_ATTEMPTS || (other && ahead-- == 0))
			break;
		if (!port_free(w, l, in, nat_be16(port), excl))
			continue;
		if (((port ^ own) & 1) == 0 || !other) {
			other = port;
			other_i = i;
			ahead = NAT_PARITY_LOOKAHEAD;
			if (((port ^ own) & 1) == 0)
				break;
		}
	}
	if (!other)
		return -SH_DROP_PORTS_EXHAUSTED;
	idx = claim(w, l, f, nat_be16(other), excl);
	if (idx >= 0)
		w->port_offset[slot] += (uint16_t)(other_i + 1);
	return idx;
}

/* The active nat lease that holds @f's outside port under the id @f
 * recorded, or NULL (released, replaced, draining). */
static const struct nat_lease *live_lease(const struct nat_lease_set *ls,
					  const struct nat_flow *f)
{
	const struct nat_lease *l = nat_lease_find(ls, f->out_ip,
						   nat_be16(f->out_port));

	if (!l || l->id != f->lease || l->kind != SH_LEASE_NAT ||
	    l->state != NAT_LEASE_ACTIVE)
		return NULL;
	return l;
}

/*
 * A mapping this client already has for @in: its own held 5-tuple
 * (revived), or its endpoint's binding in an endpoint-independent lease
 * (a new flow on the same port). NO_MAPPING when there is none; @paired
 * is the client's slice address (0: any).
 */
static int64_t reuse(struct nat_worker *w, const struct nat_lease_set *ls,
		     const struct nat_key *in, struct nat_flow *f,
		     uint32_t paired)
{
	const struct nat_lease *l;
	struct nat_flow *e;
	struct nat_key k;
	int64_t idx;

	k = *in; /* a held flow keeps its 5-tuple, in the pseudo key space */
	k.proto |= NAT_PROTO_PSEUDO;
	idx = w->hold_ms ? nat_find(w, &k, false) : -1;
	if (idx >= 0 && (w->t.flows[idx].flags & NAT_FLOW_HELD)) {
		e = &w->t.flows[idx];
		if (!live_lease(ls, e) || (paired && e->out_ip != paired)) {
			nat_flow_del(w, (uint32_t)idx);
		} else {
			*f = *e;
			nat_flow_del(w, (uint32_t)idx);
			f->proto = in->proto;
			f->flags = NAT_FLOW_HOLD;
			f->tcp = 0;
			f->pkts = 0;
			f->last_seen = w->now;
			return nat_flow_add(w, f);
		}
	}
	if (in->proto == NAT_PROTO_ICMP || !ls->any_exclusive)
		return NO_MAPPING;
	nat_pseudo_key(&k, in->local_ip, in->local_port, 0, in->proto);
	idx = nat_find(w, &k, false);
	if (idx < 0 || !(w->t.flows[idx].flags & NAT_FLOW_BIND))
		return NO_MAPPING;
	e = &w->t.flows[idx];
	l = live_lease(ls, e);
	if (!l || l->mapping != SH_MAPPING_EIM || (paired && e->out_ip != paired))
		return NO_MAPPING;
	nat_key_set(&k, e->out_ip, e->out_port, in->remote_ip, in->remote_port,
		    in->proto);
	if (nat_tuple_used(w, &k))
		return NO_MAPPING;
	f->out_ip = e->out_ip;
	f->out_port = e->out_port;
	f->lease = e->lease;
	return nat_flow_bind(w, l, f, idx);
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
	uint32_t paired = 0, flows;
	uint32_t full = 0; /* id of the first lease found full */
	int m = -1;

	/* A full table may hold expired flows the paced sweep has not reached:
	 * give the hand one bounded extra turn before refusing. */
	if (w->t.n_free == 0)
		nat_expire(w, NAT_PORT_ATTEMPTS);
	if (w->t.n_free == 0)
		return -SH_DROP_TABLE_FULL;
	flows = nat_client_flows(w, in->local_ip);
	if (w->max_ports_per_client && flows >= w->max_ports_per_client)
		return -SH_DROP_CLIENT_PORT_CAP;
	if (flows)
		paired = nat_client_out_ip(w, in->local_ip);

	ret = reuse(w, ls, in, &f, paired);
	if (ret != NO_MAPPING)
		return ret;
	ret = -SH_DROP_NO_LEASE;
	/* Bounded by the number of match entries (NAT_MAX_MATCH). */
	while ((m = nat_lease_match(ls, in->local_ip, m)) >= 0) {
		const struct nat_lease *l = &ls->leases[ls->match[m].lease];

		if (paired && l->ip != paired) {
			ret = -SH_DROP_PORTS_EXHAUSTED;
			continue;
		}
		ret = pick_in_lease(w, l, in, &f);
		if (ret != -SH_DROP_PORTS_EXHAUSTED)
			return ret;
		if (!full)
			full = l->id;
	}
	/* Every lease searched was full: the refusal counts against the
	 * first, the client's most specific. */
	if (full)
		w->lease_exhausted[full]++;
	return ret;
}
