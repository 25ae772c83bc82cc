/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lease rules. Every change is one BEGIN IMMEDIATE transaction that
 * re-reads the stored leases, checks slices and overlaps against them and
 * the static leases, writes, bumps the generation and commits; only then
 * does the caller reply. The rules decide and store, nothing else: a
 * moved generation is their report, and core.c sends the engine the new
 * set.
 *
 * Lifecycle: active -> draining (release, or ttl expiry seen by
 * lease_tick) -> row deleted, once the engine reports 0 flows for it (and
 * it has drained >= 1 s), or after drain_max seconds if no engine says
 * otherwise -> its range held down for hold_s seconds (ctld.h struct
 * ctl_hold): other holders are refused it, the same holder is not.
 *
 * Audit: every change writes its record (ctld.h struct ctl_audit) into
 * the history in its own transaction, so the row and the change commit
 * together or not at all, and logs one line once it has committed.
 *
 * Slices: the rules place leases in d->slices: [slices] of the file, or
 * with [fleet] the slices this host owns and has proven (fleet_sync.c
 * hands them over through leases_fleet_update(), which fences the leases
 * of the slices lost). With [fleet] clients, each owned slice carries a
 * static-like nat lease over all of it, id 1 + the slice's global index;
 * ids up to the pool's slice count are reserved for them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctld.h"

#define DRAIN_MIN_S 1

static struct ctl_lease scratch[SHOAL_MAX_LEASES];
static struct ctl_hold holds[CTLD_MAX_HOLDS];
/* lease_tick's changes to log once committed: scratch[i]'s event, or
 * CTL_EV_COUNT for none */
static enum ctl_event tick_ev[SHOAL_MAX_LEASES];
/* the lifecycle's own changes (expire, drained) */
static const struct actor daemon_actor = { .peer = false };

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

int64_t ctld_now_s(void)
{
	return now_s();
}

static bool is_static_id(const struct ctld *d, uint32_t id)
{
	return id >= 1 && id <= d->n_reserved;
}

/* [fleet] clients: one nat lease, holder "fleet", over each slice of
 * d->slices (in index order, so the ids ascend). */
static void fleet_statics(struct ctld *d, const struct sh_config *cfg)
{
	const struct sh_fleet_cfg *f = &cfg->fleet;

	d->n_static = 0;
	for (unsigned i = 0; f->n_clients && i < d->n_slices; i++) {
		const struct sh_slice_cfg *sl = &d->slices[i];
		struct ctl_lease *l = &d->statics[d->n_static++];

		memset(l, 0, sizeof(*l));
		l->id = 1 + (uint32_t)fleet_slice_index(f, sl->ip, sl->lo);
		snprintf(l->holder, sizeof(l->holder), "fleet");
		l->kind = SH_LEASE_NAT;
		l->ip = sl->ip;
		l->lo = sl->lo;
		l->hi = sl->hi;
		l->n_clients = f->n_clients;
		memcpy(l->clients, f->clients, sizeof(f->clients));
		l->is_static = true;
		l->mapping = SH_MAPPING_EIM;
		l->filtering = SH_FILTERING_ADF;
		l->ttl = l->expires = l->drain_since = -1;
		l->created = d->started;
	}
}

/* Static leases: ids 1..n in configuration order (with [fleet]: the
 * [fleet] clients lease of each owned slice, id 1 + its index), always
 * active; and the [nat] values the rules use. */
static void take_config(struct ctld *d, const struct sh_config *cfg)
{
	uint32_t m;

	if (!cfg->fleet.enabled) {
		d->slices = cfg->slices;
		d->n_slices = cfg->n_slices;
	}
	d->n_static = cfg->n_leases;
	d->n_reserved = cfg->fleet.enabled ? cfg->fleet.n_slices_total :
			cfg->n_leases;
	if (cfg->fleet.enabled)
		fleet_statics(d, cfg);
	for (unsigned i = 0; i < cfg->n_leases; i++) {
		const struct sh_lease_cfg *c = &cfg->leases[i];
		struct ctl_lease *l = &d->statics[i];

		memset(l, 0, sizeof(*l));
		l->id = i + 1;
		snprintf(l->holder, sizeof(l->holder), "%s", c->name);
		l->kind = c->kind;
		l->ip = c->ip;
		l->lo = c->lo;
		l->hi = c->hi;
		l->n_clients = c->n_clients;
		memcpy(l->clients, c->clients, sizeof(l->clients));
		l->is_static = true;
		l->mapping = c->mapping;
		l->filtering = c->filtering;
		l->ttl = l->expires = l->drain_since = -1;
		l->created = d->started;
	}
	m = cfg->nat.tcp_established_timeout;
	if (cfg->nat.udp_timeout > m)
		m = cfg->nat.udp_timeout;
	if (cfg->nat.icmp_timeout > m)
		m = cfg->nat.icmp_timeout;
	d->drain_max = m;
	d->hold_s = cfg->nat.port_hold_down;
}

