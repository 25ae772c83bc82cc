/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Handoff rings between workers (engine/handoff.c), with EAL: mbufs from
 * a real pool travel over real rings. A full ring counts handoff_full and
 * frees what it refused, a drained ring hands every mbuf over, and
 * destroying the rings frees what was still queued: after each test the
 * pool holds every mbuf again.
 *
 * Runs in the "eal" suite: serially, without hugepages or a shared
 * configuration, under a --file-prefix of its own whose runtime directory
 * it removes.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "handoff.h"
#include "../lib/eal_rundir.h"

#define POOL_SIZE 255 /* 2^k - 1, as the mempool prefers */
#define RING_SIZE 8   /* holds 7: rte_ring keeps one slot empty */

static struct rte_mempool *pool;
static uint64_t cnt[SH_COUNTER_MAX];

static int setup(void **state)
{
	(void)state;
	memset(cnt, 0, sizeof(cnt));
	return 0;
}

/* Stage @n fresh mbufs towards @o's worker; the ids go in the mbufs' data
 * so the receiver can tell that it got the right ones in order. */
static void put_n(struct sh_handoff_out *o, unsigned n, unsigned first)
{
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

		assert_non_null(m);
		*rte_pktmbuf_mtod(m, uint32_t *) = first + i;
		m->data_len = 4;
		sh_handoff_put(o, m, 14, 20, 1, SH_HANDOFF_TRANSLATE, cnt);
	}
}

/* 40 packets towards a worker that is not draining: the first burst of
 * 32 fills the ring (7), 25 are refused, the last 8 are all refused at
 * the flush; each refusal is counted once and its mbuf freed. */
static void test_handoff_full_ring_counts_and_frees(void **state)
{
	struct sh_handoff *h = sh_handoff_create(2, RING_SIZE, SOCKET_ID_ANY);
	struct sh_handoff_out o = { 0 };
	struct sh_handoff_item got[SH_HANDOFF_BURST];
	unsigned n;

	(void)state;
	assert_non_null(h);
	assert_null(sh_handoff_ring(h, 0, 0));
	o.ring = sh_handoff_ring(h, 0, 1);
	assert_non_null(o.ring);
	put_n(&o, 40, 0);
	sh_handoff_flush(&o, cnt);
	assert_int_equal(o.n, 0);
	assert_int_equal(cnt[SH_CNT_HANDOFF_TX], 7);
	assert_int_equal(cnt[SH_DROP_HANDOFF_FULL], 33);
	assert_int_equal(rte_mempool_avail_count(pool), POOL_SIZE - 7);

	/* The owner drains: the first seven, in order, counted once. */
	n = sh_handoff_take(sh_handoff_ring(h, 0, 1), got, cnt);
	assert_int_equal(n, 7);
	assert_int_equal(cnt[SH_CNT_HANDOFF_RX], 7);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(*rte_pktmbuf_mtod(got[i].m, uint32_t *), i);
		assert_int_equal(got[i].l2_len, 14);
		assert_int_equal(got[i].ihl, 20);
		assert_int_equal(got[i].side, 1);
		assert_int_equal(got[i].kind, SH_HANDOFF_TRANSLATE);
		rte_pktmbuf_free(got[i].m);
	}
	assert_int_equal(sh_handoff_take(sh_handoff_ring(h, 0, 1), got, cnt), 0);
	assert_int_equal(rte_mempool_avail_count(pool), POOL_SIZE);
	sh_handoff_destroy(h);
}

/* Packets still on the rings when the engine stops are freed with them. */
static void test_handoff_destroy_frees_queued_mbufs(void **state)
{
	struct sh_handoff *h = sh_handoff_create(3, RING_SIZE, SOCKET_ID_ANY);
	struct sh_handoff_out a = { 0 }, b = { 0 };

	(void)state;
	assert_non_null(h);
	a.ring = sh_handoff_ring(h, 0, 2);
	b.ring = sh_handoff_ring(h, 2, 1);
	put_n(&a, 5, 0);
	put_n(&b, 3, 100);
	sh_handoff_flush(&a, cnt);
	sh_handoff_flush(&b, cnt);
	assert_int_equal(cnt[SH_CNT_HANDOFF_TX], 8);
	assert_int_equal(cnt[SH_DROP_HANDOFF_FULL], 0);
	assert_int_equal(rte_mempool_avail_count(pool), POOL_SIZE - 8);
	sh_handoff_destroy(h);
	assert_int_equal(rte_mempool_avail_count(pool), POOL_SIZE);
}

/* An empty staging buffer flushes to nothing and counts nothing. */
static void test_handoff_flush_of_nothing_is_free(void **state)
{
	struct sh_handoff *h = sh_handoff_create(2, RING_SIZE, SOCKET_ID_ANY);
	struct sh_handoff_out o = { 0 };

	(void)state;
	assert_non_null(h);
	o.ring = sh_handoff_ring(h, 1, 0);
	sh_handoff_flush(&o, cnt);
	assert_int_equal(cnt[SH_CNT_HANDOFF_TX] + cnt[SH_DROP_HANDOFF_FULL], 0);
	sh_handoff_destroy(h);
}

/* Rings are as large as the memory budget allows, within bounds. */
static void test_handoff_ring_size_fits_budget(void **state)
{
	(void)state;
	assert_int_equal(sh_handoff_ring_size(1), SH_HANDOFF_RING_MAX);
	assert_int_equal(sh_handoff_ring_size(2), SH_HANDOFF_RING_MAX);
	assert_int_equal(sh_handoff_ring_size(16), SH_HANDOFF_RING_MAX);
	assert_int_equal(sh_handoff_ring_size(32), 2048);
	assert_int_equal(sh_handoff_ring_size(64), SH_HANDOFF_RING_MIN);
	for (unsigned n = 2; n <= 64; n++) {
		unsigned size = sh_handoff_ring_size(n);

		assert_true(size >= SH_HANDOFF_RING_MIN && !(size & (size - 1)));
		assert_true(size == SH_HANDOFF_RING_MIN ||
			    (uint64_t)n * (n - 1) * size *
					    sizeof(struct sh_handoff_item) <=
				    SH_HANDOFF_BUDGET);
	}
}

int main(void)
{
	/* No hugepages, no shared configuration and a prefix of our own:
	 * nothing another DPDK process could see or collide with. */
	char prefix[64], *eal[] = { "test_handoff", "--no-huge", "--no-shconf",
				    "-m", "64", "--no-pci", "--no-telemetry",
				    "--log-level=*:error", "--file-prefix", prefix,
				    NULL };
	char rundir[PATH_MAX];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_handoff_full_ring_counts_and_frees, setup),
		cmocka_unit_test_setup(test_handoff_destroy_frees_queued_mbufs, setup),
		cmocka_unit_test_setup(test_handoff_flush_of_nothing_is_free, setup),
		cmocka_unit_test(test_handoff_ring_size_fits_budget),
	};
	int ret;

	snprintf(prefix, sizeof(prefix), "test_handoff_%d", (int)getpid());
	if (rte_eal_init(10, eal) < 0)
		return 1;
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	pool = rte_pktmbuf_pool_create("test_handoff", POOL_SIZE, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (!pool)
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	sh_rundir_remove(rundir);
	return ret;
}
