/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * FIB snapshots: building one and looking up a next hop in it. Snapshots
 * are immutable once published, so lookups take no lock and any lcore may
 * run them.
 *
 * Why a new rte_fib per route change rather than rte_fib_add() on the
 * published one: DPDK 22.11's rte_fib has no RCU reclamation of tbl8
 * groups, so a worker could read a group while it is freed and reused,
 * and a batch of route changes would be seen half applied. A fresh table
 * swapped by one pointer store (rcu.h) has neither problem; it costs one
 * build per batch of route changes (docs/DESIGN.md has the figures) and
 * twice the memory while both tables live.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_lcore.h>
#include <rte_rib.h>

#include "fib.h"

/* rte_fib's 2-byte next hops keep their top bit for its own use. */
#define FIB_NH_MAX ((1u << 15) - 1)
_Static_assert(SH_FIB_MAX_NHG < FIB_NH_MAX, "next-hop set index + 1 fits");

struct sh_fib_routes {
	struct rte_fib *fib;
	struct sh_nhg *nhg; /* n_nhg sets; rte_fib holds index + 1 */
	unsigned n_nhg;
	unsigned n_routes;  /* given to the build */
	unsigned skipped;   /* of those, not installed (no tbl8 left) */
	unsigned refs;      /* main lcore only */
};

static inline uint32_t fib_hash(uint32_t ip)
{
	/* A full-avalanche mix: the varying octet of a subnet's addresses
	 * sits in the top byte of a network-order value on little endian. */
	ip ^= ip >> 16;
	ip *= 0x45d9f3bu;
	ip ^= ip >> 16;
	ip *= 0x45d9f3bu;
	ip ^= ip >> 16;
	return ip;
}

enum sh_fib_result sh_fib_lookup(const struct sh_fib *fib, uint32_t src,
				 uint32_t dst, int *ifindex,
				 uint32_t *nexthop, uint8_t mac[6])
{
	const struct sh_nexthop *hop;
	const struct sh_nhg *g;
	uint32_t key, nh, h;
	uint64_t v;

	if (fib == NULL || fib->rt == NULL)
		return SH_FIB_NO_ROUTE;
	key = rte_be_to_cpu_32(dst);
	rte_fib_lookup_bulk(fib->rt->fib, &key, &v, 1);
	if (v == 0 || v > fib->rt->n_nhg)
		return SH_FIB_NO_ROUTE;
	g = &fib->rt->nhg[v - 1];
	/* Multiply-shift maps the hash onto 0..n-1 without a division. */
	hop = &g->nh[g->n == 1 ? 0 :
		     ((uint64_t)fib_hash(src ^ fib_hash(dst)) * g->n) >> 32];
	nh = hop->gateway != 0 ? hop->gateway : dst;
	*ifindex = hop->ifindex;
	*nexthop = nh;
	/* Load <= 1/2 guarantees an empty slot ends the probe; the count
	 * bound keeps a corrupt (full) table from looping forever. */
	h = fib_hash(nh);
	for (uint32_t n = 0; n <= fib->neigh_mask; n++) {
		const struct sh_neigh *e =
			&fib->neigh[(h + n) & fib->neigh_mask];

		if (e->ip == 0)
			break;
		if (e->ip == nh && e->ifindex == hop->ifindex) {
			memcpy(mac, e->mac, 6);
			return SH_FIB_OK;
		}
	}
	return SH_FIB_NO_NEIGH;
}

int sh_fib_neigh_insert(struct sh_fib *fib, uint32_t ip, int ifindex,
			const uint8_t mac[6])
{
	uint32_t h = fib_hash(ip);

	if (ip == 0)
		return -EINVAL;
	for (uint32_t n = 0; n <= fib->neigh_mask; n++) {
		struct sh_neigh *e = &fib->neigh[(h + n) & fib->neigh_mask];

		if (e->ip == ip && e->ifindex == ifindex) {
			memcpy(e->mac, mac, 6);
			return 0;
		}
		if (e->ip != 0)
			continue;
		if (2 * ((uint64_t)fib->n_neigh + 1) >
		    (uint64_t)fib->neigh_mask + 1)
			return -ENOSPC;
		e->ip = ip;
		e->ifindex = ifindex;
		memcpy(e->mac, mac, 6);
		fib->n_neigh++;
		return 0;
	}
	return -ENOSPC;
}

/* Install @r unless an earlier route for its prefix and length has a
 * priority as good; the winner's priority is kept in its RIB node. */
static int routes_add(struct rte_fib *fib, struct rte_rib *rib,
		      const struct sh_route *r)
{
	uint32_t ip = rte_be_to_cpu_32(r->prefix);
	struct rte_rib_node *node = rte_rib_lookup_exact(rib, ip, r->len);
	uint32_t *prio;
	int ret;

	if (node != NULL) {
		prio = rte_rib_get_ext(node);
		if (*prio <= r->priority)
			return 0;
	}
	ret = rte_fib_add(fib, ip, r->len, (uint64_t)r->nhg + 1);
	if (ret < 0)
		return ret;
	if (node == NULL)
		node = rte_rib_lookup_exact(rib, ip, r->len);
	if (node == NULL)
		return -ENOENT; /* cannot happen after a successful add */
	prio = rte_rib_get_ext(node);
	*prio = r->priority;
	return 0;
}