int leases_init(struct ctld *d)
{
	d->started = now_s();
	take_config(d, d->cfg);
	return store_gen_get(d->store, &d->generation);
}

static bool ranges_overlap(const struct ctl_lease *l, uint32_t ip,
			   uint32_t lo, uint32_t hi)
{
	return l->ip == ip && l->lo <= hi && lo <= l->hi;
}

/* Does @l lie inside one of the @n slices @sl? */
static bool in_slices(const struct sh_slice_cfg *sl, unsigned n,
		      const struct ctl_lease *l)
{
	for (unsigned i = 0; i < n; i++) {
		const struct sh_slice_cfg *s = &sl[i];

		if (s->ip == l->ip && s->lo <= l->lo && l->hi <= s->hi)
			return true;
	}
	return false;
}

/* The first lease (static, then stored) holding any of ip:lo-hi, or NULL. */
static const struct ctl_lease *overlaps_any(const struct ctld *d,
					    const struct ctl_lease *dyn,
					    unsigned n, uint32_t ip,
					    uint32_t lo, uint32_t hi)
{
	for (unsigned i = 0; i < d->n_static; i++)
		if (ranges_overlap(&d->statics[i], ip, lo, hi))
			return &d->statics[i];
	for (unsigned i = 0; i < n; i++)
		if (ranges_overlap(&dyn[i], ip, lo, hi))
			return &dyn[i];
	return NULL;
}

/* The first of @n holds on ip:lo-hi that keeps it from @holder, or NULL. */
static const struct ctl_hold *held_for(const struct ctl_hold *h, unsigned n,
				       const char *holder, uint32_t ip,
				       uint32_t lo, uint32_t hi)
{
	for (unsigned i = 0; i < n; i++)
		if (h[i].ip == ip && h[i].lo <= hi && lo <= h[i].hi &&
		    strcmp(h[i].holder, holder))
			return &h[i];
	return NULL;
}

struct span {
	uint32_t lo, hi;
};

/* What first fit sorts: every lease and every hold. */
static struct span sp[SHOAL_MAX_LEASES + CTLD_MAX_HOLDS];

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/*
 * First fit of @size ports in slice @s for @holder: 1. collect the leases
 * on its address and the holds that keep ports from @holder, 2. sort them
 * by lo, 3. walk the gaps from s->lo upwards and take the first gap that
 * is large enough. Deterministic: the same lease and hold set always
 * yields the same range. Bounded by SHOAL_MAX_LEASES + CTLD_MAX_HOLDS
 * spans.
 */
static bool slice_first_fit(const struct ctld *d, const struct ctl_lease *dyn,
			    unsigned n, const struct ctl_hold *h, unsigned nh,
			    const char *holder, const struct sh_slice_cfg *s,
			    uint32_t size, uint16_t *lo)
{
	unsigned k = 0;
	uint32_t cur = s->lo;

	for (unsigned i = 0; i < d->n_static + n; i++) {
		const struct ctl_lease *l = i < d->n_static ?
			&d->statics[i] : &dyn[i - d->n_static];

		if (l->ip == s->ip && l->lo <= s->hi && s->lo <= l->hi &&
		    k < SHOAL_MAX_LEASES)
			sp[k++] = (struct span){ l->lo, l->hi };
	}
	for (unsigned i = 0; i < nh; i++)
		if (held_for(&h[i], 1, holder, s->ip, s->lo, s->hi))
			sp[k++] = (struct span){ h[i].lo, h[i].hi };
	qsort(sp, k, sizeof(sp[0]), span_cmp);
	for (unsigned i = 0; i < k; i++) {
		if (sp[i].lo > cur && sp[i].lo - cur >= size)
			break;
		if (sp[i].hi + 1 > cur)
			cur = sp[i].hi + 1;
	}
	if (cur > s->hi || s->hi - cur + 1 < size)
		return false;
	*lo = (uint16_t)cur;
	return true;
}

