/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tables in a segment that outlives the process: layout, check, adopt,
 * sync. The design and the crash-consistency argument are in nat.h
 * ("persist.c"); the rebuild itself is the table's owner's
 * (flow.c nat_table_rebuild).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "persist.h"

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

/* Offsets of each array in a segment for @max_flows. */
struct seg_layout {
	size_t flows, free_stack, in_slots, out_slots, clients;
	size_t lease_flows, lease_ports, lease_exhausted, end;
};

static void seg_layout(uint32_t max_flows, struct seg_layout *l)
{
	size_t slots = nat_slots_for(max_flows);

	l->flows = ALIGN64(sizeof(struct nat_seg_hdr));
	l->free_stack = ALIGN64(l->flows + (size_t)max_flows *
					   sizeof(struct nat_flow));
	l->in_slots = ALIGN64(l->free_stack + (size_t)max_flows * sizeof(uint32_t));
	l->out_slots = ALIGN64(l->in_slots + slots * sizeof(struct nat_slot));
	l->clients = ALIGN64(l->out_slots + slots * sizeof(struct nat_slot));
	l->lease_flows = ALIGN64(l->clients +
				 slots * sizeof(struct nat_client_slot));
	l->lease_ports = ALIGN64(l->lease_flows +
				 (UINT16_MAX + 1) * sizeof(uint32_t));
	l->lease_exhausted = ALIGN64(l->lease_ports +
				     2 * (UINT16_MAX + 1) * sizeof(uint32_t));
	l->end = ALIGN64(l->lease_exhausted +
			 (UINT16_MAX + 1) * sizeof(uint64_t));
}

size_t nat_seg_bytes(uint32_t max_flows)
{
	struct seg_layout l;

	seg_layout(max_flows, &l);
	return l.end;
}

/* Point @w's tables into @seg. */
static void seg_map(struct nat_worker *w, void *seg)
{
	uint8_t *b = seg;
	struct seg_layout l;

	seg_layout(w->t.max_flows, &l);
	w->seg = seg;
	w->t.flows = (struct nat_flow *)(b + l.flows);
	w->t.free_stack = (uint32_t *)(b + l.free_stack);
	w->t.in_slots = (struct nat_slot *)(b + l.in_slots);
	w->t.out_slots = (struct nat_slot *)(b + l.out_slots);
	w->t.clients = (struct nat_client_slot *)(b + l.clients);
	w->lease_flows = (uint32_t *)(b + l.lease_flows);
	w->lease_ports = (uint32_t *)(b + l.lease_ports);
	w->lease_exhausted = (uint64_t *)(b + l.lease_exhausted);
}

void nat_seg_init(struct nat_worker *w, void *seg)
{
	struct nat_seg_hdr *h = seg;

	memset(seg, 0, nat_seg_bytes(w->t.max_flows));
	seg_map(w, seg);
	h->layout = NAT_LAYOUT;
	h->flow_size = sizeof(struct nat_flow);
	h->worker_id = w->id;
	h->n_workers = w->n_workers;
	h->max_flows = w->t.max_flows;
	h->secret[0] = w->secret[0];
	h->secret[1] = w->secret[1];
	/* The magic last: a segment whose header was being written when the
	 * process died reads as never written. */
	__atomic_store_n(&h->magic, NAT_SEG_MAGIC, __ATOMIC_RELEASE);
}

int nat_seg_check(const void *seg, const struct nat_params *p, char *why,
		  size_t len)
{
	const struct nat_seg_hdr *h = seg;

	if (h->magic != NAT_SEG_MAGIC) {
		snprintf(why, len, "worker %u: no flow table", p->worker_id);
		return -ENOENT;
	}
	if (h->layout != NAT_LAYOUT || h->flow_size != sizeof(struct nat_flow)) {
		snprintf(why, len, "worker %u: table layout %u (%u-byte flows), "
			 "this engine reads layout %u (%zu-byte flows)",
			 p->worker_id, h->layout, h->flow_size, NAT_LAYOUT,
			 sizeof(struct nat_flow));
		return -EPROTO;
	}
	if (h->n_workers != p->n_workers || h->worker_id != p->worker_id ||
	    h->max_flows != p->max_flows) {
		snprintf(why, len, "worker %u: table of worker %u of %u with %u "
			 "flows, this engine has %u workers of %u flows",
			 p->worker_id, h->worker_id, h->n_workers, h->max_flows,
			 p->n_workers, p->max_flows);
		return -EINVAL;
	}
	return 0;
}

