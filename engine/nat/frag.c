/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 fragments by virtual reassembly: the per-worker datagram table and
 * the translation of fragments without an L4 header. The design (tables,
 * stages, owners) is in frag.h.
 */
#include "csum.h"
#include "flow_lookup.h"

static inline bool frag_fresh(const struct nat_worker *w,
			      const struct nat_frag *e)
{
	return e->state != NAT_FRAG_FREE &&
	       (uint32_t)(w->now - e->born) < NAT_FRAG_TIMEOUT_MS;
}

/* The datagram key of @ip: source, destination, protocol, IP id. */
static inline bool frag_match(const struct nat_frag *e, const uint8_t *ip)
{
	return e->src == ld32(ip + IP4_SRC) && e->dst == ld32(ip + IP4_DST) &&
	       e->id == ld16(ip + 4) && e->proto == ip[IP4_PROTO];
}

static inline struct nat_frag *frag_set(struct nat_worker *w,
					const uint8_t *ip)
{
	uint64_t h = nat_mix((uint64_t)ld32(ip + IP4_SRC) << 32 |
				     ld32(ip + IP4_DST),
			     (uint64_t)ld16(ip + 4) << 8 | ip[IP4_PROTO],
			     w->secret[1]);

	return &w->frag.e[(h & (NAT_FRAG_ENTRIES / NAT_FRAG_WAYS - 1)) *
			  NAT_FRAG_WAYS];
}

/* The live entry of @ip's datagram, or NULL. */
static struct nat_frag *frag_find(struct nat_worker *w, const uint8_t *ip)
{
	struct nat_frag *set = frag_set(w, ip);
	unsigned i;

	for (i = 0; i < NAT_FRAG_WAYS; i++)
		if (frag_fresh(w, &set[i]) && frag_match(&set[i], ip))
			return &set[i];
	return NULL;
}

/* A new entry for @ip's datagram (in a free or expired way), or NULL. */
static struct nat_frag *frag_alloc(struct nat_worker *w, const uint8_t *ip)
{
	struct nat_frag *set = frag_set(w, ip), *e;
	unsigned i;

	for (i = 0; i < NAT_FRAG_WAYS; i++) {
		e = &set[i];
		if (frag_fresh(w, e))
			continue;
		*e = (struct nat_frag){
			.src = ld32(ip + IP4_SRC),
			.dst = ld32(ip + IP4_DST),
			.id = ld16(ip + 4),
			.proto = ip[IP4_PROTO],
			.state = NAT_FRAG_PENDING,
			.born = w->now,
		};
		return e;
	}
	return NULL;
}

/* What a first fragment says about all of its datagram. */
static enum nat_frag_state first_state(const struct nat_pkt *p, bool out2in,
				       uint16_t *sport, uint16_t *dport)
{
	const uint8_t *l4 = p->l4;

	*sport = *dport = 0;
	if (p->proto != NAT_PROTO_ICMP) {
		*sport = ld16(l4 + L4_SPORT);
		*dport = ld16(l4 + L4_DPORT);
		return NAT_FRAG_KNOWN;
	}
	switch (l4[NAT_ICMP_TYPE]) {
	case NAT_ICMP_ECHO_REQUEST:
		if (out2in) /* a ping to a slice address: Linux's */
			return NAT_FRAG_KERNEL;
		*sport = ld16(l4 + NAT_ICMP_ID);
		return NAT_FRAG_KNOWN;
	case NAT_ICMP_ECHO_REPLY:
		if (!out2in)
			return NAT_FRAG_DROP;
		*dport = ld16(l4 + NAT_ICMP_ID);
		return NAT_FRAG_KNOWN;
	default: /* errors and other types are not translated in pieces */
		return NAT_FRAG_DROP;
	}
}

/* The verdict of a datagram's entry @e for one of its fragments. */
static unsigned entry_verdict(const struct nat_frag *e, struct nat_frag_res *r)
{
	switch (e->state) {
	case NAT_FRAG_KNOWN:
		r->sport = e->sport;
		r->dport = e->dport;
		return SH_OK;
	case NAT_FRAG_KERNEL:
		return NAT_KERNEL;
	default:
		return SH_DROP_IP_FRAGMENT;
	}
}

unsigned nat_frag_in(struct nat_worker *w, const struct nat_lease_set *ls,
		     const struct nat_pkt *p, bool out2in,
		     struct nat_frag_res *r)
{
	uint32_t dst = ld32(p->ip + IP4_DST);
	struct nat_frag *e;
	uint16_t sport, dport;
	enum nat_frag_state st;