/* Where the new lease goes: -EDOM outside_slice, -EADDRINUSE overlap
 * (then @l is the first lease in the way, for the error message), -ETIME
 * held_down (then *@hold is the first hold in the way), -ENOSPC no_space.
 * Slices are tried in configuration order; a lease in the way outranks a
 * hold. */
static int place(const struct ctld *d, const struct lease_req *r,
		 const struct ctl_lease *dyn, unsigned n,
		 const struct ctl_hold *h, unsigned nh, struct ctl_lease *l,
		 struct ctl_hold *hold)
{
	const struct ctl_lease *conflict = NULL, *c;
	const struct ctl_hold *held = NULL, *hc;
	bool ip_known = false, inside = false;

	for (unsigned i = 0; i < d->n_slices; i++) {
		const struct sh_slice_cfg *s = &d->slices[i];
		uint16_t lo;

		if (r->has_ip && s->ip != r->ip)
			continue;
		ip_known = true;
		if (!r->has_ports) {
			if (!slice_first_fit(d, dyn, n, h, nh, r->holder, s,
					     r->size, &lo))
				continue;
			l->ip = s->ip;
			l->lo = lo;
			l->hi = (uint16_t)(lo + r->size - 1);
			return 0;
		}
		if (r->lo < s->lo || r->hi > s->hi)
			continue;
		inside = true;
		c = overlaps_any(d, dyn, n, s->ip, r->lo, r->hi);
		if (c) {
			if (!conflict)
				conflict = c;
			continue;
		}
		hc = held_for(h, nh, r->holder, s->ip, r->lo, r->hi);
		if (hc) {
			if (!held)
				held = hc;
			continue;
		}
		l->ip = s->ip;
		l->lo = r->lo;
		l->hi = r->hi;
		return 0;
	}
	if (!ip_known)
		return -EDOM;
	if (!r->has_ports)
		return -ENOSPC;
	if (!inside)
		return -EDOM;
	if (!conflict) {
		*hold = *held;
		return -ETIME;
	}
	*l = *conflict;
	return -EADDRINUSE;
}

/* Lowest free dynamic id above the reserved ones (more than 999 static
 * leases, or [fleet] slices, push the first dynamic id past 1000); @dyn
 * is ordered by id (store_list). */
static uint32_t free_id(const struct ctld *d, const struct ctl_lease *dyn,
			unsigned n)
{
	uint32_t id = d->n_reserved < CTLD_DYN_ID_MIN ? CTLD_DYN_ID_MIN :
		      d->n_reserved + 1;

	for (unsigned i = 0; i < n && dyn[i].id <= id; i++)
		if (dyn[i].id == id)
			id++;
	return id;
}

/* Append the history row of change @ev to @l by @who, inside the open
 * transaction: stamped with the generation its commit will make. */
static int audit_add(struct ctld *d, enum ctl_event ev,
		     const struct ctl_lease *l, const struct actor *who,
		     int64_t now)
{
	struct ctl_audit a = { .time = now, .generation = d->generation + 1,
			       .event = ev, .who = *who };

	a.lease.id = l->id;
	memcpy(a.lease.holder, l->holder, sizeof(a.lease.holder));
	a.lease.kind = l->kind;
	a.lease.ip = l->ip;
	a.lease.lo = l->lo;
	a.lease.hi = l->hi;
	a.lease.ttl = l->ttl;
	a.lease.expires = l->expires;
	return store_audit_add(d->store, &a);
}

/* @holder as one key=value token: bare, or in double quotes with '"' and
 * '\\' escaped when it holds a blank, a quote, a backslash or '=' (it
 * never holds control characters: rpc.c refuses them). */
static const char *holder_token(const char *holder, char *buf, size_t len)
{
	size_t k = 0;

	if (!holder[strcspn(holder, " \"\\=")] && *holder)
		return holder;
	buf[k++] = '"';
	for (const char *h = holder; *h && k + 3 < len; h++) {
		if (*h == '"' || *h == '\\')
			buf[k++] = '\\';
		buf[k++] = *h;
	}
	buf[k++] = '"';
	buf[k] = '\0';
	return buf;
}

