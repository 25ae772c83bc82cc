/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * [fleet] on the daemon's loop: the fleet worker (fleet.c) reads and
 * writes etcd; this file turns its snapshot into what the lease rules
 * and the engine get (docs/FLEET.md "Proof of ownership and fencing").
 *
 *   - The rules' slices are this host's slices that are proven (now <
 *     proven_until) and not being given back. Whenever that set or the
 *     fleet's map moves, leases_fleet_update() fences the leases of the
 *     slices lost and bumps the generation: core.c pushes the new set
 *     with its "fleet" object. The proof is checked on every tick, so
 *     the daemon fences on its own within a tick of proven_until, with
 *     or without news from the worker.
 *   - A voluntary release: the worker marks the slice releasing; it
 *     leaves the set here; once the engine reports a generation at or
 *     past the one that left it out (or RELEASE_NO_ENGINE_MS without an
 *     engine, or a TTL: the engine's own deadline has then run out), the
 *     worker is told to delete the key.
 *   - The etcd lease id goes to the store whenever it changes.
 *   - After each renewal the engine gets fleet.valid (engine.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctld.h"

#define RELEASE_NO_ENGINE_MS 2000
#define LEASE_KEY "fleet_lease"

/* Two buffers of owned slices: the rules keep reading one while the
 * next is built and handed over. */
static struct sh_slice_cfg owned_buf[2][SHOAL_MAX_POOL_SLICES];
static unsigned owned_cur;

int64_t fleet_loop_valid_ms(const struct ctld *d)
{
	int64_t left;

	if (!d->fleet)
		return 0;
	left = d->fleet->snap.proven_until - ctld_now_ms();
	return left > 0 ? left : 0;
}

static void lease_persist(struct ctld *d)
{
	struct ctld_fleet *fl = d->fleet;
	int rc;

	if (fl->snap.lease == fl->stored_lease)
		return;
	rc = store_begin(d->store);
	if (!rc)
		rc = store_meta_set(d->store, LEASE_KEY, fl->snap.lease);
	if (!rc)
		rc = store_commit(d->store);
	if (rc) {
		store_rollback(d->store);
		ctld_log(CTLD_WARN, "fleet: cannot store the etcd lease id: %s",
			 strerror(-rc));
		return;
	}
	fl->stored_lease = fl->snap.lease;
}

/* Why slice @s left the set, for the log. */
static const char *why_lost(const struct fleet_snap *sn, uint32_t s)
{
	if (sn->owner[s] != 0)
		return "gone from etcd";
	if (sn->releasing[s])
		return "given back";
	return "ownership no longer proven";
}

/* 1. The set the rules use now; 2. if it or the map moved, hand it over
 * (fencing what was lost). */
static void owned_update(struct ctld *d, int64_t now)
{
	struct ctld_fleet *fl = d->fleet;
	const struct fleet_snap *sn = &fl->snap;
	struct sh_slice_cfg *next = owned_buf[owned_cur ^ 1];
	bool moved = sn->seq != fl->synced_seq;
	unsigned n = 0;
	char a[16];
	int rc;

	for (uint32_t s = 0; s < sn->n_slices; s++) {
		bool own = sn->owner[s] == 0 && now < sn->proven_until &&
			   !sn->releasing[s];

		moved |= own != fl->owned[s];
		if (!own)
			continue;
		fleet_slice_range(&d->cfg->fleet, s, &next[n].ip, &next[n].lo,
				  &next[n].hi);
		next[n++].line = 0;
	}
	if (!moved)
		return;
	rc = leases_fleet_update(d, next, n);
	if (rc) {
		ctld_log(CTLD_ERR, "fleet: cannot store the new slice set: %s",
			 strerror(-rc));
		return; /* again on the next tick */
	}
	owned_cur ^= 1;
	for (uint32_t s = 0; s < sn->n_slices; s++) {
		bool own = sn->owner[s] == 0 && now < sn->proven_until &&
			   !sn->releasing[s];
		uint32_t ip;
		uint16_t lo, hi;

		if (own == fl->owned[s])
			continue;
		fleet_slice_range(&d->cfg->fleet, s, &ip, &lo, &hi);
		if (own)
			ctld_log(CTLD_INFO, "fleet: slice %u (%s %u-%u) is ours",
				 s, sh_fmt_ipv4(ip, a), lo, hi);
		else
			ctld_log(CTLD_WARN, "fleet: fenced slice %u (%s "
				 "%u-%u): %s", s, sh_fmt_ipv4(ip, a), lo, hi,
				 why_lost(sn, s));
		fl->owned[s] = own;
	}
	fl->n_owned = n;
	fl->synced_seq = sn->seq;
}

/* Has the engine stopped using slice @s, left out at generation @gen? */
static bool release_fenced(const struct ctld *d, uint64_t gen, int64_t since,
			   int64_t now)
{
	const struct engine_state *e = &d->eng;

	if (e->conn_serial && e->have_report && e->report_gen >= gen)
		return true;
	if (!e->conn_serial && now - since >= RELEASE_NO_ENGINE_MS)
		return true;
	return now - since >= (int64_t)d->cfg->fleet.ttl * 1000;
}

static void releases(struct ctld *d, int64_t now)
{
	struct ctld_fleet *fl = d->fleet;

	for (uint32_t s = 0; s < fl->snap.n_slices; s++) {
		if (!fl->snap.releasing[s]) {
			fl->rel_gen[s] = 0;
			continue;
		}
		if (fl->owned[s] || fl->rel_gen[s] == UINT64_MAX)
			continue;
		if (!fl->rel_gen[s]) {
			fl->rel_gen[s] = d->generation;
			fl->rel_ms[s] = now;
		}
		if (release_fenced(d, fl->rel_gen[s], fl->rel_ms[s], now)) {
			fl->rel_gen[s] = UINT64_MAX;
			fleet_release_done(fl->worker, s);
		}
	}
}

void fleet_loop_sync(struct ctld *d, bool woken)
{
	int64_t now = ctld_now_ms();

	if (!d->fleet)
		return;
	if (woken)
		fleet_read(d->fleet->worker, &d->fleet->snap);
	lease_persist(d);
	owned_update(d, now);
	releases(d, now);
}

void fleet_loop_pushed(struct ctld *d)
{
	if (d->fleet)
		d->fleet->valid_sent = d->fleet->snap.renewals;
}

void fleet_loop_valid(struct ctld *d)
{
	struct ctld_fleet *fl = d->fleet;

	if (!fl || fl->snap.renewals == fl->valid_sent)
		return;
	if (engine_fleet_valid(d, fleet_loop_valid_ms(d)) != -EAGAIN)
		fl->valid_sent = fl->snap.renewals;
}

int fleet_loop_fd(const struct ctld *d)
{
	return d->fleet ? fleet_fd(d->fleet->worker) : -1;
}

/*
 * Start the worker with the stored lease, and give it a bounded time for
 * its first round (resume or grant, one read), so that a restarted
 * daemon hands its engine the slices it still owns from the first lease
 * set on. 0 or -errno with @err.
 */
int fleet_loop_open(struct ctld *d, char *err, size_t len)
{
	const struct sh_fleet_cfg *f = &d->cfg->fleet;
	struct ctld_fleet *fl;
	int64_t lease = 0;
	int rc, wait_ms;

	if (!f->enabled)
		return 0;
	fl = calloc(1, sizeof(*fl));
	if (!fl)
		return -ENOMEM;
	rc = store_meta_get(d->store, LEASE_KEY, &lease);
	if (rc && rc != -ENOENT) {
		snprintf(err, len, "database: %s", strerror(-rc));
		free(fl);
		return rc;
	}
	fl->stored_lease = lease;
	rc = fleet_start(&fl->worker, f, lease, err, len);
	if (rc) {
		free(fl);
		return rc;
	}
	d->fleet = fl;
	wait_ms = f->ttl * 1000 < 5000 ? (int)f->ttl * 1000 : 5000;
	fleet_wait_first(fl->worker, wait_ms);
	fleet_loop_sync(d, true);
	ctld_log(CTLD_INFO, "fleet: host '%s', etcd %s, %u slices of %u proven",
		 f->host, fl->snap.etcd_up ? "reachable" : "unreachable",
		 fl->n_owned, f->n_slices_total);
	return 0;
}

void fleet_loop_close(struct ctld *d)
{
	if (!d->fleet)
		return;
	fleet_stop(d->fleet->worker);
	free(d->fleet);
	d->fleet = NULL;
}

void fleet_loop_extras(const struct ctld *d, bool *extra)
{
	const struct sh_fleet_cfg *f = &d->cfg->fleet;
	const struct fleet_snap *sn;
	uint32_t s, t, older;

	if (!d->fleet)
		return;
	sn = &d->fleet->snap;
	memset(extra, 0, sn->n_slices * sizeof(*extra));
	for (s = 0; s < sn->n_slices; s++) {
		if (sn->owner[s] != 0)
			continue;
		if (!f->slices) {
			int listed = 0;

			for (unsigned i = 0; i < f->n_want; i++)
				listed |= fleet_slice_index(f, f->want[i].ip,
							    f->want[i].lo) ==
					  (int)s;
			extra[s] = !listed;
			continue;
		}
		/* Its rank among our keys by age (ties by index). */
		for (older = 0, t = 0; t < sn->n_slices; t++)
			older += sn->owner[t] == 0 && t != s &&
				 (sn->created[t] < sn->created[s] ||
				  (sn->created[t] == sn->created[s] && t < s));
		extra[s] = older >= f->slices;
	}
}
