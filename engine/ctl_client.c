/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client's core loop: it owns the session state (subscribed or not,
 * when the next report is due) and orchestrates the three pieces below
 * it, which never call back up: the link (ctl_link.c: socket, backoff,
 * lines), lease sets (ctl_leases.c: parse and publish) and reports
 * (ctl_report.c: engine.report and engine.flows messages).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <shoal/proto.h>

#include "ctl_client.h"
#include "ctl_leases.h"
#include "ctl_link.h"
#include "ctl_report.h"
#include "log.h"

#define REPORT_MS 1000
#define SUBSCRIBE_ID 1

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
	uint64_t report_at; /* ms, ctl_now_ms() */
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

int sh_ctl_fd(const struct sh_ctl *c)
{
	return c->link.fd;
}

/* A whole lease set from the daemon; the first one on a connection
 * completes the subscription, even one we could not apply: the reports
 * then tell the daemon so (refused_generation). */
static void apply_leases(struct sh_ctl *c, json_t *params)
{
	if (ctl_leases_apply(&c->leases, params, !c->subscribed) == 0)
		return;
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
	} else if (method && strcmp(method, "engine.reload") == 0 && id) {
		ctl_link_send(&c->link, reload_reply(c, id));
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

	if (!ctl_link_up(&c->link)) {
		c->subscribed = false;
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
	ctl_link_fini(&c->link);
	ctl_leases_fini(&c->leases);
	free(c);
}
