/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's side of the socket. One engine at a time: the latest
 * engine.subscribe wins and an earlier subscriber is disconnected (it is
 * a stale engine process, or a restart racing its predecessor).
 *   - subscribe: reply with the generation and the whole lease set, then
 *     leases.update after every committed change (engine_push);
 *   - engine.report: remembered as "the last report" (stats, status,
 *     LEASE.flows, and lease_tick's "0 flows" test);
 *   - flows from a CLI: forwarded as engine.flows with our own id; the
 *     answer is relayed back under the CLI's id; no answer within
 *     CTLD_RELAY_TIMEOUT_MS, or the engine gone, -> "no_engine".
 */
#include <errno.h>
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

int engine_subscribe(struct ctld *d, struct conn *c, json_t **result)
{
	struct engine_state *e = &d->eng;
	struct conn *old = engine_conn(d);
	json_t *set;

	if (old && old != c) {
		ctld_log(CTLD_WARN, "a new engine subscribed; dropping the "
			 "previous one");
		conn_close(old);
		engine_detach(d, e->conn_serial);
	}
	set = json_lease_set(d);
	if (!set)
		return -EIO;
	e->conn_serial = conn_serial(c);
	conn_set_engine(c);
	*result = json_pack("{sI so}", "generation", (json_int_t)d->generation,
			    "leases", set);
	ctld_log(CTLD_INFO, "engine subscribed at generation %llu",
		 (unsigned long long)d->generation);
	return *result ? 0 : -ENOMEM;
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
	v = json_object_get(params, "counters");
	if (json_is_object(v)) {
		json_decref(e->counters);
		e->counters = json_deep_copy(v);
	}
	v = json_object_get(params, "leases");
	if (!json_is_array(v))
		return;
	e->n_lf = 0;
	json_array_foreach(v, i, l) {
		json_t *id = json_object_get(l, "id");
		json_t *flows = json_object_get(l, "flows");

		if (e->n_lf == SHOAL_MAX_LEASES)
			break;
		if (json_is_integer(id) && json_is_integer(flows))
			e->lf[e->n_lf++] = (struct engine_lease_flows){
				(uint32_t)json_integer_value(id),
				json_integer_value(flows) };
	}
}

/* Flows of lease @id in the last report while an engine is connected;
 * -1 when unknown. */
int64_t engine_lease_flows(const struct ctld *d, uint32_t id)
{
	const struct engine_state *e = &d->eng;

	if (!e->conn_serial || !e->have_report)
		return -1;
	for (unsigned i = 0; i < e->n_lf; i++)
		if (e->lf[i].id == id)
			return e->lf[i].flows;
	return -1;
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

void engine_push(struct ctld *d)
{
	struct conn *c = engine_conn(d);
	json_t *set;

	if (!c)
		return;
	set = json_lease_set(d);
	if (!set) {
		ctld_log(CTLD_ERR, "cannot build the lease set for the engine");
		conn_close(c);
		return;
	}
	if (conn_send(c, json_pack("{ss ss s{sI so}}", "jsonrpc", "2.0",
				   "method", "leases.update", "params",
				   "generation", (json_int_t)d->generation,
				   "leases", set)))
		ctld_log(CTLD_ERR, "engine not reading its socket; dropped");
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
	r->cli_serial = conn_serial(c);
	r->cli_id = json_incref(id);
	r->deadline_ms = ctld_now_ms() + CTLD_RELAY_TIMEOUT_MS;
	conn_send(ec, json_pack("{ss sI ss sO}", "jsonrpc", "2.0",
				"id", (json_int_t)r->eid,
				"method", "engine.flows", "params", params));
	return 1;
}

/* The engine answered one of our engine.flows requests. */
void engine_response(struct ctld *d, struct conn *c, json_t *msg)
{
	struct engine_state *e = &d->eng;
	json_t *id = json_object_get(msg, "id");
	json_t *res = json_object_get(msg, "result");
	json_t *err = json_object_get(msg, "error");

	(void)c;
	if (!json_is_integer(id))
		return;
	for (int i = 0; i < CTLD_RELAYS_MAX; i++) {
		struct relay *r = &e->relays[i];

		if (!r->eid || r->eid != (uint64_t)json_integer_value(id))
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

/* Connection @serial is gone: if it was the engine, fail its relays. */
void engine_detach(struct ctld *d, uint64_t serial)
{
	struct engine_state *e = &d->eng;

	if (!serial || e->conn_serial != serial)
		return;
	e->conn_serial = 0;
	ctld_log(CTLD_INFO, "engine disconnected");
	for (int i = 0; i < CTLD_RELAYS_MAX; i++)
		if (e->relays[i].eid)
			relay_fail(d, &e->relays[i], "the engine went away");
}

void engine_tick(struct ctld *d)
{
	int64_t now = ctld_now_ms();

	for (int i = 0; i < CTLD_RELAYS_MAX; i++) {
		struct relay *r = &d->eng.relays[i];

		if (r->eid && now >= r->deadline_ms)
			relay_fail(d, r, "the engine did not answer in time");
	}
}

static json_t *report_age(const struct engine_state *e)
{
	if (!e->have_report)
		return json_null();
	return json_integer((ctld_now_ms() - e->report_ms) / 1000);
}

/* The last report, or NULL if there never was one. */
json_t *engine_stats(struct ctld *d)
{
	struct engine_state *e = &d->eng;

	if (!e->have_report)
		return NULL;
	return json_pack("{so sI so}", "counters", e->counters ?
			 json_incref(e->counters) : json_object(),
			 "workers", e->workers,
			 "report_age", report_age(e));
}

json_t *engine_status(struct ctld *d)
{
	struct engine_state *e = &d->eng;

	return json_pack("{sb so so}", "connected", e->conn_serial != 0,
			 "generation", e->have_report ?
			 json_integer((json_int_t)e->report_gen) : json_null(),
			 "report_age", report_age(e));
}
