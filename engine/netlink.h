/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Linux is the control plane: the engine's view of the kernel's routes and
 * neighbours on its mirror interfaces, learned over rtnetlink (libmnl),
 * and the few changes the engine makes there (addresses, link up, the
 * default route, asking the kernel to resolve a neighbour).
 *
 * Owner: the main lcore. It calls sh_nl_process() when sh_nl_fd() is
 * readable; when the kernel's state changed it builds a new struct sh_fib
 * (fib.h) with sh_nl_fib_build() and publishes it to the workers (RCU: one
 * pointer store, the old snapshot freed after every worker passed a
 * quiescent point). Workers only read snapshots, through sh_fib_lookup().
 * The routes' rte_fib is rebuilt only when routes changed; snapshots
 * built for neighbour changes share the previous one.
 *
 * Only state on the watched interfaces (the kernel mirrors) is kept:
 * IPv4 unicast routes of the main table with a next hop on a watched
 * interface (for multipath routes, all such next hops), and IPv4 neighbours on watched interfaces in a usable state (REACHABLE,
 * STALE, DELAY, PROBE, PERMANENT, NOARP).
 *
 * Errors: 0 or -errno; nothing here prints or exits.
 */
#ifndef SHOAL_NETLINK_H
#define SHOAL_NETLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "fib.h"

#define SH_NL_MAX_IFS 4

struct sh_nl;

/* Counters since sh_nl_open(); read by the main lcore for stats. */
struct sh_nl_stats {
	uint64_t overruns;    /* event socket overflowed (ENOBUFS, truncated) */
	uint64_t resyncs;     /* full re-dumps after the initial one */
	uint64_t routes_full; /* routes not kept: SH_FIB_MAX_ROUTES reached */
	uint64_t neigh_full;  /* neighbours not kept: SH_FIB_MAX_NEIGH full */
	uint64_t nhg_full;    /* routes not kept: SH_FIB_MAX_NHG sets in use */
	uint64_t paths_full;  /* next hops left out: SH_FIB_MAX_PATHS */
};

/*
 * Open rtnetlink for the main lcore: an event socket subscribed to IPv4
 * route, neighbour, link and IPv4 address events (non-blocking, 4 MiB
 * receive buffer where allowed) and a separate socket for requests and
 * dumps; then dump the current state for @ifindex[0..n), 1 <= n <=
 * SH_NL_MAX_IFS. NULL with errno on failure.
 */
struct sh_nl *sh_nl_open(const int *ifindex, unsigned n);
/* Close both sockets and free @nl; NULL is accepted. Snapshots already
 * built stay valid (they are independent allocations). */
void sh_nl_close(struct sh_nl *nl);

/* The event socket, for poll(). */
int sh_nl_fd(const struct sh_nl *nl);

void sh_nl_stats_get(const struct sh_nl *nl, struct sh_nl_stats *st);

/*
 * Read pending events without blocking (a bounded number of reads per
 * call; if more are queued the fd stays readable). Returns 1 if the routes
 * or neighbours changed (a new snapshot is due), 0 if not, -errno on
 * error. On ENOBUFS (events lost), and when a watched link goes down or
 * loses an address (the kernel then flushes routes without telling), it
 * re-dumps everything and returns 1. A re-dump that failed is retried on
 * the next call.
 */
int sh_nl_process(struct sh_nl *nl);

/* A new snapshot of the current state (sh_fib_build(); free with
 * sh_fib_free()); its route part is rebuilt only if routes changed since
 * the last call. NULL with errno on failure. Needs EAL (rte_fib). */
struct sh_fib *sh_nl_fib_build(struct sh_nl *nl);

/*
 * Ask the kernel to resolve @ip on @ifindex (RTM_NEWNEIGH, NLM_F_CREATE,
 * NTF_USE): the kernel creates the entry if needed and sends the ARP
 * request itself (a STALE entry is re-confirmed by unicast probe); the
 * answer arrives later as a neighbour event. Waits only for the kernel's
 * ack of the request, never for the ARP answer. Caller rate-limits.
 */
int sh_nl_resolve(struct sh_nl *nl, int ifindex, uint32_t ip);

/* Seed @ifindex's neighbour table with @ip -> @mac as STALE: usable at
 * once, re-confirmed by the kernel (a unicast probe) when next used.
 * What a restarted engine learnt before its mirrors were recreated.
 * Acknowledged before returning. */
int sh_nl_neigh_add(struct sh_nl *nl, int ifindex, uint32_t ip,
		    const uint8_t mac[6]);

/* Mirror set-up, one request each, acknowledged before returning; the
 * kernel's error is returned. sh_nl_addr_add treats EEXIST as success;
 * sh_nl_route_add adds or replaces the main-table route with metric 0
 * (via @gateway, or scope link when @gateway is 0); -EINVAL when @prefix
 * has bits outside @len. */
int sh_nl_link_up(struct sh_nl *nl, int ifindex);
int sh_nl_addr_add(struct sh_nl *nl, int ifindex, uint32_t ip, uint8_t len);
int sh_nl_route_add(struct sh_nl *nl, int ifindex, uint32_t prefix,
		    uint8_t len, uint32_t gateway); /* replaces an existing one */

#endif /* SHOAL_NETLINK_H */
