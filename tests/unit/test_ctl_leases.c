/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for engine/ctl_leases.c: the engine's reading of the lease
 * sets shoal-ctld pushes (proto.h LEASE), here each lease's "mapping" and
 * "filtering": the spellings land in struct nat_lease, absent or null keys
 * take the defaults, and any other value refuses the whole set as
 * invalid_lease, keeping the set the workers hold.
 *
 * DPDK's RCU library is linked (the set is published through it) but no
 * EAL is started: with no registered reader, publishing returns at once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <rte_rcu_qsbr.h>

#include "ctl_leases.h"

int sh_logtype_ctl; /* registered by ctl_client.c in the engine */

static struct sh_config cfg;
static struct sh_worker workers[1];
static struct ctl_leases st;
static struct rte_rcu_qsbr *qsbr;

static int setup(void **state)
{
	size_t sz = rte_rcu_qsbr_get_memsize(1);

	(void)state;
	sh_config_defaults(&cfg);
	cfg.n_slices = 1;
	cfg.slices[0] = (struct sh_slice_cfg){ .ip = 0xc633640a, .lo = 1,
					       .hi = 65535 };
	qsbr = aligned_alloc(RTE_CACHE_LINE_SIZE,
			     (sz + RTE_CACHE_LINE_SIZE - 1) &
			     ~(size_t)(RTE_CACHE_LINE_SIZE - 1));
	if (!qsbr || rte_rcu_qsbr_init(qsbr, 1))
		return -1;
	memset(&st, 0, sizeof(st));
	st.cfg = &cfg;
	st.workers = workers;
	st.n_workers = 1;
	st.qsbr = qsbr;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ctl_leases_fini(&st);
	free(qsbr);
	return 0;
}

/* Apply {"generation": @gen, "leases": [@leases]} (JSON text). */
static int apply(int gen, const char *leases)
{
	char text[4096];
	json_t *params;
	int rc;

	snprintf(text, sizeof(text), "{\"generation\": %d, \"leases\": [%s]}",
		 gen, leases);
	params = json_loads(text, 0, NULL);
	assert_non_null(params);
	rc = ctl_leases_apply(&st, params, true);
	json_decref(params);
	return rc;
}

#define LEASE(id, extra)                                                       \
	"{\"id\": " #id ", \"holder\": \"h" #id "\", \"kind\": \"nat\", "      \
	"\"ip\": \"198.51.100.10\", \"lo\": " #id "0, \"hi\": " #id "9, "      \
	"\"state\": \"active\", \"clients\": [\"10." #id ".0.0/16\"]" extra "}"

static void test_behaviours_reach_the_lease_set(void **state)
{
	const struct nat_lease_set *ls;

	(void)state;
	assert_int_equal(apply(5,
		LEASE(1, ", \"mapping\": \"address-and-port-dependent\", "
			 "\"filtering\": \"endpoint-independent\"") ","
		LEASE(2, ", \"mapping\": \"endpoint-independent\", "
			 "\"filtering\": \"address-and-port-dependent\"") ","
		LEASE(3, ", \"filtering\": \"address-dependent\"")), 1);
	ls = ctl_leases_current(&st);
	assert_ptr_equal(workers[0].leases, ls);
	assert_int_equal(ls->generation, 5);
	assert_int_equal(ls->n_leases, 3);
	assert_int_equal(ls->leases[0].mapping, SH_MAPPING_APDM);
	assert_int_equal(ls->leases[0].filtering, SH_FILTERING_EIF);
	assert_int_equal(ls->leases[1].mapping, SH_MAPPING_EIM);
	assert_int_equal(ls->leases[1].filtering, SH_FILTERING_APDF);
	assert_int_equal(ls->leases[2].mapping, SH_MAPPING_EIM);
	assert_int_equal(ls->leases[2].filtering, SH_FILTERING_ADF);
}

static void test_absent_or_null_behaviours_are_the_defaults(void **state)
{
	const struct nat_lease_set *ls;

	(void)state;
	assert_int_equal(apply(6, LEASE(1, "") ","
		LEASE(2, ", \"mapping\": null, \"filtering\": null") ","
		"{\"id\": 3, \"holder\": \"s\", \"kind\": \"socket\", \"ip\": "
		"\"198.51.100.10\", \"lo\": 30, \"hi\": 39, \"state\": "
		"\"active\", \"clients\": [], \"mapping\": null, "
		"\"filtering\": null}"), 1);
	ls = ctl_leases_current(&st);
	assert_int_equal(ls->n_leases, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(ls->leases[i].mapping, SH_MAPPING_EIM);
		assert_int_equal(ls->leases[i].filtering, SH_FILTERING_ADF);
	}
}

static void test_unknown_behaviour_refuses_the_set(void **state)
{
	static const char *const bad[] = {
		", \"mapping\": \"address-dependent\"",
		", \"mapping\": \"EIM\"",
		", \"filtering\": \"endpoint-independent \"",
		", \"filtering\": 1",
		", \"mapping\": [\"endpoint-independent\"]",
	};
	const struct nat_lease_set *before;
	char leases[1024];

	(void)state;
	assert_int_equal(apply(7, LEASE(1, "")), 1);
	before = ctl_leases_current(&st);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(leases, sizeof(leases),
			 LEASE(1, "") ", {\"id\": 2, \"holder\": \"b\", "
			 "\"kind\": \"nat\", \"ip\": \"198.51.100.10\", "
			 "\"lo\": 20, \"hi\": 29, \"state\": \"active\", "
			 "\"clients\": [\"10.2.0.0/16\"]%s}", bad[i]);
		assert_int_equal(apply(8 + (int)i, leases), -EINVAL);
		assert_ptr_equal(ctl_leases_current(&st), before);
		assert_int_equal(st.generation, 7);
		assert_int_equal(st.refused_gen, 8 + i);
		assert_string_equal(st.refused_reason, "invalid_lease");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_behaviours_reach_the_lease_set),
		cmocka_unit_test(test_absent_or_null_behaviours_are_the_defaults),
		cmocka_unit_test(test_unknown_behaviour_refuses_the_set),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
