/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client's core loop: it owns the session state (subscribed or not,
 * when the next report is due) and orchestrates the three pieces below
 * it, which never call back up: the link (ctl_link.c: socket, backoff,
 * lines), lease sets (ctl_leases.c: parse and publish) and reports
 * (ctl_report.c: engine.report and engine.flows messages).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <shoal/proto.h>

#include "ctl_client.h"
#include "ctl_leases.h"
#include "ctl_link.h"
#include "ctl_report.h"
#include "log.h"
#include "takeover.h"

#define REPORT_MS 1000
#define SUBSCRIBE_ID 1
/* How long the answer to an upgrade may take to leave: the engine exits
 * next, and the daemon reads its socket all the time. */
#define UPGRADE_FLUSH_MS 1000

/* The daemon waits for the whole handover and a margin to hear of it. */
_Static_assert(SHOAL_UPGRADE_TIMEOUT_MS >= SH_TAKEOVER_TIMEOUT_MS + 5000,
	       "shoal-ctld gives up on engine.upgrade before the handover "
	       "can have ended");

RTE_LOG_REGISTER_SUFFIX(sh_logtype_ctl, ctl, INFO);

struct sh_ctl {
	const struct sh_config *cfg;
	struct sh_worker *workers;
	unsigned n_workers;
	struct ctl_link link;
	struct ctl_leases leases;
	sh_ctl_reload_fn reload;
	void *reload_arg;
	bool subscribed;    /* the daemon accepted this connection */
	bool had_set;       /* a set of the daemon's was ever published */
	uint64_t report_at; /* ms, ctl_now_ms() */
	sh_ctl_upgrade_fn upgrade;
	void *upgrade_arg;
	json_t *upgrade_id; /* the daemon's engine.upgrade in progress, on
			       this connection; NULL: none */
	bool upgrade_asked; /* an engine.upgrade was taken on, answered or
			     * not: its outcome is owed to the daemon */
	bool handed_over;   /* an upgrade succeeded: the new engine talks to
			       the daemon now; this one stays quiet */
};

struct sh_ctl *sh_ctl_create(const struct sh_config *cfg,
			     struct sh_worker *workers, unsigned n_workers,
			     struct rte_rcu_qsbr *qsbr,
			     const struct nat_lease_set *initial,
			     sh_ctl_reload_fn reload, void *reload_arg)
{
	struct sh_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (ctl_link_init(&c->link, cfg->ctl_socket) < 0) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->cfg = cfg;
	c->reload = reload;
	c->reload_arg = reload_arg;
	c->workers = workers;
	c->n_workers = n_workers;
	c->leases = (struct ctl_leases){
		.cfg = cfg,
		.workers = workers,
		.n_workers = n_workers,
		.qsbr = qsbr,
		.initial = initial,
	};
	return c;
}

bool sh_ctl_has_set(const struct sh_ctl *c)
{
	return c->had_set;
}

int sh_ctl_fd(const struct sh_ctl *c)
{
	return c->link.fd;
}

/* A whole lease set from the daemon; the first one on a connection
 * completes the subscription, even one we could not apply: the reports
 * then tell the daemon so (refused_generation). */
static void apply_leases(struct sh_ctl *c, json_t *params)
{
	int rc = ctl_leases_apply(&c->leases, params, !c->subscribed);

	if (rc == 0)
		return;
	if (rc > 0)
		c->had_set = true;
	if (!c->subscribed)
		SH_LOG(INFO, ctl, "subscribed to shoal-ctld at %s\n",
		       c->cfg->ctl_socket);
	c->subscribed = true;
	ctl_link_backoff_reset(&c->link);
}

/* engine.reload: re-read the file now and say how it went. */
static json_t *reload_reply(struct sh_ctl *c, json_t *id)
{
	char err[SH_CFG_STR_LEN + 256];

	if (c->reload(c->reload_arg, err, sizeof(err)) == 0)
		return json_pack("{s:s, s:O, s:{s:b}}", "jsonrpc", "2.0",
				 "id", id, "result", "reloaded", 1);
	return json_pack("{s:s, s:O, s:{s:i, s:s, s:s}}", "jsonrpc", "2.0",
			 "id", id, "error", "code", SHOAL_ERR_REFUSED,
			 "message", err, "data", SHOAL_R_INVALID_CONFIG);
}

