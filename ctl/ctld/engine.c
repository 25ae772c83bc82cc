/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's side of the socket. One engine at a time: the latest
 * engine.subscribe wins. An earlier subscriber (a stale engine process, a
 * restart racing its predecessor, or the old engine of an upgrade, whose
 * successor subscribes before it has answered engine.upgrade) is
 * disconnected once it owes no answer: every request we send an engine
 * remembers the session it went on, an earlier session's answers to them
 * are still taken, and its reports are ignored.
 *   - subscribe: reply with the generation and the whole lease set, then
 *     leases.update after every committed change (core.c asks
 *     engine_wants_push() after each request and tick, and hands
 *     engine_push() the set; changes made while the engine has not read
 *     the last update yet are sent as one update of the latest set);
 *   - engine.report: remembered as "the last report" (stats, status,
 *     LEASE.flows, and lease_tick's "0 flows" test), each key checked on
 *     its own; per_worker and clients entries one by one (proto.h WORKER,
 *     CLIENT);
 *   - flows from a CLI: forwarded as engine.flows with our own id; the
 *     answer is relayed back under the CLI's id; no answer within
 *     CTLD_RELAY_TIMEOUT_MS, or the engine gone, -> "no_engine";
 *   - reload (reload.c): one engine.reload at a time, its answer kept
 *     for reload_settle(); no answer within CTLD_RELOAD_TIMEOUT_MS, or
 *     the engine gone, is a refusal;
 *   - upgrade (upgrade.c): one engine.upgrade at a time, the same way,
 *     within CTLD_UPGRADE_TIMEOUT_MS; its answer is read even when the
 *     old engine closes its session right after it (server.c reads
 *     what a closed peer left before dropping it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctld.h"

bool engine_is(const struct ctld *d, const struct conn *c)
{
	return d->eng.conn_serial && d->eng.conn_serial == conn_serial(c);
}

static struct conn *engine_conn(struct ctld *d)
{
	return conn_find(d, d->eng.conn_serial);
}

/* Does the engine session @serial owe an answer to a request of ours? */
static bool pending_on(const struct engine_state *e, uint64_t serial)
{
	if (!serial)
		return false;
	if ((e->reload_eid && e->reload_serial == serial) ||
	    (e->upgrade_eid && e->upgrade_serial == serial))
		return true;
	for (int i = 0; i < CTLD_RELAYS_MAX; i++)
		if (e->relays[i].eid && e->relays[i].eng_serial == serial)
			return true;
	return false;
}

bool engine_owes(const struct ctld *d, const struct conn *c)
{
	return engine_is(d, c) || pending_on(&d->eng, conn_serial(c));
}

static int peer_pid(const struct conn *c)
{
	return c ? (int)conn_peer(c)->pid : 0;
}

int engine_subscribe(struct ctld *d, struct conn *c, json_t *set,
		     json_t *fleet, json_t **result)
{
	struct engine_state *e = &d->eng;
	struct conn *old = engine_conn(d);

	if (!set || (d->fleet && !fleet)) {
		json_decref(set);
		json_decref(fleet);
		return -EIO;
	}
	if (old && old != c && pending_on(e, e->conn_serial)) {
		ctld_log(CTLD_INFO, "a new engine (pid %d) subscribed; the "
			 "previous one (pid %d) stays until it has answered "
			 "what it was asked", peer_pid(c), peer_pid(old));
	} else if (old && old != c) {
		ctld_log(CTLD_WARN, "a new engine (pid %d) subscribed; "
			 "dropping the previous one (pid %d)", peer_pid(c),
			 peer_pid(old));
		conn_close(old);
	}
	e->conn_serial = conn_serial(c);
	e->pushed_gen = d->generation;
	conn_set_engine(c);
	*result = json_pack("{sI so so*}", "generation",
			    (json_int_t)d->generation, "leases", set, "fleet",
			    fleet);
	ctld_log(CTLD_INFO, "engine (pid %d) subscribed at generation %llu",
		 peer_pid(c), (unsigned long long)d->generation);
	return *result ? 0 : -ENOMEM;
}

/* A configuration allowing more workers than a report may describe would
 * see its per_worker cut short; worker_seen is one bit per worker index. */
_Static_assert(SHOAL_MAX_WORKERS <= 64, "worker_seen is a 64-bit mask");

static bool int_in(json_t *v, json_int_t min, json_int_t max)
{
	return json_is_integer(v) && json_integer_value(v) >= min &&
	       json_integer_value(v) <= max;
}

/* The non-negative integer members of counters object @v, as a new
 * object; NULL when @v is not an object. */
static json_t *counters_copy(json_t *v)
{
	const char *name;
	json_t *n, *out;

	if (!json_is_object(v) || !(out = json_object()))
		return NULL;
	json_object_foreach(v, name, n)
		if (int_in(n, 0, INT64_MAX))
			json_object_set(out, name, n);
	return out;
}

/* Entry @w of a report's per_worker as the daemon keeps it (proto.h
 * WORKER, unknown keys dropped), or NULL if it is not one or its worker
 * index is already in *@seen. flows is bounded at 2^32 (max_flows is far
 * below) so that summing SHOAL_MAX_WORKERS of them cannot overflow. */
static json_t *worker_copy(json_t *w, uint64_t *seen)
{
	json_t *idx = json_object_get(w, "worker");
	json_t *lcore = json_object_get(w, "lcore");
	json_t *flows = json_object_get(w, "flows");
	json_t *counters, *keep;
	uint64_t bit;

	if (!int_in(idx, 0, SHOAL_MAX_WORKERS - 1) ||
	    !int_in(lcore, 0, INT32_MAX) || !int_in(flows, 0, UINT32_MAX))
		return NULL;
	bit = UINT64_C(1) << json_integer_value(idx);
	if (*seen & bit)
		return NULL;
	counters = counters_copy(json_object_get(w, "counters"));
	if (!counters)
		return NULL;
	*seen |= bit;
	keep = json_pack("{sO sO sO so}", "worker", idx, "lcore", lcore,
			 "flows", flows, "counters", counters);
	if (keep && json_is_true(json_object_get(w, "partial")))
		json_object_set_new(keep, "partial", json_true());
	return keep;
}

/* Every report replaces per_worker: a stale one from an earlier engine
 * must not outlive an engine that sends none. Bounded by
 * SHOAL_MAX_WORKERS because worker indexes are unique and below it. */
static void per_worker_set(struct engine_state *e, json_t *v)
{
	uint64_t seen = 0;
	json_t *w, *keep;
	size_t i;

	json_decref(e->per_worker);
	e->per_worker = json_array();
	if (!e->per_worker || !json_is_array(v))
		return;
	json_array_foreach(v, i, w) {
		if (json_array_size(e->per_worker) == SHOAL_MAX_WORKERS)
			break;
		keep = worker_copy(w, &seen);
		if (keep)
			json_array_append_new(e->per_worker, keep);
	}
}

/* Replaced by every report: an engine that applied its last set sends
 * neither key. A reason longer than SHOAL_REASON_MAX is not kept. */
static void refused_set(struct engine_state *e, json_t *params)
{
	json_t *g = json_object_get(params, "refused_generation");
	json_t *r = json_object_get(params, "refused_reason");

	e->refused_gen = json_is_integer(g) && json_integer_value(g) >= 0 ?
			 json_integer_value(g) : -1;
	e->refused_reason[0] = '\0';
	if (e->refused_gen >= 0 && json_is_string(r) &&
	    json_string_length(r) <= SHOAL_REASON_MAX &&
	    !memchr(json_string_value(r), '\0', json_string_length(r)))
		memcpy(e->refused_reason, json_string_value(r),
		       json_string_length(r) + 1);
}

/* A string member of at most @max bytes without NUL into @out. */
static bool str_in(json_t *v, size_t max, char *out)
{
	if (!json_is_string(v) || json_string_length(v) > max ||
	    memchr(json_string_value(v), '\0', json_string_length(v)))
		return false;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return true;
}

/* Every report replaces the busiest clients (absent: none): entries that
 * are not a proto.h CLIENT are skipped, at most SHOAL_TOP_CLIENTS kept. */
static void top_set(struct engine_state *e, json_t *v)
{
	struct engine_client *t;
	json_t *c;
	size_t i;

	e->n_top = 0;
	json_array_foreach(v, i, c) {
		if (e->n_top == SHOAL_TOP_CLIENTS)
			break;
		t = &e->top[e->n_top];
		if (str_in(json_object_get(c, "client"), 15, t->client) &&
		    str_in(json_object_get(c, "outside"), 15, t->outside) &&
		    int_in(json_object_get(c, "flows"), 0, UINT32_MAX)) {
			t->flows = json_integer_value(json_object_get(c,
								      "flows"));
			e->n_top++;
		}
	}
}

/* A lease entry's optional ports count: absent is 0. */
static int64_t ports_of(json_t *l, const char *key)
{
	json_t *v = json_object_get(l, key);

	return int_in(v, 0, UINT32_MAX) ? json_integer_value(v) : 0;
}

/* A non-negative integer member of @o, 0 when absent or not one. */
static int64_t count_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return int_in(v, 0, INT64_MAX) ? json_integer_value(v) : 0;
}

/* The engine's netlink counters; kept from the last report that had
 * them (an engine without them leaves have_netlink unset). */
static void netlink_set(struct engine_state *e, json_t *v)
{
	if (!json_is_object(v))
		return;
	e->have_netlink = true;
	e->nl_overruns = count_of(v, "overruns");
	e->nl_resyncs = count_of(v, "resyncs");
}

static int lf_cmp(const void *a, const void *b)
{
	const struct engine_lease_flows *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Keys of the wrong type are ignored one by one, not the whole report. */
void engine_report(struct ctld *d, struct conn *c, json_t *params)
{
	struct engine_state *e = &d->eng;
	json_t *v, *l;
	size_t i;

	(void)c;
	e->have_report = true;
	e->report_ms = ctld_now_ms();
	v = json_object_get(params, "generation");
	if (json_is_integer(v))
		e->report_gen = (uint64_t)json_integer_value(v);
	v = json_object_get(params, "workers");
	if (json_is_integer(v))
		e->workers = json_integer_value(v);
	v = counters_copy(json_object_get(params, "counters"));
	if (v) {
		json_decref(e->counters);
		e->counters = v;
	}
	per_worker_set(e, json_object_get(params, "per_worker"));
	top_set(e, json_object_get(params, "clients"));
	netlink_set(e, json_object_get(params, "netlink"));
	refused_set(e, params);
	v = json_object_get(params, "leases");
	if (!json_is_array(v))
		return;
	e->n_lf = 0;
	e->lf_partial = json_is_true(json_object_get(params, "leases_partial"));
	json_array_foreach(v, i, l) {
		json_t *id = json_object_get(l, "id");
		json_t *flows = json_object_get(l, "flows");

		if (e->n_lf == SHOAL_MAX_LEASES) {
			e->lf_partial = true;
			break;
		}
		if (int_in(id, 1, UINT16_MAX) && int_in(flows, 0, INT64_MAX))
			e->lf[e->n_lf++] = (struct engine_lease_flows){
				(uint32_t)json_integer_value(id),
				json_integer_value(flows),
				ports_of(l, "tcp_ports"),
				ports_of(l, "udp_ports"),
				count_of(l, "exhausted") };
	}
	qsort(e->lf, e->n_lf, sizeof(e->lf[0]), lf_cmp);
}

/*
 * Flows of lease @l in the last report while an engine is connected. The
 * engine lists the leases that have flows: one that a complete report of
 * a generation holding @l leaves out has none. -1 when unknown (no
 * report, a report of a set without @l, or a partial list).
 */
int64_t engine_lease_flows(const struct ctld *d, const struct ctl_lease *l)
{
	struct engine_lease_flows u;

	return engine_lease_usage(d, l, &u) ? u.flows : -1;
}

/* The same rules for the whole entry: a lease the report leaves out has
 * all zeros. */
bool engine_lease_usage(const struct ctld *d, const struct ctl_lease *l,
			struct engine_lease_flows *out)
{
	const struct engine_state *e = &d->eng;
	struct engine_lease_flows key = { .id = l->id };
	const struct engine_lease_flows *f;

	if (!e->conn_serial || !e->have_report)
		return false;
	f = bsearch(&key, e->lf, e->n_lf, sizeof(e->lf[0]), lf_cmp);
	if (f) {
		*out = *f;
		return true;
	}
	if (e->lf_partial || e->report_gen < l->add_gen)
		return false;
	*out = (struct engine_lease_flows){ .id = l->id };
	return true;
}

/* A connected engine reported within CTLD_REPORT_FRESH_MS, having applied
 * generation @min_gen or later: its flow counts mean something. */
bool engine_fresh(const struct ctld *d, uint64_t min_gen)
{
	const struct engine_state *e = &d->eng;

	return e->conn_serial && e->have_report &&
	       ctld_now_ms() - e->report_ms <= CTLD_REPORT_FRESH_MS &&
	       e->report_gen >= min_gen;
}

/*
 * Each update carries the whole set (up to ~2 MB with SHOAL_MAX_LEASES
 * leases), so while the engine has not read what was queued before, the
 * next update waits: a burst of changes costs one update of the latest
 * set, not OUT_MAX worth of stale ones and the engine's connection.
 */
bool engine_wants_push(struct ctld *d)
{
	struct conn *c = engine_conn(d);

	return c && d->eng.pushed_gen != d->generation && !conn_unsent(c);
}

/* Send leases.update with @set and @fleet (consumed), the set of
 * d->generation. */
void engine_push(struct ctld *d, json_t *set, json_t *fleet)
{
	struct conn *c = engine_conn(d);

	if (!c) {
		json_decref(set);
		json_decref(fleet);
		return;
	}
	if (!set || (d->fleet && !fleet)) {
		json_decref(set);
		json_decref(fleet);
		ctld_log(CTLD_ERR, "cannot build the lease set for the engine");
		conn_close(c);
		return;
	}
	d->eng.pushed_gen = d->generation;
	if (conn_send(c, json_pack("{ss ss s{sI so so*}}", "jsonrpc", "2.0",
				   "method", "leases.update", "params",
				   "generation", (json_int_t)d->generation,
				   "leases", set, "fleet", fleet)))
		ctld_log(CTLD_ERR, "engine not reading its socket; dropped");
}

int engine_fleet_valid(struct ctld *d, int64_t valid_ms)
{
	struct conn *c = engine_conn(d);

	if (!c)
		return 0;
	if (d->eng.pushed_gen != d->generation || conn_unsent(c))
		return -EAGAIN;
	if (conn_send(c, json_pack("{ss ss s{sI sI}}", "jsonrpc", "2.0",
				   "method", "fleet.valid", "params",
				   "generation", (json_int_t)d->generation,
				   "valid_ms", (json_int_t)valid_ms)))
		ctld_log(CTLD_ERR, "engine not reading its socket; dropped");
	return 0;
}

static void relay_done(struct ctld *d, struct relay *r, json_t *reply)
{
	struct conn *cli = conn_find(d, r->cli_serial);

	if (cli && reply)
		conn_send(cli, reply);
	else
		json_decref(reply);
	json_decref(r->cli_id);
	memset(r, 0, sizeof(*r));
}

static void relay_fail(struct ctld *d, struct relay *r, const char *why)
{
	relay_done(d, r, json_error(r->cli_id, SHOAL_ERR_REFUSED,
				    SHOAL_R_NO_ENGINE, why));
}

/* 1 (reply later), -ENOTCONN without an engine, -EAGAIN when every relay
 * slot is taken. */
int engine_flows(struct ctld *d, struct conn *c, json_t *id, json_t *params)
{
	struct engine_state *e = &d->eng;
	struct conn *ec = engine_conn(d);
	struct relay *r = NULL;

	if (!ec)
		return -ENOTCONN;
	for (int i = 0; i < CTLD_RELAYS_MAX && !r; i++)
		if (!e->relays[i].eid)
			r = &e->relays[i];
	if (!r)
		return -EAGAIN;
	r->eid = ++e->next_eid;
	r->eng_serial = e->conn_serial;
	r->cli_serial = conn_serial(c);
	r->cli_id = json_incref(id);
	r->deadline_ms = ctld_now_ms() + CTLD_RELAY_TIMEOUT_MS;
	conn_send(ec, json_pack("{ss sI ss sO}", "jsonrpc", "2.0",
				"id", (json_int_t)r->eid,
				"method", "engine.flows", "params", params));
	return 1;
}

/* Settle our engine.reload: @rc 0 or -errno, @why for an error, said to
 * be the engine's own words when @quoted. */
static void reload_end(struct engine_state *e, int rc, const char *why,
		       bool quoted)
{
	e->reload_eid = 0;
	e->reload_rc = rc;
	snprintf(e->reload_msg, sizeof(e->reload_msg), "%s%s",
		 quoted ? "shoal-engine: " : "", why);
}

/* -ENOTCONN without an engine, else 0: the answer comes through
 * engine_reload_result(). */
int engine_reload_ask(struct ctld *d)
{
	struct engine_state *e = &d->eng;
	struct conn *ec = engine_conn(d);

	if (!ec)
		return -ENOTCONN;
	e->reload_eid = ++e->next_eid;
	e->reload_serial = e->conn_serial;
	e->reload_rc = 1;
	e->reload_deadline_ms = ctld_now_ms() + CTLD_RELOAD_TIMEOUT_MS;
	conn_send(ec, json_pack("{ss sI ss s{}}", "jsonrpc", "2.0",
				"id", (json_int_t)e->reload_eid,
				"method", "engine.reload", "params"));
	return 0;
}

int engine_reload_result(struct ctld *d, char *msg, size_t len)
{
	snprintf(msg, len, "%s", d->eng.reload_msg);
	return d->eng.reload_rc;
}

/* Settle our engine.upgrade: @rc 0 with @res (consumed), or -errno with
 * @why. */
static void upgrade_end(struct engine_state *e, int rc, json_t *res,
			const char *why)
{
	e->upgrade_eid = 0;
	e->upgrade_rc = rc;
	json_decref(e->upgrade_res);
	e->upgrade_res = res;
	snprintf(e->upgrade_msg, sizeof(e->upgrade_msg), "%s", why);
}

int engine_upgrade_ask(struct ctld *d, json_t *params)
{
	struct engine_state *e = &d->eng;
	struct conn *ec = engine_conn(d);

	if (!ec)
		return -ENOTCONN;
	upgrade_end(e, 1, NULL, "");
	e->upgrade_eid = ++e->next_eid;
	e->upgrade_serial = e->conn_serial;
	e->upgrade_deadline_ms = ctld_now_ms() + CTLD_UPGRADE_TIMEOUT_MS;
	conn_send(ec, json_pack("{ss sI ss sO}", "jsonrpc", "2.0",
				"id", (json_int_t)e->upgrade_eid,
				"method", "engine.upgrade", "params", params));
	return 0;
}

int engine_upgrade_result(struct ctld *d, json_t **res, char *msg,
			  size_t len)
{
	struct engine_state *e = &d->eng;

	snprintf(msg, len, "%s", e->upgrade_msg);
	*res = e->upgrade_rc == 0 ? e->upgrade_res : NULL;
	if (e->upgrade_rc == 0)
		e->upgrade_res = NULL;
	return e->upgrade_rc;
}

/* The answer to our engine.upgrade: the engine's result object, or its
 * error's message as the reason. */
static void upgrade_answer(struct engine_state *e, json_t *res, json_t *err)
{
	const char *m = json_string_value(json_object_get(err, "message"));

	if (json_is_object(res))
		upgrade_end(e, 0, json_incref(res), "");
	else
		upgrade_end(e, -ENOEXEC, NULL, m && *m ? m :
			    "the engine refused, no reason given");
}

static void engine_answer(struct ctld *d, uint64_t serial, json_t *msg)
{
	struct engine_state *e = &d->eng;
	json_t *id = json_object_get(msg, "id");
	json_t *res = json_object_get(msg, "result");
	json_t *err = json_object_get(msg, "error");

	if (!json_is_integer(id))
		return;
	if (e->upgrade_eid && e->upgrade_serial == serial &&
	    e->upgrade_eid == (uint64_t)json_integer_value(id)) {
		upgrade_answer(e, res, err);
		return;
	}
	if (e->reload_eid && e->reload_serial == serial &&
	    e->reload_eid == (uint64_t)json_integer_value(id)) {
		const char *m = json_string_value(json_object_get(err,
								  "message"));

		if (json_is_object(res))
			reload_end(e, 0, "", false);
		else
			reload_end(e, -ENOEXEC, m ? m : "refused, no reason "
				   "given", true);
		return;
	}
	for (int i = 0; i < CTLD_RELAYS_MAX; i++) {
		struct relay *r = &e->relays[i];

		if (!r->eid || r->eng_serial != serial ||
		    r->eid != (uint64_t)json_integer_value(id))
			continue;
		if (json_is_object(res))
			relay_done(d, r, json_result(r->cli_id,
						     json_incref(res)));
		else if (json_is_object(err))
			relay_done(d, r, json_pack("{ss sO sO}", "jsonrpc",
						   "2.0", "id", r->cli_id,
						   "error", err));
		else
			relay_fail(d, r, "malformed answer from the engine");
		return;
	}
}

/* Close session @serial if it is an earlier engine's that owes nothing
 * more (answered, or given up on). */
static void retire(struct ctld *d, uint64_t serial)
{
	struct conn *c = conn_find(d, serial);

	if (!c || serial == d->eng.conn_serial || pending_on(&d->eng, serial))
		return;
	ctld_log(CTLD_INFO, "the previous engine (pid %d) owes no more "
		 "answers; its session is closed", peer_pid(c));
	conn_close(c);
}

/* The engine session @c answered one of our engine.flows,
 * engine.reload or engine.upgrade requests: an answer counts only from
 * the session the request went to. An earlier engine's session that owes
 * nothing more is closed. */
void engine_response(struct ctld *d, struct conn *c, json_t *msg)
{
	engine_answer(d, conn_serial(c), msg);
	retire(d, conn_serial(c));
}

/* Connection @serial is gone: if it was the engine, there is none now;
 * whatever was asked of it (the engine, or an earlier one still owing
 * answers) fails. */
void engine_detach(struct ctld *d, uint64_t serial)
{
	struct engine_state *e = &d->eng;

	if (!serial)
		return;
	if (e->conn_serial == serial) {
		e->conn_serial = 0;
		ctld_log(CTLD_INFO, "engine disconnected");
	}
	if (e->reload_eid && e->reload_serial == serial)
		reload_end(e, -ENOTCONN, "the engine went away before it "
			   "answered the reload", false);
	if (e->upgrade_eid && e->upgrade_serial == serial)
		upgrade_end(e, -ENOTCONN, NULL, "the engine went away before "
			    "it answered the upgrade");
	for (int i = 0; i < CTLD_RELAYS_MAX; i++)
		if (e->relays[i].eid && e->relays[i].eng_serial == serial)
			relay_fail(d, &e->relays[i], "the engine went away");
}

/* Requests unanswered past their deadline fail; an earlier engine's
 * session that owed only those is closed. */
void engine_tick(struct ctld *d)
{
	struct engine_state *e = &d->eng;
	int64_t now = ctld_now_ms();
	uint64_t serial;

	if (e->reload_eid && now >= e->reload_deadline_ms) {
		serial = e->reload_serial;
		reload_end(e, -ENOTCONN, "the engine did not answer "
			   "the reload in time", false);
		retire(d, serial);
	}
	if (e->upgrade_eid && now >= e->upgrade_deadline_ms) {
		serial = e->upgrade_serial;
		upgrade_end(e, -ETIMEDOUT, NULL, "the engine did not answer "
			    "the upgrade in time");
		retire(d, serial);
	}
	for (int i = 0; i < CTLD_RELAYS_MAX; i++) {
		struct relay *r = &e->relays[i];

		if (r->eid && now >= r->deadline_ms) {
			serial = r->eng_serial;
			relay_fail(d, r, "the engine did not answer in time");
			retire(d, serial);
		}
	}
}

static json_t *report_age(const struct engine_state *e)
{
	if (!e->have_report)
		return json_null();
	return json_integer((ctld_now_ms() - e->report_ms) / 1000);
}

/* Sum of the kept per_worker flows; null when there is no entry. */
static json_t *flows_total(const struct engine_state *e)
{
	json_int_t sum = 0;
	json_t *w;
	size_t i;

	if (!json_array_size(e->per_worker))
		return json_null();
	json_array_foreach(e->per_worker, i, w)
		sum += json_integer_value(json_object_get(w, "flows"));
	return json_integer(sum);
}

/* The last report's lease list as proto.h USAGE objects, by id. */
static json_t *lease_usage(const struct engine_state *e)
{
	json_t *arr = json_array();
	unsigned i;

	for (i = 0; arr && i < e->n_lf; i++)
		json_array_append_new(arr, json_pack("{sI sI sI sI sI}",
			"id", (json_int_t)e->lf[i].id,
			"flows", (json_int_t)e->lf[i].flows,
			"tcp_ports", (json_int_t)e->lf[i].tcp_ports,
			"udp_ports", (json_int_t)e->lf[i].udp_ports,
			"exhausted", (json_int_t)e->lf[i].exhausted));
	return arr;
}

static json_t *top_clients(const struct engine_state *e)
{
	json_t *arr = json_array();
	unsigned i;

	for (i = 0; arr && i < e->n_top; i++)
		json_array_append_new(arr, json_pack("{ss sI ss}",
			"client", e->top[i].client,
			"flows", (json_int_t)e->top[i].flows,
			"outside", e->top[i].outside));
	return arr;
}

static json_t *netlink_json(const struct engine_state *e)
{
	if (!e->have_netlink)
		return json_null();
	return json_pack("{sI sI}", "overruns", (json_int_t)e->nl_overruns,
			 "resyncs", (json_int_t)e->nl_resyncs);
}

/* The last report, or NULL if there never was one. */
json_t *engine_stats(struct ctld *d)
{
	struct engine_state *e = &d->eng;

	if (!e->have_report)
		return NULL;
	return json_pack("{so sI so sI so so so sb so so}", "counters",
			 e->counters ? json_incref(e->counters) : json_object(),
			 "workers", e->workers,
			 "report_age", report_age(e),
			 "report_mono_ms", (json_int_t)e->report_ms,
			 "flows", flows_total(e),
			 "per_worker", e->per_worker ?
			 json_incref(e->per_worker) : json_array(),
			 "lease_usage", lease_usage(e),
			 "lease_usage_partial", e->lf_partial,
			 "top_clients", top_clients(e),
			 "netlink", netlink_json(e));
}

json_t *engine_status(struct ctld *d)
{
	struct engine_state *e = &d->eng;
	struct conn *ec = engine_conn(d);
	bool refused = e->have_report && e->refused_gen >= 0;

	return json_pack("{sb so so so so so}", "connected", ec != NULL,
			 "pid", ec ? json_integer(peer_pid(ec)) : json_null(),
			 "generation", e->have_report ?
			 json_integer((json_int_t)e->report_gen) : json_null(),
			 "report_age", report_age(e),
			 "refused_generation", refused ?
			 json_integer(e->refused_gen) : json_null(),
			 "refused_reason", refused && e->refused_reason[0] ?
			 json_string(e->refused_reason) : json_null());
}
