/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-worker flow table.
 *
 * Layout (bytes per flow at max_flows = 2^k):
 *   flows[]       32  struct nat_flow, preallocated array
 *   free_stack[]   4  indices of free entries
 *   in_slots[]    16  open-addressing index by inside key (2 slots/flow)
 *   out_slots[]   16  open-addressing index by outside key
 *   clients[]     32  per-client flow counts and slice address
 *   total        100
 * Pseudo-entries (bindings, permissions, held flows: nat.h) take flow
 * entries too; nat_flow_count() leaves them out.
 * The slot arrays are sized to the power of two >= 2 * max_flows, so the
 * load factor never exceeds 1/2.
 *
 * Slot arrays use linear probing with backward-shift deletion: no
 * tombstones, and an entry never moves further from its home slot than
 * where it was inserted, so NAT_MAX_PROBE bounds inserts and lookups alike.
 * Owner lcore only, everywhere in this file.
 */
#include <errno.h>

#include "flow_lookup.h"
#include "pkt.h"

uint32_t nat_slots_for(uint32_t max_flows)
{
	uint64_t p = 1;

	while (p < (uint64_t)max_flows * 2)
		p <<= 1;
	return (uint32_t)p;
}

size_t nat_table_bytes(uint32_t max_flows)
{
	size_t slots = nat_slots_for(max_flows);

	return (size_t)max_flows * (sizeof(struct nat_flow) + sizeof(uint32_t)) +
	       2 * slots * sizeof(struct nat_slot) +
	       slots * sizeof(struct nat_client_slot);
}

/* Find the slot of flow @idx (known present) under hash @h. */
static uint32_t slot_of(const struct nat_slot *s, uint32_t mask, uint64_t h,
			uint32_t idx)
{
	uint32_t pos = (uint32_t)h & mask;

	while (s[pos].idx != idx + 1)
		pos = (pos + 1) & mask;
	return pos;
}

/* Backward-shift deletion (Knuth 6.4 algorithm R): pull later members of
 * the probe run into the hole so lookups can keep stopping at empties. */
static void slot_remove(struct nat_slot *s, uint32_t mask, uint32_t hole,
			const struct nat_worker *w, bool out)
{
	uint32_t pos = hole;

	for (;;) {
		struct nat_key k;
		uint32_t home;

		pos = (pos + 1) & mask;
		if (s[pos].idx == 0)
			break;
		if (out)
			nat_flow_out_key(&w->t.flows[s[pos].idx - 1], &k);
		else
			nat_flow_in_key(&w->t.flows[s[pos].idx - 1], &k);
		home = (uint32_t)nat_key_hash(&k, w->secret[0]) & mask;
		/* Move the entry if its home is not cyclically in (hole, pos]. */
		if (((pos - home) & mask) >= ((pos - hole) & mask)) {
			s[hole] = s[pos];
			hole = pos;
		}
	}
	s[hole].idx = 0;
	s[hole].sig = 0;
}

int64_t nat_lookup_in(struct nat_worker *w, const struct nat_key *k)
{
	return nat_lookup(w, k, false);
}

int64_t nat_lookup_out(struct nat_worker *w, const struct nat_key *k)
{
	return nat_lookup(w, k, true);
}

/* First empty slot within the probe budget for hash @h, or -1. */
static int64_t free_slot(const struct nat_slot *s, uint32_t mask, uint64_t h)
{
	uint32_t pos = (uint32_t)h & mask;
	unsigned i;

	for (i = 0; i < NAT_MAX_PROBE; i++, pos = (pos + 1) & mask)
		if (s[pos].idx == 0)
			return pos;
	return -1;
}