struct nat_worker *nat_worker_adopt(const struct nat_params *p,
				    struct nat_adopt_stats *st)
{
	struct nat_seg_hdr *h = p->seg;
	struct nat_worker *w;
	char why[160];
	int ret;

	memset(st, 0, sizeof(*st));
	if (!h) {
		errno = EINVAL;
		return NULL;
	}
	ret = nat_seg_check(h, p, why, sizeof(why));
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	w = nat_worker_alloc(p);
	if (!w)
		return NULL;
	w->secret[0] = h->secret[0];
	w->secret[1] = h->secret[1];
	seg_map(w, h);
	if (h->clean && h->n_free <= h->max_flows &&
	    h->n_pseudo <= h->max_flows - h->n_free &&
	    h->sweep_pos < h->max_flows) {
		w->t.n_free = h->n_free;
		w->t.sweep_pos = h->sweep_pos;
		w->n_pseudo = h->n_pseudo;
		memcpy(w->port_offset, h->port_offset, sizeof(w->port_offset));
		st->flows = nat_flow_count(w);
		st->pseudo = w->n_pseudo;
	} else {
		nat_table_rebuild(w, st);
	}
	/* In use from here: a crash from now on must rebuild. */
	__atomic_store_n(&h->clean, 0, __ATOMIC_RELEASE);
	return w;
}

void nat_worker_sync(struct nat_worker *w)
{
	struct nat_seg_hdr *h = w->seg;

	if (!h)
		return;
	h->n_free = w->t.n_free;
	h->sweep_pos = w->t.sweep_pos;
	h->n_pseudo = w->n_pseudo;
	memcpy(h->port_offset, w->port_offset, sizeof(h->port_offset));
	__atomic_store_n(&h->clean, 1, __ATOMIC_RELEASE);
}

bool nat_flow_whole(const struct nat_flow *f)
{
	uint8_t proto = f->proto & (uint8_t)~NAT_PROTO_PSEUDO;
	bool pseudo = f->proto & NAT_PROTO_PSEUDO;
	uint16_t kind = f->flags & NAT_FLOW_PSEUDO;

	if (proto != NAT_PROTO_TCP && proto != NAT_PROTO_UDP &&
	    proto != NAT_PROTO_ICMP)
		return false;
	if (f->flags & ~(NAT_FLOW_PSEUDO | NAT_FLOW_HOLD | NAT_FLOW_BOUND |
			 NAT_FLOW_PERMITTED))
		return false;
	if (!f->in_ip || !f->out_ip)
		return false;
	if (pseudo) {
		/* Exactly one kind, and the keys of that kind. */
		if (kind != NAT_FLOW_BIND && kind != NAT_FLOW_PERMIT &&
		    kind != NAT_FLOW_HELD)
			return false;
		if (f->flags & ~NAT_FLOW_PSEUDO || f->tcp)
			return false;
		if (kind == NAT_FLOW_BIND)
			return !f->rem_ip && !f->rem_port;
		if (kind == NAT_FLOW_PERMIT)
			return f->rem_ip && !f->rem_port;
		return f->rem_ip != 0;
	}
	if (kind || !f->rem_ip)
		return false;
	if ((f->flags & NAT_FLOW_PERMITTED) && !(f->flags & NAT_FLOW_BOUND))
		return false;
	if (proto != NAT_PROTO_TCP && f->tcp)
		return false;
	return !(f->tcp & ~(NAT_TCP_SYN_IN | NAT_TCP_SYN_OUT | NAT_TCP_FIN |
			    NAT_TCP_RST));
}