/* The log line of a committed change (docs/CONTROL.md "Audit"). */
static void audit_log(const struct ctld *d, enum ctl_event ev,
		      const struct ctl_lease *l, const struct actor *who)
{
	char a[16], h[2 * SHOAL_HOLDER_MAX + 3], ttl[24] = "-", exp[24] = "-";
	char uid[16] = "-", pid[16] = "-";

	if (l->ttl >= 0)
		snprintf(ttl, sizeof(ttl), "%lld", (long long)l->ttl);
	if (l->expires >= 0)
		snprintf(exp, sizeof(exp), "%lld", (long long)l->expires);
	if (who->peer) {
		snprintf(uid, sizeof(uid), "%u", who->uid);
		snprintf(pid, sizeof(pid), "%d", who->pid);
	}
	ctld_log(CTLD_AUDIT, "event=%s lease=%u holder=%s kind=%s ip=%s "
		 "ports=%u-%u ttl=%s expires=%s uid=%s pid=%s generation=%llu",
		 ctl_event_name(ev), l->id, holder_token(l->holder, h,
							 sizeof(h)),
		 l->kind == SH_LEASE_NAT ? "nat" : "socket",
		 sh_fmt_ipv4(l->ip, a), l->lo, l->hi, ttl, exp, uid, pid,
		 (unsigned long long)d->generation);
}

/* Bump the generation and COMMIT. The caller has an open transaction
 * and rolls back on failure. The moved generation is how a change is
 * reported: core.c pushes the new set to the engine after the commit. */
static int commit_change(struct ctld *d)
{
	int rc = store_gen_set(d->store, d->generation + 1);

	if (!rc)
		rc = store_commit(d->store);
	if (rc)
		return rc;
	d->generation++;
	return 0;
}

/* End the open transaction: when the change so far succeeded (@rc 0),
 * add its audit record (@ev to @l by @who), commit, log it and hand back
 * @l; else roll back. */
static int finish(struct ctld *d, int rc, enum ctl_event ev,
		  const struct actor *who, const struct ctl_lease *l,
		  struct ctl_lease *out)
{
	if (!rc)
		rc = audit_add(d, ev, l, who, now_s());
	if (!rc)
		rc = commit_change(d);
	if (!rc) {
		audit_log(d, ev, l, who);
		*out = *l;
	} else {
		store_rollback(d->store);
	}
	return rc;
}

/* Client prefixes of the static leases and @n stored ones (draining
 * included: the engine keeps them in its set). */
static unsigned selectors(const struct ctld *d, const struct ctl_lease *dyn,
			  unsigned n)
{
	unsigned sum = 0;

	for (unsigned i = 0; i < d->n_static; i++)
		sum += d->statics[i].n_clients;
	for (unsigned i = 0; i < n; i++)
		sum += dyn[i].n_clients;
	return sum;
}

/* -EDQUOT: SHOAL_MAX_LEASES reached; -EOVERFLOW: @r's clients would take
 * the set past SHOAL_MAX_SELECTORS, which the engine could not apply. */
int lease_add(struct ctld *d, const struct lease_req *r,
	      const struct actor *who, struct ctl_lease *out,
	      struct ctl_hold *hold)
{
	struct ctl_lease l = { 0 };
	unsigned n, nh;
	int rc = store_begin(d->store);

	if (rc)
		return rc;
	rc = store_list(d->store, scratch, SHOAL_MAX_LEASES, &n);
	if (!rc)
		rc = store_holds(d->store, now_s(), holds, CTLD_MAX_HOLDS, &nh);
	if (rc)
		goto out;
	if (d->n_static + n >= SHOAL_MAX_LEASES) {
		rc = -EDQUOT;
		goto out;
	}
	if (selectors(d, scratch, n) + r->n_clients > SHOAL_MAX_SELECTORS) {
		rc = -EOVERFLOW;
		goto out;
	}
	rc = place(d, r, scratch, n, holds, nh, &l, hold);
	if (rc == -EADDRINUSE)
		*out = l;
	if (rc)
		goto out;
	l.id = free_id(d, scratch, n);
	memcpy(l.holder, r->holder, sizeof(l.holder));
	l.kind = r->kind;
	memcpy(l.clients, r->clients, sizeof(l.clients));
	l.n_clients = r->n_clients;
	l.created = now_s();
	l.ttl = r->ttl;
	l.expires = r->ttl >= 0 ? l.created + r->ttl : -1;
	l.drain_since = -1;
	l.add_gen = d->generation + 1;
	l.mapping = r->mapping;
	l.filtering = r->filtering;
	rc = store_insert(d->store, &l);
out:
	return finish(d, rc, CTL_EV_GRANT, who, &l, out);
}

