/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the FIB (engine/fib.c): route parts built from route
 * lists given by hand (as the mirror in netlink.c gives them), snapshots
 * over them, neighbours inserted through sh_fib_neigh_insert(), and
 * sh_fib_lookup(). rte_fib needs EAL (no hugepages, no root), so this
 * runs in the serial unit+eal suite.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>

#include "fib.h"
#include "../lib/eal_rundir.h"
#include "../lib/route_shape.h"

#define IF_A 3
#define IF_B 7
#define MAX_TEST_ROUTES 16

static const uint8_t MAC1[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t MAC2[6] = { 0x02, 0, 0, 0, 0, 0x02 };

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* Routes and next-hop sets collected by a test, then built into a
 * snapshot by fib_make(); neighbours are added to the built snapshot
 * (not yet published, as sh_fib_build() itself does). */
struct table {
	struct sh_route routes[MAX_TEST_ROUTES];
	struct sh_nhg nhg[MAX_TEST_ROUTES];
	unsigned n_routes;
	struct sh_fib *fib;
};

static struct table *table_new(void)
{
	struct table *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	return t;
}

/* Add a route through @n next hops @gw[i] (NULL: connected) on
 * @ifindex[i]. */
static void route_mp(struct table *t, const char *prefix, uint8_t len,
		     uint32_t priority, unsigned n, const char *const *gw,
		     const int *ifindex)
{
	struct sh_route *r = &t->routes[t->n_routes];
	struct sh_nhg *g = &t->nhg[t->n_routes];
	uint32_t mask = len == 0 ? 0 : htonl(UINT32_MAX << (32 - len));

	assert_true(t->n_routes < MAX_TEST_ROUTES);
	r->len = len;
	r->prefix = ip(prefix) & mask;
	r->priority = priority;
	r->nhg = t->n_routes;
	g->n = n;
	for (unsigned i = 0; i < n; i++) {
		g->nh[i].gateway = gw[i] != NULL ? ip(gw[i]) : 0;
		g->nh[i].ifindex = ifindex[i];
	}
	t->n_routes++;
}

static void route(struct table *t, const char *prefix, uint8_t len,
		  const char *gw, uint32_t priority, int ifindex)
{
	route_mp(t, prefix, len, priority, 1, &gw, &ifindex);
}

/* Build the routes added so far into t->fib (16 neighbour slots). */
static struct sh_fib *fib_make(struct table *t)
{
	struct sh_fib_routes *rt = sh_fib_routes_build(t->routes, t->n_routes,
						       t->nhg, t->n_routes);

	assert_non_null(rt);
	t->fib = sh_fib_build(1, rt, NULL, 0);
	assert_non_null(t->fib);
	sh_fib_routes_put(rt); /* the snapshot holds its own reference */
	return t->fib;
}

static void table_free(struct table *t)
{
	sh_fib_free(t->fib);
	free(t);
}

static void neigh(struct sh_fib *fib, const char *addr, int ifindex,
		  const uint8_t mac[6])
{
	assert_int_equal(sh_fib_neigh_insert(fib, ip(addr), ifindex, mac), 0);
}

struct result {
	enum sh_fib_result r;
	int ifindex;
	uint32_t nexthop;
	uint8_t mac[6];
};

static struct result lookup(const struct sh_fib *fib, const char *dst)
{
	struct result res;

	memset(&res, 0, sizeof(res));
	res.r = sh_fib_lookup(fib, ip("192.0.2.200"), ip(dst), &res.ifindex,
			      &res.nexthop, res.mac);
	return res;
}

static void test_longest_prefix_wins(void **state)
{
	struct table *t = table_new();
	struct sh_fib *fib;
	struct result res;

	(void)state;
	/* Given in no particular order: the FIB, not the caller, orders. */
	route(t, "0.0.0.0", 0, "192.0.2.1", 0, IF_A);
	route(t, "198.51.100.0", 24, "192.0.2.3", 100, IF_B);
	route(t, "198.51.0.0", 16, "192.0.2.2", 0, IF_A);
	route(t, "198.51.100.128", 25, "192.0.2.4", 0, IF_B);
	fib = fib_make(t);
	neigh(fib, "192.0.2.1", IF_A, MAC1);
	neigh(fib, "192.0.2.2", IF_A, MAC1);
	neigh(fib, "192.0.2.3", IF_B, MAC2);

	res = lookup(fib, "198.51.100.77");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_int_equal(res.ifindex, IF_B);
	assert_int_equal(res.nexthop, ip("192.0.2.3"));
	assert_memory_equal(res.mac, MAC2, 6);

	res = lookup(fib, "198.51.100.200");
	assert_int_equal(res.r, SH_FIB_NO_NEIGH);
	assert_int_equal(res.nexthop, ip("192.0.2.4"));

	res = lookup(fib, "198.51.7.7");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_int_equal(res.nexthop, ip("192.0.2.2"));

	res = lookup(fib, "203.0.113.9");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_int_equal(res.nexthop, ip("192.0.2.1"));
	table_free(t);
}

static void test_lower_priority_wins_for_equal_prefix(void **state)
{
	struct table *t = table_new();
	struct sh_fib *fib;
	struct result res;

	(void)state;
	/* The worse metric first, so that order alone cannot decide. */
	route(t, "0.0.0.0", 0, "192.0.2.129", 20, IF_B);
	route(t, "0.0.0.0", 0, "192.0.2.1", 10, IF_A);
	route(t, "0.0.0.0", 0, "192.0.2.130", 30, IF_B);
	fib = fib_make(t);
	neigh(fib, "192.0.2.1", IF_A, MAC1);
	neigh(fib, "192.0.2.129", IF_B, MAC2);

	res = lookup(fib, "203.0.113.9");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_int_equal(res.ifindex, IF_A);
	assert_int_equal(res.nexthop, ip("192.0.2.1"));
	assert_memory_equal(res.mac, MAC1, 6);
	table_free(t);
}

static void test_first_given_wins_for_equal_priority(void **state)
{
	struct table *t = table_new();
	struct sh_fib *fib;

	(void)state;
	/* The kernel's order among equal metrics (the mirror gives routes
	 * in it): the first one is used. */
	route(t, "198.51.100.0", 24, "192.0.2.5", 10, IF_A);
	route(t, "198.51.100.0", 24, "192.0.2.6", 10, IF_B);
	fib = fib_make(t);
	assert_int_equal(lookup(fib, "198.51.100.1").nexthop, ip("192.0.2.5"));
	table_free(t);
}

static void test_default_route_catches_the_rest(void **state)
{
	struct table *t = table_new();
	struct sh_fib *fib;

	(void)state;
	route(t, "0.0.0.0", 0, "192.0.2.1", 0, IF_A);
	route(t, "203.0.113.9", 32, "192.0.2.9", 0, IF_B);
	fib = fib_make(t);
	assert_int_equal(lookup(fib, "0.0.0.1").nexthop, ip("192.0.2.1"));
	assert_int_equal(lookup(fib, "255.255.255.254").nexthop,
			 ip("192.0.2.1"));
	assert_int_equal(lookup(fib, "203.0.113.8").nexthop, ip("192.0.2.1"));
	assert_int_equal(lookup(fib, "203.0.113.9").nexthop, ip("192.0.2.9"));
	assert_int_equal(lookup(fib, "203.0.113.9").ifindex, IF_B);
	assert_int_equal(lookup(fib, "203.0.113.10").nexthop, ip("192.0.2.1"));
	table_free(t);
}

static void test_connected_route_nexthop_is_destination(void **state)
{
	struct table *t = table_new();
	struct sh_fib *fib;
	struct result res;

	(void)state;
	route(t, "192.0.2.0", 24, NULL, 0, IF_A);
	route(t, "0.0.0.0", 0, "192.0.2.1", 0, IF_A);
	fib = fib_make(t);
	neigh(fib, "192.0.2.1", IF_A, MAC1);
	neigh(fib, "192.0.2.50", IF_A, MAC2);

	res = lookup(fib, "192.0.2.50");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_int_equal(res.ifindex, IF_A);
	assert_int_equal(res.nexthop, ip("192.0.2.50"));
	assert_memory_equal(res.mac, MAC2, 6);
	table_free(t);
}

static void test_gateway_route_nexthop_is_gateway(void **state)
{
	struct table *t = table_new();
	struct sh_fib *fib;
	struct result res;

	(void)state;
	route(t, "0.0.0.0", 0, "192.0.2.1", 0, IF_A);
	fib = fib_make(t);
	neigh(fib, "192.0.2.1", IF_A, MAC1);
	/* A neighbour entry for the destination itself must not be used. */
	neigh(fib, "203.0.113.9", IF_A, MAC2);

	res = lookup(fib, "203.0.113.9");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_int_equal(res.nexthop, ip("192.0.2.1"));
	assert_memory_equal(res.mac, MAC1, 6);
	table_free(t);
}

static void test_no_route_outside_all_prefixes(void **state)
{
	struct table *t = table_new();
	struct sh_fib *fib;

	(void)state;
	route(t, "192.0.2.0", 24, NULL, 0, IF_A);
	route(t, "198.51.100.0", 24, "192.0.2.1", 0, IF_A);
	fib = fib_make(t);
	neigh(fib, "192.0.2.1", IF_A, MAC1);

	assert_int_equal(lookup(fib, "203.0.113.9").r, SH_FIB_NO_ROUTE);
	assert_int_equal(lookup(fib, "192.0.3.0").r, SH_FIB_NO_ROUTE);
	table_free(t);
}

static void test_empty_or_missing_fib_is_no_route(void **state)
{
	struct table *t = table_new();
	struct sh_fib *none = sh_fib_build(1, NULL, NULL, 0);

	(void)state;
	assert_int_equal(lookup(fib_make(t), "192.0.2.1").r, SH_FIB_NO_ROUTE);
	assert_non_null(none);
	assert_int_equal(lookup(none, "192.0.2.1").r, SH_FIB_NO_ROUTE);
	assert_int_equal(lookup(NULL, "192.0.2.1").r, SH_FIB_NO_ROUTE);
	sh_fib_free(none);
	table_free(t);
}

static void test_unresolved_nexthop_is_no_neigh(void **state)
{
	struct table *t = table_new();
	struct sh_fib *fib;
	struct result res;

	(void)state;
	route(t, "0.0.0.0", 0, "192.0.2.1", 0, IF_A);
	fib = fib_make(t);
	neigh(fib, "192.0.2.2", IF_A, MAC1);

	/* The route is found: ifindex and next hop tell the caller what to
	 * ask the kernel to resolve. */
	res = lookup(fib, "203.0.113.9");
	assert_int_equal(res.r, SH_FIB_NO_NEIGH);
	assert_int_equal(res.ifindex, IF_A);
	assert_int_equal(res.nexthop, ip("192.0.2.1"));
	table_free(t);
}

static void test_neighbour_on_other_ifindex_is_no_neigh(void **state)
{
	struct table *t = table_new();
	struct sh_fib *fib;
	struct result res;

	(void)state;
	route(t, "192.0.2.0", 24, NULL, 0, IF_A);
	fib = fib_make(t);
	neigh(fib, "192.0.2.50", IF_B, MAC2);

	res = lookup(fib, "192.0.2.50");
	assert_int_equal(res.r, SH_FIB_NO_NEIGH);
	assert_int_equal(res.ifindex, IF_A);

	/* The same address on both interfaces: each route sees its own. */
	neigh(fib, "192.0.2.50", IF_A, MAC1);
	res = lookup(fib, "192.0.2.50");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_memory_equal(res.mac, MAC1, 6);
	table_free(t);
}

/* Lookups of @dst from @n sources: how many took each of the first two
 * next hops of a 2-path route, after checking that every source gets the
 * same answer twice (a flow never changes path). */
static void spread(const struct sh_fib *fib, const char *dst, unsigned n,
		   const uint32_t nh[], unsigned count[], unsigned n_nh)
{
	memset(count, 0, n_nh * sizeof(count[0]));
	for (unsigned i = 0; i < n; i++) {
		uint32_t src = htonl(0x0a000000u + i * 7919u), a, b;
		uint8_t mac[6];
		int ifa, ifb;
		unsigned k;

		sh_fib_lookup(fib, src, ip(dst), &ifa, &a, mac);
		sh_fib_lookup(fib, src, ip(dst), &ifb, &b, mac);
		assert_int_equal(a, b);
		assert_int_equal(ifa, ifb);
		for (k = 0; k < n_nh && nh[k] != a; k++)
			;
		assert_true(k < n_nh);
		count[k]++;
	}
}

static void test_multipath_spreads_flows_over_every_next_hop(void **state)
{
	static const char *const gw2[] = { "192.0.2.1", "192.0.2.129" };
	static const char *const gw3[] = { "192.0.2.1", "192.0.2.2",
					   "192.0.2.3" };
	static const int if2[] = { IF_A, IF_B }, if3[] = { IF_A, IF_A, IF_A };
	uint32_t nh[3];
	unsigned count[3];
	struct table *t = table_new();
	struct sh_fib *fib;
	struct result res;

	(void)state;
	route_mp(t, "0.0.0.0", 0, 0, 2, gw2, if2);
	route_mp(t, "198.51.100.0", 24, 0, 3, gw3, if3);
	fib = fib_make(t);
	neigh(fib, "192.0.2.129", IF_B, MAC2);

	/* 1000 flows to one destination: both paths carry a fair share. */
	nh[0] = ip(gw2[0]);
	nh[1] = ip(gw2[1]);
	spread(fib, "203.0.113.9", 1000, nh, count, 2);
	assert_true(count[0] > 400 && count[1] > 400);
	/* Three paths, and another destination. */
	for (unsigned k = 0; k < 3; k++)
		nh[k] = ip(gw3[k]);
	spread(fib, "198.51.100.7", 1500, nh, count, 3);
	for (unsigned k = 0; k < 3; k++)
		assert_true(count[k] > 400);
	/* One flow: always the same path, hence one interface and MAC. */
	res = lookup(fib, "203.0.113.77");
	for (unsigned i = 0; i < 8; i++) {
		struct result r2 = lookup(fib, "203.0.113.77");

		assert_int_equal(r2.nexthop, res.nexthop);
		assert_int_equal(r2.ifindex, res.ifindex);
		assert_int_equal(r2.r, res.r);
	}
	assert_int_equal(res.ifindex,
			 res.nexthop == ip("192.0.2.1") ? IF_A : IF_B);
	table_free(t);
}

static void test_snapshots_share_one_route_table(void **state)
{
	struct table *t = table_new();
	struct sh_fib_routes *rt;
	struct sh_fib *a, *b;

	(void)state;
	route(t, "0.0.0.0", 0, "192.0.2.1", 0, IF_A);
	rt = sh_fib_routes_build(t->routes, t->n_routes, t->nhg, t->n_routes);
	assert_non_null(rt);
	a = sh_fib_build(1, rt, NULL, 0);
	b = sh_fib_build(2, rt, NULL, 0);
	assert_non_null(a);
	assert_non_null(b);
	sh_fib_routes_put(rt);
	neigh(b, "192.0.2.1", IF_A, MAC1);
	/* The older snapshot goes (a neighbour change replaced it); the
	 * table stays for the newer one. */
	sh_fib_free(a);
	assert_int_equal(lookup(b, "203.0.113.9").r, SH_FIB_OK);
	assert_int_equal(sh_fib_route_count(b, NULL), 1);
	sh_fib_free(b);
	free(t);
}

static void test_bad_next_hop_set_is_skipped(void **state)
{
	struct table *t = table_new();
	struct sh_fib_routes *rt;
	struct sh_fib *fib;

	(void)state;
	route(t, "198.51.100.0", 24, "192.0.2.1", 0, IF_A);
	route(t, "203.0.113.0", 24, "192.0.2.1", 0, IF_A);
	t->routes[1].nhg = 5; /* beyond the two sets given */
	rt = sh_fib_routes_build(t->routes, 2, t->nhg, 2);
	assert_non_null(rt);
	fib = sh_fib_build(1, rt, NULL, 0);
	sh_fib_routes_put(rt);
	assert_int_equal(lookup(fib, "198.51.100.1").r, SH_FIB_NO_NEIGH);
	assert_int_equal(lookup(fib, "203.0.113.1").r, SH_FIB_NO_ROUTE);
	sh_fib_free(fib);
	free(t);
}

static void test_neighbours_found_at_half_load(void **state)
{
	struct table *t = table_new();
	struct sh_fib *fib;
	char addr[32];

	(void)state;
	route(t, "192.0.2.0", 24, NULL, 0, IF_A);
	fib = fib_make(t);
	/* 8 entries in 16 slots: collisions are likely; every one must still
	 * be found through the probe sequence. */
	for (int i = 1; i <= 8; i++) {
		uint8_t mac[6] = { 0x02, 0, 0, 0, 0, (uint8_t)i };

		snprintf(addr, sizeof(addr), "192.0.2.%d", i);
		neigh(fib, addr, IF_A, mac);
	}
	assert_int_equal(fib->n_neigh, 8);
	for (int i = 1; i <= 8; i++) {
		struct result res;

		snprintf(addr, sizeof(addr), "192.0.2.%d", i);
		res = lookup(fib, addr);
		assert_int_equal(res.r, SH_FIB_OK);
		assert_int_equal(res.mac[5], i);
	}
	assert_int_equal(lookup(fib, "192.0.2.9").r, SH_FIB_NO_NEIGH);
	table_free(t);
}

static void test_insert_refuses_past_half_load(void **state)
{
	struct table *t = table_new();
	struct sh_fib *fib;
	char addr[32];

	(void)state;
	route(t, "192.0.2.0", 24, NULL, 0, IF_A);
	fib = fib_make(t);
	for (int i = 1; i <= 8; i++) {
		snprintf(addr, sizeof(addr), "192.0.2.%d", i);
		neigh(fib, addr, IF_A, MAC1);
	}
	assert_int_equal(sh_fib_neigh_insert(fib, ip("192.0.2.9"), IF_A, MAC1),
			 -ENOSPC);
	/* Updating an existing entry needs no new slot. */
	assert_int_equal(sh_fib_neigh_insert(fib, ip("192.0.2.8"), IF_A, MAC2), 0);
	assert_int_equal(fib->n_neigh, 8);
	assert_int_equal(sh_fib_neigh_insert(fib, 0, IF_A, MAC1), -EINVAL);
	assert_memory_equal(lookup(fib, "192.0.2.8").mac, MAC2, 6);
	table_free(t);
}

static void test_lookup_in_full_table_terminates(void **state)
{
	struct table *t = table_new();
	struct sh_fib *fib;

	(void)state;
	route(t, "192.0.2.0", 24, NULL, 0, IF_A);
	fib = fib_make(t);
	/* Never produced by the builder; the probe bound must still stop. */
	for (uint32_t i = 0; i <= fib->neigh_mask; i++) {
		fib->neigh[i].ip = ip("198.51.100.1") + htonl(i);
		fib->neigh[i].ifindex = IF_A;
	}
	assert_int_equal(lookup(fib, "192.0.2.50").r, SH_FIB_NO_NEIGH);
	table_free(t);
}

/* ---- a full table ---- */

#define BIG_ROUTES SH_FIB_MAX_ROUTES
#define BIG_NHG 64
#define BIG_PROBES 200000

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
	return sh_xorshift(&rng_state);
}

