/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's link to shoal-ctld (include/shoal/proto.h, engine side).
 *
 * Main lcore only. Flow:
 *   connect to [engine] ctl_socket (non-blocking; on failure or loss retry
 *   with exponential backoff from 100 ms to 5 s) -> engine.subscribe ->
 *   the result and every leases.update carry the whole lease set: build a
 *   struct nat_lease_set from it (slices and host addresses from our own
 *   configuration), publish it to every worker (RCU: pointer stores,
 *   rte_rcu_qsbr_synchronize, free the old set) -> about once a second
 *   send engine.report (counters, flows per lease) -> answer engine.flows
 *   requests from the daemon, and engine.reload and engine.upgrade through
 *   the functions the engine registered. After an upgrade handed over,
 *   the client goes quiet and does not reconnect: the new engine is the
 *   daemon's engine now.
 * While the daemon is away the workers keep the last lease set they had
 * (at start: the static leases of the configuration), so forwarding never
 * depends on the daemon being up.
 */
#ifndef SHOAL_CTL_CLIENT_H
#define SHOAL_CTL_CLIENT_H

#include <rte_rcu_qsbr.h>

#include "config.h"
#include "netlink.h"
#include "worker.h"

struct sh_ctl;
struct sh_upgrade_result; /* takeover.h */

/* A reload asked for by the daemon (engine.reload): 0, or -errno with
 * "FILE:LINE: reason" in @err. */
typedef int (*sh_ctl_reload_fn)(void *arg, char *err, size_t errlen);

/* @cfg and @workers must outlive the client; @initial is the lease set
 * the workers start with (never freed by the client). NULL with errno. */
struct sh_ctl *sh_ctl_create(const struct sh_config *cfg,
			     struct sh_worker *workers, unsigned n_workers,
			     struct rte_rcu_qsbr *qsbr,
			     const struct nat_lease_set *initial,
			     sh_ctl_reload_fn reload, void *reload_arg);

/* The socket to poll for input (-1 while disconnected). */
int sh_ctl_fd(const struct sh_ctl *c);

/* Do whatever is due: (re)connect, read and apply messages, report
 * (with the netlink counters @nl). Never blocks; returns 0 (errors are
 * handled by reconnecting). */
int sh_ctl_service(struct sh_ctl *c, const struct sh_nl_stats *nl);

/* Has a lease set from the daemon been published to the workers? */
bool sh_ctl_has_set(const struct sh_ctl *c);

/* engine.upgrade from the daemon: start handing over to @binary (NULL: the
 * engine's own binary). 0: started, the answer comes from sh_ctl_upgrade_done();
 * -errno with the reason in @err: answered at once as an error. */
typedef int (*sh_ctl_upgrade_fn)(void *arg, const char *binary, char *err,
				 size_t errlen);
/* Register @fn (NULL: none; engine.upgrade is then answered "upgrade not
 * supported"). Main lcore, like the rest. */
void sh_ctl_set_upgrade(struct sh_ctl *c, sh_ctl_upgrade_fn fn, void *arg);
/* The outcome of the upgrade started through sh_ctl_upgrade_fn: @rc 0 with
 * @r, or -errno with @why. Sent at once (flushes), since the engine exits next. */
void sh_ctl_upgrade_done(struct sh_ctl *c, int rc, const char *why,
			 const struct sh_upgrade_result *r);

/* Disconnect and free; the workers must have stopped. */
void sh_ctl_destroy(struct sh_ctl *c);

#endif /* SHOAL_CTL_CLIENT_H */
