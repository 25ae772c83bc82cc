/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counter read-out: DPDK telemetry (/shoal/stats, /shoal/flows,
 * /shoal/workers, /shoal/worker,N) and the
 * final report printed at shutdown. Main lcore / telemetry thread; reads
 * the workers' counters without locks (each is an aligned 64-bit word
 * written by one lcore only).
 */
#ifndef SHOAL_STATS_H
#define SHOAL_STATS_H

#include <stdio.h>

#include "worker.h"

/* Counter @c of one worker: its own part plus its NAT core's. */
uint64_t sh_stats_get(const struct sh_worker *wk, unsigned c);

/* Counter @c summed over @n workers (lock-free reads). */
uint64_t sh_stats_sum(const struct sh_worker *workers, unsigned n, unsigned c);

/* Register the telemetry commands over @workers (kept by reference). */
void sh_stats_init(struct sh_worker *workers, unsigned n);

/* Print every counter, summed over workers, plus per-worker rates. */
void sh_stats_print(FILE *f, const struct sh_worker *workers, unsigned n);

#endif /* SHOAL_STATS_H */