/* The stored lease @id inside an open transaction, with the static and
 * not-found cases mapped. */
static int begin_with(struct ctld *d, uint32_t id, struct ctl_lease *l)
{
	int rc;

	if (is_static_id(d, id))
		return lease_get(d, id, l) ? -ENOENT : -EPERM;
	rc = store_begin(d->store);
	if (rc)
		return rc;
	rc = store_get(d->store, id, l);
	if (rc)
		store_rollback(d->store);
	return rc;
}

/* @ttl -1: the lease's last ttl (a lease without one stays without). */
int lease_renew(struct ctld *d, uint32_t id, int64_t ttl,
		const struct actor *who, struct ctl_lease *out)
{
	struct ctl_lease l;
	int rc = begin_with(d, id, &l);

	if (rc)
		return rc;
	if (l.draining)
		return finish(d, -ECANCELED, CTL_EV_RENEW, who, &l, out);
	if (ttl >= 0)
		l.ttl = ttl;
	l.expires = l.ttl >= 0 ? now_s() + l.ttl : -1;
	return finish(d, store_update(d->store, &l), CTL_EV_RENEW, who, &l,
		      out);
}

/* Releasing a draining lease again is a no-op that succeeds (no change,
 * so no audit record). */
int lease_release(struct ctld *d, uint32_t id, const struct actor *who,
		  struct ctl_lease *out)
{
	struct ctl_lease l;
	int rc = begin_with(d, id, &l);

	if (rc)
		return rc;
	if (l.draining) {
		store_rollback(d->store);
		*out = l;
		return 0;
	}
	l.draining = true;
	l.drain_since = now_s();
	l.drain_gen = d->generation + 1;
	return finish(d, store_update(d->store, &l), CTL_EV_RELEASE, who, &l,
		      out);
}

/* Static ids are not dense with [fleet] (only owned slices have one). */
int lease_get(struct ctld *d, uint32_t id, struct ctl_lease *out)
{
	if (is_static_id(d, id)) {
		for (unsigned i = 0; i < d->n_static; i++)
			if (d->statics[i].id == id) {
				*out = d->statics[i];
				return 0;
			}
		return -ENOENT;
	}
	return store_get(d->store, id, out);
}

/* Static leases first, then the stored ones by id. */
int lease_list(struct ctld *d, struct ctl_lease *out, unsigned max,
	       unsigned *n)
{
	unsigned k;
	int rc;

	if (max < d->n_static)
		return -E2BIG;
	memcpy(out, d->statics, d->n_static * sizeof(out[0]));
	rc = store_list(d->store, out + d->n_static, max - d->n_static, &k);
	*n = rc ? 0 : d->n_static + k;
	return rc;
}

int lease_history(struct ctld *d, const struct history_query *q,
		  struct ctl_audit *out, unsigned *n, bool *more)
{
	/* one row past the limit tells whether older ones match */
	static struct ctl_audit rows[SHOAL_HISTORY_MAX + 1];
	unsigned k;
	int rc;

	if (q->limit < 1 || q->limit > SHOAL_HISTORY_MAX)
		return -EINVAL;
	rc = store_history(d->store, q, rows, q->limit + 1, &k);
	if (rc)
		return rc;
	*more = k > q->limit;
	*n = *more ? q->limit : k;
	memcpy(out, rows, *n * sizeof(out[0]));
	return 0;
}

int lease_holds(struct ctld *d, struct ctl_hold *out, unsigned max,
		unsigned *n)
{
	return store_holds(d->store, now_s(), out, max, n);
}

/* May @l (draining) be freed now? */
static bool drained(const struct ctld *d, const struct ctl_lease *l,
		    int64_t now)
{
	int64_t age = now - l->drain_since;
	bool fresh = engine_fresh(d, l->drain_gen);
	int64_t flows = fresh ? engine_lease_flows(d, l) : -1;

	if (fresh && flows == 0 && age >= DRAIN_MIN_S)
		return true;
	return age >= d->drain_max && !(fresh && flows > 0);
}

/* Delete drained lease @l and hold its range for the others; *@nh
 * counts the active holds. */
