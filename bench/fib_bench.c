/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Route lookup cost against the number of routes (scripts/bench.sh,
 * case `routes`). For each N given: build a FIB (engine/fib.c) of a
 * default route plus N - 1 random routes shaped like the Internet's
 * table, every route a two-way multipath one, every next hop resolved, then time sh_fib_lookup() on random
 * destinations (each one routed, so each lookup does the whole job:
 * rte_fib, next-hop set, neighbour). Prints one line per N:
 *
 *   routes N build_s B lookup_cycles C lookup_ns T hot_cycles H eal_mib M
 *
 * C: random destinations over the whole address space (every lookup
 * misses the caches on the 32 MiB tbl24, whatever N: the cost of a
 * cold lookup); H: the same over 1024 destinations (the caches hold
 * them: the instructions' cost). Each is the fastest of ROUNDS rounds of
 * LOOKUPS lookups (the machine is shared: the minimum is the figure
 * least disturbed by others). M: EAL memory of the table.
 *
 * With --icount (one N), under valgrind --tool=callgrind
 * --instr-atstart=no --toggle-collect=lookups: only ICOUNT_LOOKUPS random
 * lookups run instrumented (the build runs at native speed), so the
 * profile's total divided by ICOUNT_LOOKUPS is instructions per lookup,
 * a figure other programs on the machine do not disturb. Prints
 * "routes N lookups K".
 *
 * Usage: fib_bench [--icount] N[,N...]   (EAL runs without hugepages,
 * its own file prefix, nothing shared.)
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <valgrind/callgrind.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "fib.h"
#include "../tests/lib/eal_rundir.h"
#include "../tests/lib/route_shape.h"

#define N_NHG 64
#define DSTS (1u << 20)  /* random destinations, cycled through */
#define HOT_DSTS 1024    /* a working set that stays in the caches */
#define LOOKUPS (4u << 20)
#define ROUNDS 5
#define ICOUNT_LOOKUPS 100000

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t rng(void)
{
	return sh_xorshift(&rng_state);
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

/* The timed loop; noinline so that it is one function in a profile
 * (noclone keeps GCC from splitting it into constant-propagated
 * copies; clang does not know the attribute, and -Werror refuses it).
 * The results are folded into a sum the caller prints, so nothing is
 * optimised away. */
#ifdef __clang__
#define BENCH_LOOP __attribute__((noinline))
#else
#define BENCH_LOOP __attribute__((noinline, noclone))
#endif
static BENCH_LOOP uint64_t
lookups(const struct sh_fib *fib, const uint32_t *dst, uint32_t mask,
	unsigned n)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t d = dst[i & mask], nh = 0;
		uint8_t mac[6];
		int ifindex = 0;

		sum += sh_fib_lookup(fib, d ^ 0x5a5a5a5au, d, &ifindex, &nh,
				     mac);
		sum += nh + mac[5];
	}
	return sum;
}

