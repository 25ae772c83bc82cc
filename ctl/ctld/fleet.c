/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fleet worker thread (docs/FLEET.md): the etcd session of this host.
 * The daemon's loop never waits for etcd: this thread does every request
 * and publishes what it learnt as a snapshot (struct fleet_snap) under a
 * mutex, then wakes the loop through an eventfd.
 *
 * Each turn, when due:
 *   1. the lease: resume the stored one (a keepalive that still finds
 *      it) or grant a new one; renew it every ttl/3 (a failed renewal
 *      is retried after RETRY_MS). A renewal sent at t that etcd answers
 *      with TTL T proves ownership until t + T (proven_until);
 *   2. about once a second, read PREFIX/ whole: hosts/ and slices/ keys
 *      become the map (this host's slices are those bound to its lease),
 *      and each free slice's free_since follows FLEET.md "Hold-down";
 *   3. register hosts/NAME (a txn that creates it; a key bound to another
 *      lease is a conflict: nothing is claimed until it is gone), keep
 *      its "have" current;
 *   4. while proven and registered, claim what fleet_decide() says (a
 *      txn per slice) and start at most one voluntary release: the slice
 *      is marked releasing, the loop fences it, and only after
 *      fleet_release_done() is its key deleted.
 * Stopping keeps the lease: a restart within the TTL resumes it with the
 * same slices.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "ctld.h"

#define READ_MS 1000  /* the map is read about once a second */
#define RETRY_MS 250  /* a failed renewal or grant is retried this soon */
#define TIMEOUT_MAX_MS 1000

struct fleet {
	struct sh_fleet_cfg cfg;
	struct etcd *etcd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int efd;
	/* under mu */
	bool stop, first_done;
	struct fleet_snap pub;
	bool done[SHOAL_MAX_POOL_SLICES]; /* fleet_release_done() */
	/* the worker's own */
	struct fleet_snap w;
	bool listed[SHOAL_MAX_POOL_SLICES];
	bool retry[SHOAL_MAX_POOL_SLICES]; /* releases etcd did not answer */
	bool gap;          /* a request failed since the last read */
	bool registered;   /* hosts/NAME bound to our lease */
	bool conflict_logged;
	char host_value[1024]; /* what hosts/NAME holds, as read */
	int64_t ttl_ms, next_renew, next_read;
	char hosts_pfx[SH_CFG_STR_LEN + 16], slices_pfx[SH_CFG_STR_LEN + 16];
	char host_key[SH_CFG_STR_LEN + 16 + SH_CFG_NAME_LEN];
	/* a read's result, before it replaces w's map */
	int16_t owner[SHOAL_MAX_POOL_SLICES];
	int64_t created[SHOAL_MAX_POOL_SLICES];
	struct fleet_host hosts[SHOAL_MAX_FLEET_HOSTS + 1];
	unsigned n_hosts;
	bool host_seen, host_ours;
	unsigned dropped; /* keys that are not ours to read */
	int64_t peer_seen[SHOAL_MAX_FLEET_HOSTS]; /* w.peers[i] last seen */
};

/* ---- requests --------------------------------------------------------- */

/* Mark etcd up or down after a request's @rc (-EIO: nobody answered). */
static void etcd_seen(struct fleet *f, int rc, const char *what,
		      const char *msg)
{
	bool up = rc != -EIO;

	if (rc)
		f->gap = true;
	if (rc && rc != -EIO)
		ctld_log(CTLD_WARN, "fleet: %s: %s", what, msg);
	if (up == f->w.etcd_up)
		return;
	f->w.etcd_up = up;
	f->w.etcd_since = ctld_now_ms();
	if (up)
		ctld_log(CTLD_INFO, "fleet: etcd reachable");
	else
		ctld_log(CTLD_WARN, "fleet: etcd unreachable (%s): %s", what,
			 msg);
}

static int call(struct fleet *f, const char *what, const char *path,
		json_t *req, json_t **reply)
{
	char msg[SH_CFG_STR_LEN + 128] = "";
	int rc = etcd_call(f->etcd, path, req, reply, msg, sizeof(msg));

	f->w.requests = etcd_requests(f->etcd);
	etcd_seen(f, rc, what, msg);
	return rc;
}

/* Our slices are gone from etcd (the lease expired): forget them. */
static void lease_lost(struct fleet *f)
{
	for (uint32_t s = 0; s < f->w.n_slices; s++)
		if (f->w.owner[s] == 0) {
			f->w.owner[s] = FLEET_FREE;
			f->w.free_since[s] = ctld_now_ms();
			f->w.releasing[s] = false;
		}
	f->w.lease = 0;
	f->w.proven_until = 0;
	f->registered = false;
	f->gap = true;
	f->w.seq++;
}

static void prove(struct fleet *f, int64_t sent, int64_t ttl)
{
	int64_t until = sent + ttl * 1000;

	if (until > f->w.proven_until)
		f->w.proven_until = until;
	f->w.renewals++;
}

/* Renew our lease: 0 proven, -ENOENT it is gone, -errno no answer. */
static int renew(struct fleet *f)
{
	int64_t sent = ctld_now_ms(), ttl;
	json_t *r;
	int rc = call(f, "keepalive", "/v3/lease/keepalive",
		      etcd_req_lease(f->w.lease), &r);

	if (rc)
		return rc;
	rc = etcd_parse_keepalive(r, &ttl);
	json_decref(r);
	if (rc)
		return rc;
	if (ttl == 0)
		return -ENOENT;
	prove(f, sent, ttl);
	return 0;
}

static int grant(struct fleet *f)
{
	int64_t sent = ctld_now_ms(), id, ttl;
	json_t *r;
	int rc = call(f, "grant", "/v3/lease/grant",
		      etcd_req_grant(f->cfg.ttl), &r);

	if (rc)
		return rc;
	rc = etcd_parse_grant(r, &id, &ttl);
	json_decref(r);
	if (rc)
		return rc;
	f->w.lease = id;
	f->w.seq++;
	prove(f, sent, ttl);
	ctld_log(CTLD_INFO, "fleet: etcd lease %llx granted (ttl %lld s)",
		 (unsigned long long)id, (long long)ttl);
	return 0;
}

/* 1. The lease: renew (or resume) it, or grant one. */
static void lease_turn(struct fleet *f, int64_t now)
{
	int rc = 0;

	if (now < f->next_renew)
		return;
	if (f->w.lease) {
		rc = renew(f);
		if (rc == -ENOENT) {
			ctld_log(CTLD_WARN, "fleet: etcd lease %llx is gone; "
				 "its slices with it", (unsigned long long)
				 f->w.lease);
			lease_lost(f);
		}
	}
	if (!f->w.lease)
		rc = grant(f);
	f->next_renew = now + (rc ? RETRY_MS : f->ttl_ms / 3);
}

/* ---- the map ---------------------------------------------------------- */

/* Global index of the slice with key suffix "IP/LO", -1 if none. */
static int slice_of(const struct fleet *f, const char *suffix)
{
	char ip[16];
	const char *slash = strchr(suffix, '/');
	uint32_t addr, lo;
	char *end;

	if (!slash || (size_t)(slash - suffix) >= sizeof(ip))
		return -1;
	memcpy(ip, suffix, (size_t)(slash - suffix));
	ip[slash - suffix] = '\0';
	lo = (uint32_t)strtoul(slash + 1, &end, 10);
	if (sh_parse_ipv4(ip, &addr) || *end || end == slash + 1 ||
	    lo < f->cfg.lo || lo > f->cfg.hi ||
	    (lo - f->cfg.lo) % f->cfg.slice_size)
		return -1;
	return fleet_slice_index(&f->cfg, addr, (uint16_t)lo);
}

/* The read's host named @name (not this host's entry 0), added if new
 * (not live until its hosts/ key is seen); -1 when the table is full. */
static int host_index(struct fleet *f, const char *name)
{
	for (unsigned h = 1; h < f->n_hosts; h++)
		if (!strcmp(f->hosts[h].name, name))
			return (int)h;
	if (f->n_hosts == SHOAL_MAX_FLEET_HOSTS + 1 ||
	    strlen(name) >= SH_CFG_NAME_LEN)
		return -1;
	memset(&f->hosts[f->n_hosts], 0, sizeof(f->hosts[0]));
	snprintf(f->hosts[f->n_hosts].name, SH_CFG_NAME_LEN, "%s", name);
	return (int)f->n_hosts++;
}

static uint32_t json_u32(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
}

static uint32_t json_ip(json_t *o, const char *key)
{
	uint32_t a = 0;
	const char *s = json_string_value(json_object_get(o, key));

	return s && !sh_parse_ipv4(s, &a) ? a : 0;
}

static void on_host(struct fleet *f, const struct etcd_kv *kv,
		    const char *name)
{
	json_t *v = json_loads(kv->value, 0, NULL);
	int h;

	if (!strcmp(name, f->cfg.host)) {
		f->host_seen = true;
		f->host_ours = f->w.lease && kv->lease == f->w.lease;
		snprintf(f->host_value, sizeof(f->host_value), "%s",
			 kv->value);
		json_decref(v);
		return;
	}
	h = json_is_object(v) ? host_index(f, name) : -1;
	if (h < 0) {
		f->dropped++;
	} else {
		f->hosts[h].live = true;
		f->hosts[h].address = json_ip(v, "address");
		f->hosts[h].want = json_u32(v, "want");
		f->hosts[h].have = json_u32(v, "have");
		f->hosts[h].listed = json_is_true(json_object_get(v, "list"));
	}
	json_decref(v);
}

static void on_slice(struct fleet *f, const struct etcd_kv *kv,
		     const char *suffix)
{
	int s = slice_of(f, suffix), h = -1;
	json_t *v;
	const char *host;

	if (s >= 0)
		f->created[s] = kv->create_rev;
	if (s >= 0 && f->w.lease && kv->lease == f->w.lease) {
		f->owner[s] = 0;
		return;
	}
	v = json_loads(kv->value, 0, NULL);
	host = json_string_value(json_object_get(v, "host"));
	if (s >= 0 && host)
		h = host_index(f, host);
	if (h > 0) {
		f->owner[s] = (int16_t)h;
		if (!f->hosts[h].live || !f->hosts[h].address)
			f->hosts[h].address = json_ip(v, "address");
	} else {
		f->dropped++;
	}
	json_decref(v);
}

static void on_kv(const struct etcd_kv *kv, void *arg)
{
	struct fleet *f = arg;
	size_t nh = strlen(f->hosts_pfx), ns = strlen(f->slices_pfx);

	if (!strncmp(kv->key, f->hosts_pfx, nh))
		on_host(f, kv, kv->key + nh);
	else if (!strncmp(kv->key, f->slices_pfx, ns))
		on_slice(f, kv, kv->key + ns);
}

/* This host's entry: what it is and holds. */
static void self_entry(struct fleet *f, struct fleet_host *me)
{
	memset(me, 0, sizeof(*me));
	snprintf(me->name, sizeof(me->name), "%s", f->cfg.host);
	me->address = f->cfg.address;
	me->want = f->cfg.slices ? f->cfg.slices : f->cfg.n_want;
	me->listed = !f->cfg.slices;
	me->live = f->registered;
	for (uint32_t s = 0; s < f->w.n_slices; s++)
		me->have += f->w.owner[s] == 0;
}

/* Does the read's owner table differ from the map, in owners or in the
 * addresses of the hosts that own slices? */
static bool map_moved(const struct fleet *f)
{
	for (uint32_t s = 0; s < f->w.n_slices; s++) {
		int a = f->owner[s], b = f->w.owner[s];

		if (a != b)
			return true;
		if (a > 0 && (strcmp(f->hosts[a].name, f->w.hosts[b].name) ||
			      f->hosts[a].address != f->w.hosts[b].address))
			return true;
	}
	return false;
}

/* After a read at @now: the live hosts' addresses join (or refresh in)
 * w.peers, where they stay once their host has left: a host cut off
 * from etcd may still be in the router's route and carry returns here
 * (docs/FLEET.md "Daemon and engine"). When the table is full, the one
 * seen live longest ago makes room. A change moves the snapshot's seq,
 * so the engine learns it. */
static void peers_seen(struct fleet *f, int64_t now)
{
	unsigned i, h, old;

	for (h = 1; h < f->n_hosts; h++) {
		uint32_t a = f->hosts[h].address;

		if (!f->hosts[h].live || !a || a == f->cfg.address)
			continue;
		for (i = 0; i < f->w.n_peers && f->w.peers[i] != a; i++)
			;
		if (i == f->w.n_peers) {
			if (i == SHOAL_MAX_FLEET_HOSTS) {
				for (old = 0, i = 1; i < f->w.n_peers; i++)
					if (f->peer_seen[i] < f->peer_seen[old])
						old = i;
				i = old;
			} else {
				f->w.n_peers++;
			}
			f->w.peers[i] = a;
			f->w.seq++;
		}
		f->peer_seen[i] = now;
	}
}

/*
 * 2. Read PREFIX/ and take it as the map. A slice first seen free (or
 * seen free after a failed request: a deletion may have been missed)
 * gets free_since = the time the reply came, the later of the two, so
 * the hold-down is never short.
 */
static int read_map(struct fleet *f)
{
	char pfx[SH_CFG_STR_LEN + 2];
	json_t *r;
	int64_t now;
	unsigned skipped = 0;
	int rc;

	snprintf(pfx, sizeof(pfx), "%s/", f->cfg.prefix);
	rc = call(f, "read", "/v3/kv/range", etcd_req_prefix(pfx), &r);
	if (rc)
		return rc;
	now = ctld_now_ms();
	for (uint32_t s = 0; s < f->w.n_slices; s++)
		f->owner[s] = FLEET_FREE;
	f->n_hosts = 1;
	f->host_seen = f->host_ours = false;
	f->dropped = 0;
	rc = etcd_parse_range(r, on_kv, f, &skipped);
	json_decref(r);
	if (rc) {
		etcd_seen(f, rc, "read", "not a range reply");
		return rc;
	}
	f->registered = f->host_ours;
	f->w.conflict = f->host_seen && !f->host_ours;
	if (map_moved(f) || f->n_hosts != f->w.n_hosts)
		f->w.seq++;
	for (uint32_t s = 0; s < f->w.n_slices; s++) {
		if (f->owner[s] == FLEET_FREE &&
		    (f->gap || !f->w.read_once ||
		     f->w.owner[s] != FLEET_FREE))
			f->w.free_since[s] = now;
		if (f->owner[s] != 0)
			f->w.releasing[s] = false; /* lost meanwhile */
		f->w.owner[s] = f->owner[s];
		f->w.created[s] = f->created[s];
	}
	memcpy(f->w.hosts + 1, f->hosts + 1,
	       (f->n_hosts - 1) * sizeof(f->hosts[0]));
	f->w.n_hosts = f->n_hosts;
	peers_seen(f, now);
	self_entry(f, &f->w.hosts[0]);
	f->gap = false;
	f->w.read_once = true;
	if (f->dropped + skipped)
		ctld_log(CTLD_WARN, "fleet: %u keys under %s not understood "
			 "(or past %d hosts)", f->dropped + skipped, pfx,
			 SHOAL_MAX_FLEET_HOSTS);
	return 0;
}

/* ---- claims and releases ---------------------------------------------- */

static void slice_key(const struct fleet *f, uint32_t s, char *key,
		      size_t len, uint16_t *lo, uint16_t *hi, uint32_t *ip)
{
	char a[16];

	fleet_slice_range(&f->cfg, s, ip, lo, hi);
	snprintf(key, len, "%s%s/%u", f->slices_pfx, sh_fmt_ipv4(*ip, a),
		 *lo);
}

/* @o (consumed) as compact JSON text to free(), NULL on failure. */
static char *dump(json_t *o)
{
	char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return t;
}

/* A txn of @req: 1 it succeeded, 0 its compare failed, -errno. */
static int txn(struct fleet *f, const char *what, json_t *req)
{
	bool ok = false;
	json_t *r;
	int rc = call(f, what, "/v3/kv/txn", req, &r);

	if (rc)
		return rc;
	rc = etcd_parse_txn(r, &ok);
	json_decref(r);
	if (rc)
		etcd_seen(f, rc, what, "not a txn reply");
	return rc ? rc : ok;
}

static void claim(struct fleet *f, uint32_t s)
{
	char key[sizeof(f->slices_pfx) + 32], a[16], *val;
	uint16_t lo, hi;
	uint32_t ip;
	int rc;

	slice_key(f, s, key, sizeof(key), &lo, &hi, &ip);
	val = dump(json_pack("{ss ss si si}", "host", f->cfg.host,
			     "address", sh_fmt_ipv4(f->cfg.address, a),
			     "lo", lo, "hi", hi));
	rc = val ? txn(f, "claim", etcd_req_create(key, val, f->w.lease)) :
	     -ENOMEM;
	free(val);
	if (rc == 1) {
		f->w.owner[s] = 0;
		f->w.created[s] = INT64_MAX; /* the newest, until read */
		f->w.seq++;
		ctld_log(CTLD_INFO, "fleet: claimed %s %u-%u (slice %u)",
			 sh_fmt_ipv4(ip, a), lo, hi, s);
	}
}

/* Delete slice @s's key once the loop has fenced it. */
static int release(struct fleet *f, uint32_t s)
{
	char key[sizeof(f->slices_pfx) + 32], a[16];
	uint16_t lo, hi;
	uint32_t ip;
	int rc;

	slice_key(f, s, key, sizeof(key), &lo, &hi, &ip);
	rc = txn(f, "release", etcd_req_delete_if_lease(key, f->w.lease));
	if (rc < 0)
		return rc;
	f->w.owner[s] = FLEET_FREE;
	f->w.free_since[s] = ctld_now_ms();
	f->w.releasing[s] = false;
	f->w.seq++;
	ctld_log(CTLD_INFO, "fleet: gave back %s %u-%u (slice %u)",
		 sh_fmt_ipv4(ip, a), lo, hi, s);
	return 0;
}

/* 3. hosts/NAME: created bound to our lease, its value kept current. */
static void register_host(struct fleet *f)
{
	char a[16], *val;
	int rc;

	if (f->w.conflict) {
		if (!f->conflict_logged)
			ctld_log(CTLD_ERR, "fleet: %s is bound to another "
				 "etcd lease: another live process calls "
				 "itself host '%s'; claiming nothing until it "
				 "is gone", f->host_key, f->cfg.host);
		f->conflict_logged = true;
		return;
	}
	f->conflict_logged = false;
	self_entry(f, &f->w.hosts[0]);
	val = dump(json_pack("{ss si si sb}", "address",
			     sh_fmt_ipv4(f->cfg.address, a), "want",
			     f->w.hosts[0].want, "have", f->w.hosts[0].have,
			     "list", f->w.hosts[0].listed));
	if (!val || (f->registered && !strcmp(val, f->host_value))) {
		free(val);
		return;
	}
	rc = txn(f, "register", f->registered ?
		 etcd_req_put_if_lease(f->host_key, val, f->w.lease) :
		 etcd_req_create(f->host_key, val, f->w.lease));
	if (rc == 1) {
		if (!f->registered)
			ctld_log(CTLD_INFO, "fleet: joined as host '%s'",
				 f->cfg.host);
		f->registered = true;
		snprintf(f->host_value, sizeof(f->host_value), "%s", val);
	}
	free(val);
}

/* 4. */
static void act(struct fleet *f, int64_t now)
{
	static uint32_t todo[SHOAL_MAX_POOL_SLICES];
	struct fleet_view v = {
		.n_slices = f->w.n_slices, .owner = f->w.owner,
		.hosts = f->w.hosts, .n_hosts = f->w.n_hosts,
		.free_since = f->w.free_since, .created = f->w.created,
		.now_ms = now,
		.hold_ms = (int64_t)f->cfg.hold_down * 1000,
		.want = f->cfg.slices,
		.listed = f->cfg.slices ? NULL : f->listed,
		.busy = f->w.releasing,
	};
	unsigned n;
	int32_t give;

	if (!f->registered || f->w.conflict || now >= f->w.proven_until ||
	    fleet_decide(&v, todo, SHOAL_MAX_POOL_SLICES, &n, &give))
		return;
	for (unsigned i = 0; i < n && f->w.etcd_up; i++) {
		claim(f, todo[i]);
	}
	if (give >= 0) {
		f->w.releasing[give] = true;
		f->w.seq++;
	}
}

/* ---- the thread ------------------------------------------------------- */

static void publish(struct fleet *f)
{
	uint64_t one = 1;

	self_entry(f, &f->w.hosts[0]);
	pthread_mutex_lock(&f->mu);
	memcpy(&f->pub, &f->w, sizeof(f->pub));
	pthread_mutex_unlock(&f->mu);
	if (write(f->efd, &one, sizeof(one)) < 0) {
		/* the counter is already non-zero: the loop will read */
	}
}

/* The releases the loop has fenced (taken under the mutex), and at
 * @now >= next_read those etcd did not answer before: retried at the
 * pace of the reads, never in a loop of their own. */
static void releases(struct fleet *f, int64_t now)
{
	static bool todo[SHOAL_MAX_POOL_SLICES];

	pthread_mutex_lock(&f->mu);
	memcpy(todo, f->done, sizeof(todo));
	memset(f->done, 0, sizeof(f->done));
	pthread_mutex_unlock(&f->mu);
	for (uint32_t s = 0; s < f->w.n_slices; s++) {
		if (now >= f->next_read && f->retry[s]) {
			todo[s] = true;
			f->retry[s] = false;
		}
		if (!todo[s] || !f->w.releasing[s] || f->w.owner[s] != 0)
			continue;
		f->retry[s] = release(f, s) != 0;
	}
}

static void *worker(void *arg)
{
	struct fleet *f = arg;
	struct timespec ts;
	bool stop = false;

	while (!stop) {
		int64_t now = ctld_now_ms(), wake;

		lease_turn(f, now);
		releases(f, now);
		now = ctld_now_ms();
		if (now >= f->next_read) {
			if (!read_map(f) && f->w.lease) {
				register_host(f);
				act(f, ctld_now_ms());
			}
			f->next_read = now + READ_MS;
		}
		publish(f);
		pthread_mutex_lock(&f->mu);
		if (!f->first_done) {
			f->first_done = true;
			pthread_cond_broadcast(&f->cv);
		}
		wake = f->next_read < f->next_renew ? f->next_read :
		       f->next_renew;
		ts.tv_sec = wake / 1000;
		ts.tv_nsec = wake % 1000 * 1000000;
		while (!f->stop && ctld_now_ms() < wake &&
		       !memchr(f->done, true, sizeof(f->done)))
			if (pthread_cond_timedwait(&f->cv, &f->mu, &ts))
				break;
		stop = f->stop;
		pthread_mutex_unlock(&f->mu);
	}
	return NULL;
}

int fleet_start(struct fleet **out, const struct sh_fleet_cfg *cfg,
		int64_t lease, char *err, size_t len)
{
	struct fleet *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;
	sigset_t all, old;
	long timeout;
	int rc;

	if (!f)
		return -ENOMEM;
	f->cfg = *cfg;
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f->ttl_ms = (int64_t)cfg->ttl * 1000;
	timeout = f->ttl_ms / 4 < TIMEOUT_MAX_MS ? (long)f->ttl_ms / 4 :
		  TIMEOUT_MAX_MS;
	f->w.n_slices = cfg->n_slices_total;
	f->w.lease = lease;
	f->gap = true;
	for (uint32_t s = 0; s < f->w.n_slices; s++)
		f->w.owner[s] = FLEET_FREE;
	f->w.n_hosts = 1;
	snprintf(f->hosts_pfx, sizeof(f->hosts_pfx), "%s/hosts/", cfg->prefix);
	snprintf(f->slices_pfx, sizeof(f->slices_pfx), "%s/slices/",
		 cfg->prefix);
	snprintf(f->host_key, sizeof(f->host_key), "%s%s", f->hosts_pfx,
		 cfg->host);
	for (unsigned i = 0; i < cfg->n_want; i++) {
		int s = fleet_slice_index(cfg, cfg->want[i].ip, cfg->want[i].lo);

		if (s >= 0)
			f->listed[s] = true;
	}
	self_entry(f, &f->w.hosts[0]);
	rc = f->efd < 0 ? -errno : etcd_open(&f->etcd, cfg->etcd, timeout);
	if (rc) {
		snprintf(err, len, "[fleet] etcd %s: %s", cfg->etcd,
			 strerror(-rc));
		goto fail;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&f->mu, NULL);
	/* The thread starts with every signal blocked: SIGTERM and SIGHUP
	 * are the loop's (a signalfd), and one delivered here would take
	 * its default action, ending the process. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&f->thread, NULL, worker, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, len, "fleet thread: %s", strerror(-rc));
		pthread_cond_destroy(&f->cv);
		pthread_mutex_destroy(&f->mu);
		goto fail;
	}
	*out = f;
	return 0;
fail:
	etcd_close(f->etcd);
	if (f->efd >= 0)
		close(f->efd);
	free(f);
	return rc;
}

void fleet_wait_first(struct fleet *f, int ms)
{
	int64_t end = ctld_now_ms() + ms;
	struct timespec ts = { .tv_sec = end / 1000,
			       .tv_nsec = end % 1000 * 1000000 };

	pthread_mutex_lock(&f->mu);
	while (!f->first_done)
		if (pthread_cond_timedwait(&f->cv, &f->mu, &ts))
			break;
	pthread_mutex_unlock(&f->mu);
}

int fleet_fd(const struct fleet *f)
{
	return f->efd;
}

void fleet_read(struct fleet *f, struct fleet_snap *out)
{
	uint64_t n;

	if (read(f->efd, &n, sizeof(n)) < 0) {
		/* nothing new: the copy below is still the latest */
	}
	pthread_mutex_lock(&f->mu);
	memcpy(out, &f->pub, sizeof(*out));
	pthread_mutex_unlock(&f->mu);
}

void fleet_release_done(struct fleet *f, uint32_t s)
{
	pthread_mutex_lock(&f->mu);
	f->done[s] = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

void fleet_stop(struct fleet *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	etcd_close(f->etcd);
	close(f->efd);
	free(f);
}
