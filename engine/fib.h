/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The workers' FIB: an immutable snapshot of the kernel's IPv4 routes and
 * neighbours on the mirror interfaces, and its lookup.
 *
 * A snapshot has two parts. The routes are a DPDK rte_fib (DIR-24-8: one
 * tbl24 read, at most one tbl8 read per lookup, whatever the number of
 * routes) whose 64-bit next hop indexes an array of next-hop sets (one
 * gateway and interface, or several for a multipath route). The
 * neighbours are a small open-addressing hash table. The route part is
 * built only when the routes changed and is shared, reference counted,
 * by the snapshots built after it (a neighbour coming or going must not
 * rebuild a 1M-route table).
 *
 * The main lcore builds a snapshot whole (sh_fib_routes_build() and
 * sh_fib_build(), fed by the rtnetlink mirror in netlink.h) and publishes
 * it to the workers (rcu.h); workers only call sh_fib_lookup() on it, so
 * they never see a table being built. Building needs EAL (rte_fib lives
 * in EAL memory); the reference counts are main-lcore only.
 */
#ifndef SHOAL_FIB_H
#define SHOAL_FIB_H

#include <stdint.h>

/* Routes of the kernel's main table the engine keeps (the mirror and
 * every snapshot are sized from this one definition): a full Internet
 * table fits. Memory: see sh_fib_routes_build(). */
#define SH_FIB_MAX_ROUTES (1u << 20)
#define SH_FIB_MAX_NEIGH 4096 /* per snapshot; more are ignored (counted) */
/* Next hops kept per multipath route (on watched interfaces; more are
 * ignored, counted by the mirror). */
#define SH_FIB_MAX_PATHS 16
/* Distinct next-hop sets per snapshot. rte_fib's 2-byte next hops hold
 * values up to 2^15 - 1; the set's index + 1 is stored (0 = no route). */
#define SH_FIB_MAX_NHG 4096

struct sh_nexthop {
	uint32_t gateway; /* network order; 0 = directly connected */
	int ifindex;
};

/* A route's next hops: one, or several for multipath (the kernel's
 * RTA_MULTIPATH); a flow always takes the same one (sh_fib_lookup()). */
struct sh_nhg {
	uint32_t n; /* 1..SH_FIB_MAX_PATHS */
	struct sh_nexthop nh[SH_FIB_MAX_PATHS];
};

struct sh_route {
	uint32_t prefix;   /* network order, host bits zero */
	uint32_t priority; /* route metric; lower wins among equal prefixes */
	uint32_t nhg;      /* index into the next-hop sets given to the build */
	uint8_t len;
};

struct sh_neigh {
	uint32_t ip; /* network order; 0 = empty slot */
	int ifindex;
	uint8_t mac[6];
};

/* The route part of snapshots (opaque; rte_fib plus next-hop sets). */
struct sh_fib_routes;

/*
 * Immutable snapshot. @rt may be NULL (no routes). neigh[] is open
 * addressing on ip with linear probing, load <= 1/2, filled through
 * sh_fib_neigh_insert().
 */
struct sh_fib {
	uint64_t generation;
	struct sh_fib_routes *rt;
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
 * Next hop for a packet from @src to @dst (both network order): output
 * interface, next-hop address (the gateway, or @dst itself when
 * connected) and, on SH_FIB_OK, its MAC. A multipath route's next hop is
 * chosen by a hash of (@src, @dst), as Linux does by default
 * (fib_multipath_hash_policy 0): every packet of a flow takes the same
 * path, and different flows spread over all of them. Any lcore; constant
 * time in the number of routes, bounded by the neighbour table size.
 * @fib may be NULL (nothing published yet): SH_FIB_NO_ROUTE.
 */
enum sh_fib_result sh_fib_lookup(const struct sh_fib *fib, uint32_t src,
				 uint32_t dst, int *ifindex,
				 uint32_t *nexthop, uint8_t mac[6]);

/*
 * Add or update (@ip, @ifindex) -> @mac in a snapshot that is not yet
 * published (sh_fib_build() uses it; so do tests that build snapshots
 * by hand). 0, -EINVAL for ip 0 (the empty-slot marker), -ENOSPC when the
 * load would exceed 1/2.
 */
int sh_fib_neigh_insert(struct sh_fib *fib, uint32_t ip, int ifindex,
			const uint8_t mac[6]);

/*
 * A route part from @routes[0..@n_routes) (n_routes <= SH_FIB_MAX_ROUTES,
 * any order) and the next-hop sets @nhg[0..@n_nhg) they refer to (n_nhg
 * <= SH_FIB_MAX_NHG). For one prefix and length the lowest priority wins,
 * the first given among equal ones (the mirror gives them in the kernel's
 * order). Routes whose set is out of range or empty are skipped; routes
 * rte_fib has no room for (more than 2^15 - 1 distinct /24s holding
 * longer prefixes) are skipped and counted (sh_fib_route_count()).
 *
 * Memory, in EAL memory on the caller's socket: 32 MiB for the tbl24
 * (2-byte next hops), 512 B per /24 holding a longer prefix, and rte_fib's
 * RIB (two nodes per route); plus malloc'd next-hop sets. Twice that
 * while a new table replaces the old one. Returned with one reference,
 * the caller's; NULL with errno (ENOMEM, EINVAL). Main lcore (any EAL
 * thread, one at a time).
 */
struct sh_fib_routes *sh_fib_routes_build(const struct sh_route *routes,
					  unsigned n_routes,
					  const struct sh_nhg *nhg,
					  unsigned n_nhg);
/* Drop the caller's reference to @rt (NULL accepted); the table is freed
 * with its last reference. Main lcore. */
void sh_fib_routes_put(struct sh_fib_routes *rt);

/*
 * A new snapshot tagged @generation with the route part @rt (NULL: no
 * routes; a reference is taken) and the neighbours @neigh[0..@n_neigh) in
 * a table of at least 16 slots and load <= 1/2. Free with sh_fib_free();
 * NULL with errno (ENOMEM). Main lcore.
 */
struct sh_fib *sh_fib_build(uint64_t generation, struct sh_fib_routes *rt,
			    const struct sh_neigh *neigh, unsigned n_neigh);
/* Free a snapshot no worker can still use (after the RCU grace period)
 * and drop its route reference; NULL accepted. Main lcore. */
void sh_fib_free(struct sh_fib *fib);

/* Routes given to the build of @fib's route part (0 without one); when
 * @skipped is not NULL, how many of them rte_fib had no room for. */
unsigned sh_fib_route_count(const struct sh_fib *fib, unsigned *skipped);

#endif /* SHOAL_FIB_H */