	r->release = false;
	/* Linux's whole datagram: it reassembles it itself. */
	if (out2in ? !nat_is_slice_ip(ls, dst) : nat_dst_is_local(ls, dst))
		return NAT_KERNEL;
	e = frag_find(w, p->ip);
	if (p->frag == NAT_PKT_FIRST) {
		st = first_state(p, out2in, &sport, &dport);
		if (!e)
			e = frag_alloc(w, p->ip);
		if (!e)
			return SH_DROP_FRAG_TABLE_FULL;
		r->release = e->held > 0;
		e->state = (uint8_t)st;
		e->sport = sport;
		e->dport = dport;
		e->born = w->now; /* the later fragments' time starts now */
		if (st == NAT_FRAG_DROP && p->proto == NAT_PROTO_ICMP &&
		    p->l4[NAT_ICMP_TYPE] != NAT_ICMP_DEST_UNREACH &&
		    p->l4[NAT_ICMP_TYPE] != NAT_ICMP_TIME_EXCEEDED &&
		    p->l4[NAT_ICMP_TYPE] != NAT_ICMP_PARAM_PROBLEM)
			return SH_DROP_ICMP_UNSUPPORTED;
		return entry_verdict(e, r);
	}
	if (e && e->state != NAT_FRAG_PENDING)
		return entry_verdict(e, r);
	if (!e)
		e = frag_alloc(w, p->ip);
	if (!e)
		return SH_DROP_FRAG_TABLE_FULL;
	if (e->held >= NAT_FRAG_HOLD_PER_DGRAM || w->frag.held >= NAT_FRAG_HOLD_MAX)
		return SH_DROP_FRAG_TOO_MANY;
	e->held++;
	w->frag.held++;
	w->cnt[SH_CNT_FRAG_HELD]++;
	return NAT_FRAG_HOLD;
}

unsigned nat_frag_retry(struct nat_worker *w, const struct nat_pkt *p,
			uint32_t since, struct nat_frag_res *r)
{
	struct nat_frag *e = frag_find(w, p->ip);
	unsigned v;

	r->release = false;
	if (e && e->state != NAT_FRAG_PENDING)
		v = entry_verdict(e, r);
	else if ((uint32_t)(w->now - since) >= NAT_FRAG_HOLD_MS)
		v = SH_DROP_FRAG_TIMEOUT;
	else
		return NAT_FRAG_HOLD;
	if (e && e->held)
		e->held--;
	if (w->frag.held)
		w->frag.held--;
	return v;
}

/* A later fragment: the flow of the datagram's ports, then the address
 * rewrite (in2out: source; out2in: destination), TTL, IPv4 checksum. */
static unsigned xlate_later(struct nat_worker *w,
			    const struct nat_lease_set *ls, struct nat_pkt *p,
			    bool out2in, const struct nat_frag_res *r)
{
	uint8_t *ip = p->ip;
	uint32_t src = ld32(ip + IP4_SRC), dst = ld32(ip + IP4_DST), old, new;
	struct nat_flow *f;
	struct nat_key k;
	uint64_t ipd;
	int64_t idx;

	if (out2in)
		nat_key_set(&k, dst, r->dport, src, r->sport, p->proto);
	else
		nat_key_set(&k, src, r->sport, dst, r->dport, p->proto);
	idx = nat_lookup(w, &k, out2in);
	if (idx < 0)
		return out2in ? nat_out2in_miss(ls, dst, r->dport)
			      : SH_DROP_IP_FRAGMENT;
	if (ip[IP4_TTL] <= 1)
		return SH_DROP_TTL_EXPIRED;
	f = &w->t.flows[idx];
	old = out2in ? dst : src;
	new = out2in ? f->in_ip : f->out_ip;
	st32(ip + (out2in ? IP4_DST : IP4_SRC), new);
	ipd = csum_delta32(old, new) + ip_ttl_dec(ip);
	st16(ip + IP4_CSUM, csum_apply(ld16(ip + IP4_CSUM), ipd));
	nat_flow_touch(w, f);
	w->cnt[out2in ? SH_CNT_OUT2IN : SH_CNT_IN2OUT]++;
	return SH_OK;
}

unsigned nat_frag_xlate(struct nat_worker *w, const struct nat_lease_set *ls,
			struct nat_pkt *p, bool out2in,
			const struct nat_frag_res *r)
{
	unsigned v;

	if (p->frag == NAT_PKT_LATER)
		v = xlate_later(w, ls, p, out2in, r);
	else
		v = out2in ? nat_out2in(w, ls, p) : nat_in2out(w, ls, p);
	/* Hairpinning a fragmented datagram is not done: its later
	 * fragments would need the outside's reassembly state too. */
	if (v == NAT_HAIRPIN)
		v = SH_DROP_IP_FRAGMENT;
	if (v == SH_OK)
		w->cnt[SH_CNT_FRAGMENTS]++;
	return v;
}
