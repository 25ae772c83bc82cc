/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#include "handoff.h"

struct sh_handoff {
	unsigned n;
	struct rte_ring *ring[]; /* [from * n + to] */
};

_Static_assert(sizeof(struct sh_handoff_item) == 16,
	       "ring elements must be a multiple of 4 bytes; keep them 16");

unsigned sh_handoff_ring_size(unsigned n_workers)
{
	uint64_t rings = (uint64_t)n_workers * (n_workers - (n_workers > 1));
	unsigned size = SH_HANDOFF_RING_MAX;

	while (size > SH_HANDOFF_RING_MIN &&
	       rings * size * sizeof(struct sh_handoff_item) > SH_HANDOFF_BUDGET)
		size /= 2;
	return size;
}

struct sh_handoff *sh_handoff_create(unsigned n_workers, unsigned ring_size,
				     int socket)
{
	struct sh_handoff *h;
	unsigned from, to;

	h = rte_zmalloc_socket("sh_handoff",
			       sizeof(*h) + (size_t)n_workers * n_workers *
						    sizeof(h->ring[0]),
			       0, socket);
	if (!h) {
		rte_errno = ENOMEM;
		return NULL;
	}
	h->n = n_workers;
	for (from = 0; from < n_workers; from++)
		for (to = 0; to < n_workers; to++) {
			char name[RTE_RING_NAMESIZE];
			struct rte_ring *r;

			if (from == to)
				continue;
			snprintf(name, sizeof(name), "sh_ho_%u_%u", from, to);
			r = rte_ring_create_elem(name, sizeof(struct sh_handoff_item),
						 ring_size, socket,
						 RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (!r) {
				sh_handoff_destroy(h);
				return NULL;
			}
			h->ring[from * n_workers + to] = r;
		}
	return h;
}

struct rte_ring *sh_handoff_ring(const struct sh_handoff *h, unsigned from,
				 unsigned to)
{
	return h->ring[from * h->n + to];
}

void sh_handoff_destroy(struct sh_handoff *h)
{
	struct sh_handoff_item it;
	unsigned i;

	if (!h)
		return;
	for (i = 0; i < h->n * h->n; i++) {
		if (!h->ring[i])
			continue;
		/* Bounded by the ring's size: nothing enqueues any more. */
		while (rte_ring_sc_dequeue_elem(h->ring[i], &it, sizeof(it)) == 0)
			rte_pktmbuf_free(it.m);
		rte_ring_free(h->ring[i]);
	}
	rte_free(h);
}

void sh_handoff_flush(struct sh_handoff_out *o, uint64_t *cnt)
{
	unsigned sent, i;

	if (o->n == 0)
		return;
	sent = rte_ring_sp_enqueue_burst_elem(o->ring, o->item, sizeof(o->item[0]),
					      o->n, NULL);
	cnt[SH_CNT_HANDOFF_TX] += sent;
	if (unlikely(sent < o->n)) {
		cnt[SH_DROP_HANDOFF_FULL] += o->n - sent;
		for (i = sent; i < o->n; i++)
			rte_pktmbuf_free(o->item[i].m);
	}
	o->n = 0;
}