static struct nat_client_slot *client_slot(struct nat_worker *w, uint32_t ip,
					   bool create)
{
	struct nat_table *t = &w->t;
	uint32_t pos = (uint32_t)nat_mix(ip, 0, w->secret[1]) & t->client_mask;
	unsigned i;

	/* At most max_flows clients in 2 * max_flows slots: load <= 1/2, and
	 * clients holding no flow are removed, so probing ends at an empty
	 * slot; the bound is a guard, not an expected case. */
	for (i = 0; i <= t->client_mask; i++, pos = (pos + 1) & t->client_mask) {
		if (t->clients[pos].ip == ip && t->clients[pos].flows)
			return &t->clients[pos];
		if (t->clients[pos].flows == 0) {
			if (!create)
				return NULL;
			t->clients[pos].ip = ip;
			return &t->clients[pos];
		}
	}
	return NULL;
}

uint32_t nat_client_flows(const struct nat_worker *w, uint32_t client)
{
	struct nat_client_slot *c;

	c = client_slot((struct nat_worker *)(uintptr_t)w, client, false);
	return c ? c->flows : 0;
}

uint32_t nat_client_out_ip(const struct nat_worker *w, uint32_t client)
{
	struct nat_client_slot *c;

	c = client_slot((struct nat_worker *)(uintptr_t)w, client, false);
	return c ? c->out_ip : 0;
}

static void client_remove(struct nat_worker *w, struct nat_client_slot *c)
{
	struct nat_table *t = &w->t;
	uint32_t hole = (uint32_t)(c - t->clients), pos = hole;

	for (;;) {
		uint32_t home;

		pos = (pos + 1) & t->client_mask;
		if (t->clients[pos].flows == 0)
			break;
		home = (uint32_t)nat_mix(t->clients[pos].ip, 0, w->secret[1]) &
		       t->client_mask;
		if (((pos - home) & t->client_mask) >=
		    ((pos - hole) & t->client_mask)) {
			t->clients[hole] = t->clients[pos];
			hole = pos;
		}
	}
	t->clients[hole].ip = 0;
	t->clients[hole].flows = 0;
}

/* Write @f into free entry @e so that the entry is whole or free at every
 * instant (nat.h "persist.c"): everything but proto, then proto. */
static void publish(struct nat_flow *e, const struct nat_flow *f)
{
	struct nat_flow staged = *f;

	staged.proto = 0;
	*e = staged;
	__atomic_store_n(&e->proto, f->proto, __ATOMIC_RELEASE);
}

/* Index flow @f as entry @idx in both slot arrays, the client counts and
 * the per-lease counts: 0, or -ENOSPC (nothing changed) when a key has
 * no slot within the probe bound or the client table is full. The entry
 * itself is the caller's to write. */
static int index_entry(struct nat_worker *w, const struct nat_flow *f,
		       uint32_t idx)
{
	struct nat_table *t = &w->t;
	bool pseudo = f->flags & NAT_FLOW_PSEUDO;
	struct nat_client_slot *c = NULL;
	struct nat_key ki, ko;
	uint64_t hi, ho;
	int64_t si, so;

	nat_flow_in_key(f, &ki);
	nat_flow_out_key(f, &ko);
	hi = nat_key_hash(&ki, w->secret[0]);
	ho = nat_key_hash(&ko, w->secret[0]);
	si = free_slot(t->in_slots, t->mask, hi);
	so = free_slot(t->out_slots, t->mask, ho);
	if (si < 0 || so < 0)
		return -ENOSPC;
	if (!pseudo && !(c = client_slot(w, f->in_ip, true)))
		return -ENOSPC;
	t->in_slots[si] = (struct nat_slot){ (uint32_t)(hi >> 32), idx + 1 };
	t->out_slots[so] = (struct nat_slot){ (uint32_t)(ho >> 32), idx + 1 };
	if (pseudo) {
		w->n_pseudo++;
		if (f->flags & NAT_FLOW_BIND)
			w->lease_ports[nat_lease_ports_slot(f)]++;
	} else {
		c->flows++;
		c->out_ip = f->out_ip;
		w->lease_flows[f->lease]++;
	}
	return 0;
}

