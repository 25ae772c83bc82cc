/* SPDX-License-Identifier: BSD-3-Clause */
#include "flow_list.h"
#include "flow_lookup.h"

bool nat_flow_walk(const struct nat_worker *w, nat_flow_visit_fn *visit,
		   void *arg)
{
	const struct nat_table *t = &w->t;
	struct nat_flow_info fi;
	uint32_t i;

	for (i = 0; i < t->max_flows; i++) {
		/* One copy, so the checks and the visitor see the same flow. */
		fi.flow = t->flows[i];
		if (!fi.flow.proto || (fi.flow.flags & NAT_FLOW_PSEUDO))
			continue;
		fi.idle_ms = (uint32_t)(w->now - fi.flow.last_seen);
		fi.class = nat_flow_class(&fi.flow);
		if (!visit(&fi, arg))
			return false;
	}
	return true;
}

uint32_t nat_lease_flows(const struct nat_worker *w, uint32_t id)
{
	return __atomic_load_n(&w->lease_flows[id], __ATOMIC_RELAXED);
}

uint32_t nat_lease_ports(const struct nat_worker *w, uint32_t id,
			 uint8_t proto)
{
	struct nat_flow b = { .lease = (uint16_t)id, .proto = proto };

	return __atomic_load_n(&w->lease_ports[nat_lease_ports_slot(&b)],
			       __ATOMIC_RELAXED);
}

unsigned nat_client_top(const struct nat_worker *w,
			struct nat_client_use *out, unsigned n)
{
	const struct nat_table *t = &w->t;
	struct nat_client_slot c;
	unsigned have = 0, j;
	uint32_t i;

	if (n == 0)
		return 0;
	for (i = 0; i <= t->client_mask; i++) {
		/* One copy, so the test and the entry kept agree. */
		c = t->clients[i];
		if (c.flows == 0 || c.ip == 0 ||
		    (have == n && c.flows <= out[n - 1].flows))
			continue;
		/* Insert in order; a full list drops its last. */
		j = have < n ? have++ : n - 1;
		for (; j > 0 && out[j - 1].flows < c.flows; j--)
			out[j] = out[j - 1];
		out[j] = (struct nat_client_use){ c.ip, c.flows, c.out_ip };
	}
	return have;
}

uint32_t nat_client_flows_read(const struct nat_worker *w, uint32_t client)
{
	const struct nat_table *t = &w->t;
	uint32_t pos = (uint32_t)nat_mix(client, 0, w->secret[1]) &
		       t->client_mask;
	struct nat_client_slot c;
	uint32_t i;

	/* The owner keeps the table at most half full, so a probe ends at an
	 * empty slot; the bound only guards against what a racing read may
	 * see. */
	for (i = 0; i <= t->client_mask; i++, pos = (pos + 1) & t->client_mask) {
		c = t->clients[pos];
		if (c.flows == 0)
			return 0;
		if (c.ip == client)
			return c.flows;
	}
	return 0;
}
