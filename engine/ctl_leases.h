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
	/*
	 * Fleet mode (cfg->fleet.enabled; docs/FLEET.md "Proof of ownership
	 * and fencing"): the last set applied, as received (NULL: none),
	 * and the monotonic ms until which its own slices are proven. The
	 * workers run @received itself, or a fenced copy of it (@fenced)
	 * once that time has passed; @fences counts the fences.
	 */
	struct nat_lease_set *received;
	uint64_t valid_until;
	bool fenced;
	uint64_t fences;
};

/*
 * Publish the lease set in @params ({"generation": N, "leases": [...]},
 * and in fleet mode "fleet": {"host", "valid_ms", "slices"}, FLEET.md
 * "Daemon and engine") unless it is generation @st->generation again
 * and @fresh is false (a repeat on a subscription that already has it).
 * A fleet set is published fenced (ctl_leases_tick()) when its
 * valid_ms is 0; otherwise its proof runs from now. Returns 1 when
 * published, 0 when skipped as a repeat, -EINVAL for a malformed set
 * (logged, nothing published), -ENOMEM; on failure @st->refused_gen and
 * @st->refused_reason say which set and why, until one is published.
 * Waits for the workers' grace period before freeing the set it replaces.
 */
int ctl_leases_apply(struct ctl_leases *st, json_t *params, bool fresh);

/*
 * fleet.valid ({"generation": G, "valid_ms": N}) at monotonic ms @now:
 * when G is the generation applied, its slices are proven until @now +
 * N, and a fenced engine publishes the received set again (N > 0).
 * Returns 1 when it un-fenced, 0 when it only moved the deadline or
 * ignored the notice (another generation), -EINVAL when malformed.
 */
int ctl_leases_valid(struct ctl_leases *st, json_t *params, uint64_t now);

/*
 * Fence when the proof ran out (@now, monotonic ms, past valid_until):
 * publish the received set without leases and without slices of its own
 * (nat_fleet_fence()), log it once, count it. Every turn of the main
 * lcore. Returns 1 when it fenced now, else 0.
 */
int ctl_leases_tick(struct ctl_leases *st, uint64_t now);

/* Milliseconds of proof left at @now: 0 when fenced or not fleet. */
uint64_t ctl_leases_valid_ms(const struct ctl_leases *st, uint64_t now);

/* The set the workers hold now: the last published, else @st->initial. */
const struct nat_lease_set *ctl_leases_current(const struct ctl_leases *st);

/* Free what ctl_leases_apply() published; the workers must have stopped. */
void ctl_leases_fini(struct ctl_leases *st);

#endif /* SHOAL_CTL_LEASES_H */