struct sh_fib_routes *sh_fib_routes_build(const struct sh_route *routes,
					  unsigned n_routes,
					  const struct sh_nhg *nhg,
					  unsigned n_nhg)
{
	/* Names must be unique among live tables (EAL tailq, memzones) and
	 * short (the RIB's mempool name is derived from it). Main lcore. */
	static unsigned serial;
	struct rte_fib_conf conf = {
		.type = RTE_FIB_DIR24_8,
		.default_nh = 0,
		.rib_ext_sz = sizeof(uint32_t), /* the winner's priority */
		.dir24_8 = { .nh_sz = RTE_FIB_DIR24_8_2B },
	};
	struct sh_fib_routes *rt;
	char name[32];
	unsigned start[34] = { 0 }, n_long = 0;
	struct rte_rib *rib;
	uint32_t *order;
	int err;

	if (n_routes > SH_FIB_MAX_ROUTES || n_nhg > SH_FIB_MAX_NHG) {
		errno = EINVAL;
		return NULL;
	}
	rt = calloc(1, sizeof(*rt));
	if (rt == NULL)
		return NULL;
	rt->refs = 1;
	rt->n_routes = n_routes;
	rt->n_nhg = n_nhg;
	rt->nhg = malloc(RTE_MAX(n_nhg, 1u) * sizeof(*nhg));
	if (rt->nhg == NULL) {
		err = ENOMEM;
		goto fail;
	}
	memcpy(rt->nhg, nhg, n_nhg * sizeof(*nhg));

	/* 1. Size the table from these routes: every /24 holding a longer
	 *    prefix needs a tbl8 group (512 B); there are at most as many as
	 *    such routes, and the 2-byte format caps them. */
	for (unsigned i = 0; i < n_routes; i++)
		n_long += routes[i].len > 24;
	conf.max_routes = (int)RTE_MAX(n_routes, 1u);
	conf.dir24_8.num_tbl8 = n_long == 0 ? 1 : RTE_MIN(n_long, FIB_NH_MAX);
	snprintf(name, sizeof(name), "shfib%u", serial++);
	rt->fib = rte_fib_create(name, (int)rte_socket_id(), &conf);
	if (rt->fib == NULL) {
		err = rte_errno;
		goto fail;
	}
	rib = rte_fib_get_rib(rt->fib);

	/* 2. Install, shortest prefixes first (a stable counting sort on
	 *    the length, so equal prefixes keep their order): each add then
	 *    writes its own range once, never around more specific routes
	 *    already there, which is both faster and the case DPDK 22.11's
	 *    DIR-24-8 gets right (adding a covering route after more
	 *    specific ones left wrong entries in tests/unit/test_fib.c's
	 *    full table). A route rte_fib cannot hold (ENOSPC: no tbl8 group
	 *    left) is counted and skipped; the rest still route. */
	order = malloc(RTE_MAX(n_routes, 1u) * sizeof(*order));
	if (order == NULL) {
		err = ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < n_routes; i++)
		if (routes[i].len <= 32)
			start[routes[i].len + 1]++;
	for (unsigned l = 1; l <= 33; l++)
		start[l] += start[l - 1];
	for (unsigned i = 0; i < n_routes; i++)
		if (routes[i].len <= 32)
			order[start[routes[i].len]++] = i;
	/* start[32] now counts every route of length <= 32. */
	for (unsigned k = 0; k < start[32]; k++) {
		const struct sh_route *r = &routes[order[k]];

		if (r->nhg >= n_nhg || nhg[r->nhg].n == 0 ||
		    nhg[r->nhg].n > SH_FIB_MAX_PATHS)
			continue;
		if (routes_add(rt->fib, rib, r) < 0)
			rt->skipped++;
	}
	free(order);
	return rt;
fail:
	sh_fib_routes_put(rt);
	errno = err;
	return NULL;
}

void sh_fib_routes_put(struct sh_fib_routes *rt)
{
	if (rt == NULL || --rt->refs > 0)
		return;
	rte_fib_free(rt->fib);
	free(rt->nhg);
	free(rt);
}

struct sh_fib *sh_fib_build(uint64_t generation, struct sh_fib_routes *rt,
			    const struct sh_neigh *neigh, unsigned n_neigh)
{
	uint32_t slots = 16;
	struct sh_fib *fib;

	while (slots < 2 * n_neigh)
		slots <<= 1;
	fib = calloc(1, sizeof(*fib) + slots * sizeof(fib->neigh[0]));
	if (fib == NULL)
		return NULL;
	fib->generation = generation;
	fib->rt = rt;
	if (rt != NULL)
		rt->refs++;
	fib->neigh_mask = slots - 1;
	/* Cannot fail: slots >= 2 * n_neigh keeps the load <= 1/2. */
	for (unsigned i = 0; i < n_neigh; i++)
		sh_fib_neigh_insert(fib, neigh[i].ip, neigh[i].ifindex,
				    neigh[i].mac);
	return fib;
}

void sh_fib_free(struct sh_fib *fib)
{
	if (fib == NULL)
		return;
	sh_fib_routes_put(fib->rt);
	free(fib);
}

unsigned sh_fib_route_count(const struct sh_fib *fib, unsigned *skipped)
{
	const struct sh_fib_routes *rt = fib != NULL ? fib->rt : NULL;

	if (skipped != NULL)
		*skipped = rt != NULL ? rt->skipped : 0;
	return rt != NULL ? rt->n_routes : 0;
}
