/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The workers' FIB: an immutable snapshot of the kernel's IPv4 routes and
 * neighbours on the mirror interfaces, and its lookup.
 *
 * The main lcore builds a snapshot whole (sh_fib_build(), from the
 * rtnetlink mirror in netlink.h) and publishes it to the workers (rcu.h);
 * workers only call sh_fib_lookup() on it. Plain C, no DPDK and no
 * netlink: the unit tests build snapshots by hand.
 */
#ifndef SHOAL_FIB_H
#define SHOAL_FIB_H

#include <stdint.h>

#define SH_FIB_MAX_ROUTES 1024
#define SH_FIB_MAX_NEIGH 4096 /* per snapshot; more are ignored (counted) */

struct sh_route {
	uint32_t prefix;  /* network order, host bits zero */
	uint32_t mask;    /* network order */
	uint32_t gateway; /* network order; 0 = directly connected */
	uint32_t priority; /* route metric; lower wins among equal prefixes */
	int ifindex;
	uint8_t len;
};

struct sh_neigh {
	uint32_t ip; /* network order; 0 = empty slot */
	int ifindex;
	uint8_t mac[6];
};

/*
 * Immutable snapshot. routes[] is sorted longest prefix first, then by
 * priority (then in the kernel's order for equal prefix and priority), so
 * the first match is the kernel's choice among the routes on watched
 * interfaces. neigh[] is open addressing on ip with linear probing, load
 * <= 1/2, filled through sh_fib_neigh_insert().
 */
struct sh_fib {
	uint64_t generation;
	unsigned n_routes;
	struct sh_route routes[SH_FIB_MAX_ROUTES];
	unsigned n_neigh;    /* occupied slots */
	uint32_t neigh_mask; /* slots - 1; slots is a power of two */
	struct sh_neigh neigh[]; /* neigh_mask + 1 slots */
};

enum sh_fib_result {
	SH_FIB_OK = 0,
	SH_FIB_NO_ROUTE,     /* no route on a watched interface */
	SH_FIB_NO_NEIGH,     /* route found, next hop not resolved */
};

/*
 * Next hop for @dst (network order): output interface, next-hop address
 * (the gateway, or @dst itself when connected) and, on SH_FIB_OK, its MAC.
 * Any lcore; bounded by n_routes and the neighbour table size. @fib may
 * be NULL (nothing published yet): SH_FIB_NO_ROUTE.
 */
enum sh_fib_result sh_fib_lookup(const struct sh_fib *fib, uint32_t dst,
				 int *ifindex, uint32_t *nexthop,
				 uint8_t mac[6]);

/*
 * Add or update (@ip, @ifindex) -> @mac in a snapshot that is not yet
 * published (sh_fib_build() uses it; so do tests that build snapshots
 * by hand). 0, -EINVAL for ip 0 (the empty-slot marker), -ENOSPC when the
 * load would exceed 1/2.
 */
int sh_fib_neigh_insert(struct sh_fib *fib, uint32_t ip, int ifindex,
			const uint8_t mac[6]);

/*
 * A new snapshot tagged @generation with @routes[0..@n_routes) (already in
 * the order described above, n_routes <= SH_FIB_MAX_ROUTES) and the
 * neighbours @neigh[0..@n_neigh) in a table of at least 16 slots and load
 * <= 1/2. malloc'd, free with free(); NULL with errno (ENOMEM, or EINVAL
 * for too many routes). Any thread.
 */
struct sh_fib *sh_fib_build(uint64_t generation, const struct sh_route *routes,
			    unsigned n_routes, const struct sh_neigh *neigh,
			    unsigned n_neigh);

#endif /* SHOAL_FIB_H */
