/* SPDX-License-Identifier: BSD-3-Clause */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"
#include "stats.h"

RTE_LOG_REGISTER_SUFFIX(sh_logtype_notify, notify, INFO);

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void sh_notify_init(struct sh_notify *nt, const struct sh_worker *workers,
		    unsigned n)
{
	uint64_t usec = 0;

	*nt = (struct sh_notify){ .workers = workers, .n_workers = n };
	nt->enabled = getenv("NOTIFY_SOCKET") != NULL;
	/* > 0: WATCHDOG_USEC is set and WATCHDOG_PID, if set, is ours. */
	if (nt->enabled && sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000)
		nt->wd_half_ms = usec / 2000;
}

/* Per second over the last @ms: the workers' @c counters summed, less
 * *@last (their sum at the last STATUS=), which becomes the new sum. */
static uint64_t rate(const struct sh_notify *nt, uint64_t *last,
		     uint64_t ms, const unsigned *c, unsigned nc)
{
	uint64_t r, sum = 0;
	unsigned i;

	for (i = 0; i < nc; i++)
		sum += sh_stats_sum(nt->workers, nt->n_workers, c[i]);
	r = ms ? (sum - *last) * 1000 / ms : 0;
	*last = sum;
	return r;
}

static void send_status(struct sh_notify *nt, uint64_t now)
{
	static const unsigned rx[] = { SH_CNT_RX_INSIDE, SH_CNT_RX_OUTSIDE };
	static const unsigned tx[] = { SH_CNT_TX_INSIDE, SH_CNT_TX_OUTSIDE };
	unsigned drop[SH_DROP_MAX_ - SH_DROP_FIRST];
	/* The main lcore publishes and frees lease sets: reading the
	 * current one here, on the main lcore, needs no RCU section. */
	const struct nat_lease_set *ls =
		__atomic_load_n(&nt->workers[0].leases, __ATOMIC_ACQUIRE);
	uint64_t ms = nt->status_ms ? now - nt->status_ms : 0;
	uint64_t flows = 0, rx_pps, tx_pps, drop_ps;
	unsigned i;

	for (i = 0; i < RTE_DIM(drop); i++)
		drop[i] = SH_DROP_FIRST + i;
	for (i = 0; i < nt->n_workers; i++)
		flows += nat_flow_count(nt->workers[i].nat);
	rx_pps = rate(nt, &nt->rx, ms, rx, RTE_DIM(rx));
	tx_pps = rate(nt, &nt->tx, ms, tx, RTE_DIM(tx));
	drop_ps = rate(nt, &nt->drops, ms, drop, RTE_DIM(drop));
	nt->status_ms = now;
	sd_notifyf(0, "STATUS=rx %" PRIu64 " pps, tx %" PRIu64 " pps, drops %"
		   PRIu64 "/s, %" PRIu64 " flows, %u leases (generation %"
		   PRIu64 "), %u workers", rx_pps, tx_pps, drop_ps, flows,
		   ls->n_leases, ls->generation, nt->n_workers);
}

void sh_notify_ready(struct sh_notify *nt)
{
	uint64_t now = now_ms();
	unsigned i;

	if (!nt->enabled)
		return;
	for (i = 0; i < nt->n_workers; i++)
		nt->seen[i] = __atomic_load_n(&nt->workers[i].loops,
					      __ATOMIC_RELAXED);
	nt->next_check_ms = now + nt->wd_half_ms;
	nt->next_status_ms = now + SH_NOTIFY_STATUS_MS;
	send_status(nt, now);
	sd_notify(0, "READY=1");
	if (nt->wd_half_ms)
		SH_LOG(INFO, notify, "watchdog every %" PRIu64 " ms, fed while "
		       "every worker progresses\n", nt->wd_half_ms * 2);
}

/*
 * The watchdog check: 1. every worker whose loop counter did not move
 * since the last check is stalled; 2. with none stalled, WATCHDOG=1;
 * 3. else withhold it, and on the first such check log and show (STATUS=)
 * the first stalled worker. A worker that is merely slow (sharing its CPU)
 * still loops many times per half interval; one that stays stalled for
 * the whole interval gets the engine restarted.
 */
static void check_workers(struct sh_notify *nt)
{
	unsigned i, stalled = nt->n_workers, n_stalled = 0;

	for (i = 0; i < nt->n_workers; i++) {
		uint64_t loops = __atomic_load_n(&nt->workers[i].loops,
						 __ATOMIC_RELAXED);

		if (loops == nt->seen[i] && n_stalled++ == 0)
			stalled = i;
		nt->seen[i] = loops;
	}
	if (n_stalled == 0) {
		if (nt->withheld)
			SH_LOG(NOTICE, notify, "every worker progresses again; "
			       "feeding the watchdog\n");
		nt->withheld = false;
		sd_notify(0, "WATCHDOG=1");
		return;
	}
	if (nt->withheld)
		return;
	nt->withheld = true;
	SH_LOG(ERR, notify, "worker %u (lcore %u) made no progress in %" PRIu64
	       " ms (%u worker(s) stalled): withholding the watchdog\n",
	       stalled, nt->workers[stalled].lcore, nt->wd_half_ms, n_stalled);
	sd_notifyf(0, "STATUS=worker %u (lcore %u) stalled; watchdog withheld",
		   stalled, nt->workers[stalled].lcore);
}

void sh_notify_tick(struct sh_notify *nt)
{
	uint64_t now;

	if (!nt->enabled)
		return;
	now = now_ms();
	if (nt->wd_half_ms && now >= nt->next_check_ms) {
		nt->next_check_ms = now + nt->wd_half_ms;
		check_workers(nt);
	}
	if (now >= nt->next_status_ms && !nt->withheld) {
		nt->next_status_ms = now + SH_NOTIFY_STATUS_MS;
		send_status(nt, now);
	}
}

void sh_notify_stopping(struct sh_notify *nt)
{
	if (nt->enabled)
		sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void sh_notify_mainpid(int pid)
{
	sd_notifyf(0, "MAINPID=%d", pid);
}