void sh_ctl_set_upgrade(struct sh_ctl *c, sh_ctl_upgrade_fn fn, void *arg)
{
	c->upgrade = fn;
	c->upgrade_arg = arg;
}

/* A string member for the daemon: @s if it is valid UTF-8 (jansson
 * checks), else @dflt. */
static json_t *str_or(const char *s, size_t max, const char *dflt)
{
	json_t *v = json_stringn(s, strnlen(s, max));

	return v ? v : json_string(dflt);
}

static json_t *upgrade_error(json_t *id, const char *why)
{
	return json_pack("{s:s, s:O, s:{s:i, s:o, s:s}}", "jsonrpc", "2.0",
			 "id", id, "error", "code", SHOAL_ERR_REFUSED,
			 "message", str_or(why, SH_CFG_STR_LEN + 256,
					   "upgrade failed (the reason is "
					   "not UTF-8)"),
			 "data", SHOAL_R_UPGRADE_FAILED);
}

/* A time in ms; null if it is not a number (jansson refuses NaN). */
static json_t *ms(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* proto.h engine.upgrade's result: every field of @r. */
static json_t *upgrade_result(json_t *id, const struct sh_upgrade_result *r)
{
	return json_pack("{s:s, s:O, s:{s:i, s:i, s:o, s:o, s:o, s:o, s:o, "
			 "s:o, s:o, s:I, s:I}}", "jsonrpc", "2.0", "id", id,
			 "result", "old_pid", r->old_pid, "new_pid", r->new_pid,
			 "binary", str_or(r->binary, sizeof(r->binary), "?"),
			 "eal_ms", ms(r->eal_ms), "stop_ms", ms(r->stop_ms),
			 "release_ms", ms(r->release_ms),
			 "adopt_ms", ms(r->adopt_ms),
			 "ports_ms", ms(r->ports_ms), "gap_ms", ms(r->gap_ms),
			 "flows", (json_int_t)r->flows,
			 "discarded", (json_int_t)r->discarded);
}

/* engine.upgrade: start it through the registered function, which
 * answers later (sh_ctl_upgrade_done), or answer now why not. */
static void upgrade_start(struct sh_ctl *c, json_t *id, json_t *params)
{
	json_t *b = json_object_get(params, "binary");
	char err[SH_CFG_STR_LEN + 256] = "";
	int rc;

	if (b && (!json_is_string(b) || json_string_value(b)[0] != '/' ||
		  json_string_length(b) >= PATH_MAX)) {
		snprintf(err, sizeof(err), "binary: not an absolute path");
	} else if (c->upgrade_id) {
		snprintf(err, sizeof(err), "an upgrade is already in progress");
	} else if (!c->upgrade) {
		snprintf(err, sizeof(err), "upgrade not supported");
	} else {
		/* set first: the function may settle it before it returns */
		c->upgrade_id = json_incref(id);
		c->upgrade_asked = true;
		SH_LOG(INFO, ctl, "shoal-ctld asks for an upgrade to %s\n",
		       b ? json_string_value(b) : "our own binary");
		rc = c->upgrade(c->upgrade_arg, b ? json_string_value(b) :
				NULL, err, sizeof(err));
		if (rc == 0)
			return;
		json_decref(c->upgrade_id);
		c->upgrade_id = NULL;
		c->upgrade_asked = false;
		if (!err[0])
			snprintf(err, sizeof(err), "%s", strerror(-rc));
	}
	SH_LOG(WARNING, ctl, "upgrade refused: %s\n", err);
	ctl_link_send(&c->link, upgrade_error(id, err));
}

void sh_ctl_upgrade_done(struct sh_ctl *c, int rc, const char *why,
			 const struct sh_upgrade_result *r)
{
	json_t *id = c->upgrade_id, *msg;

	if (rc == 0)
		c->handed_over = true;
	if (!id) {
		/* A takeover started by hand was asked by nobody here. */
		if (c->upgrade_asked)
			SH_LOG(WARNING, ctl, "upgrade %s, but the daemon's "
			       "session that asked is gone: not told\n",
			       rc == 0 ? "done" : "failed");
		c->upgrade_asked = false;
		return;
	}
	c->upgrade_asked = false;
	c->upgrade_id = NULL;
	msg = rc == 0 ? upgrade_result(id, r) :
	      upgrade_error(id, why && *why ? why : strerror(-rc));
	json_decref(id);
	if (!ctl_link_send(&c->link, msg) ||
	    !ctl_link_flush_wait(&c->link, UPGRADE_FLUSH_MS))
		SH_LOG(WARNING, ctl, "the upgrade's outcome could not be sent "
		       "to shoal-ctld\n");
}

static void handle_line(struct sh_ctl *c, const char *line)
{
	json_t *msg = json_loads(line, 0, NULL), *id, *params;
	const char *method = NULL;

	if (!msg) {
		SH_LOG(WARNING, ctl, "ignoring a line that is not JSON\n");
		return;
	}
	id = json_object_get(msg, "id");
	params = json_object_get(msg, "params");
	json_unpack(msg, "{s?s}", "method", &method);
	if (!method && id && json_integer_value(id) == SUBSCRIBE_ID) {
		json_t *result = json_object_get(msg, "result");

		if (result)
			apply_leases(c, result);
		else
			SH_LOG(ERR, ctl, "shoal-ctld refused the subscription: %s\n",
			       json_string_value(json_object_get(
				       json_object_get(msg, "error"), "data")));
	} else if (method && strcmp(method, "leases.update") == 0 && params) {
		apply_leases(c, params);
	} else if (method && strcmp(method, "fleet.valid") == 0 && params &&
		   c->cfg->fleet.enabled) {
		ctl_leases_valid(&c->leases, params, ctl_now_ms());
	} else if (method && strcmp(method, "engine.reload") == 0 && id) {
		ctl_link_send(&c->link, reload_reply(c, id));
	} else if (method && strcmp(method, "engine.upgrade") == 0 && id) {
		upgrade_start(c, id, params);
	} else if (method && strcmp(method, "engine.flows") == 0 && id) {
		ctl_link_send(&c->link,
			      ctl_flows_reply(c->workers, c->n_workers, id,
					      params ? params : json_object()));
	}
	json_decref(msg);
}

int sh_ctl_service(struct sh_ctl *c, const struct sh_nl_stats *nl)
{
	uint64_t now = ctl_now_ms();
	const char *line;

	if (c->handed_over)
		return 0;
	/* Before the link: a daemon that is gone proves nothing, so the
	 * fence must not wait for it. */
	ctl_leases_tick(&c->leases, now);
	if (!ctl_link_up(&c->link)) {
		c->subscribed = false;
		/* an upgrade's id means nothing on the next connection */
		json_decref(c->upgrade_id);
		c->upgrade_id = NULL;
		if (!ctl_link_connect(&c->link, now))
			return 0;
		ctl_link_send(&c->link,
			      json_pack("{s:s, s:i, s:s, s:{s:i}}", "jsonrpc",
					"2.0", "id", SUBSCRIBE_ID, "method",
					"engine.subscribe", "params", "version",
					SHOAL_PROTO_VERSION));
		ctl_link_flush(&c->link);
	}
	while ((line = ctl_link_recv(&c->link)))
		handle_line(c, line);
	if (ctl_link_up(&c->link) && c->subscribed && now >= c->report_at) {
		ctl_link_send(&c->link,
			      ctl_report_msg(c->workers, c->n_workers,
					     &c->leases, nl));
		c->report_at = now + REPORT_MS;
	}
	ctl_link_flush(&c->link);
	return 0;
}

void sh_ctl_destroy(struct sh_ctl *c)
{
	if (!c)
		return;
	json_decref(c->upgrade_id);
	ctl_link_fini(&c->link);
	ctl_leases_fini(&c->leases);
	free(c);
}