static int lease_delete(struct ctld *d, const struct ctl_lease *l,
			int64_t now, unsigned *nh)
{
	struct ctl_hold h = { .ip = l->ip, .lo = l->lo, .hi = l->hi,
			      .until = now + d->hold_s };
	int rc = store_delete(d->store, l->id);

	if (rc || !d->hold_s)
		return rc;
	memcpy(h.holder, l->holder, sizeof(h.holder));
	(*nh)++;
	return store_hold_add(d->store, &h, now);
}

/*
 * Once a second: 1. find expired active leases and drained draining ones
 * (a read, no transaction when nothing is due); 2. if any, apply them all,
 * each with its audit record, in one transaction with one generation
 * bump; 3. once committed, log them. A drained lease whose hold would
 * pass CTLD_MAX_HOLDS waits, still draining. 0 or -errno.
 */
int lease_tick(struct ctld *d)
{
	int64_t now = now_s();
	unsigned n, nh, changes = 0;
	int rc;

	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			rc = store_begin(d->store);
			if (rc)
				return rc;
		}
		rc = store_list(d->store, scratch, SHOAL_MAX_LEASES, &n);
		if (!rc)
			rc = store_holds(d->store, now, holds, CTLD_MAX_HOLDS,
					 &nh);
		for (unsigned i = 0; !rc && i < n; i++) {
			struct ctl_lease *l = &scratch[i];

			tick_ev[i] = CTL_EV_COUNT;
			if (!l->draining && l->expires >= 0 &&
			    l->expires <= now) {
				changes++;
				if (!pass)
					continue;
				l->draining = true;
				l->drain_since = now;
				l->drain_gen = d->generation + 1;
				tick_ev[i] = CTL_EV_EXPIRE;
				rc = store_update(d->store, l);
			} else if (l->draining && drained(d, l, now) &&
				   (!d->hold_s || nh < CTLD_MAX_HOLDS)) {
				changes++;
				if (!pass) {
					nh += d->hold_s != 0;
					continue;
				}
				tick_ev[i] = CTL_EV_DRAINED;
				rc = lease_delete(d, l, now, &nh);
			}
			if (!rc && tick_ev[i] != CTL_EV_COUNT)
				rc = audit_add(d, tick_ev[i], l,
					       &daemon_actor, now);
		}
		if (rc || !changes)
			break;
	}
	if (!rc && changes)
		rc = commit_change(d);
	if (rc) {
		store_rollback(d->store);
		return rc;
	}
	for (unsigned i = 0; changes && i < n; i++)
		if (tick_ev[i] != CTL_EV_COUNT)
			audit_log(d, tick_ev[i], &scratch[i], &daemon_actor);
	return 0;
}

/*
 * Could the stored (dynamic) leases live under @next? Each must lie in
 * one of its slices, keep an id above its static ones, and not overlap
 * a static lease; and the whole set must stay within the protocol's
 * limits. 0, or -EINVAL with "FILE:LINE: why" in @err (the line of
 * [slices] or of the static lease in the way).
 */
int leases_check_config(struct ctld *d, const struct sh_config *next,
			char *err, size_t errlen)
{
	unsigned n, sel = 0;
	char a[16];
	int rc = store_list(d->store, scratch, SHOAL_MAX_LEASES, &n);

	if (rc) {
		snprintf(err, errlen, "%s: cannot read the stored leases: %s",
			 next->path, strerror(-rc));
		return rc;
	}
	for (unsigned i = 0; i < next->n_leases; i++)
		sel += next->leases[i].n_clients;
	for (unsigned i = 0; i < n; i++) {
		const struct ctl_lease *l = &scratch[i];
		int line;

		sel += l->n_clients;
		if (!in_slices(next->slices, next->n_slices, l)) {
			line = sh_config_line(next, "slices", NULL);
			snprintf(err, errlen, "%s:%d: lease %u (%s, %s %u-%u) "
				 "would lie outside every slice; release it "
				 "first", next->path, line ? line : 1, l->id,
				 l->holder, sh_fmt_ipv4(l->ip, a), l->lo,
				 l->hi);
			return -EINVAL;
		}
		if (l->id <= next->n_leases) {
			line = next->leases[next->n_leases - 1].line;
			snprintf(err, errlen, "%s:%d: %u static leases would "
				 "take the id of lease %u (%s); release it "
				 "first", next->path, line, next->n_leases,
				 l->id, l->holder);
			return -EINVAL;
		}
		for (unsigned j = 0; j < next->n_leases; j++) {
			const struct sh_lease_cfg *c = &next->leases[j];

			if (c->ip != l->ip || c->hi < l->lo || l->hi < c->lo)
				continue;
			snprintf(err, errlen, "%s:%d: lease '%s' (ports "
				 "%u-%u) overlaps lease %u (%s, ports %u-%u) "
				 "on %s", next->path, c->line, c->name, c->lo,
				 c->hi, l->id, l->holder, l->lo, l->hi,
				 sh_fmt_ipv4(l->ip, a));
			return -EINVAL;
		}
	}
	if (n + next->n_leases > SHOAL_MAX_LEASES ||
	    sel > SHOAL_MAX_SELECTORS) {
		snprintf(err, errlen, "%s: with the %u stored leases, more "
			 "than %d leases or %d client prefixes in all",
			 next->path, n, SHOAL_MAX_LEASES, SHOAL_MAX_SELECTORS);
		return -EINVAL;
	}
	return 0;
}

