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
