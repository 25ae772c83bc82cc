/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NAT worker lifetime: one allocation per table, through the caller's
 * allocator so the engine can place them on the worker's NUMA node, or
 * the tables carved out of a segment that outlives the process
 * (persist.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nat.h"
#include "persist.h"

void nat_worker_destroy(struct nat_worker *w)
{
	struct nat_table *t;

	if (!w)
		return;
	t = &w->t;
	if (w->seg) {
		w->free(w, w->mem_ctx);
		return;
	}
	w->free(t->flows, w->mem_ctx);
	w->free(t->free_stack, w->mem_ctx);
	w->free(t->in_slots, w->mem_ctx);
	w->free(t->out_slots, w->mem_ctx);
	w->free(t->clients, w->mem_ctx);
	w->free(w->lease_flows, w->mem_ctx);
	w->free(w->lease_ports, w->mem_ctx);
	w->free(w->lease_exhausted, w->mem_ctx);
	w->free(w, w->mem_ctx);
}

void nat_worker_tune(struct nat_worker *w, const struct nat_params *p)
{
	w->max_ports_per_client = p->max_ports_per_client;
	w->hold_ms = p->hold_down_s * 1000u;
	w->mss_clamp = p->mss_clamp;
	for (unsigned i = 0; i < NAT_TO_MAX; i++)
		w->timeout_ms[i] = p->timeout_s[i] * 1000u;
}

/* The worker itself, without tables; NULL with errno. */
struct nat_worker *nat_worker_alloc(const struct nat_params *p)
{
	struct nat_worker *w;

	if (p->n_workers == 0 || p->worker_id >= p->n_workers ||
	    (p->steer && p->steer->n_workers != p->n_workers) ||
	    p->max_flows == 0 || p->max_flows > (1u << 30)) {
		errno = EINVAL;
		return NULL;
	}
	w = p->zalloc(sizeof(*w), p->mem_ctx);
	if (!w) {
		errno = ENOMEM;
		return NULL;
	}
	w->free = p->free;
	w->mem_ctx = p->mem_ctx;
	w->id = p->worker_id;
	w->n_workers = p->n_workers;
	w->steer = p->steer;
	nat_worker_tune(w, p);
	w->secret[0] = p->secret[0];
	w->secret[1] = p->secret[1];
	w->t.max_flows = p->max_flows;
	w->t.mask = nat_slots_for(p->max_flows) - 1;
	w->t.client_mask = w->t.mask;
	return w;
}

/* Hand out low indices first: a lightly loaded table stays compact. */
void nat_free_stack_fill(struct nat_table *t)
{
	uint32_t i;

	for (i = 0; i < t->max_flows; i++)
		t->free_stack[i] = t->max_flows - 1 - i;
	t->n_free = t->max_flows;
}

struct nat_worker *nat_worker_create(const struct nat_params *p)
{
	struct nat_worker *w = nat_worker_alloc(p);
	struct nat_table *t;
	size_t slots;

	if (!w)
		return NULL;
	if (p->seg) {
		nat_seg_init(w, p->seg);
		nat_free_stack_fill(&w->t);
		return w;
	}
	t = &w->t;
	slots = (size_t)t->mask + 1;
	t->flows = p->zalloc((size_t)p->max_flows * sizeof(*t->flows), p->mem_ctx);
	t->free_stack = p->zalloc((size_t)p->max_flows * sizeof(uint32_t),
				  p->mem_ctx);
	t->in_slots = p->zalloc(slots * sizeof(struct nat_slot), p->mem_ctx);
	t->out_slots = p->zalloc(slots * sizeof(struct nat_slot), p->mem_ctx);
	t->clients = p->zalloc(slots * sizeof(*t->clients), p->mem_ctx);
	w->lease_flows = p->zalloc((UINT16_MAX + 1) * sizeof(uint32_t), p->mem_ctx);
	w->lease_ports = p->zalloc(2 * (UINT16_MAX + 1) * sizeof(uint32_t),
				   p->mem_ctx);
	w->lease_exhausted = p->zalloc((UINT16_MAX + 1) * sizeof(uint64_t),
				       p->mem_ctx);
	if (!t->flows || !t->free_stack || !t->in_slots || !t->out_slots ||
	    !t->clients || !w->lease_flows || !w->lease_ports ||
	    !w->lease_exhausted) {
		nat_worker_destroy(w);
		errno = ENOMEM;
		return NULL;
	}
	nat_free_stack_fill(t);
	return w;
}