/*
 * Switch to d->cfg, which leases_check_config() accepted: its static
 * leases and [nat] values, and a new generation (committed), so the
 * engine gets the new set.
 */
int leases_reconfigure(struct ctld *d)
{
	int rc;

	take_config(d, d->cfg);
	rc = store_begin(d->store);
	if (rc)
		return rc;
	rc = commit_change(d);
	if (rc)
		store_rollback(d->store);
	return rc;
}

/*
 * A configuration edited between runs may now overlap stored leases or
 * no longer contain them. Such leases are reported, not deleted: the
 * operator decides (release them, or fix the file). Returns how many.
 */
unsigned leases_audit(struct ctld *d)
{
	unsigned n, bad = 0;
	char a[16];

	if (store_list(d->store, scratch, SHOAL_MAX_LEASES, &n))
		return 0;
	for (unsigned i = 0; i < n; i++) {
		const struct ctl_lease *l = &scratch[i];
		bool inside = in_slices(d->cfg->slices, d->cfg->n_slices, l);

		if (is_static_id(d, l->id)) {
			bad++;
			ctld_log(CTLD_WARN, "stored lease %u has the id of a "
				 "static lease (the configuration has %u now); "
				 "it cannot be reached", l->id, d->n_reserved);
			continue;
		}
		if (inside && !overlaps_any(d, NULL, 0, l->ip, l->lo, l->hi))
			continue;
		bad++;
		ctld_log(CTLD_WARN, "stored lease %u (%s %u-%u) is %s the "
			 "configuration; release it", l->id, sh_fmt_ipv4(l->ip, a),
			 l->lo, l->hi, inside ? "overlapping a static lease of" :
			 "outside the slices of");
	}
	return bad;
}

/*
 * [fleet]: the slices this host owns and has proven are now @sl[0..n)
 * (kept by the caller until the next call), or only the fleet's map
 * moved. In one transaction: 1. delete every stored lease outside them,
 * draining or not (audit event "fenced": the slice is no longer ours,
 * so nothing may drain into it); 2. take them as the rules' slices and
 * rebuild the [fleet] clients leases; 3. bump the generation, so the
 * engine gets the new set and map. Then log the fenced leases. 0 or
 * -errno (nothing changed).
 */
int leases_fleet_update(struct ctld *d, const struct sh_slice_cfg *sl,
			unsigned n)
{
	int64_t now = now_s();
	unsigned k;
	int rc = store_begin(d->store);

	if (rc)
		return rc;
	rc = store_list(d->store, scratch, SHOAL_MAX_LEASES, &k);
	for (unsigned i = 0; !rc && i < k; i++) {
		tick_ev[i] = CTL_EV_COUNT;
		if (in_slices(sl, n, &scratch[i]))
			continue;
		tick_ev[i] = CTL_EV_FENCED;
		rc = store_delete(d->store, scratch[i].id);
		if (!rc)
			rc = audit_add(d, CTL_EV_FENCED, &scratch[i],
				       &daemon_actor, now);
	}
	if (!rc)
		rc = commit_change(d);
	if (rc) {
		store_rollback(d->store);
		return rc;
	}
	d->slices = sl;
	d->n_slices = n;
	fleet_statics(d, d->cfg);
	for (unsigned i = 0; i < k; i++)
		if (tick_ev[i] != CTL_EV_COUNT)
			audit_log(d, tick_ev[i], &scratch[i], &daemon_actor);
	return 0;
}
