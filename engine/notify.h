/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The service manager's notify protocol (sd_notify(3)) for shoal-engine:
 * READY=1 once ports are up and workers launched, STATUS= lines with
 * rates, flows and leases, STOPPING=1 when shutdown begins, and WATCHDOG=1
 * fed only while every worker makes progress (docs/OPERATIONS.md).
 *
 * Progress is each worker's loop counter (struct sh_worker.loops: bumped
 * once per poll-loop iteration, written only by its worker). At every half
 * watchdog interval the main lcore compares each counter with the value it
 * saw the time before: if all moved it sends WATCHDOG=1, else it withholds
 * it, so a wedged worker (a PMD that never returns, a livelock) gets the
 * engine killed and restarted by systemd (WatchdogSec=, Restart=).
 *
 * Main lcore only. Without NOTIFY_SOCKET in the environment every call is
 * a no-op; without WATCHDOG_USEC (or with a WATCHDOG_PID that is not ours)
 * there is no watchdog.
 */
#ifndef SHOAL_NOTIFY_H
#define SHOAL_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "worker.h"

/* STATUS= is refreshed this often. */
#define SH_NOTIFY_STATUS_MS 5000

struct sh_notify {
	bool enabled;           /* NOTIFY_SOCKET is set */
	uint64_t wd_half_ms;    /* half the watchdog interval; 0: none */
	uint64_t next_check_ms; /* monotonic ms of the next watchdog check */
	uint64_t next_status_ms;
	uint64_t seen[SH_CFG_MAX_WORKERS]; /* loops at the last check */
	bool withheld;          /* the last check withheld WATCHDOG=1 */
	uint64_t rx, tx, drops, status_ms; /* at the last STATUS= */
	const struct sh_worker *workers;
	unsigned n_workers;
};

/* Read the environment; @workers (@n of them) must outlive @nt. */
void sh_notify_init(struct sh_notify *nt, const struct sh_worker *workers,
		    unsigned n);

/* READY=1 and a first STATUS=; starts the watchdog checks. */
void sh_notify_ready(struct sh_notify *nt);

/* Call from every turn of the main loop (at least every half watchdog
 * interval): feeds or withholds the watchdog, refreshes STATUS=. */
void sh_notify_tick(struct sh_notify *nt);

/* MAINPID=@pid: the service's main process is now @pid (a handover;
 * the unit needs NotifyAccess=all for the new process to be heard). */
void sh_notify_mainpid(int pid);

/* STOPPING=1: shutdown has begun. */
void sh_notify_stopping(struct sh_notify *nt);

#endif /* SHOAL_NOTIFY_H */
