/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the engine tells shoal-ctld about itself: the periodic
 * engine.report and the answer to an engine.flows request, each built as
 * one JSON-RPC message (include/shoal/proto.h) for the link to send.
 * They read the workers' counters and flow tables without locks (through
 * stats.h and nat/flow_list.h) and only format; nothing here sends.
 *
 * Main lcore only. Both return a new reference, NULL when out of memory.
 */
#ifndef SHOAL_CTL_REPORT_H
#define SHOAL_CTL_REPORT_H

#include <stdint.h>

#include <jansson.h>

#include "ctl_leases.h"
#include "worker.h"

/* engine.report: every counter summed over @workers[0..@n), the live
 * flows and the ports held of each lease of the set @st holds that has
 * any (within a byte budget, else "leases_partial"), the busiest
 * SHOAL_TOP_CLIENTS clients ("clients"), the generation it applied,
 * the set it could not apply if the last one failed ("refused_generation",
 * "refused_reason"), and per worker its lcore, flows and non-zero counters
 * ("per_worker"), the whole within SHOAL_MSG_MAX. */
json_t *ctl_report_msg(const struct sh_worker *workers, unsigned n,
		       const struct ctl_leases *st);

/*
 * The reply to engine.flows request @id: flows of @workers[0..@n)
 * filtered by @params' optional "lease" (id) and "client" (IPv4), at most
 * "limit" of them (1..10000, else 100), with "truncated" set when more
 * matched or the reply would outgrow one protocol line.
 */
json_t *ctl_flows_reply(const struct sh_worker *workers, unsigned n,
			json_t *id, json_t *params);

#endif /* SHOAL_CTL_REPORT_H */