int64_t nat_flow_add(struct nat_worker *w, const struct nat_flow *f)
{
	struct nat_table *t = &w->t;
	uint32_t idx;

	if (t->n_free == 0)
		return -SH_DROP_TABLE_FULL;
	idx = t->free_stack[t->n_free - 1];
	if (index_entry(w, f, idx) < 0)
		return -SH_DROP_TABLE_FULL;
	t->n_free--;
	publish(&t->flows[idx], f);
	if (!(f->flags & NAT_FLOW_PSEUDO))
		w->cnt[SH_CNT_FLOW_CREATED]++;
	return idx;
}

int64_t nat_find(const struct nat_worker *w, const struct nat_key *k, bool out)
{
	return nat_probe(w, k, out);
}

/* Has the hold of pseudo-entry @f ended (binding or held flow)? */
static bool hold_over(const struct nat_worker *w, const struct nat_flow *f)
{
	if ((f->flags & NAT_FLOW_BIND) && f->pkts)
		return false;
	return (uint32_t)(w->now - f->last_seen) >= w->hold_ms;
}

bool nat_tuple_used(struct nat_worker *w, const struct nat_key *k)
{
	struct nat_key held = *k;
	int64_t idx = nat_find(w, k, true);

	if (idx >= 0) {
		if (!nat_flow_expired(w, &w->t.flows[idx]))
			return true;
		nat_flow_retire(w, (uint32_t)idx);
	}
	/* Without a hold-down only bindings (remote 0:0) are pseudo. */
	if (w->hold_ms == 0 && k->remote_ip)
		return false;
	held.proto |= NAT_PROTO_PSEUDO;
	idx = nat_find(w, &held, true);
	if (idx < 0)
		return false;
	if (!hold_over(w, &w->t.flows[idx]))
		return true;
	nat_flow_del(w, (uint32_t)idx);
	return false;
}

/* Drop one user of the pseudo-entry with outside key @k (a binding or a
 * permission): a permission goes with its last user, a binding starts
 * its hold-down (or goes too, without one). */
static void unref(struct nat_worker *w, const struct nat_key *k)
{
	int64_t idx = nat_find(w, k, true);
	struct nat_flow *p;

	if (idx < 0)
		return;
	p = &w->t.flows[idx];
	if (p->pkts && --p->pkts == 0) {
		if ((p->flags & NAT_FLOW_PERMIT) || w->hold_ms == 0)
			nat_flow_del(w, (uint32_t)idx);
		else
			p->last_seen = w->now;
	}
}

void nat_flow_del(struct nat_worker *w, uint32_t idx)
{
	struct nat_table *t = &w->t;
	struct nat_flow *f = &t->flows[idx], old = *f;
	struct nat_key k;

	nat_flow_in_key(f, &k);
	slot_remove(t->in_slots, t->mask,
		    slot_of(t->in_slots, t->mask, nat_key_hash(&k, w->secret[0]),
			    idx),
		    w, false);
	nat_flow_out_key(f, &k);
	slot_remove(t->out_slots, t->mask,
		    slot_of(t->out_slots, t->mask,
			    nat_key_hash(&k, w->secret[0]), idx),
		    w, true);
	/* Free before it is anything else (nat.h "persist.c"). */
	__atomic_store_n(&f->proto, 0, __ATOMIC_RELEASE);
	memset(f, 0, sizeof(*f));
	t->free_stack[t->n_free++] = idx;
	if (old.flags & NAT_FLOW_PSEUDO) {
		w->n_pseudo--;
		if (old.flags & NAT_FLOW_BIND)
			w->lease_ports[nat_lease_ports_slot(&old)]--;
		return;
	}
	{
		struct nat_client_slot *c = client_slot(w, old.in_ip, false);

		if (c && --c->flows == 0)
			client_remove(w, c);
	}
	w->lease_flows[old.lease]--;
	if (old.flags & NAT_FLOW_BOUND) {
		nat_pseudo_key(&k, old.out_ip, old.out_port, 0, old.proto);
		unref(w, &k);
	}
	if (old.flags & NAT_FLOW_PERMITTED) {
		nat_pseudo_key(&k, old.out_ip, old.out_port, old.rem_ip,
			       old.proto);
		unref(w, &k);
	}
}

