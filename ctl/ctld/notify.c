/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The service manager's notify protocol (sd_notify(3)) for shoal-ctld:
 * READY=1 once the socket listens, STATUS= with the lease counts and the
 * engine link, WATCHDOG=1 from the event loop's once-a-second tick (so a
 * loop stuck in a handler or on the database stops feeding it), and
 * STOPPING=1 when the loop ends. Without NOTIFY_SOCKET every call is a
 * no-op.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "ctld.h"

/* STATUS= is refreshed this often: it lists the leases from the store. */
#define NOTIFY_STATUS_MS 5000

static struct {
	bool enabled;
	int64_t wd_half_ms; /* half the watchdog interval; 0: none */
	int64_t next_feed_ms, next_status_ms;
} nt;

/* Leases by state, statics apart, and the engine link into STATUS=. */
static void send_status(struct ctld *d)
{
	static struct ctl_lease all[SHOAL_MAX_LEASES];
	unsigned n, i, active = 0, draining = 0;
	int rc = lease_list(d, all, SHOAL_MAX_LEASES, &n);

	if (rc) {
		sd_notifyf(0, "STATUS=lease store: %s", strerror(-rc));
		return;
	}
	for (i = 0; i < n; i++)
		if (all[i].draining)
			draining++;
		else
			active++;
	sd_notifyf(0, "STATUS=%u leases active (%u static), %u draining, "
		   "generation %" PRIu64 ", engine %s", active, d->n_static,
		   draining, d->generation,
		   d->eng.conn_serial ? "connected" : "not connected");
}

void ctld_notify_ready(struct ctld *d)
{
	uint64_t usec = 0;
	int64_t now = ctld_now_ms();

	nt.enabled = getenv("NOTIFY_SOCKET") != NULL;
	if (!nt.enabled)
		return;
	/* > 0: WATCHDOG_USEC is set and WATCHDOG_PID, if set, is ours. */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000)
		nt.wd_half_ms = (int64_t)(usec / 2000);
	nt.next_feed_ms = now;
	nt.next_status_ms = now + NOTIFY_STATUS_MS;
	send_status(d);
	sd_notify(0, "READY=1");
}

void ctld_notify_tick(struct ctld *d)
{
	int64_t now;

	if (!nt.enabled)
		return;
	now = ctld_now_ms();
	if (nt.wd_half_ms && now >= nt.next_feed_ms) {
		nt.next_feed_ms = now + nt.wd_half_ms;
		sd_notify(0, "WATCHDOG=1");
	}
	if (now >= nt.next_status_ms) {
		nt.next_status_ms = now + NOTIFY_STATUS_MS;
		send_status(d);
	}
}

void ctld_notify_stopping(void)
{
	if (nt.enabled)
		sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}
