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

/* Outside ports of lease @id (0..UINT16_MAX) that @w's bindings hold for
 * @proto (NAT_PROTO_TCP or NAT_PROTO_UDP), live or in their hold-down:
 * what an exclusive lease has left is its range less these. Any thread. */
uint32_t nat_lease_ports(const struct nat_worker *w, uint32_t id,
			 uint8_t proto);

/* One client as a reader sees it. */
struct nat_client_use {
	uint32_t ip;     /* network order */
	uint32_t flows;  /* live flows on the worker read */
	uint32_t out_ip; /* the slice address they use, network order */
};

/*
 * The at most @n clients of @w with the most flows, most first, into
 * @out; returns how many. Reads each client slot once (2 * max_flows
 * rounded up to a power of two, 16 bytes each) and keeps the best @n by
 * insertion, so @n should be small (a report's SHOAL_TOP_CLIENTS). Any
 * thread.
 */
unsigned nat_client_top(const struct nat_worker *w,
			struct nat_client_use *out, unsigned n);

/* Live flows of @client (network order) on @w; 0 when it has none. Any
 * thread (nat_client_flows() is the owner's). */
uint32_t nat_client_flows_read(const struct nat_worker *w, uint32_t client);

#endif /* SHOAL_NAT_FLOW_LIST_H */