/* Reference: (prefix, len) -> the first route given for it, open
 * addressing (keys in host order, len in the low bits). */
struct ref {
	uint64_t *key; /* 0 = empty; prefix << 8 | len << 1 | 1 */
	uint32_t *nhg;
	uint64_t mask;
};

static uint64_t ref_key(uint32_t prefix_host, uint8_t len)
{
	return (uint64_t)prefix_host << 8 | (uint64_t)len << 1 | 1;
}

static uint64_t ref_slot(const struct ref *r, uint64_t k)
{
	return (k * 0x9e3779b97f4a7c15ull >> 20) & r->mask;
}

static void ref_add(struct ref *r, uint32_t prefix_host, uint8_t len,
		    uint32_t nhg)
{
	uint64_t k = ref_key(prefix_host, len), i = ref_slot(r, k);

	while (r->key[i] != 0 && r->key[i] != k)
		i = (i + 1) & r->mask;
	if (r->key[i] == 0) {
		r->key[i] = k;
		r->nhg[i] = nhg;
	}
}

/* Longest match for @a (host order): the set index, or -1. */
static int ref_lookup(const struct ref *r, uint32_t a)
{
	for (int len = 32; len >= 0; len--) {
		uint32_t p = len == 0 ? 0 : a & (UINT32_MAX << (32 - len));
		uint64_t k = ref_key(p, (uint8_t)len), i = ref_slot(r, k);

		while (r->key[i] != 0 && r->key[i] != k)
			i = (i + 1) & r->mask;
		if (r->key[i] == k)
			return (int)r->nhg[i];
	}
	return -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t heap_used(void)
{
	struct rte_malloc_socket_stats st;

	if (rte_malloc_get_socket_stats((int)rte_socket_id(), &st) < 0)
		return 0;
	return st.heap_allocsz_bytes;
}

/* SH_FIB_MAX_ROUTES routes shaped like a full Internet table: the build
 * installs every one, and lookups agree with a reference longest match
 * (destinations inside random routes, and anywhere). Prints the build's
 * time and EAL memory, quoted in docs/DESIGN.md. */
static void test_full_table_builds_and_matches_reference(void **state)
{
	struct sh_route *routes = calloc(BIG_ROUTES, sizeof(*routes));
	struct sh_nhg *nhg = calloc(BIG_NHG, sizeof(*nhg));
	struct ref ref = { .mask = (4ull * BIG_ROUTES) - 1 };
	struct sh_fib_routes *rt;
	struct sh_fib *fib;
	unsigned skipped, routed = 0;
	size_t before;
	double t0;

	(void)state;
	ref.key = calloc(ref.mask + 1, sizeof(*ref.key));
	ref.nhg = calloc(ref.mask + 1, sizeof(*ref.nhg));
	assert_non_null(routes);
	assert_non_null(nhg);
	assert_non_null(ref.key);
	assert_non_null(ref.nhg);
	for (unsigned i = 0; i < BIG_NHG; i++) {
		nhg[i].n = 1 + i % 2;
		nhg[i].nh[0].gateway = htonl(0xc0000200u + i + 1);
		nhg[i].nh[0].ifindex = IF_A;
		nhg[i].nh[1].gateway = htonl(0xc0000280u + i + 1);
		nhg[i].nh[1].ifindex = IF_B;
	}
	for (unsigned i = 0; i < BIG_ROUTES; i++) {
		uint8_t len = sh_route_len(&rng_state);
		uint32_t p = rng() & (UINT32_MAX << (32 - len));

		routes[i].prefix = htonl(p);
		routes[i].len = len;
		routes[i].nhg = rng() % BIG_NHG;
		ref_add(&ref, p, len, routes[i].nhg);
	}

	before = heap_used();
	t0 = now_s();
	rt = sh_fib_routes_build(routes, BIG_ROUTES, nhg, BIG_NHG);
	assert_non_null(rt);
	print_message("    %u routes built in %.2f s, %.1f MiB of EAL memory\n",
		      BIG_ROUTES, now_s() - t0,
		      (double)(heap_used() - before) / (1 << 20));
	fib = sh_fib_build(1, rt, NULL, 0);
	assert_non_null(fib);
	sh_fib_routes_put(rt);
	assert_int_equal(sh_fib_route_count(fib, &skipped), BIG_ROUTES);
	assert_int_equal(skipped, 0);

	for (unsigned i = 0; i < BIG_PROBES; i++) {
		/* Half inside a random route, half anywhere. */
		const struct sh_route *r = &routes[rng() % BIG_ROUTES];
		uint32_t a = i % 2 ? rng() :
			ntohl(r->prefix) | (rng() & ~(r->len == 0 ? 0 :
					     UINT32_MAX << (32 - r->len)));
		int want = ref_lookup(&ref, a), ifindex = 0;
		uint32_t nh = 0;
		uint8_t mac[6];
		enum sh_fib_result res = sh_fib_lookup(fib, 0, htonl(a),
						       &ifindex, &nh, mac);

		if (want < 0) {
			assert_int_equal(res, SH_FIB_NO_ROUTE);
			continue;
		}
		routed++;
		assert_int_equal(res, SH_FIB_NO_NEIGH);
		assert_true(nh == nhg[want].nh[0].gateway ||
			    (nhg[want].n == 2 && nh == nhg[want].nh[1].gateway));
	}
	assert_true(routed > BIG_PROBES / 2);
	sh_fib_free(fib);
	assert_int_equal(heap_used(), before);
	free(ref.key);
	free(ref.nhg);
	free(nhg);
	free(routes);
}

int main(void)
{
	/* rte_fib lives in EAL memory. No hugepages, nothing shared, a
	 * prefix of our own: nothing another DPDK process could see. The
	 * full table needs two 32 MiB tbl24s at most plus its RIB. */
	char prefix[64], *eal[] = { "test_fib", "--no-huge", "--no-shconf",
				    "-m", "512", "--no-pci", "--no-telemetry",
				    "--log-level=*:error", "--file-prefix", prefix,
				    NULL };
	char rundir[PATH_MAX];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longest_prefix_wins),
		cmocka_unit_test(test_lower_priority_wins_for_equal_prefix),
		cmocka_unit_test(test_first_given_wins_for_equal_priority),
		cmocka_unit_test(test_default_route_catches_the_rest),
		cmocka_unit_test(test_connected_route_nexthop_is_destination),
		cmocka_unit_test(test_gateway_route_nexthop_is_gateway),
		cmocka_unit_test(test_no_route_outside_all_prefixes),
		cmocka_unit_test(test_empty_or_missing_fib_is_no_route),
		cmocka_unit_test(test_unresolved_nexthop_is_no_neigh),
		cmocka_unit_test(test_neighbour_on_other_ifindex_is_no_neigh),
		cmocka_unit_test(test_multipath_spreads_flows_over_every_next_hop),
		cmocka_unit_test(test_snapshots_share_one_route_table),
		cmocka_unit_test(test_bad_next_hop_set_is_skipped),
		cmocka_unit_test(test_neighbours_found_at_half_load),
		cmocka_unit_test(test_insert_refuses_past_half_load),
		cmocka_unit_test(test_lookup_in_full_table_terminates),
		cmocka_unit_test(test_full_table_builds_and_matches_reference),
	};
	int ret;

	snprintf(prefix, sizeof(prefix), "test_fib_%d", (int)getpid());
	if (rte_eal_init(10, eal) < 0)
		return 1;
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	sh_rundir_remove(rundir);
	return ret;
}
