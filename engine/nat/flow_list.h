/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A worker's flows as another thread reads them: the main lcore lists
 * flows for engine.flows and sums flows per lease for engine.report
 * through these functions, never through the table's layout.
 *
 * No lock: the owner lcore keeps writing while these read. A flow created
 * or removed at that instant may be seen half-written; that is acceptable
 * for a diagnostic listing and a usage report, and it costs the packet
 * path nothing.
 */
#ifndef SHOAL_NAT_FLOW_LIST_H
#define SHOAL_NAT_FLOW_LIST_H

#include <stdbool.h>
#include <stdint.h>

#include "nat.h"

/* One live flow, as a reader sees it. */
struct nat_flow_info {
	struct nat_flow flow;         /* a copy, taken once */
	uint32_t idle_ms;             /* since flow.last_seen, worker's clock */
	enum nat_timeout_class class; /* the timeout that applies to it */
};

/* Called once per live flow; returns false to stop the walk. */
typedef bool nat_flow_visit_fn(const struct nat_flow_info *fi, void *arg);

/*
 * Call @visit(fi, @arg) for each live flow of @w in table order until it
 * returns false. Returns false if @visit stopped the walk, true if it saw
 * every flow. Bounded by the table size (max_flows entries read). Any
 * thread.
 */
bool nat_flow_walk(const struct nat_worker *w, nat_flow_visit_fn *visit,
		   void *arg);

/* Live flows of @w created under lease @id (0..UINT16_MAX). Any thread. */
uint32_t nat_lease_flows(const struct nat_worker *w, uint32_t id);

#endif /* SHOAL_NAT_FLOW_LIST_H */