void nat_flow_retire(struct nat_worker *w, uint32_t idx)
{
	struct nat_flow held = w->t.flows[idx];

	w->cnt[SH_CNT_FLOW_EXPIRED]++;
	nat_flow_del(w, idx);
	if (!(held.flags & NAT_FLOW_HOLD) || w->hold_ms == 0)
		return;
	/* The tuple stays taken for the hold-down, which runs from the
	 * flow's end, not from when the hand saw it. A full table forgoes
	 * the hold rather than a flow. */
	held.last_seen += w->timeout_ms[nat_flow_class(&held)];
	held.flags = NAT_FLOW_HELD;
	held.proto |= NAT_PROTO_PSEUDO;
	held.pkts = 0;
	(void)nat_flow_add(w, &held);
}

/* The pseudo-entry flow @f uses as binding (@permit false) or
 * permission: its index or -1. */
static int64_t user_of(const struct nat_worker *w, const struct nat_flow *f,
		       bool permit)
{
	struct nat_key k;

	nat_pseudo_key(&k, f->out_ip, f->out_port, permit ? f->rem_ip : 0,
		       f->proto);
	return nat_find(w, &k, true);
}

void nat_table_rebuild(struct nat_worker *w, struct nat_adopt_stats *st)
{
	struct nat_table *t = &w->t;
	size_t slots = (size_t)t->mask + 1;
	uint32_t i;

	st->rebuilt = true;
	memset(t->in_slots, 0, slots * sizeof(*t->in_slots));
	memset(t->out_slots, 0, slots * sizeof(*t->out_slots));
	memset(t->clients, 0, slots * sizeof(*t->clients));
	memset(w->lease_flows, 0, (UINT16_MAX + 1) * sizeof(*w->lease_flows));
	memset(w->lease_ports, 0, 2 * (UINT16_MAX + 1) * sizeof(*w->lease_ports));
	t->n_free = 0;
	t->sweep_pos = 0;
	w->n_pseudo = 0;
	/* Entries from the top down, so that the free stack hands out low
	 * indices first, as a new table's does. Users are counted again
	 * below. */
	for (i = t->max_flows; i-- > 0;) {
		struct nat_flow *f = &t->flows[i];

		if (f->proto && !nat_flow_whole(f)) {
			st->torn++;
		} else if (f->proto) {
			struct nat_key ki, ko;

			if (f->flags & (NAT_FLOW_BIND | NAT_FLOW_PERMIT))
				f->pkts = 0;
			nat_flow_in_key(f, &ki);
			nat_flow_out_key(f, &ko);
			if (nat_probe(w, &ki, false) >= 0 ||
			    nat_probe(w, &ko, true) >= 0)
				st->duplicate++;
			else if (index_entry(w, f, i) == 0)
				continue;
			else
				st->no_slot++;
		}
		memset(f, 0, sizeof(*f));
		t->free_stack[t->n_free++] = i;
	}
	/* A flow counts as a user of its binding and permission, or goes
	 * if one of them is not there. */
	for (i = 0; i < t->max_flows; i++) {
		struct nat_flow *f = &t->flows[i];
		int64_t b = -1, p = -1;

		if (!f->proto || (f->flags & NAT_FLOW_PSEUDO))
			continue;
		if (f->flags & NAT_FLOW_BOUND)
			b = user_of(w, f, false);
		if (f->flags & NAT_FLOW_PERMITTED)
			p = user_of(w, f, true);
		if (((f->flags & NAT_FLOW_BOUND) && b < 0) ||
		    ((f->flags & NAT_FLOW_PERMITTED) && p < 0)) {
			/* Not counted as a user yet: nothing to release. */
			f->flags &= (uint16_t)~(NAT_FLOW_BOUND | NAT_FLOW_PERMITTED);
			nat_flow_del(w, i);
			st->unbound++;
			continue;
		}
		if (b >= 0)
			t->flows[b].pkts++;
		if (p >= 0)
			t->flows[p].pkts++;
	}
	/* A permission lives only with its flows (a binding with none left
	 * is in its hold-down, from its last_seen, as nat_flow_del left it). */
	for (i = 0; i < t->max_flows; i++)
		if ((t->flows[i].flags & NAT_FLOW_PERMIT) && !t->flows[i].pkts)
			nat_flow_del(w, i);
	st->flows = nat_flow_count(w);
	st->pseudo = w->n_pseudo;
}

