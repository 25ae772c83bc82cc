/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoal-ctld's fleet claim policy (ctl/ctld/fleet_policy.c, docs/FLEET.md
 * "Which slices a host claims") on maps built by hand: rendezvous order,
 * claims below the target, orphans, give-back, the hold-down. Pure: no
 * etcd, no threads (tests/ctl/test_fleet.py runs the real thing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleet.h"

#define N 12
#define HOLD 20000

static int16_t owner[N];
static int64_t free_since[N], created[N];
static bool listed[N], busy[N];
static struct fleet_host hosts[4];
static struct fleet_view v;
static uint32_t claim[N];
static unsigned n_claim;
static int32_t give;

/* Host 0 "a" (wants 2), "b" and "c" live (want 2 each); every slice
 * free, seen free long enough ago. */
static int setup(void **state)
{
	(void)state;
	memset(hosts, 0, sizeof(hosts));
	strcpy(hosts[0].name, "a");
	strcpy(hosts[1].name, "b");
	strcpy(hosts[2].name, "c");
	for (int h = 0; h < 3; h++) {
		hosts[h].live = true;
		hosts[h].want = 2;
	}
	for (int s = 0; s < N; s++) {
		owner[s] = FLEET_FREE;
		free_since[s] = 0;
		created[s] = 100 + s;
		listed[s] = busy[s] = false;
	}
	v = (struct fleet_view){ .n_slices = N, .owner = owner,
				 .hosts = hosts, .n_hosts = 3,
				 .free_since = free_since, .created = created,
				 .now_ms = 100000, .hold_ms = HOLD, .want = 2,
				 .busy = busy };
	return 0;
}

static void decide(void)
{
	assert_int_equal(fleet_decide(&v, claim, N, &n_claim, &give), 0);
}

/* The slices of host @name in its own order (highest weight first). */
static void order_of(const char *name, uint32_t *out)
{
	for (uint32_t i = 0; i < N; i++)
		out[i] = i;
	for (uint32_t i = 0; i < N; i++)
		for (uint32_t j = i + 1; j < N; j++)
			if (fleet_weight(name, out[j]) >
			    fleet_weight(name, out[i])) {
				uint32_t t = out[i];

				out[i] = out[j];
				out[j] = t;
			}
}

/* The live host ranking slice @s first, of hosts[0..n). */
static int top_of(uint32_t s, unsigned n)
{
	int top = 0;

	for (unsigned h = 1; h < n; h++)
		if (fleet_weight(hosts[h].name, s) >
		    fleet_weight(hosts[top].name, s))
			top = (int)h;
	return top;
}

static void test_weights_are_stable_and_differ_by_host(void **state)
{
	unsigned same = 0;
	uint32_t oa[N], ob[N];

	(void)state;
	assert_true(fleet_weight("a", 3) == fleet_weight("a", 3));
	assert_true(fleet_weight("a", 3) != fleet_weight("a", 4));
	order_of("a", oa);
	order_of("b", ob);
	for (int i = 0; i < N; i++)
		same += oa[i] == ob[i];
	assert_true(same < N); /* hosts prefer different slices */
}

static void test_below_target_claims_in_own_rank_order(void **state)
{
	uint32_t oa[N];

	(void)state;
	order_of("a", oa);
	owner[oa[0]] = 1; /* b holds a's favourite */
	decide();
	assert_int_equal(n_claim, 2);
	assert_int_equal(claim[0], oa[1]);
	assert_int_equal(claim[1], oa[2]);
	assert_int_equal(give, -1);
}

static void test_hold_down_keeps_a_fresh_free_slice(void **state)
{
	(void)state;
	for (int s = 0; s < N; s++)
		free_since[s] = v.now_ms - HOLD + 1; /* 1 ms short */
	decide();
	assert_int_equal(n_claim, 0);
	assert_false(fleet_claimable(&v, 0));
	free_since[5] = v.now_ms - HOLD; /* exactly the hold-down */
	assert_true(fleet_claimable(&v, 5));
	decide();
	assert_int_equal(n_claim, 1);
	assert_int_equal(claim[0], 5);
}

static void test_no_orphans_while_a_live_host_is_short(void **state)
{
	(void)state;
	owner[0] = owner[1] = 0; /* a at its target; b and c hold none */
	decide();
	assert_int_equal(n_claim, 0);
	assert_int_equal(give, -1);
}

static void test_orphans_go_to_their_top_live_host_only(void **state)
{
	unsigned mine = 0;

	(void)state;
	/* every host at its target, the rest of the slices free */
	owner[0] = owner[1] = 0;
	owner[2] = owner[3] = 1;
	owner[4] = owner[5] = 2;
	decide();
	for (uint32_t s = 6; s < N; s++)
		mine += top_of(s, 3) == 0;
	assert_int_equal(n_claim, mine);
	for (unsigned i = 0; i < n_claim; i++)
		assert_int_equal(top_of(claim[i], 3), 0);
	/* a dead host (no hosts/ key) is nobody's rival */
	hosts[1].live = hosts[2].live = false;
	decide();
	assert_int_equal(n_claim, N - 6);
}

static void test_give_back_the_lowest_ranked_extra(void **state)
{
	uint32_t oa[N];

	(void)state;
	order_of("a", oa);
	/* a holds 10, b 2, c none: c is short and nothing is free */
	for (int i = 0; i < 10; i++)
		owner[oa[i]] = 0;
	created[oa[0]] = 1;
	created[oa[1]] = 2;
	owner[oa[10]] = owner[oa[11]] = 1;
	decide();
	assert_int_equal(n_claim, 0);
	assert_int_equal(give, oa[9]);
	/* not while one of its slices is being released already */
	busy[oa[9]] = true;
	decide();
	assert_int_equal(give, -1);
	busy[oa[9]] = false;
	/* not while a free slice is left (claimable or still held down) */
	owner[oa[9]] = FLEET_FREE;
	free_since[oa[9]] = v.now_ms;
	decide();
	assert_int_equal(give, -1);
}

static void test_first_slices_taken_never_go_back(void **state)
{
	uint32_t oa[N];

	(void)state;
	order_of("a", oa);
	/* a took its 4th-ranked slice first and its 1st second: those two
	 * stay; of the others, the 3rd-ranked (lowest) goes */
	for (int i = 0; i < 4; i++)
		owner[oa[i]] = 0;
	for (int i = 4; i < N; i++)
		owner[oa[i]] = 1;
	hosts[1].want = N - 4;
	created[oa[3]] = 1;
	created[oa[0]] = 2;
	created[oa[1]] = 50;
	created[oa[2]] = 60;
	decide();
	assert_int_equal(give, oa[2]);
}

static void test_only_the_largest_surplus_gives_back(void **state)
{
	(void)state;
	/* a holds 4, b holds 6, c none: b gives back, not a */
	for (int s = 0; s < 4; s++)
		owner[s] = 0;
	for (int s = 4; s < 10; s++)
		owner[s] = 1;
	owner[10] = owner[11] = 1;
	decide();
	assert_int_equal(give, -1);
	/* equal surplus: the smaller name ("a") gives back */
	owner[10] = owner[11] = 0;
	decide();
	assert_int_not_equal(give, -1);
	assert_int_equal(owner[give], 0);
}

static void test_no_give_back_at_or_below_target(void **state)
{
	(void)state;
	for (int s = 0; s < N; s++)
		owner[s] = (int16_t)(s < 2 ? 0 : 1);
	decide();
	assert_int_equal(give, -1);
	assert_int_equal(n_claim, 0);
}

static void test_explicit_list_claims_only_its_slices(void **state)
{
	(void)state;
	listed[3] = listed[7] = true;
	v.listed = listed;
	hosts[0].listed = true;
	owner[7] = 1;
	decide();
	assert_int_equal(n_claim, 1);
	assert_int_equal(claim[0], 3);
	/* and no orphans, even when every other host is at its target */
	owner[0] = owner[1] = 1;
	owner[2] = owner[4] = 2;
	owner[3] = 0;
	decide();
	assert_int_equal(n_claim, 0);
	/* a slice it holds but does not list goes back */
	owner[9] = 0;
	decide();
	assert_int_equal(give, 9);
}

static void test_listed_host_is_no_orphan_rival(void **state)
{
	(void)state;
	owner[0] = owner[1] = 0;
	owner[2] = owner[3] = 1;
	hosts[2].listed = true; /* c wants particular slices */
	hosts[2].want = 1;
	owner[4] = 2;
	decide();
	for (unsigned i = 0; i < n_claim; i++)
		assert_int_equal(top_of(claim[i], 2), 0);
	assert_true(n_claim > 0);
}

static void test_slice_range_from_index(void **state)
{
	struct sh_fleet_cfg f = { .n_pool = 2, .lo = 10000, .hi = 16143,
				  .slice_size = 2048 };
	uint32_t ip;
	uint16_t lo, hi;

	(void)state;
	f.pool[0] = 0xc6336400 + 10;
	f.pool[1] = 0xc6336400 + 11;
	fleet_slice_range(&f, 0, &ip, &lo, &hi);
	assert_int_equal(ip, f.pool[0]);
	assert_int_equal(lo, 10000);
	assert_int_equal(hi, 12047);
	fleet_slice_range(&f, 4, &ip, &lo, &hi);
	assert_int_equal(ip, f.pool[1]);
	assert_int_equal(lo, 12048);
	assert_int_equal(hi, 14095);
	/* fleet_slice_index is its inverse, on every port of each slice */
	for (uint32_t s = 0; s < 6; s++) {
		fleet_slice_range(&f, s, &ip, &lo, &hi);
		assert_int_equal(fleet_slice_index(&f, ip, lo), (int)s);
		assert_int_equal(fleet_slice_index(&f, ip, hi), (int)s);
	}
	assert_int_equal(fleet_slice_index(&f, f.pool[0], 9999), -1);
	assert_int_equal(fleet_slice_index(&f, f.pool[1], 16144), -1);
	assert_int_equal(fleet_slice_index(&f, 0xc6336400 + 12, 10000), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_weights_are_stable_and_differ_by_host, setup),
		cmocka_unit_test_setup(test_below_target_claims_in_own_rank_order, setup),
		cmocka_unit_test_setup(test_hold_down_keeps_a_fresh_free_slice, setup),
		cmocka_unit_test_setup(test_no_orphans_while_a_live_host_is_short, setup),
		cmocka_unit_test_setup(test_orphans_go_to_their_top_live_host_only, setup),
		cmocka_unit_test_setup(test_give_back_the_lowest_ranked_extra, setup),
		cmocka_unit_test_setup(test_first_slices_taken_never_go_back, setup),
		cmocka_unit_test_setup(test_only_the_largest_surplus_gives_back, setup),
		cmocka_unit_test_setup(test_no_give_back_at_or_below_target, setup),
		cmocka_unit_test_setup(test_explicit_list_claims_only_its_slices, setup),
		cmocka_unit_test_setup(test_listed_host_is_no_orphan_rival, setup),
		cmocka_unit_test_setup(test_slice_range_from_index, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
