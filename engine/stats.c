/* SPDX-License-Identifier: BSD-3-Clause */
#include <inttypes.h>

#include <rte_cycles.h>
#include <rte_telemetry.h>

#include "stats.h"

static struct sh_worker *tel_workers;
static unsigned tel_n;

uint64_t sh_stats_sum(const struct sh_worker *wk, unsigned n, unsigned c)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		sum += __atomic_load_n(&wk[i].nat->cnt[c], __ATOMIC_RELAXED);
	return sum;
}

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned c;

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (c = SH_DROP_FIRST; c < SH_COUNTER_MAX; c++)
		if (c != SH_DROP_MAX_)
			rte_tel_data_add_dict_u64(d, sh_counter_name(c),
						  sh_stats_sum(tel_workers, tel_n, c));
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
		uint64_t rx = wk->nat->cnt[SH_CNT_RX_INSIDE] +
			      wk->nat->cnt[SH_CNT_RX_OUTSIDE];

		fprintf(f, "  worker %u: lcore %u, %.3f s, %u flows, %.0f rx pkt/s\n",
			i, wk->lcore, secs, nat_flow_count(wk->nat),
			secs > 0 ? (double)rx / secs : 0.0);
	}
	fflush(f);
}
