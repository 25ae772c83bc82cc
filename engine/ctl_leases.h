/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lease sets from shoal-ctld: the "leases" of an engine.subscribe result
 * or a leases.update, validated whole, built into a struct
 * nat_lease_set on our configuration's slices and host addresses, and
 * published to every worker (rcu.h). A set with any invalid lease is
 * ignored entirely, so the workers only ever see sets the daemon sent.
 *
 * Main lcore only.
 */
#ifndef SHOAL_CTL_LEASES_H
#define SHOAL_CTL_LEASES_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <rte_rcu_qsbr.h>

#include "config.h"
#include "worker.h"

struct ctl_leases {
	const struct sh_config *cfg;
	struct sh_worker *workers;
	unsigned n_workers;
	struct rte_rcu_qsbr *qsbr;
	const struct nat_lease_set *initial; /* the config's; never freed */
	struct nat_lease_set *current;       /* published by us, or NULL */
	uint64_t generation;                 /* last published, 0: none */
	/* the last set received, when it could not be published: its
	 * generation (0 if unreadable) and a reason for engine.report;
	 * refused_reason NULL when the last set was published */
	uint64_t refused_gen;
	const char *refused_reason;
};

/*
 * Publish the lease set in @params ({"generation": N, "leases": [...]})
 * unless it is generation @st->generation again and @fresh is false (a
 * repeat on a subscription that already has it). Returns 1 when
 * published, 0 when skipped as a repeat, -EINVAL for a malformed set
 * (logged, nothing published), -ENOMEM; on failure @st->refused_gen and
 * @st->refused_reason say which set and why, until one is published.
 * Waits for the workers' grace period before freeing the set it replaces.
 */
int ctl_leases_apply(struct ctl_leases *st, json_t *params, bool fresh);

/* The set the workers hold now: the last published, else @st->initial. */
const struct nat_lease_set *ctl_leases_current(const struct ctl_leases *st);

/* Free what ctl_leases_apply() published; the workers must have stopped. */
void ctl_leases_fini(struct ctl_leases *st);

#endif /* SHOAL_CTL_LEASES_H */
