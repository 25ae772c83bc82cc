/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include <rte_cycles.h>
#include <rte_telemetry.h>

#include "stats.h"

static struct sh_worker *tel_workers;
static unsigned tel_n;

uint64_t sh_stats_get(const struct sh_worker *wk, unsigned c)
{
	return __atomic_load_n(&wk->cnt[c], __ATOMIC_RELAXED) +
	       __atomic_load_n(&wk->nat->cnt[c], __ATOMIC_RELAXED);
}

uint64_t sh_stats_sum(const struct sh_worker *wk, unsigned n, unsigned c)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		sum += sh_stats_get(&wk[i], c);
	return sum;
}

/* Every counter of worker @wk (or, with @n > 1, summed over @n workers
 * from @wk) into dictionary @d. */
static void tel_counters(struct rte_tel_data *d, const struct sh_worker *wk,
			 unsigned n)
{
	unsigned c;

	for (c = SH_DROP_FIRST; c < SH_COUNTER_MAX; c++)
		if (c != SH_DROP_MAX_)
			rte_tel_data_add_dict_u64(d, sh_counter_name(c),
						  sh_stats_sum(wk, n, c));
}

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	tel_counters(d, tel_workers, tel_n);
	return 0;
}

/* /shoal/worker,N: one worker's counters, flows and lcore. */
static int tel_worker(const char *cmd, const char *params,
		      struct rte_tel_data *d)
{
	const struct sh_worker *wk;
	char *end;
	unsigned long i;

	(void)cmd;
	if (!params || !*params)
		return -EINVAL;
	i = strtoul(params, &end, 10);
	if (*end || i >= tel_n)
		return -EINVAL;
	wk = &tel_workers[i];
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "worker", i);
	rte_tel_data_add_dict_u64(d, "lcore", wk->lcore);
	rte_tel_data_add_dict_u64(d, "flows", nat_flow_count(wk->nat));
	tel_counters(d, wk, 1);
	return 0;
}

/* /shoal/workers: per worker, the figures that show balance and handoff. */
static int tel_workers_list(const char *cmd, const char *params,
			    struct rte_tel_data *d)
{
	static const unsigned shown[] = {
		SH_CNT_RX_INSIDE, SH_CNT_RX_OUTSIDE, SH_CNT_TX_INSIDE,
		SH_CNT_TX_OUTSIDE, SH_CNT_HANDOFF_TX, SH_CNT_HANDOFF_RX,
		SH_DROP_HANDOFF_FULL,
	};
	unsigned i, k;

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (i = 0; i < tel_n; i++) {
		struct rte_tel_data *w = rte_tel_data_alloc();
		char name[16];

		if (!w)
			return -ENOMEM;
		rte_tel_data_start_dict(w);
		rte_tel_data_add_dict_u64(w, "lcore", tel_workers[i].lcore);
		rte_tel_data_add_dict_u64(w, "flows",
					  nat_flow_count(tel_workers[i].nat));
		for (k = 0; k < RTE_DIM(shown); k++)
			rte_tel_data_add_dict_u64(w, sh_counter_name(shown[k]),
				sh_stats_get(&tel_workers[i], shown[k]));
		snprintf(name, sizeof(name), "%u", i);
		rte_tel_data_add_dict_container(d, name, w, 0);
	}
	return 0;
}

static int tel_flows(const char *cmd, const char *params, struct rte_tel_data *d)
{
	uint64_t sum = 0;
	unsigned i;

	(void)cmd;
	(void)params;
	for (i = 0; i < tel_n; i++)
		sum += nat_flow_count(tel_workers[i].nat);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "flows", sum);
	return 0;
}

void sh_stats_init(struct sh_worker *workers, unsigned n)
{
	tel_workers = workers;
	tel_n = n;
	rte_telemetry_register_cmd("/shoal/stats", tel_stats,
				   "Counters summed over workers (drops and events)");
	rte_telemetry_register_cmd("/shoal/flows", tel_flows,
				   "Live flows summed over workers");
	rte_telemetry_register_cmd("/shoal/workers", tel_workers_list,
				   "Per worker: lcore, flows, rx/tx, handoff");
	rte_telemetry_register_cmd("/shoal/worker", tel_worker,
				   "One worker's counters and flows. Param: worker index");
}

void sh_stats_print(FILE *f, const struct sh_worker *workers, unsigned n)
{
	double hz = (double)rte_get_tsc_hz();
	unsigned c, i;

	fprintf(f, "shoal-engine: final counters\n");
	for (c = SH_DROP_FIRST; c < SH_COUNTER_MAX; c++) {
		if (c == SH_DROP_MAX_)
			continue;
		fprintf(f, "  %-6s %-22s %" PRIu64 "\n",
			sh_counter_is_drop(c) ? "drop" : "event", sh_counter_name(c),
			sh_stats_sum(workers, n, c));
	}
	for (i = 0; i < n; i++) {
		const struct sh_worker *wk = &workers[i];
		double secs = (double)(wk->stopped_tsc - wk->started_tsc) / hz;
		uint64_t rx = sh_stats_get(wk, SH_CNT_RX_INSIDE) +
			      sh_stats_get(wk, SH_CNT_RX_OUTSIDE);

		fprintf(f, "  worker %u: lcore %u, %.3f s, %u flows, %.0f rx pkt/s, "
			"handoff tx %" PRIu64 " rx %" PRIu64 "\n",
			i, wk->lcore, secs, nat_flow_count(wk->nat),
			secs > 0 ? (double)rx / secs : 0.0,
			sh_stats_get(wk, SH_CNT_HANDOFF_TX),
			sh_stats_get(wk, SH_CNT_HANDOFF_RX));
		/* Each worker's own non-zero counters; the lines start with
		 * "worker", so readers of the sums above are not confused. */
		for (c = SH_DROP_FIRST; c < SH_COUNTER_MAX && n > 1; c++)
			if (c != SH_DROP_MAX_ && sh_stats_get(wk, c))
				fprintf(f, "  worker %u %s %s %" PRIu64 "\n", i,
					sh_counter_is_drop(c) ? "drop" : "event",
					sh_counter_name(c), sh_stats_get(wk, c));
	}
	fflush(f);
}
