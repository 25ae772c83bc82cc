/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reload: re-read the configuration file and apply what can change
 * without a restart (docs/OPERATIONS.md), or refuse the whole file and
 * keep running as before.
 *
 * Flow (main lcore; SIGHUP, or engine.reload from shoal-ctld):
 *   1. sh_config_load() the file the engine started with into a spare
 *      struct; sh_config_reload_check() against the running one: any
 *      error is "FILE:LINE: reason" and nothing changes;
 *   2. without shoal-ctld, build the file's lease set (slices, static
 *      leases) before anything is committed;
 *   3. commit: the spare becomes the running configuration (shoal-ctld's
 *      next lease set is built on its slices), new tunables (timeouts,
 *      per-client limit, hold-down, MSS clamp, punt rates) and, without
 *      shoal-ctld, the new lease set are published to every worker
 *      (rcu.h); each worker applies the tunables between two bursts.
 * Established flows stay: the flow tables are not touched, the new
 * timeouts apply to them at their next expiry check.
 */
#ifndef SHOAL_RELOAD_H
#define SHOAL_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include <rte_rcu_qsbr.h>

#include "config.h"
#include "worker.h"

struct sh_reload {
	struct sh_config *cfg; /* the running configuration */
	struct sh_worker *workers;
	unsigned n_workers;
	struct rte_rcu_qsbr *qsbr;
	bool own_leases;   /* no shoal-ctld: the file's leases are the set */
	struct nat_lease_set *leases;   /* a set we published, or NULL */
	struct sh_tunables *tunables;   /* the published tunables */
	uint64_t gen;
};

/* What @cfg makes of a worker's tunables (one of @n_workers). */
void sh_tunables_from(const struct sh_config *cfg, unsigned n_workers,
		      struct sh_tunables *tn);

/* Publish @r's first tunables (the running configuration's). 0 or
 * -ENOMEM. */
int sh_reload_init(struct sh_reload *r);

/* Steps 1-3 above. 0, or -errno with "FILE:LINE: reason" (or "FILE:
 * reason") in @err and nothing changed. */
int sh_reload(struct sh_reload *r, char *err, size_t errlen);

void sh_reload_fini(struct sh_reload *r); /* after the workers stopped */

#endif /* SHOAL_RELOAD_H */
