/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * FIB snapshots: building one and looking up a next hop in it. Snapshots
 * are immutable once published, so lookups take no lock and any lcore may
 * run them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fib.h"

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

enum sh_fib_result sh_fib_lookup(const struct sh_fib *fib, uint32_t dst,
				 int *ifindex, uint32_t *nexthop,
				 uint8_t mac[6])
{
	const struct sh_route *r = NULL;
	uint32_t nh, h;

	if (fib == NULL)
		return SH_FIB_NO_ROUTE;
	for (unsigned i = 0; i < fib->n_routes; i++) {
		if ((dst & fib->routes[i].mask) == fib->routes[i].prefix) {
			r = &fib->routes[i];
			break;
		}
	}
	if (r == NULL)
		return SH_FIB_NO_ROUTE;
	nh = r->gateway != 0 ? r->gateway : dst;
	*ifindex = r->ifindex;
	*nexthop = nh;
	/* Load <= 1/2 guarantees an empty slot ends the probe; the count
	 * bound keeps a corrupt (full) table from looping forever. */
	h = fib_hash(nh);
	for (uint32_t n = 0; n <= fib->neigh_mask; n++) {
		const struct sh_neigh *e =
			&fib->neigh[(h + n) & fib->neigh_mask];

		if (e->ip == 0)
			break;
		if (e->ip == nh && e->ifindex == r->ifindex) {
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

struct sh_fib *sh_fib_build(uint64_t generation, const struct sh_route *routes,
			    unsigned n_routes, const struct sh_neigh *neigh,
			    unsigned n_neigh)
{
	uint32_t slots = 16;
	struct sh_fib *fib;

	if (n_routes > SH_FIB_MAX_ROUTES) {
		errno = EINVAL;
		return NULL;
	}
	while (slots < 2 * n_neigh)
		slots <<= 1;
	fib = calloc(1, sizeof(*fib) + slots * sizeof(fib->neigh[0]));
	if (fib == NULL)
		return NULL;
	fib->generation = generation;
	fib->n_routes = n_routes;
	memcpy(fib->routes, routes, n_routes * sizeof(routes[0]));
	fib->neigh_mask = slots - 1;
	/* Cannot fail: slots >= 2 * n_neigh keeps the load <= 1/2. */
	for (unsigned i = 0; i < n_neigh; i++)
		sh_fib_neigh_insert(fib, neigh[i].ip, neigh[i].ifindex,
				    neigh[i].mac);
	return fib;
}
