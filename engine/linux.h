/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Linux integration on the main lcore: the kernel mirrors of the data
 * ports, their addresses and default route, and the engine's view of the
 * kernel's routes and neighbours, published to the workers.
 *
 * Flow: sh_linux_start() creates each side's mirror (exception != none),
 * configures it over netlink and builds the first FIB snapshot; the main
 * loop then calls sh_linux_poll(), which applies netlink events, publishes
 * a new snapshot to every worker when anything changed (RCU: pointer
 * stores, rte_rcu_qsbr_synchronize, free the old one), and turns the
 * workers' neighbour-resolution requests into kernel requests.
 * Main lcore only; returns 0 or -errno, never exits.
 */
#ifndef SHOAL_LINUX_H
#define SHOAL_LINUX_H

#include "config.h"
#include "netlink.h"
#include "worker.h"

struct sh_linux;

/* A neighbour a previous engine process had resolved on a side's
 * mirror (state.h keeps them across a restart). */
struct sh_neigh_seed {
	uint32_t ip; /* network order */
	uint8_t side; /* SH_INSIDE or SH_OUTSIDE */
	uint8_t mac[6];
	uint8_t pad;
};

/*
 * Create mirrors for the sides of @cfg that have an exception path and
 * record them in @ports (mirror_id, mirror_ifindex; SH_NO_MIRROR
 * otherwise), seeding their neighbour tables with @seed[0..@n_seed)
 * (STALE: used at once, re-confirmed by the kernel) so that a restart
 * forwards without waiting for ARP. @ports[].mac must be set. On success
 * *@out holds the state (NULL when no side has a mirror: then there is
 * no FIB either).
 */
int sh_linux_start(struct sh_linux **out, const struct sh_config *cfg,
		   struct sh_port ports[SH_SIDES], unsigned n_workers,
		   const struct sh_neigh_seed *seed, unsigned n_seed,
		   char *err, size_t errlen);

/* The resolved neighbours of the current FIB, at most @max into @out;
 * returns how many. Main lcore. */
unsigned sh_linux_neigh_export(const struct sh_linux *lx,
			       const struct sh_port ports[SH_SIDES],
			       struct sh_neigh_seed *out, unsigned max);

/* The current FIB's generation (0 without mirrors). */
uint64_t sh_linux_fib_gen(const struct sh_linux *lx);

/* Current FIB snapshot (NULL without mirrors), to seed the workers. */
const struct sh_fib *sh_linux_fib(const struct sh_linux *lx);

/* The ring workers put resolution requests on (NULL without mirrors). */
struct rte_ring *sh_linux_resolve_ring(const struct sh_linux *lx);

/* The netlink mirror's counters (overruns, resyncs, ...) into @st; all
 * zero when @lx is NULL (no mirror, no netlink). Main lcore. */
void sh_linux_nl_stats(const struct sh_linux *lx, struct sh_nl_stats *st);

/* The netlink event socket, for the main loop's poll(). */
int sh_linux_fd(const struct sh_linux *lx);

/* Serve netlink and resolution requests, waiting up to @timeout_ms for
 * netlink input (0: just do what is pending). */
int sh_linux_poll(struct sh_linux *lx, struct sh_worker *workers,
		  unsigned n_workers, struct rte_rcu_qsbr *qsbr, int timeout_ms);

/* Free the state; the workers must have stopped. Mirrors are closed with
 * the other ports by the caller. */
void sh_linux_stop(struct sh_linux *lx);

#endif /* SHOAL_LINUX_H */
