/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for sh_fib_lookup (engine/fib.c) on snapshots built by
 * hand, as sh_nl_fib_build() would lay them out: routes already sorted
 * longest prefix first, then by priority; neighbours inserted through
 * sh_fib_neigh_insert(). No netlink socket, no root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fib.h"

#define IF_A 3
#define IF_B 7

static const uint8_t MAC1[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t MAC2[6] = { 0x02, 0, 0, 0, 0, 0x02 };

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* An empty snapshot with @slots neighbour slots (a power of two). */
static struct sh_fib *fib_new(uint32_t slots)
{
	struct sh_fib *fib = calloc(1, sizeof(*fib) +
					   slots * sizeof(fib->neigh[0]));

	assert_non_null(fib);
	fib->neigh_mask = slots - 1;
	return fib;
}

/* Append a route; callers add them in snapshot order. */
static void route(struct sh_fib *fib, const char *prefix, uint8_t len,
		  const char *gw, uint32_t priority, int ifindex)
{
	struct sh_route *r = &fib->routes[fib->n_routes++];

	r->len = len;
	r->mask = len == 0 ? 0 : htonl(UINT32_MAX << (32 - len));
	r->prefix = ip(prefix) & r->mask;
	r->gateway = gw != NULL ? ip(gw) : 0;
	r->priority = priority;
	r->ifindex = ifindex;
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
	res.r = sh_fib_lookup(fib, ip(dst), &res.ifindex, &res.nexthop, res.mac);
	return res;
}

static void test_longest_prefix_wins(void **state)
{
	struct sh_fib *fib = fib_new(16);
	struct result res;

	(void)state;
	route(fib, "198.51.100.0", 24, "192.0.2.3", 100, IF_B);
	route(fib, "198.51.0.0", 16, "192.0.2.2", 0, IF_A);
	route(fib, "0.0.0.0", 0, "192.0.2.1", 0, IF_A);
	neigh(fib, "192.0.2.1", IF_A, MAC1);
	neigh(fib, "192.0.2.2", IF_A, MAC1);
	neigh(fib, "192.0.2.3", IF_B, MAC2);

	res = lookup(fib, "198.51.100.77");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_int_equal(res.ifindex, IF_B);
	assert_int_equal(res.nexthop, ip("192.0.2.3"));
	assert_memory_equal(res.mac, MAC2, 6);

	res = lookup(fib, "198.51.7.7");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_int_equal(res.nexthop, ip("192.0.2.2"));

	res = lookup(fib, "203.0.113.9");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_int_equal(res.nexthop, ip("192.0.2.1"));
	free(fib);
}

static void test_lower_priority_wins_for_equal_prefix(void **state)
{
	struct sh_fib *fib = fib_new(16);
	struct result res;

	(void)state;
	route(fib, "0.0.0.0", 0, "192.0.2.1", 10, IF_A);
	route(fib, "0.0.0.0", 0, "192.0.2.129", 20, IF_B);
	neigh(fib, "192.0.2.1", IF_A, MAC1);
	neigh(fib, "192.0.2.129", IF_B, MAC2);

	res = lookup(fib, "203.0.113.9");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_int_equal(res.ifindex, IF_A);
	assert_int_equal(res.nexthop, ip("192.0.2.1"));
	assert_memory_equal(res.mac, MAC1, 6);
	free(fib);
}

static void test_connected_route_nexthop_is_destination(void **state)
{
	struct sh_fib *fib = fib_new(16);
	struct result res;

	(void)state;
	route(fib, "192.0.2.0", 24, NULL, 0, IF_A);
	route(fib, "0.0.0.0", 0, "192.0.2.1", 0, IF_A);
	neigh(fib, "192.0.2.1", IF_A, MAC1);
	neigh(fib, "192.0.2.50", IF_A, MAC2);

	res = lookup(fib, "192.0.2.50");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_int_equal(res.ifindex, IF_A);
	assert_int_equal(res.nexthop, ip("192.0.2.50"));
	assert_memory_equal(res.mac, MAC2, 6);
	free(fib);
}

static void test_gateway_route_nexthop_is_gateway(void **state)
{
	struct sh_fib *fib = fib_new(16);
	struct result res;

	(void)state;
	route(fib, "0.0.0.0", 0, "192.0.2.1", 0, IF_A);
	neigh(fib, "192.0.2.1", IF_A, MAC1);
	/* A neighbour entry for the destination itself must not be used. */
	neigh(fib, "203.0.113.9", IF_A, MAC2);

	res = lookup(fib, "203.0.113.9");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_int_equal(res.nexthop, ip("192.0.2.1"));
	assert_memory_equal(res.mac, MAC1, 6);
	free(fib);
}

static void test_no_route_outside_all_prefixes(void **state)
{
	struct sh_fib *fib = fib_new(16);
	struct result res;

	(void)state;
	route(fib, "192.0.2.0", 24, NULL, 0, IF_A);
	route(fib, "198.51.100.0", 24, "192.0.2.1", 0, IF_A);
	neigh(fib, "192.0.2.1", IF_A, MAC1);

	res = lookup(fib, "203.0.113.9");
	assert_int_equal(res.r, SH_FIB_NO_ROUTE);
	res = lookup(fib, "192.0.3.0");
	assert_int_equal(res.r, SH_FIB_NO_ROUTE);
	free(fib);
}

static void test_empty_or_missing_fib_is_no_route(void **state)
{
	struct sh_fib *fib = fib_new(16);

	(void)state;
	assert_int_equal(lookup(fib, "192.0.2.1").r, SH_FIB_NO_ROUTE);
	assert_int_equal(lookup(NULL, "192.0.2.1").r, SH_FIB_NO_ROUTE);
	free(fib);
}

static void test_unresolved_nexthop_is_no_neigh(void **state)
{
	struct sh_fib *fib = fib_new(16);
	struct result res;

	(void)state;
	route(fib, "0.0.0.0", 0, "192.0.2.1", 0, IF_A);
	neigh(fib, "192.0.2.2", IF_A, MAC1);

	/* The route is found: ifindex and next hop tell the caller what to
	 * ask the kernel to resolve. */
	res = lookup(fib, "203.0.113.9");
	assert_int_equal(res.r, SH_FIB_NO_NEIGH);
	assert_int_equal(res.ifindex, IF_A);
	assert_int_equal(res.nexthop, ip("192.0.2.1"));
	free(fib);
}

static void test_neighbour_on_other_ifindex_is_no_neigh(void **state)
{
	struct sh_fib *fib = fib_new(16);
	struct result res;

	(void)state;
	route(fib, "192.0.2.0", 24, NULL, 0, IF_A);
	neigh(fib, "192.0.2.50", IF_B, MAC2);

	res = lookup(fib, "192.0.2.50");
	assert_int_equal(res.r, SH_FIB_NO_NEIGH);
	assert_int_equal(res.ifindex, IF_A);

	/* The same address on both interfaces: each route sees its own. */
	neigh(fib, "192.0.2.50", IF_A, MAC1);
	res = lookup(fib, "192.0.2.50");
	assert_int_equal(res.r, SH_FIB_OK);
	assert_memory_equal(res.mac, MAC1, 6);
	free(fib);
}

static void test_neighbours_found_at_half_load(void **state)
{
	struct sh_fib *fib = fib_new(16);
	char addr[32];

	(void)state;
	route(fib, "192.0.2.0", 24, NULL, 0, IF_A);
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
	free(fib);
}

static void test_insert_refuses_past_half_load(void **state)
{
	struct sh_fib *fib = fib_new(16);
	char addr[32];

	(void)state;
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

	route(fib, "192.0.2.0", 24, NULL, 0, IF_A);
	assert_memory_equal(lookup(fib, "192.0.2.8").mac, MAC2, 6);
	free(fib);
}

static void test_lookup_in_full_table_terminates(void **state)
{
	struct sh_fib *fib = fib_new(16);

	(void)state;
	/* Never produced by the builder; the probe bound must still stop. */
	route(fib, "192.0.2.0", 24, NULL, 0, IF_A);
	for (uint32_t i = 0; i <= fib->neigh_mask; i++) {
		fib->neigh[i].ip = ip("198.51.100.1") + htonl(i);
		fib->neigh[i].ifindex = IF_A;
	}
	assert_int_equal(lookup(fib, "192.0.2.50").r, SH_FIB_NO_NEIGH);
	free(fib);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longest_prefix_wins),
		cmocka_unit_test(test_lower_priority_wins_for_equal_prefix),
		cmocka_unit_test(test_connected_route_nexthop_is_destination),
		cmocka_unit_test(test_gateway_route_nexthop_is_gateway),
		cmocka_unit_test(test_no_route_outside_all_prefixes),
		cmocka_unit_test(test_empty_or_missing_fib_is_no_route),
		cmocka_unit_test(test_unresolved_nexthop_is_no_neigh),
		cmocka_unit_test(test_neighbour_on_other_ifindex_is_no_neigh),
		cmocka_unit_test(test_neighbours_found_at_half_load),
		cmocka_unit_test(test_insert_refuses_past_half_load),
		cmocka_unit_test(test_lookup_in_full_table_terminates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