uint32_t nat_flow_count(const struct nat_worker *w)
{
	return w->t.max_flows - w->t.n_free - w->n_pseudo;
}

unsigned nat_expire(struct nat_worker *w, unsigned budget)
{
	struct nat_table *t = &w->t;
	unsigned retired = 0;

	if (budget > t->max_flows)
		budget = t->max_flows;
	while (budget--) {
		struct nat_flow *f = &t->flows[t->sweep_pos];

		if (!f->proto) {
			/* free */
		} else if (f->flags & NAT_FLOW_PSEUDO) {
			/* A permission goes with its last flow (unref). */
			if (!(f->flags & NAT_FLOW_PERMIT) && hold_over(w, f))
				nat_flow_del(w, t->sweep_pos);
		} else if (nat_flow_expired(w, f)) {
			nat_flow_retire(w, t->sweep_pos);
			retired++;
		}
		if (++t->sweep_pos == t->max_flows)
			t->sweep_pos = 0;
	}
	return retired;
}

/* The key nat_in2out()/nat_out2in() will look up for @p, for the common
 * cases only (TCP, UDP, ICMP echo); false for the rest (no hint). */
static bool hint_key(const struct nat_pkt *p, bool out2in, struct nat_key *k)
{
	uint32_t src = ld32(p->ip + IP4_SRC), dst = ld32(p->ip + IP4_DST);
	uint16_t sport, dport;

	switch (p->proto) {
	case NAT_PROTO_TCP:
	case NAT_PROTO_UDP:
		sport = ld16(p->l4 + L4_SPORT);
		dport = ld16(p->l4 + L4_DPORT);
		break;
	case NAT_PROTO_ICMP:
		if (p->l4[NAT_ICMP_TYPE] != (out2in ? NAT_ICMP_ECHO_REPLY
						    : NAT_ICMP_ECHO_REQUEST))
			return false;
		sport = dport = ld16(p->l4 + NAT_ICMP_ID);
		if (out2in)
			sport = 0;
		else
			dport = 0;
		break;
	default:
		return false;
	}
	if (out2in)
		nat_key_set(k, dst, dport, src, sport, p->proto);
	else
		nat_key_set(k, src, sport, dst, dport, p->proto);
	return true;
}

void nat_hint_slot(const struct nat_worker *w, const struct nat_pkt *p,
		   bool out2in, struct nat_hint *h)
{
	struct nat_key k;
	uint64_t hash;

	h->pos = UINT32_MAX;
	if (!hint_key(p, out2in, &k))
		return;
	hash = nat_key_hash(&k, w->secret[0]);
	h->pos = (uint32_t)hash & w->t.mask;
	h->sig = (uint32_t)(hash >> 32);
	__builtin_prefetch(out2in ? &w->t.out_slots[h->pos] : &w->t.in_slots[h->pos]);
}

void nat_hint_flow(const struct nat_worker *w, const struct nat_hint *h,
		   bool out2in)
{
	const struct nat_slot *s;

	if (h->pos == UINT32_MAX)
		return;
	s = out2in ? &w->t.out_slots[h->pos] : &w->t.in_slots[h->pos];
	/* The home slot only: a displaced entry is rare at load <= 1/2. */
	if (s->idx && s->sig == h->sig)
		__builtin_prefetch(&w->t.flows[s->idx - 1]);
}