static int bench(unsigned n, const uint32_t *dst, bool icount)
{
	struct sh_route *routes = calloc(n, sizeof(*routes));
	struct sh_nhg nhg[N_NHG];
	struct sh_neigh neigh[2 * N_NHG];
	struct sh_fib_routes *rt;
	struct sh_fib *fib;
	uint64_t best = UINT64_MAX, hot = UINT64_MAX, sum = 0;
	double t0, build_s;
	size_t before;

	if (routes == NULL)
		return -ENOMEM;
	memset(nhg, 0, sizeof(nhg));
	for (unsigned i = 0; i < N_NHG; i++) {
		/* All two-way multipath: every lookup does the same work
		 * whichever route matched, so only the table can differ. */
		nhg[i].n = 2;
		for (unsigned k = 0; k < 2; k++) {
			nhg[i].nh[k].gateway = htonl(0xc0000200u + k * 128 + i + 1);
			nhg[i].nh[k].ifindex = 3;
			neigh[2 * i + k].ip = nhg[i].nh[k].gateway;
			neigh[2 * i + k].ifindex = 3;
			memset(neigh[2 * i + k].mac, 0x02, 6);
		}
	}
	routes[0].nhg = 0; /* the default route: every destination routed */
	for (unsigned i = 1; i < n; i++) {
		uint8_t len = sh_route_len(&rng_state);

		routes[i].len = len;
		routes[i].prefix = htonl(rng() & (UINT32_MAX << (32 - len)));
		routes[i].nhg = rng() % N_NHG;
	}

	before = heap_used();
	t0 = now_s();
	rt = sh_fib_routes_build(routes, n, nhg, N_NHG);
	build_s = now_s() - t0;
	if (rt == NULL) {
		free(routes);
		return -errno;
	}
	fib = sh_fib_build(1, rt, neigh, 2 * N_NHG);
	sh_fib_routes_put(rt);
	if (fib == NULL) {
		free(routes);
		return -errno;
	}
	if (icount) {
		CALLGRIND_START_INSTRUMENTATION;
		sum += lookups(fib, dst, DSTS - 1, ICOUNT_LOOKUPS);
		CALLGRIND_STOP_INSTRUMENTATION;
		printf("routes %u lookups %u (check %llu)\n", n,
		       ICOUNT_LOOKUPS, (unsigned long long)(sum % 9973));
		goto out;
	}
	sum += lookups(fib, dst, DSTS - 1, DSTS); /* warm caches and TLB */
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint64_t c = rte_rdtsc_precise();

		sum += lookups(fib, dst, DSTS - 1, LOOKUPS);
		c = rte_rdtsc_precise() - c;
		best = RTE_MIN(best, c);
		c = rte_rdtsc_precise();
		sum += lookups(fib, dst, HOT_DSTS - 1, LOOKUPS);
		c = rte_rdtsc_precise() - c;
		hot = RTE_MIN(hot, c);
	}
	printf("routes %u build_s %.3f lookup_cycles %.1f lookup_ns %.2f "
	       "hot_cycles %.1f eal_mib %.1f (check %llu)\n",
	       n, build_s, (double)best / LOOKUPS,
	       (double)best / LOOKUPS * 1e9 / (double)rte_get_tsc_hz(),
	       (double)hot / LOOKUPS,
	       (double)(heap_used() - before) / (1 << 20),
	       (unsigned long long)(sum % 9973));
out:
	fflush(stdout);
	sh_fib_free(fib);
	free(routes);
	return 0;
}

int main(int argc, char **argv)
{
	char prefix[64], rundir[PATH_MAX], *eal[] = { "fib_bench", "--no-huge", "--no-shconf",
				    "-m", "1024", "--no-pci", "--no-telemetry",
				    "--log-level=*:error", "--file-prefix", prefix,
				    NULL };
	bool icount = argc == 3 && strcmp(argv[1], "--icount") == 0;
	char *list, *save = NULL;
	uint32_t *dst;
	int ret = 0;

	if (argc != 2 && !icount) {
		fprintf(stderr, "usage: %s [--icount] N[,N...]\n", argv[0]);
		return 2;
	}
	snprintf(prefix, sizeof(prefix), "fib_bench_%d", (int)getpid());
	if (rte_eal_init(10, eal) < 0) {
		fprintf(stderr, "fib_bench: EAL init failed\n");
		return 1;
	}
	dst = malloc(DSTS * sizeof(*dst));
	if (dst == NULL)
		return 1;
	for (unsigned i = 0; i < DSTS; i++)
		dst[i] = rng();
	list = argv[argc - 1];
	for (char *t = strtok_r(list, ",", &save); t != NULL && ret == 0;
	     t = strtok_r(NULL, ",", &save)) {
		unsigned long n = strtoul(t, NULL, 10);

		if (n == 0 || n > SH_FIB_MAX_ROUTES) {
			fprintf(stderr, "fib_bench: %s: 1..%u routes\n", t,
				SH_FIB_MAX_ROUTES);
			ret = 2;
			break;
		}
		ret = bench((unsigned)n, dst, icount);
		if (ret < 0)
			fprintf(stderr, "fib_bench: %lu routes: %s\n", n,
				strerror(-ret));
	}
	free(dst);
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	sh_rundir_remove(rundir);
	return ret == 0 ? 0 : 1;
}
